//! When a failed request is sent again: a pure decision from the operation's kind, the
//! failure and the attempt number, configured by a [`RetryPolicy`].
//!
//! An operation is a read when `openapi.yaml` marks it `x-idempotent: true` (authenticate,
//! the reads, the lists, the conversation), else a write ([`OperationKind`]).
//!
//! | failure | read (`authenticate`, `read`, `list`, conversation) | write (create, prompt, update, stop, delete) |
//! | --- | --- | --- |
//! | never sent (connection refused, DNS) | retried | retried |
//! | one attempt timed out (the connect timeout, or the HTTP client's own), connection reset, body cut short | retried | not retried: [`Error::OutcomeUnknown`] |
//! | HTTP 429 | retried after `Retry-After` (capped) or the backoff | not retried |
//! | HTTP 502, 503, 504 | retried | not retried |
//! | anything else (`success: false`, 401, 500, a body that does not decode) | not retried | not retried |
//!
//! Every retry also has to fit in the call's deadline, the request timeout
//! ([`ClientBuilder::request_timeout`](crate::ClientBuilder::request_timeout)): a delay that
//! would reach it ends the call with the last error, and when the deadline itself cuts an
//! attempt off the call ends with [`Error::Timeout`].
//!
//! A write that may have reached the server is never repeated: a second create would make
//! a second task, a second prompt a second run. Its error says that the outcome is unknown.
//! (A 401 is the exception on both sides: the server refused the signature, so nothing
//! happened, and the client retries once with a corrected clock; see
//! [`Client`](crate::Client).)

use std::time::Duration;

pub use crate::operation::OperationKind;
use tokio::sync::Semaphore;

use crate::{
    backoff::{random_unit, Backoff},
    error::{self, TRANSIENT_STATUSES},
    operation::Operation,
    transport::Transport,
    Error,
};

/// What went wrong with one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The request surely never reached the server (connection refused, DNS failure).
    NotSent,
    /// No complete answer within the request timeout.
    TimedOut,
    /// The connection failed after the request may have been sent (reset, body cut short).
    Interrupted,
    /// An HTTP status that may pass (429, 502, 503, 504), with the server's `Retry-After`.
    Overloaded {
        /// The HTTP status.
        status: u16,
        /// The server's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// An answer that another attempt will not change.
    Final,
}

impl Failure {
    /// Classifies an error of one attempt.
    pub fn of(error: &Error) -> Failure {
        match error {
            Error::Transport { source, .. } if source.is_connect() => Failure::NotSent,
            Error::Transport { source, .. } if source.is_timeout() => Failure::TimedOut,
            Error::Transport { .. } => Failure::Interrupted,
            Error::Timeout { .. } => Failure::TimedOut,
            Error::UnexpectedStatus {
                status,
                retry_after,
                ..
            } if TRANSIENT_STATUSES.contains(status) => Failure::Overloaded {
                status: *status,
                retry_after: *retry_after,
            },
            Error::Api { status, .. } if TRANSIENT_STATUSES.contains(status) => {
                Failure::Overloaded {
                    status: *status,
                    retry_after: None,
                }
            }
            _ => Failure::Final,
        }
    }
}

