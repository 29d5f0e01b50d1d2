//! One attempt of one operation: the request built from its generated body type, signed,
//! sent, and the answer decoded into its generated response type or mapped to an
//! [`Error`].
//!
//! `build.rs` generates, from `openapi.yaml`, a [`Call`] impl for every operation's request
//! body type: its operation id, path and response type. Every operation is sent by the one
//! function [`send`], generic over it. It sends what progenitor's per-operation `send()`
//! would (POST, JSON body, `Accept: application/json`, the signature) without the costs
//! measured on that path (an `api-version` header the API does not document, a header map
//! built and merged per request, the response headers cloned into every answer): see
//! "Performance" in the README.

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use serde::{de::DeserializeOwned, Serialize};

use crate::{
    error::{self, Error},
    generated, hooks, types,
};

/// An operation's request body type, and what the spec says about its operation.
pub(crate) trait Call: Serialize {
    /// QuantConnect's operation id.
    const OPERATION: &'static str;
    /// The path under the base URL.
    const PATH: &'static str;
    /// What a 200 carries.
    type Response: Envelope + DeserializeOwned + Serialize;
}

include!(concat!(env!("OUT_DIR"), "/calls.rs"));

/// The generated response types, which all carry the `success`/`errors` envelope.
pub(crate) trait Envelope {
    fn success(&self) -> Option<bool>;
    fn take_errors(&mut self) -> Vec<String>;
}

macro_rules! envelope {
    ($($ty:ident),+ $(,)?) => {$(
        impl Envelope for types::$ty {
            fn success(&self) -> Option<bool> {
                self.success
            }
            fn take_errors(&mut self) -> Vec<String> {
                std::mem::take(&mut self.errors)
            }
        }
    )+};
}

envelope!(
    RestResponse,
    AgentResponse,
    AgentListResponse,
    AgentTaskResponse,
    AgentTaskListResponse,
    CreateAgentDeploymentResponse,
    AgentDeploymentResponse,
    UpdateAgentDeploymentResponse,
    AgentDeploymentListResponse,
    AgentConversationResponse,
);

/// Sends `body` once, freshly signed, and returns the response when its envelope says
/// success, else the matching [`Error`].
pub(crate) async fn send<C: Call>(
    api: &generated::Client,
    body: &C,
) -> Result<Box<C::Response>, Error> {
    use progenitor_client::ClientInfo as _;
    let operation = C::OPERATION;
    let base = api.baseurl();
    let mut url = String::with_capacity(base.len() + C::PATH.len());
    url.push_str(base);
    url.push_str(C::PATH);
    let mut request = api
        .client()
        .post(url)
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .json(body)
        .build()
        .map_err(|e| Error::InvalidRequest {
            operation,
            detail: e.to_string(),
        })?;
    let inner = api.inner();
    hooks::sign(inner, &mut request);
    let mut response = match hooks::send(api, request).await {
        Ok(response) => response,
        Err(e) => {
            inner.connection_broken(&e);
            return Err(error::transport(operation, e));
        }
    };
    let closes = inner.connection_closes(&response);
    match response.status().as_u16() {
        200 => {
            // Kept for a failure's clock offset (`Date`); moved, not copied.
            let headers = std::mem::take(response.headers_mut());
            let body = read_body(&mut response).await.map_err(|e| {
                if !closes {
                    inner.connection_broken(&e);
                }
                error::transport(operation, e)
            })?;
            decode(operation, &body, &headers)
        }
        401 => Err(error::unauthorized(operation, &response)),
        _ => Err(error::unexpected_response(operation, response).await),
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

/// A 200's `body` as `T` when its envelope says success, else the matching [`Error`]. A
/// missing `success` counts as failure, as in QuantConnect's own clients.
pub(crate) fn decode<T: Envelope + DeserializeOwned>(
    operation: &'static str,
    body: &[u8],
    headers: &HeaderMap,
) -> Result<Box<T>, Error> {
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
