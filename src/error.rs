//! The crate's one error type and how it reads: every message names the operation and is
//! one bounded line. Which HTTP response means which error is the transport's
//! (`transport/response.rs`).

use std::{fmt, path::PathBuf, time::Duration};

/// Every way a call can fail.
///
/// Messages name the operation (QuantConnect's operation id, e.g. `readAgentTask`) and never
/// contain the API token, its hash or the request's headers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered `success: false`: it understood the request and refused it.
    #[error(
        "{operation}: QuantConnect refused the request (HTTP {status}): {}",
        ErrorList(errors)
    )]
    Api {
        /// QuantConnect's operation id.
        operation: &'static str,
        /// The HTTP status, usually 200.
        status: u16,
        /// The server's `errors`, as sent (may be empty).
        errors: Vec<String>,
    },

    /// The server rejected the credentials or the request's timestamp.
    #[error("{operation}: authentication failed ({detail}); {}", ClockAdvice(*clock_offset))]
    Authentication {
        /// QuantConnect's operation id.
        operation: &'static str,
        /// The HTTP status: 401, or 200 with a `Hash doesn't match` / `UserID not valid` error.
        status: u16,
        /// What the server said.
        detail: String,
        /// How far the server's clock (its `Date` header) was ahead of this machine's, in
        /// seconds, when it said so.
        clock_offset: Option<i64>,
    },

    /// The server said `success: true` but left out the object the operation returns.
    #[error("{operation}: the response says success but has no `{field}`")]
    MissingPayload {
        /// QuantConnect's operation id.
        operation: &'static str,
        /// The JSON key that was expected, e.g. `task`.
        field: &'static str,
    },

    /// An HTTP status the API does not document (a proxy's 502, an empty 500, ...).
    #[error("{operation}: unexpected HTTP status {status}: {excerpt}")]
    UnexpectedStatus {
        /// QuantConnect's operation id.
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// The start of the body, cleaned up for display.
        excerpt: String,
        /// The server's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },

    /// A body that is not the JSON the spec describes (HTML, truncated, a wrong type).
    #[error(
        "{operation}: the response (HTTP {status}) could not be decoded: {source}; body: {excerpt}"
    )]
    InvalidResponse {
        /// QuantConnect's operation id.
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// The start of the body, cleaned up for display.
        excerpt: String,
        /// What the decoder said.
        #[source]
        source: serde_json::Error,
    },

    /// The request or the response did not make it across the network (connection refused,
    /// reset, timed out, body cut short). For a request that changes something (create,
    /// prompt, update, stop, delete) the outcome is unknown: it may have taken effect.
    #[error("{operation}: network error: {}", Causes(source))]
    Transport {
        /// QuantConnect's operation id.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },

    /// No complete answer within the request timeout, which bounds the whole call: every
    /// attempt, and the waits between them (see
    /// [`ClientBuilder::request_timeout`](crate::ClientBuilder::request_timeout)).
    #[error(
        "{operation}: no answer within the {} request timeout ({}, {:.1} s)",
        Seconds(*limit),
        Attempts(*attempts),
        elapsed.as_secs_f64()
    )]
    Timeout {
        /// QuantConnect's operation id.
        operation: &'static str,
        /// The request timeout that ran out.
        limit: Duration,
        /// How long the call took, from its start to giving up.
        elapsed: Duration,
        /// How many attempts were sent (0 when the call never got a turn to send).
        attempts: u32,
    },

    /// The response holds more JSON objects or values than the client decodes (see
    /// [`MAX_RESPONSE_OBJECTS`](crate::MAX_RESPONSE_OBJECTS)): what bounds the memory a
    /// response costs, whatever its shape. Not decoded; for a write the outcome is unknown.
    #[error(
        "{operation}: the response holds more than {max_objects} JSON objects or \
         {max_values} values; not decoded"
    )]
    ResponseTooComplex {
        /// QuantConnect's operation id.
        operation: &'static str,
        /// The limit on objects.
        max_objects: usize,
        /// The limit on values.
        max_values: usize,
    },

    /// The server answered with a redirect (HTTP 3xx), which the client never follows:
    /// requests go to the base URL and nowhere else, so the signature cannot be sent on to
    /// another host or over plain http. Never retried; for a write the outcome is unknown
    /// ([`Error::OutcomeUnknown`]), since a server may act and then redirect.
    #[error("{operation}: {}", Redirected { status: *status, location: location.as_deref() })]
    Redirect {
        /// QuantConnect's operation id.
        operation: &'static str,
        /// The redirect's HTTP status; `None` when an HTTP client passed to
        /// [`ClientBuilder::http_client`](crate::ClientBuilder::http_client) followed it, and
        /// the answer came from elsewhere (refused unread).
        status: Option<u16>,
        /// Where it pointed (the `Location`, or the URL the answer came from), without any
        /// credentials it carried, cut for display.
        location: Option<String>,
    },

    /// The response body was longer than the client reads (see
    /// [`ClientBuilder::max_response_bytes`](crate::ClientBuilder::max_response_bytes)).
    #[error("{operation}: the response is larger than {limit} bytes; not read further")]
    ResponseTooLarge {
        /// QuantConnect's operation id.
        operation: &'static str,
        /// The limit, in bytes.
        limit: usize,
    },

    /// A request that changes something (create, prompt, update, stop, delete) was sent, but
    /// no answer came back: it may or may not have taken effect. It is not repeated
    /// automatically; check (e.g. list the tasks or deployments) before sending it again.
    #[error(
        "{operation}: the outcome is unknown, the request may or may not have taken effect \
         (check before sending it again): {}",
        WithoutOperation(source)
    )]
    OutcomeUnknown {
        /// QuantConnect's operation id.
        operation: &'static str,
        /// What went wrong after the request was sent.
        #[source]
        source: Box<Error>,
    },

    /// The request could not be built from the arguments (a required field not set).
    #[error("{operation}: invalid request: {detail}")]
    InvalidRequest {
        /// QuantConnect's operation id.
        operation: &'static str,
        /// What is wrong.
        detail: String,
    },

    /// The operation needs an organization id and none was given or configured.
    #[error(
        "{operation}: no organization id: set QC_ORGANIZATION_ID, call \
         Client::with_organization_id, or set it on the request"
    )]
    MissingOrganization {
        /// QuantConnect's operation id.
        operation: &'static str,
    },

    /// No credentials could be found.
    #[error("no QuantConnect credentials: {detail}")]
    MissingCredentials {
        /// What was looked for and where.
        detail: String,
    },

    /// lean-cli's credentials file exists but cannot be used.
    #[error("cannot use the credentials file {}: {reason}", path.display())]
    CredentialsFile {
        /// The file.
        path: PathBuf,
        /// Why not (never the file's content).
        reason: String,
    },

    /// The client's configuration is unusable (a malformed base URL, say).
    #[error("invalid client configuration: {detail}")]
    Configuration {
        /// What is wrong.
        detail: String,
    },
}

