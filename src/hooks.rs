//! What happens to every request the client sends: signing (with the clock
//! offset learnt from the server) just before it goes out, and a bound on how much of the
//! response body is read.

use std::{
    fmt,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
};

use futures_util::StreamExt;
use reqwest::header::HeaderValue;

use crate::{
    auth::{self, Credentials},
    connections::{self, Connections},
};

/// The generated client's inner value: what its hooks need.
#[derive(Clone)]
pub struct Inner {
    credentials: Credentials,
    /// Seconds to add to the local clock to get the server's, learnt from a rejected
    /// signature's `Date` header. Shared by clones of the client.
    clock_offset: Arc<AtomicI64>,
    max_response_bytes: usize,
    /// The cap on connections, when the crate built the HTTP client.
    connections: Option<Connections>,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner")
            .field("credentials", &self.credentials)
            .field("clock_offset", &self.clock_offset())
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

impl Inner {
    pub(crate) fn new(
        credentials: Credentials,
        max_response_bytes: usize,
        connections: Option<Connections>,
    ) -> Self {
        Inner {
            credentials,
            clock_offset: Arc::new(AtomicI64::new(0)),
            max_response_bytes,
            connections,
        }
    }

    /// A request finished (its connection, if any, goes back to the pool).
    pub(crate) fn request_finished(&self) {
        if let Some(connections) = &self.connections {
            connections.request_finished();
        }
    }

    /// Notes that `response`'s connection closes after it, if it says so; returns whether.
    pub(crate) fn connection_closes(&self, response: &reqwest::Response) -> bool {
        match &self.connections {
            Some(connections) if connections::closes_after(response) => {
                connections.closed();
                true
            }
            _ => false,
        }
    }

    /// Notes that `error` broke the connection of a request (a connect error had none).
    pub(crate) fn connection_broken(&self, error: &reqwest::Error) {
        if let Some(connections) = &self.connections {
            if !error.is_connect() {
                connections.closed();
            }
        }
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
}

/// The response body was longer than the client reads.
#[derive(Debug)]
pub(crate) struct BodyTooLarge {
    pub(crate) limit: usize,
}

impl fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the response body exceeds {} bytes", self.limit)
    }
}

impl std::error::Error for BodyTooLarge {}

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

/// Signs `request` for now (as the server's clock tells it), replacing any signature it has.
pub(crate) fn sign(inner: &Inner, request: &mut reqwest::Request) {
    let signature = inner
        .credentials
        .sign(auth::unix_now().saturating_add_signed(inner.clock_offset()));
    let headers = request.headers_mut();
    headers.insert(reqwest::header::AUTHORIZATION, signature.authorization);
    headers.insert(
        auth::TIMESTAMP_HEADER,
        HeaderValue::from(signature.timestamp),
    );
}

/// Sends `request` with `api`'s HTTP client; the response's body stops at the size limit.
pub(crate) async fn send(
    api: &crate::generated::Client,
    request: reqwest::Request,
) -> reqwest::Result<reqwest::Response> {
    use progenitor_client::ClientInfo as _;
    let response = api.client().execute(request).await?;
    Ok(limited(response, api.inner().max_response_bytes))
}

/// The same signing and bounding for the generated operations' own `send()`.
impl progenitor_client::ClientHooks<Inner> for crate::generated::Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &progenitor_client::OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        sign(progenitor_client::ClientInfo::inner(self), request);
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        _info: &progenitor_client::OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        send(self, request).await
    }
}

/// Whether `error` or one of its sources is a [`BodyTooLarge`].
pub(crate) fn too_large(error: &(dyn std::error::Error + 'static)) -> Option<usize> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(big) = e.downcast_ref::<BodyTooLarge>() {
            return Some(big.limit);
        }
        current = e.source();
    }
    None
}
