//! The HTTP side of the simulator: the hyper server on the listener, [`handle`] for each
//! request (route by path through the spec's table and refuse other methods than POST,
//! apply a fault, check the signature, read the body within its limit, answer through
//! [`super::handlers`]) and the signature check.

use std::{
    sync::{atomic::Ordering, Arc},
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::{
    body::{Body as _, Incoming},
    header, Method, Request, StatusCode,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::{
    faults, handlers,
    reply::{plain, Dropped, Reply},
    state::Shared,
    FaultKind, HEADER_READ_TIMEOUT, MAX_BODY_BYTES, MAX_TIMESTAMP_AGE,
};
use crate::error::CLOCK_TOLERANCE;

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
                async move { logged(&shared, request).await }
            });
            // An error here is a dropped connection, injected or the client's, or a request
            // head not sent in time: nothing to do.
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// [`handle`], with one INFO event for the request once its answer (or drop) is decided.
async fn logged(shared: &Shared, request: Request<Incoming>) -> Result<Reply, Dropped> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut fault = None;
    let result = handle(shared, request, &mut fault).await;
    let status = match &result {
        Ok(reply) => reply.status().as_u16().to_string(),
        Err(Dropped) => "dropped".to_owned(),
    };
    let operation = path
        .strip_prefix("/api/v2")
        .and_then(crate::operation::at_path)
        .map(|op| op.id);
    tracing::info!(
        %method,
        path = %path.escape_debug(),
        operation = %operation.unwrap_or("-"),
        %status,
        latency = %format_args!("{:.1?}", started.elapsed()),
        fault = fault.as_ref().map(tracing::field::debug),
        "simulator request"
    );
    result
}

/// Answers one request: 404 for a path that is not in the spec, 405 for a method other
/// than POST; else the request is logged, its fault (if any) applied, its signature
/// checked, its body read (413 past [`MAX_BODY_BYTES`]) and its operation answered.
/// `fault` is set to the fault applied, for the log.
async fn handle(
    shared: &Shared,
    request: Request<Incoming>,
    fault: &mut Option<FaultKind>,
) -> Result<Reply, Dropped> {
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
    if request.method() != Method::POST {
        let mut reply = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            format!("{} {path}: only POST is served", request.method()),
        );
        reply
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return Ok(reply);
    }
    *fault = {
        let mut state = shared.lock();
        state.requests.push(operation.id.to_owned());
        faults::take(&mut state.faults, operation.id)
    };
    if let Some(fault) = fault {
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

    let body = match read_body(request.into_body()).await {
        Ok(body) => body,
        Err(BodyRefused::TooLarge) => {
            return Ok(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "text/plain",
                format!("The request body is over {MAX_BODY_BYTES} bytes"),
            ))
        }
        Err(BodyRefused::Broken) => return Err(Dropped),
    };
    let answer = {
        let mut state = shared.lock();
        handlers::answer(shared, &mut state, operation, &body)
    };
    if *fault == Some(FaultKind::DropConnectionAfterEffect) {
        return Err(Dropped);
    }
    Ok(plain(
        StatusCode::OK,
        "application/json",
        answer.to_string(),
    ))
}

/// Why a request body was not read.
enum BodyRefused {
    /// It is, or says it is, over [`MAX_BODY_BYTES`].
    TooLarge,
    /// The connection broke while it was read.
    Broken,
}

/// The whole body, at most [`MAX_BODY_BYTES`]: a larger `Content-Length` is refused before
/// a byte is read, and a chunked body as soon as it passes the limit.
async fn read_body(body: Incoming) -> Result<Bytes, BodyRefused> {
    // Hyper's size hint is the announced Content-Length, exactly.
    if body.size_hint().lower() > MAX_BODY_BYTES as u64 {
        return Err(BodyRefused::TooLarge);
    }
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(BodyRefused::TooLarge),
        Err(_) => Err(BodyRefused::Broken),
    }
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
    // A timestamp ahead of the clock would make a signature that never expires; the
    // client corrects its clock past the same tolerance.
    if timestamp.saturating_sub(now) > CLOCK_TOLERANCE.unsigned_abs() {
        return Err("timestamp is in the future");
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