impl Error {
    /// QuantConnect's operation id of the call that failed, when the error comes from a call.
    pub fn operation(&self) -> Option<&'static str> {
        match self {
            Error::Api { operation, .. }
            | Error::Authentication { operation, .. }
            | Error::MissingPayload { operation, .. }
            | Error::UnexpectedStatus { operation, .. }
            | Error::InvalidResponse { operation, .. }
            | Error::Transport { operation, .. }
            | Error::Timeout { operation, .. }
            | Error::ResponseTooLarge { operation, .. }
            | Error::ResponseTooComplex { operation, .. }
            | Error::Redirect { operation, .. }
            | Error::OutcomeUnknown { operation, .. }
            | Error::InvalidRequest { operation, .. }
            | Error::MissingOrganization { operation } => Some(operation),
            Error::MissingCredentials { .. }
            | Error::CredentialsFile { .. }
            | Error::Configuration { .. } => None,
        }
    }

    /// The HTTP status of the response, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. }
            | Error::Authentication { status, .. }
            | Error::UnexpectedStatus { status, .. }
            | Error::InvalidResponse { status, .. } => Some(*status),
            Error::Redirect { status, .. } => *status,
            Error::Transport { source, .. } => source.status().map(|s| s.as_u16()),
            Error::OutcomeUnknown { source, .. } => source.status(),
            _ => None,
        }
    }

    /// Whether the failure is likely to pass if the same read is tried again later: a
    /// network error (refused, reset, timed out, body cut short) or HTTP 429, 502, 503 or
    /// 504, whatever the body says. `success: false` at HTTP 200 is a refusal, not transient.
    ///
    /// Only reads should be repeated on this basis: a create or prompt that failed with a
    /// network error may have taken effect.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::Timeout { .. } => true,
            Error::UnexpectedStatus { status, .. } | Error::Api { status, .. } => {
                TRANSIENT_STATUSES.contains(status)
            }
            _ => false,
        }
    }

    /// The server's `errors` list, for [`Error::Api`].
    pub fn api_errors(&self) -> &[String] {
        match self {
            Error::Api { errors, .. } => errors,
            _ => &[],
        }
    }
}

