//! The replies the simulator sends, shared by [`super::server`] and [`super::faults`]: the
//! reply type, the helpers that build one, and [`Dropped`], the error that closes the
//! connection instead. It imports neither, so the two import it one way.

use std::fmt;

use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::{header, Response, StatusCode};

/// The error a streamed body may end with.
pub(super) type BodyError = Box<dyn std::error::Error + Send + Sync>;
/// What the server answers a request with.
pub(super) type Reply = Response<BoxBody<Bytes, BodyError>>;

/// Why the connection is closed without an answer (an injected drop, or a broken request).
#[derive(Debug)]
pub(super) struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by the simulator (an injected fault or a broken request)")
    }
}

impl std::error::Error for Dropped {}

/// The status `status` names, or 500 when it names none.
pub(super) fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A reply with this status, content type and whole body.
pub(super) fn plain(status: StatusCode, content_type: &str, body: String) -> Reply {
    let full = Full::new(Bytes::from(body)).map_err(|never| match never {});
    let mut reply = Response::new(BodyExt::boxed(full));
    *reply.status_mut() = status;
    let content_type = header::HeaderValue::from_str(content_type)
        .unwrap_or(header::HeaderValue::from_static("application/octet-stream"));
    reply
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    reply
}

/// A JSON reply whose body is `chunks`, sent as they come; `length` is announced in
/// `Content-Length` when given.
pub(super) fn streamed<S>(status: StatusCode, length: Option<u64>, chunks: S) -> Reply
where
    S: futures_util::Stream<Item = Result<Bytes, BodyError>> + Send + Sync + 'static,
{
    let body = StreamBody::new(chunks.map(|chunk| chunk.map(hyper::body::Frame::data)));
    let mut reply = Response::new(BodyExt::boxed(body));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    if let Some(length) = length {
        reply
            .headers_mut()
            .insert(header::CONTENT_LENGTH, length.into());
    }
    reply
}
