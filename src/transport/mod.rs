//! One attempt of one operation: the request built from its generated type, signed for
//! now (with the clock offset learnt from the server), sent to the base URL and nowhere
//! else, its body read up to the size limit, and the answer decoded or mapped to an
//! [`Error`] ([`response`]). Retries and the call's deadline are [`crate::retry`]'s.

use std::{
    fmt,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
};

use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};

use crate::{
    auth::{self, Credentials},
    error::{self, Error},
    operation::Operation,
};

pub(crate) mod response;

pub(crate) use response::decode;
pub use response::{MAX_RESPONSE_OBJECTS, MAX_RESPONSE_VALUES};

/// What every request of a client (and its clones) shares: the HTTP client, the base URL,
/// the credentials and the clock offset they are signed with, and the response size limit.
pub(crate) struct Transport {
    http: reqwest::Client,
    base_url: String,
    credentials: Credentials,
    /// Seconds to add to the local clock to get the server's, learnt from a rejected
    /// signature's `Date` header.
    clock_offset: AtomicI64,
    max_response_bytes: usize,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials)
            .field("clock_offset", &self.clock_offset())
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub(crate) fn new(
        http: reqwest::Client,
        base_url: String,
        credentials: Credentials,
        max_response_bytes: usize,
    ) -> Arc<Self> {
        Arc::new(Transport {
            http,
            base_url,
            credentials,
            clock_offset: AtomicI64::new(0),
            max_response_bytes,
        })
    }

    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    pub(crate) fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub(crate) fn clock_offset(&self) -> i64 {
        self.clock_offset.load(Ordering::Relaxed)
    }

    pub(crate) fn set_clock_offset(&self, seconds: i64) {
        self.clock_offset.store(seconds, Ordering::Relaxed);
    }

    /// Signs `request` for now (as the server's clock tells it), replacing any signature.
    fn sign(&self, request: &mut reqwest::Request) {
        let signature = self
            .credentials
            .sign(auth::unix_now().saturating_add_signed(self.clock_offset()));
        let headers = request.headers_mut();
        headers.insert(reqwest::header::AUTHORIZATION, signature.authorization);
        headers.insert(
            auth::TIMESTAMP_HEADER,
            HeaderValue::from(signature.timestamp),
        );
    }

    /// Sends `body` once, freshly signed, and returns the response when its envelope says
    /// success, else the matching [`Error`].
    pub(crate) async fn send<O: Operation>(&self, body: &O) -> Result<Box<O::Response>, Error> {
        let operation = O::ID;
        let mut url = String::with_capacity(self.base_url.len() + O::PATH.len());
        url.push_str(&self.base_url);
        url.push_str(O::PATH);
        let invalid = |detail: String| Error::InvalidRequest { operation, detail };
        let parsed = reqwest::Url::parse(&url).map_err(|e| invalid(format!("{url}: {e}")))?;
        let json = serde_json::to_vec(body).map_err(|e| invalid(e.to_string()))?;
        let mut request = reqwest::Request::new(reqwest::Method::POST, parsed);
        // Room for every header the request will carry (these four, then the HTTP client's
        // `User-Agent`, its default `Accept` merge and `Content-Length`), so the map never
        // grows on the way: a rehash a call, measured.
        *request.headers_mut() = HeaderMap::with_capacity(8);
        let json_type = HeaderValue::from_static("application/json");
        request.headers_mut().insert(ACCEPT, json_type.clone());
        request.headers_mut().insert(CONTENT_TYPE, json_type);
        *request.body_mut() = Some(json.into());
        self.sign(&mut request);
        let mut response = self
            .http
            .execute(request)
            .await
            .map_err(|source| Error::Transport { operation, source })?;
        // Requests go to the base URL and nowhere else: a redirect is an error, never
        // followed (the default client has no redirect policy; one passed in may have).
        if response.url().as_str() != url {
            return Err(Error::Redirect {
                operation,
                status: None,
                location: Some(shown_url(response.url().as_str())),
            });
        }
        if response.status().is_redirection() {
            let location = response.headers().get(reqwest::header::LOCATION);
            return Err(Error::Redirect {
                operation,
                status: Some(response.status().as_u16()),
                location: location.map(|l| shown_url(&String::from_utf8_lossy(l.as_bytes()))),
            });
        }
        match response.status().as_u16() {
            200 => {
                let limit = self.max_response_bytes;
                // Known too large: not a byte of it is read.
                if response
                    .content_length()
                    .is_some_and(|length| length > limit as u64)
                {
                    return Err(Error::ResponseTooLarge { operation, limit });
                }
                // Kept for a failure's clock offset (`Date`); moved, not copied.
                let headers = std::mem::take(response.headers_mut());
                let body = Limited::new(reqwest::Body::from(response), limit)
                    .collect()
                    .await
                    .map_err(|e| match e.downcast::<reqwest::Error>() {
                        Ok(source) => Error::Transport {
                            operation,
                            source: *source,
                        },
                        Err(e) if e.is::<LengthLimitError>() => {
                            Error::ResponseTooLarge { operation, limit }
                        }
                        Err(e) => Error::InvalidRequest {
                            operation,
                            detail: e.to_string(),
                        },
                    })?
                    .to_bytes();
                decode(operation, &body, &headers)
            }
            401 => Err(response::unauthorized(operation, &response)),
            _ => Err(response::unexpected_response(operation, response).await),
        }
    }
}

/// A URL from the server, fit to show: no credentials, control characters folded, cut short.
fn shown_url(url: &str) -> String {
    error::excerpt(error::without_credentials(url).as_bytes())
}
