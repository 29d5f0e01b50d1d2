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
use crate::{backoff::Backoff, Error};

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
                status: status @ (429 | 502 | 503 | 504),
                retry_after,
                ..
            } => Failure::Overloaded {
                status: *status,
                retry_after: *retry_after,
            },
            Error::Api {
                status: status @ (429 | 502 | 503 | 504),
                ..
            } => Failure::Overloaded {
                status: *status,
                retry_after: None,
            },
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
            assert_eq!(OperationKind::of(read), Read, "{read}");
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
            assert_eq!(OperationKind::of(write), Write, "{write}");
        }
        assert_eq!(
            OperationKind::of("somethingNew"),
            Write,
            "unknown operations are treated as writes"
        );
    }
}
