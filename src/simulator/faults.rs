//! Faults a test injects ([`Simulator::inject`](super::Simulator::inject)): what each does
//! ([`FaultKind`]), which requests it applies to ([`Fault`]), and the code that picks the
//! fault for a request ([`take`]) and carries it out before the request is answered
//! ([`intercept`]).

use std::time::Duration;

use bytes::Bytes;
use hyper::{header, StatusCode};

use super::reply::{plain, status_code, streamed, BodyError, Dropped, Reply};

/// What a [`Fault`] does to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Answers normally, after this delay.
    Latency(Duration),
    /// Answers this HTTP status with an empty body, without doing anything.
    Status(u16),
    /// Answers 429 with a `Retry-After` of this many seconds, without doing anything.
    TooManyRequests {
        /// The `Retry-After` value, in seconds.
        retry_after: u64,
    },
    /// Answers this status with an HTML page, as a proxy or load balancer does.
    HtmlPage(u16),
    /// Closes the connection without answering and without doing anything.
    DropConnection,
    /// Does what the request asks, then closes the connection without answering: the
    /// caller cannot know that its request took effect.
    DropConnectionAfterEffect,
    /// Answers exactly this, without doing anything: a truncated JSON document, a body of
    /// the wrong content type, numbers out of range, whatever a test needs.
    Respond {
        /// The HTTP status.
        status: u16,
        /// The `Content-Type` header.
        content_type: String,
        /// The body, as sent.
        body: String,
    },
    /// Answers 200 with a JSON content type, then sends the body one byte a second.
    Drip,
    /// Answers 200 with a body of `bytes` bytes, announced in `Content-Length` or not.
    LargeBody {
        /// How long the body is.
        bytes: u64,
        /// Whether `Content-Length` says so up front (else the body is chunked).
        declare_length: bool,
    },
    /// Answers 200, announces a body, sends half of it and breaks the connection.
    ResetMidBody,
}

/// A fault injected into chosen operations: [`Simulator::inject`].
///
/// [`Simulator::inject`]: super::Simulator::inject
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    kind: FaultKind,
    operations: Vec<String>,
    times: Option<u32>,
}

impl Fault {
    /// A fault on every operation, every time, until [`Simulator::clear_faults`].
    ///
    /// [`Simulator::clear_faults`]: super::Simulator::clear_faults
    pub fn new(kind: FaultKind) -> Self {
        Fault {
            kind,
            operations: Vec::new(),
            times: None,
        }
    }

    /// Only for this operation (QuantConnect's id, e.g. `readAgentDeployment`); call again
    /// to add more.
    pub fn on(mut self, operation_id: &str) -> Self {
        self.operations.push(operation_id.to_owned());
        self
    }

    /// Only for the next `times` matching requests.
    pub fn times(mut self, times: u32) -> Self {
        self.times = Some(times);
        self
    }

    fn matches(&self, operation: &str) -> bool {
        self.times != Some(0)
            && (self.operations.is_empty() || self.operations.iter().any(|o| o == operation))
    }
}

/// The fault for a request of `operation`: the first of `faults` that matches, one of its
/// `times` used up.
pub(super) fn take(faults: &mut [Fault], operation: &str) -> Option<FaultKind> {
    let fault = faults.iter_mut().find(|f| f.matches(operation))?;
    if let Some(times) = fault.times.as_mut() {
        *times -= 1;
    }
    Some(fault.kind.clone())
}

/// Carries out `fault` before the request is checked and answered: `Ok(Some(reply))` is
/// the answer instead, `Err(Dropped)` closes the connection, and `Ok(None)` lets the
/// request through (after the delay of a [`FaultKind::Latency`]; the caller drops the
/// connection after answering a [`FaultKind::DropConnectionAfterEffect`]).
pub(super) async fn intercept(fault: &FaultKind) -> Result<Option<Reply>, Dropped> {
    let reply = match fault {
        FaultKind::Latency(delay) => {
            tokio::time::sleep(*delay).await;
            return Ok(None);
        }
        FaultKind::DropConnectionAfterEffect => return Ok(None),
        FaultKind::DropConnection => return Err(Dropped),
        FaultKind::Status(status) => plain(status_code(*status), "text/plain", String::new()),
        FaultKind::TooManyRequests { retry_after } => {
            let mut reply = plain(StatusCode::TOO_MANY_REQUESTS, "text/plain", String::new());
            reply
                .headers_mut()
                .insert(header::RETRY_AFTER, (*retry_after).into());
            reply
        }
        FaultKind::HtmlPage(status) => {
            let code = status_code(*status);
            let reason = code.canonical_reason().unwrap_or("Error");
            let page = format!(
                "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            );
            plain(code, "text/html", page)
        }
        FaultKind::Respond {
            status,
            content_type,
            body,
        } => plain(status_code(*status), content_type, body.clone()),
        FaultKind::Drip => {
            let drip = futures_util::stream::unfold(0u32, |sent| async move {
                if sent > 0 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                (sent < 3600).then(|| (Ok(Bytes::from_static(b" ")), sent + 1))
            });
            streamed(StatusCode::OK, None, drip)
        }
        FaultKind::LargeBody {
            bytes,
            declare_length,
        } => {
            const CHUNK: u64 = 64 * 1024;
            let bytes = *bytes;
            let zeros = Bytes::from(vec![b'0'; CHUNK as usize]);
            let chunks = futures_util::stream::unfold(0u64, move |sent| {
                let zeros = zeros.clone();
                async move {
                    (sent < bytes).then(|| {
                        let n = CHUNK.min(bytes - sent);
                        (Ok(zeros.slice(..n as usize)), sent + n)
                    })
                }
            });
            streamed(StatusCode::OK, declare_length.then_some(bytes), chunks)
        }
        FaultKind::ResetMidBody => {
            let half = futures_util::stream::iter([
                Ok(Bytes::from_static(
                    br#"{"success": true, "task": {"id": 33"#,
                )),
                Err(BodyError::from("connection reset by an injected fault")),
            ]);
            streamed(StatusCode::OK, Some(200), half)
        }
    };
    Ok(Some(reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_fault_wins_and_counts_down() {
        let mut faults = vec![
            Fault::new(FaultKind::Status(503))
                .on("readAgentTask")
                .times(1),
            Fault::new(FaultKind::Status(500)),
        ];
        let mut next = |op| take(&mut faults, op);
        assert_eq!(next("readAgentTask"), Some(FaultKind::Status(503)));
        assert_eq!(next("readAgentTask"), Some(FaultKind::Status(500)));
        assert_eq!(next("createAgentTask"), Some(FaultKind::Status(500)));

        let mut faults = vec![Fault::new(FaultKind::DropConnection)
            .on("createAgentDeployment")
            .on("updateAgentDeployment")
            .times(2)];
        assert_eq!(take(&mut faults, "readAgentDeployment"), None);
        assert!(take(&mut faults, "updateAgentDeployment").is_some());
        assert!(take(&mut faults, "createAgentDeployment").is_some());
        assert_eq!(take(&mut faults, "createAgentDeployment"), None);
    }
}
