//! What a call tells `tracing`: a DEBUG span around its attempts, in which the retry and
//! wait events fall, and one DEBUG event when it ends, with its operation, status (or what
//! went wrong), attempts and duration. The README's "Logging" lists the targets.

use std::future::Future;

use tracing::{field::Empty, Instrument as _};

use crate::{duration::for_people, error::Error};

/// The target of the span and of the event: one line per call at DEBUG.
const TARGET: &str = "quantconnect_agents::request";

/// Runs a call's `attempts` (its result and how many were sent) in its span, then logs how
/// it went. Neither the span nor the event holds more than the operation id and the outcome:
/// no request body, header or credential.
pub(super) async fn traced<T>(
    operation: &'static str,
    attempts: impl Future<Output = (Result<T, Error>, u32)>,
) -> Result<T, Error> {
    let span = tracing::debug_span!(
        target: TARGET,
        "request",
        operation = %operation,
        attempts = Empty,
        status = Empty,
        duration_ms = Empty,
    );
    // Entering and leaving a span on every poll costs; skip it when nobody listens.
    if span.is_disabled() {
        return attempts.await.0;
    }
    let started = tokio::time::Instant::now();
    let (result, attempt) = attempts.instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = match &result {
        Ok(_) => Some(200),
        Err(e) => e.status(),
    };
    span.record("attempts", attempt);
    span.record("status", status.unwrap_or(0));
    span.record("duration_ms", elapsed.as_millis() as u64);
    // Outside the span, whose prefix would repeat the operation.
    tracing::debug!(
        target: TARGET,
        operation = %operation,
        status,
        error = result.as_ref().err().map(|e| tracing::field::display(kind(e))),
        attempts = attempt,
        duration = %for_people(elapsed),
    );
    result
}

/// A word for what went wrong, beside the status when there was one.
fn kind(error: &Error) -> &'static str {
    match error {
        Error::Api { .. } => "refused",
        Error::Authentication { .. } => "authentication",
        Error::Transport { .. } => "network",
        Error::Timeout { .. } => "timeout",
        Error::Redirect { .. } => "redirect",
        Error::OutcomeUnknown { .. } => "outcome-unknown",
        Error::UnexpectedStatus { .. } => "unexpected-status",
        // Not what the API documents: no payload, undecodable, too large or too complex.
        _ => "invalid-response",
    }
}
