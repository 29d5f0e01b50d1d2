//! One attempt of one operation, and the state it needs: the request built from its
//! generated type, signed for now (with the clock offset learnt from the server), sent, its
//! body read up to the size limit, and the answer decoded into the operation's response
//! type or mapped to an [`Error`].
//!
//! Every operation goes through [`Transport::send`], generic over [`Operation`]. It sends
//! POST, a JSON body, `Accept: application/json` and the signature, and nothing per
//! operation: no header map built and merged per request, no response headers cloned into
//! the answer (see "Performance" in the README). Retries, the call's deadline and tracing
//! are the client's ([`crate::client`]).

use std::{
    fmt,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
};

use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use serde::de::DeserializeOwned;

use crate::{
    auth::{self, Credentials},
    error::{self, BodyTooLarge, Error},
    operation::{Envelope, Operation},
};

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
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|e| error::transport(operation, e))?;
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
        let mut response = limited(response, self.max_response_bytes);
        match response.status().as_u16() {
            200 => {
                // Kept for a failure's clock offset (`Date`); moved, not copied.
                let headers = std::mem::take(response.headers_mut());
                let body = read_body(&mut response)
                    .await
                    .map_err(|e| error::transport(operation, e))?;
                decode(operation, &body, &headers)
            }
            401 => Err(error::unauthorized(operation, &response)),
            _ => Err(error::unexpected_response(operation, response).await),
        }
    }
}

/// A URL from the server, fit to show: no credentials, control characters folded, cut short.
fn shown_url(url: &str) -> String {
    error::excerpt(error::without_credentials(url).as_bytes())
}