/// How many times, and how far apart, failed requests are sent again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    max_attempts: u32,
    backoff: Backoff,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts in all, 250 ms then 500 ms apart (up to half of it shaved off by
    /// jitter), and a server's `Retry-After` honoured up to 30 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            backoff: Backoff::new(Duration::from_millis(250), Duration::from_secs(4))
                .with_jitter(0.5),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries: every request is sent once.
    pub fn disabled() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// At most `attempts` sends of one request, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The delays between attempts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The longest `Retry-After` honoured; a longer one is cut to it.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// How many sends at most.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Whether to send again after `attempt` (1 for the first) failed with `failure`, and
    /// after how long; `unit` is a uniform draw in [0, 1] for the jitter.
    ///
    /// ```
    /// use std::time::Duration;
    /// use quantconnect_agents::retry::{Failure, OperationKind, RetryPolicy};
    ///
    /// let policy = RetryPolicy::default();
    /// let busy = Failure::Overloaded { status: 429, retry_after: Some(Duration::from_secs(2)) };
    /// assert_eq!(policy.delay(OperationKind::Read, busy, 1, 0.5), Some(Duration::from_secs(2)));
    /// assert_eq!(policy.delay(OperationKind::Write, busy, 1, 0.5), None);
    /// assert_eq!(policy.delay(OperationKind::Write, Failure::TimedOut, 1, 0.5), None);
    /// assert!(policy.delay(OperationKind::Write, Failure::NotSent, 1, 0.5).is_some());
    /// ```
    pub fn delay(
        &self,
        kind: OperationKind,
        failure: Failure,
        attempt: u32,
        unit: f64,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let backoff = self.backoff.delay(attempt.saturating_sub(1), unit);
        match (failure, kind) {
            (Failure::NotSent, _) => Some(backoff),
            (Failure::TimedOut | Failure::Interrupted, OperationKind::Read) => Some(backoff),
            (Failure::Overloaded { retry_after, .. }, OperationKind::Read) => {
                Some(retry_after.map_or(backoff, |wait| wait.min(self.max_retry_after)))
            }
            (
                Failure::TimedOut | Failure::Interrupted | Failure::Overloaded { .. },
                OperationKind::Write,
            )
            | (Failure::Final, _) => None,
        }
    }
}

/// A deadline that never comes, for a request timeout too long to add to the clock: thirty
/// years, tokio's own "far future".
const NEVER: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

/// The error a caller gets: a write that may have reached the server says that its outcome
/// is unknown.
fn finish(kind: OperationKind, failure: Failure, error: Error) -> Error {
    let maybe_sent = matches!(failure, Failure::TimedOut | Failure::Interrupted)
        || matches!(
            error,
            Error::ResponseTooLarge { .. }
                | Error::ResponseTooComplex { .. }
                | Error::Redirect { .. }
        );
    match (kind, error) {
        (OperationKind::Write, error) if maybe_sent => Error::OutcomeUnknown {
            operation: error.operation().unwrap_or("request"),
            source: Box::new(error),
        },
        (_, error) => error,
    }
}

