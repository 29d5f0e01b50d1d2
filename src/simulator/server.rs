//! The HTTP side of the simulator: the hyper server on the listener, [`handle`] for each
//! request (route by path through the spec's table, apply a fault, check the signature,
//! answer through [`super::handlers`]), the reply helpers and the signature check.

use std::{
    fmt,
    sync::{atomic::Ordering, Arc},
    time::{SystemTime, UNIX_EPOCH},
};

use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::{body::Incoming, header, Request, Response, StatusCode};
use tokio::net::TcpListener;

use super::{faults, handlers, state::Shared, FaultKind, MAX_TIMESTAMP_AGE};

/// Accepts connections on `listener` and serves each on its own task, until aborted.
pub(super) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        shared.connections.fetch_add(1, Ordering::Relaxed);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { handle(&shared, request).await }
            });
            // An error here is a dropped connection, injected or the client's: nothing to do.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The error a streamed body may end with.
pub(super) type BodyError = Box<dyn std::error::Error + Send + Sync>;
/// What [`handle`] answers.
pub(super) type Reply = Response<BoxBody<Bytes, BodyError>>;

/// Why the connection is closed without an answer (an injected drop).
#[derive(Debug)]
pub(super) struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

/// Answers one request: 404 for a path that is not in the spec; else the request is
/// logged, its fault (if any) applied, its signature checked, and its operation answered.
async fn handle(shared: &Shared, request: Request<Incoming>) -> Result<Reply, Dropped> {
    let path = request.uri().path().to_owned();
    let operation = path
        .strip_prefix("/api/v2")
        .and_then(crate::operation::at_path);
    let Some(operation) = operation else {
        return Ok(plain(
            StatusCode::NOT_FOUND,
            "text/plain",
            format!("No route for {path}"),
        ));
    };
    let fault = {
        let mut state = shared.lock();
        state.requests.push(operation.id.to_owned());
        faults::take(&mut state.faults, operation.id)
    };
    if let Some(fault) = &fault {
        if let Some(reply) = faults::intercept(fault).await? {
            return Ok(reply);
        }
    }

    if let Err(reason) = check_signature(shared, request.headers()) {
        let mut reply = plain(StatusCode::UNAUTHORIZED, "text/plain", String::new());
        let challenge = format!("Basic realm=\"QuantConnect\", error=\"{reason}\"");
        reply.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_str(&challenge).expect("ASCII challenge"),
        );
        return Ok(reply);
    }

    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(Dropped),
    };
    let answer = {
        let mut state = shared.lock();
        handlers::answer(shared, &mut state, operation, &body)
    };
    if fault == Some(FaultKind::DropConnectionAfterEffect) {
        return Err(Dropped);
    }
    Ok(plain(
        StatusCode::OK,
        "application/json",
        answer.to_string(),
    ))
}

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

/// Checks the `Timestamp` and `Authorization` headers as QuantConnect does; the error is
/// the reason put in `WWW-Authenticate`.
fn check_signature(shared: &Shared, headers: &header::HeaderMap) -> Result<(), &'static str> {
    let timestamp: u64 = headers
        .get("timestamp")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or("missing or invalid Timestamp header")?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if now.saturating_sub(timestamp) > MAX_TIMESTAMP_AGE {
        return Err("timestamp is too old for hash");
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or("missing Authorization header")?;
    let expected = shared.credentials.sign(timestamp).authorization;
    if given.as_bytes() != expected.as_bytes() {
        // Tell a wrong user apart from a wrong hash, as the real API does.
        let user = given
            .strip_prefix("Basic ")
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|d| String::from_utf8(d).ok())
            .and_then(|d| d.split_once(':').map(|(u, _)| u.to_owned()));
        return Err(if user.as_deref() == Some(shared.credentials.user_id()) {
            "Hash doesn't match."
        } else {
            "UserID not valid"
        });
    }
    Ok(())
}