/// A response whose body stream fails with [`BodyTooLarge`] past `limit` bytes, so that
/// whoever reads it (progenitor's decoding, the error mapping) stops there.
fn limited(response: reqwest::Response, limit: usize) -> reqwest::Response {
    match response.content_length() {
        // Known too large: do not read a byte of it.
        Some(length) if length > limit as u64 => {
            let failing = futures_util::stream::once(async move {
                Err::<bytes::Bytes, _>(Box::new(BodyTooLarge { limit }) as BoxError)
            });
            return head(&response).with_body(reqwest::Body::wrap_stream(failing));
        }
        // hyper reads no more than the announced length: nothing to wrap, nothing to pay.
        Some(_) => return response,
        // Chunked or read to the end: count as it comes.
        None => {}
    }
    let mut seen = 0usize;
    let parts = head(&response);
    let stream = response.bytes_stream().map(move |chunk| {
        let chunk = chunk.map_err(|e| Box::new(e) as BoxError)?;
        seen = seen.saturating_add(chunk.len());
        if seen > limit {
            return Err(Box::new(BodyTooLarge { limit }) as BoxError);
        }
        Ok(chunk)
    });
    parts.with_body(reqwest::Body::wrap_stream(stream))
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The status line, headers and URL of a response, to put another body under.
struct Head {
    status: reqwest::StatusCode,
    version: reqwest::Version,
    headers: reqwest::header::HeaderMap,
    url: reqwest::Url,
}

fn head(response: &reqwest::Response) -> Head {
    Head {
        status: response.status(),
        version: response.version(),
        headers: response.headers().clone(),
        url: response.url().clone(),
    }
}

impl Head {
    fn with_body(self, body: reqwest::Body) -> reqwest::Response {
        use reqwest::ResponseBuilderExt as _;
        let mut builder = http::Response::builder()
            .status(self.status)
            .version(self.version)
            .url(self.url);
        if let Some(headers) = builder.headers_mut() {
            *headers = self.headers;
        }
        builder
            .body(body)
            .expect("status, version and headers come from a valid response")
            .into()
    }
}

/// The whole body of `response`. Chunk by chunk rather than `Response::bytes`, whose future
/// is four times larger, and without copying when the body comes in one chunk (as a
/// `Content-Length` body of the API's size does).
async fn read_body(response: &mut reqwest::Response) -> reqwest::Result<bytes::Bytes> {
    let Some(first) = response.chunk().await? else {
        return Ok(bytes::Bytes::new());
    };
    let Some(second) = response.chunk().await? else {
        return Ok(first);
    };
    let mut body = bytes::BytesMut::from(first);
    body.extend_from_slice(&second);
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// How many JSON objects a response may hold at most: 262,144. With
/// [`MAX_RESPONSE_VALUES`] this bounds what decoding a response costs in memory, whatever
/// its shape (README, "Limits"); a response past either is [`Error::ResponseTooComplex`].
/// A conversation of 2,000 messages holds a few thousand.
pub const MAX_RESPONSE_OBJECTS: usize = 1 << 18;
/// How many JSON values a response may hold at most: 2,097,152, each `{`, `[`, `,` and
/// string (keys included) counted as one. See [`MAX_RESPONSE_OBJECTS`].
pub const MAX_RESPONSE_VALUES: usize = 1 << 21;

/// Whether `body` holds at most [`MAX_RESPONSE_OBJECTS`](MAX_RESPONSE_OBJECTS) JSON
/// objects and [`MAX_RESPONSE_VALUES`](MAX_RESPONSE_VALUES) values, counted from its
/// `{`, `[`, `,` and strings (keys included) in one pass. What a body costs to decode follows from
/// them (an empty `{}` can become a 600-byte struct), not from its length.
fn within_shape_limits(body: &[u8]) -> bool {
    // A body this short is within both without a look: an object that decodes takes two
    // bytes (`{}`), a value one.
    if body.len() <= 2 * MAX_RESPONSE_OBJECTS {
        return true;
    }
    let (mut objects, mut values) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in body {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' => objects += 1,
            b'[' | b',' => {}
            _ => continue,
        }
        values += 1;
        if objects > MAX_RESPONSE_OBJECTS || values > MAX_RESPONSE_VALUES {
            return false;
        }
    }
    true
}

/// A 200's `body` as `T` when its envelope says success, else the matching [`Error`]. A
/// missing `success` counts as failure, as in QuantConnect's own clients.
pub(crate) fn decode<T: Envelope + DeserializeOwned>(
    operation: &'static str,
    body: &[u8],
    headers: &HeaderMap,
) -> Result<Box<T>, Error> {
    if !within_shape_limits(body) {
        return Err(Error::ResponseTooComplex {
            operation,
            max_objects: MAX_RESPONSE_OBJECTS,
            max_values: MAX_RESPONSE_VALUES,
        });
    }
    match serde_json::from_slice::<Box<T>>(body) {
        Ok(decoded) if decoded.success() == Some(true) => Ok(decoded),
        Ok(mut decoded) => Err(error::failure(
            operation,
            200,
            decoded.take_errors(),
            error::clock_offset(headers),
        )),
        Err(source) => Err(error::undecodable(operation, body, source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &str, n: usize) -> Vec<u8> {
        let items = vec![items; n].join(",");
        format!(r#"{{"success":true,"tasks":[{items}]}}"#).into_bytes()
    }

    #[test]
    fn the_shape_limits_count_objects_and_values_outside_strings() {
        // The envelope is one object; `{}` entries are one each.
        assert!(within_shape_limits(&list("{}", MAX_RESPONSE_OBJECTS - 1)));
        assert!(!within_shape_limits(&list("{}", MAX_RESPONSE_OBJECTS)));
        // The envelope's `{`, `,`, `[` and its two keys are five values.
        assert!(within_shape_limits(&list("1", MAX_RESPONSE_VALUES - 4)));
        assert!(!within_shape_limits(&list("1", MAX_RESPONSE_VALUES)));
        // Braces, brackets, commas and escaped quotes inside strings are text.
        let text = r#""{[,\"{[,""#;
        assert!(within_shape_limits(&list(
            text,
            MAX_RESPONSE_VALUES / 2 - 3
        )));
        let err = decode::<crate::types::AgentTaskListResponse>(
            "listAgentTasks",
            &list("{}", MAX_RESPONSE_OBJECTS),
            &HeaderMap::new(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::ResponseTooComplex { .. }), "{err:?}");
    }
}