/// The attempts of one operation, and how many there were, all within one deadline:
/// the request timeout, counted from the call's start. Each attempt gets what remains
/// of it; a retry whose delay would reach the deadline is not made (the call ends with
/// the last error), and one that is running when the deadline comes is cut off
/// ([`Error::Timeout`]).
pub(crate) async fn attempts<O: Operation>(
    transport: &Transport,
    in_flight: &Semaphore,
    policy: &RetryPolicy,
    request_timeout: Duration,
    body: &O,
) -> (Result<Box<O::Response>, Error>, u32) {
    let operation = O::ID;
    let kind = O::KIND;
    let started = tokio::time::Instant::now();
    // A timeout too long to add to the clock (`Duration::MAX` for "none") is a deadline
    // that never comes.
    let deadline = started
        .checked_add(request_timeout)
        .unwrap_or_else(|| started + NEVER);
    let timed_out = |attempts: u32| Error::Timeout {
        operation,
        limit: request_timeout,
        elapsed: started.elapsed(),
        attempts,
    };
    let mut attempt = 0u32;
    let mut clock_corrected = false;
    loop {
        attempt += 1;
        // A turn among the client's requests in flight; waiting for one counts.
        let permit = match in_flight.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                match tokio::time::timeout_at(deadline, in_flight.acquire()).await {
                    Ok(permit) => permit.expect("the semaphore is never closed"),
                    // Nothing was sent in this attempt.
                    Err(_) => return (Err(timed_out(attempt - 1)), attempt - 1),
                }
            }
        };
        let outcome = match tokio::time::timeout_at(deadline, transport.send(body)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(timed_out(attempt)),
        };
        drop(permit);
        let error = match outcome {
            Ok(body) => return (Ok(body), attempt),
            Err(error) => error,
        };
        tracing::debug!(attempt, status = error.status(), error = %error, "attempt failed");
        let failure = Failure::of(&error);
        let delay = match &error {
            // The signature was refused, so nothing happened: safe to resend, once, with
            // the server's clock.
            Error::Authentication {
                clock_offset: Some(offset),
                ..
            } if (offset - transport.clock_offset()).abs() > error::CLOCK_TOLERANCE
                && offset.abs() <= error::MAX_CLOCK_CORRECTION
                && !clock_corrected =>
            {
                tracing::warn!(
                    offset_seconds = offset,
                    "this machine's clock is off the server's; correcting signatures"
                );
                // The server's clock against this machine's own: the whole offset.
                transport.set_clock_offset(*offset);
                clock_corrected = true;
                Some(std::time::Duration::ZERO)
            }
            _ => policy.delay(kind, failure, attempt, random_unit()),
        };
        match delay {
            // No retry that the deadline would cut off before it is even sent.
            Some(delay)
                if delay < deadline.saturating_duration_since(tokio::time::Instant::now()) =>
            {
                tokio::time::sleep(delay).await
            }
            Some(delay) => {
                tracing::debug!(
                    delay_ms = delay.as_millis() as u64,
                    "no retry: the request timeout would run out first"
                );
                return (Err(finish(kind, failure, error)), attempt);
            }
            None => return (Err(finish(kind, failure, error)), attempt),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OperationKind::{Read, Write};

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn the_decision_table() {
        let policy =
            RetryPolicy::default().backoff(Backoff::new(MS(100), MS(400)).with_jitter(0.0));
        let overloaded = |status| Failure::Overloaded {
            status,
            retry_after: None,
        };
        let cases: &[(OperationKind, Failure, u32, Option<Duration>)] = &[
            (Read, Failure::NotSent, 1, Some(MS(100))),
            (Write, Failure::NotSent, 1, Some(MS(100))),
            (Read, Failure::NotSent, 2, Some(MS(200))),
            (Read, Failure::NotSent, 3, None),
            (Read, Failure::TimedOut, 1, Some(MS(100))),
            (Write, Failure::TimedOut, 1, None),
            (Read, Failure::Interrupted, 2, Some(MS(200))),
            (Write, Failure::Interrupted, 1, None),
            (Read, overloaded(429), 1, Some(MS(100))),
            (Read, overloaded(502), 1, Some(MS(100))),
            (Read, overloaded(503), 2, Some(MS(200))),
            (Read, overloaded(504), 1, Some(MS(100))),
            (Write, overloaded(503), 1, None),
            (Write, overloaded(429), 1, None),
            (Read, Failure::Final, 1, None),
            (Write, Failure::Final, 1, None),
        ];
        for (kind, failure, attempt, expected) in cases {
            assert_eq!(
                policy.delay(*kind, *failure, *attempt, 1.0),
                *expected,
                "{kind:?} {failure:?} attempt {attempt}"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let policy = RetryPolicy::default().max_retry_after(Duration::from_secs(10));
        let after = |secs| Failure::Overloaded {
            status: 429,
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(
            policy.delay(Read, after(3), 1, 0.0),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            policy.delay(Read, after(3600), 1, 0.0),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn disabled_never_retries_and_attempts_are_at_least_one() {
        assert_eq!(
            RetryPolicy::disabled().delay(Read, Failure::NotSent, 1, 1.0),
            None
        );
        assert_eq!(RetryPolicy::default().max_attempts(0).attempts(), 1);
    }

    #[test]
    fn operations_are_classified_by_their_ids() {
        let kind = |id| {
            crate::operation::find(id)
                .expect("an operation of the spec")
                .kind
        };
        for read in [
            "authenticate",
            "readAgent",
            "listAgents",
            "readAgentTask",
            "listAgentTasks",
            "readAgentDeployment",
            "listAgentDeployments",
            "readAgentConversation",
        ] {
            assert_eq!(kind(read), Read, "{read}");
        }
        for write in [
            "createAgent",
            "updateAgent",
            "deleteAgent",
            "createAgentTask",
            "updateAgentTask",
            "deleteAgentTask",
            "createAgentDeployment",
            "updateAgentDeployment",
            "stopAgentDeployment",
            "deleteAgentDeployment",
        ] {
            assert_eq!(kind(write), Write, "{write}");
        }
    }
}