/// The HTTP statuses that may pass if the same request is tried later: too many requests,
/// and a gateway's bad, unavailable or timed-out upstream.
pub(crate) const TRANSIENT_STATUSES: [u16; 4] = [429, 502, 503, 504];

/// A duration in seconds, as people write it: `60 s`, `0.5 s`.
struct Seconds(Duration);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} s", self.0.as_secs_f64())
    }
}

/// What a [`Error::Redirect`] says.
struct Redirected<'a> {
    status: Option<u16>,
    location: Option<&'a str>,
}

impl fmt::Display for Redirected<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let location = self.location.unwrap_or("(no Location)");
        match self.status {
            Some(status) => write!(
                f,
                "the server answered HTTP {status}, a redirect to `{location}`, which is not \
                 followed: requests go only to the base URL (is the base URL right?)"
            ),
            None => write!(
                f,
                "the HTTP client followed a redirect to `{location}`, and its answer was refused \
                 unread: requests go only to the base URL (build the reqwest::Client with \
                 `redirect(reqwest::redirect::Policy::none())`)"
            ),
        }
    }
}

/// `text` (a URL, whole or not) without the `user:password@` of its authority, if any.
pub(crate) fn without_credentials(text: &str) -> std::borrow::Cow<'_, str> {
    let start = match text.find("://") {
        Some(i) => i + 3,
        None if text.starts_with("//") => 2,
        None => 0,
    };
    let end = text[start..]
        .find(['/', '?', '#'])
        .map_or(text.len(), |i| start + i);
    match text[start..end].rfind('@') {
        Some(at) => format!("{}{}", &text[..start], &text[start + at + 1..]).into(),
        None => text.into(),
    }
}

/// `1 attempt`, `3 attempts`.
struct Attempts(u32);

impl fmt::Display for Attempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("1 attempt"),
            n => write!(f, "{n} attempts"),
        }
    }
}

/// The advice an authentication error ends with, from what the server's clock said.
struct ClockAdvice(Option<i64>);

impl fmt::Display for ClockAdvice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const CREDENTIALS: &str =
            "check the user id and API token (QC_USER_ID / QC_API_TOKEN or ~/.lean/credentials)";
        match self.0 {
            Some(offset) if offset.abs() > MAX_CLOCK_CORRECTION => write!(
                f,
                "the server's Date header puts its clock {}s {} this machine's, more than the \
                 {MAX_CLOCK_CORRECTION} s the client corrects for: that clock could not be \
                 used, so the request was not signed again with it; check this machine's \
                 clock, and {CREDENTIALS}",
                offset.abs(),
                if offset > 0 { "ahead of" } else { "behind" }
            ),
            Some(offset) if offset.abs() > CLOCK_TOLERANCE => write!(
                f,
                "this machine's clock is {}s {} the server's: set it right (QuantConnect rejects \
                 signatures whose timestamp is more than 7200 s old), and {CREDENTIALS}",
                offset.abs(),
                if offset > 0 { "behind" } else { "ahead of" }
            ),
            Some(_) => write!(
                f,
                "this machine's clock agrees with the server's, so {CREDENTIALS}"
            ),
            None => write!(
                f,
                "{CREDENTIALS}, and that this machine's clock is right: QuantConnect rejects \
                 signatures whose timestamp is more than 7200 s old"
            ),
        }
    }
}

/// How far, in seconds, the local clock may be off the server's before the client corrects
/// its signatures.
pub(crate) const CLOCK_TOLERANCE: i64 = 60;

/// The largest offset, in seconds, the client takes from a server's `Date` to sign with: a
/// day. A server claiming more is not trusted to choose the signing clock.
pub(crate) const MAX_CLOCK_CORRECTION: i64 = 24 * 60 * 60;

/// An error and its sources, `a: b: c`, skipping repeats (reqwest's messages do not include
/// their causes, and the cause is what says "connection reset").
struct Causes<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last = self.0.to_string();
        f.write_str(&last)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !last.contains(&text) {
                write!(f, ": {text}")?;
            }
            last = text;
            source = cause.source();
        }
        Ok(())
    }
}

/// An error's message without its leading `operation: `, to nest it in another.
struct WithoutOperation<'a>(&'a Error);

impl fmt::Display for WithoutOperation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.to_string();
        match self.0.operation().and_then(|op| text.strip_prefix(op)) {
            Some(rest) => f.write_str(rest.trim_start_matches(": ")),
            None => f.write_str(&text),
        }
    }
}

/// How many of the server's errors a message shows; the rest are counted.
const ERRORS_SHOWN: usize = 3;

/// The server's errors for a message: the first [`ERRORS_SHOWN`], each an [`excerpt`],
/// then how many more there are. The typed error keeps them all.
pub(crate) struct ErrorList<'a>(pub(crate) &'a [String]);

impl fmt::Display for ErrorList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no reason given");
        }
        for (i, error) in self.0.iter().take(ERRORS_SHOWN).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(&excerpt(error.as_bytes()))?;
        }
        match self.0.len().saturating_sub(ERRORS_SHOWN) {
            0 => Ok(()),
            more => write!(f, "; and {more} more"),
        }
    }
}

pub(crate) const EXCERPT_CHARS: usize = 240;

/// The start of a body, fit for a one-line message: control characters and runs of white
/// space folded to one space, cut at [`EXCERPT_CHARS`] characters.
pub(crate) fn excerpt(body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty body)".to_owned();
    }
    let head = &body[..body.len().min(EXCERPT_CHARS * 4)];
    let text = String::from_utf8_lossy(head);
    let mut out = String::new();
    let mut chars = 0;
    let mut last_space = true;
    for c in text.chars() {
        if chars == EXCERPT_CHARS {
            out.push('…');
            break;
        }
        if c.is_whitespace() || c.is_control() {
            if !last_space {
                out.push(' ');
                chars += 1;
            }
            last_space = true;
        } else {
            out.push(c);
            chars += 1;
            last_space = false;
        }
    }
    let trimmed = out.trim_end();
    if trimmed.len() < out.len() {
        out.truncate(trimmed.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_advice_follows_the_measured_offset() {
        let auth = |clock_offset| Error::Authentication {
            operation: "authenticate",
            status: 401,
            detail: "HTTP 401".into(),
            clock_offset,
        };
        let text = auth(Some(3600)).to_string();
        assert!(text.contains("3600s behind the server's"), "{text}");
        let text = auth(Some(-120)).to_string();
        assert!(text.contains("120s ahead of the server's"), "{text}");
        let text = auth(Some(253_402_300_799 - 1_800_000_000)).to_string();
        assert!(text.contains("could not be used"), "{text}");
        let text = auth(Some(2)).to_string();
        assert!(
            text.contains("agrees with the server's") && text.contains("QC_API_TOKEN"),
            "{text}"
        );
        let text = auth(None).to_string();
        assert!(
            text.contains("clock") && text.contains("QC_API_TOKEN"),
            "{text}"
        );
    }

    #[test]
    fn excerpts_are_short_single_lines() {
        assert_eq!(excerpt(b""), "(empty body)");
        assert_eq!(
            excerpt(b"<html>\n  <head><title>502 Bad Gateway</title></head>\n</html>\n"),
            "<html> <head><title>502 Bad Gateway</title></head> </html>"
        );
        let long = "x".repeat(10_000);
        let cut = excerpt(long.as_bytes());
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt(&[0xff, 0xfe, b'a']), "\u{fffd}\u{fffd}a");
    }
}
