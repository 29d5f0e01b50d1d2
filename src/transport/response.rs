//! A response, read: its body decoded into the operation's response type when its envelope
//! says success (within the shape limits), else mapped onto the [`Error`] it means.
//!
//! QuantConnect reports most failures as HTTP 200 with `{"success": false, "errors": [...]}`,
//! authentication failures as HTTP 401 or as an `errors` entry starting `Hash doesn't match`
//! or `UserID not valid`, and proxies in front of it answer with HTML pages. Every one of
//! these becomes an [`Error`]; none comes back as `Ok`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use crate::{
    error::{excerpt, Error, ErrorList},
    operation::Envelope,
};

/// How many JSON objects a response may hold at most: 262,144. With
/// [`MAX_RESPONSE_VALUES`] this bounds what decoding a response costs in memory, whatever
/// its shape (README, "Limits"); a response past either is [`Error::ResponseTooComplex`].
/// A conversation of 2,000 messages holds a few thousand.
pub const MAX_RESPONSE_OBJECTS: usize = 1 << 18;
/// How many JSON values a response may hold at most: 2,097,152, each `{`, `[`, `,` and
/// string (keys included) counted as one. See [`MAX_RESPONSE_OBJECTS`].
pub const MAX_RESPONSE_VALUES: usize = 1 << 21;

/// Whether `body` holds at most [`MAX_RESPONSE_OBJECTS`](MAX_RESPONSE_OBJECTS) JSON
/// objects and [`MAX_RESPONSE_VALUES`](MAX_RESPONSE_VALUES) values, counted from its
/// `{`, `[`, `,` and strings (keys included) in one pass. What a body costs to decode follows from
/// them (an empty `{}` can become a 600-byte struct), not from its length.
fn within_shape_limits(body: &[u8]) -> bool {
    // A body this short is within both without a look: an object that decodes takes two
    // bytes (`{}`), a value one.
    if body.len() <= 2 * MAX_RESPONSE_OBJECTS {
        return true;
    }
    let (mut objects, mut values) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in body {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' => objects += 1,
            b'[' | b',' => {}
            _ => continue,
        }
        values += 1;
        if objects > MAX_RESPONSE_OBJECTS || values > MAX_RESPONSE_VALUES {
            return false;
        }
    }
    true
}

/// A 200's `body` as `T` when its envelope says success, else the matching [`Error`]. A
/// missing `success` counts as failure, as in QuantConnect's own clients.
pub(crate) fn decode<T: Envelope + DeserializeOwned>(
    operation: &'static str,
    body: &[u8],
    headers: &HeaderMap,
) -> Result<Box<T>, Error> {
    if !within_shape_limits(body) {
        return Err(Error::ResponseTooComplex {
            operation,
            max_objects: MAX_RESPONSE_OBJECTS,
            max_values: MAX_RESPONSE_VALUES,
        });
    }
    match serde_json::from_slice::<Box<T>>(body) {
        Ok(decoded) if decoded.success() == Some(true) => Ok(decoded),
        Ok(mut decoded) => Err(failure(
            operation,
            200,
            decoded.take_errors(),
            clock_offset(headers),
        )),
        Err(source) => Err(undecodable(operation, body, source)),
    }
}

/// The server's clock minus this machine's, in seconds, from a response's `Date` header.
pub(crate) fn clock_offset(headers: &reqwest::header::HeaderMap) -> Option<i64> {
    let date = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    let server = httpdate::parse_http_date(date).ok()?;
    let server = server.duration_since(UNIX_EPOCH).ok()?.as_secs() as i64;
    let local = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(server - local)
}

/// A `Retry-After` header: seconds, or an HTTP date.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The `success`/`errors` envelope every response carries.
#[derive(serde::Deserialize)]
struct BareEnvelope {
    success: Option<bool>,
    #[serde(default)]
    errors: Option<serde_json::Value>,
}

/// Errors from the server that mean the credentials or the timestamp are wrong
/// (lean-cli treats the same prefixes so).
const AUTH_ERROR_PREFIXES: &[&str] = &["Hash doesn't match", "UserID not valid"];

/// The error for a response whose envelope says failure; `clock_offset` is the server's
/// clock minus ours, when the response said.
pub(crate) fn failure(
    operation: &'static str,
    status: u16,
    errors: Vec<String>,
    clock_offset: Option<i64>,
) -> Error {
    if errors.iter().any(|e| {
        AUTH_ERROR_PREFIXES
            .iter()
            .any(|p| e.trim_start().starts_with(p))
    }) {
        return Error::Authentication {
            operation,
            status,
            detail: ErrorList(&errors).to_string(),
            clock_offset,
        };
    }
    Error::Api {
        operation,
        status,
        errors,
    }
}

/// Reads an `errors` value leniently: a list of strings, one string, or anything else shown
/// as JSON. A failure must not turn into a decoding error because the reason had a new shape.
fn error_strings(value: Option<serde_json::Value>) -> Vec<String> {
    match value {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::String(s)) => vec![s],
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
        Some(other) => vec![other.to_string()],
    }
}

/// For a body that did not decode into the operation's type, or came with an undocumented
/// status: a failure envelope when it is one, else `None`.
pub(crate) fn envelope_failure(
    operation: &'static str,
    status: u16,
    body: &[u8],
    clock_offset: Option<i64>,
) -> Option<Error> {
    let envelope: BareEnvelope = serde_json::from_slice(body).ok()?;
    if envelope.success == Some(true) {
        return None;
    }
    let errors = error_strings(envelope.errors);
    if envelope.success.is_none() && errors.is_empty() {
        return None;
    }
    Some(failure(operation, status, errors, clock_offset))
}

/// How many bytes of an unexpected body are read at most, and shown at most.
const BODY_READ_LIMIT: usize = 64 * 1024;
/// The error for a 401, the only error status the spec documents (its body says nothing).
pub(crate) fn unauthorized(operation: &'static str, response: &reqwest::Response) -> Error {
    let status = response.status();
    let mut detail = format!("HTTP {status}");
    if let Some(challenge) = response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
    {
        detail.push_str(", WWW-Authenticate: ");
        detail.push_str(&excerpt(challenge.as_bytes()));
    }
    Error::Authentication {
        operation,
        status: status.as_u16(),
        detail,
        clock_offset: clock_offset(response.headers()),
    }
}

/// The error for a 200 whose body does not decode into the operation's type: a failure
/// envelope whose other fields have an unexpected shape, else a broken body.
pub(crate) fn undecodable(
    operation: &'static str,
    body: &[u8],
    source: serde_json::Error,
) -> Error {
    envelope_failure(operation, 200, body, None).unwrap_or_else(|| Error::InvalidResponse {
        operation,
        status: 200,
        excerpt: excerpt(body),
        source,
    })
}

/// The error for an undocumented status, with the start of its body.
pub(crate) async fn unexpected_response(
    operation: &'static str,
    mut response: reqwest::Response,
) -> Error {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let mut body = Vec::new();
    // Bounded: a hostile or broken server cannot make the client buffer more than this.
    while body.len() < BODY_READ_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(BODY_READ_LIMIT);
    unexpected(operation, status, retry_after, &body)
}

/// The error for an undocumented status with (the start of) `body`.
pub(crate) fn unexpected(
    operation: &'static str,
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Error {
    envelope_failure(operation, status, body, None).unwrap_or_else(|| Error::UnexpectedStatus {
        operation,
        status,
        excerpt: excerpt(body),
        retry_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EXCERPT_CHARS;

    fn list(items: &str, n: usize) -> Vec<u8> {
        let items = vec![items; n].join(",");
        format!(r#"{{"success":true,"tasks":[{items}]}}"#).into_bytes()
    }

    #[test]
    fn the_shape_limits_count_objects_and_values_outside_strings() {
        // The envelope is one object; `{}` entries are one each.
        assert!(within_shape_limits(&list("{}", MAX_RESPONSE_OBJECTS - 1)));
        assert!(!within_shape_limits(&list("{}", MAX_RESPONSE_OBJECTS)));
        // The envelope's `{`, `,`, `[` and its two keys are five values.
        assert!(within_shape_limits(&list("1", MAX_RESPONSE_VALUES - 4)));
        assert!(!within_shape_limits(&list("1", MAX_RESPONSE_VALUES)));
        // Braces, brackets, commas and escaped quotes inside strings are text.
        let text = r#""{[,\"{[,""#;
        assert!(within_shape_limits(&list(
            text,
            MAX_RESPONSE_VALUES / 2 - 3
        )));
        let err = decode::<crate::types::AgentTaskListResponse>(
            "listAgentTasks",
            &list("{}", MAX_RESPONSE_OBJECTS),
            &HeaderMap::new(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::ResponseTooComplex { .. }), "{err:?}");
    }

    #[test]
    fn hash_errors_are_authentication_errors_that_mention_the_clock() {
        let err = failure(
            "readAgentTask",
            200,
            vec!["Hash doesn't match.".into()],
            None,
        );
        assert!(matches!(err, Error::Authentication { status: 200, .. }));
        let text = err.to_string();
        assert!(text.contains("clock"), "{text}");
        assert!(text.contains("Hash doesn't match."), "{text}");
        let err = failure("readAgentTask", 200, vec!["UserID not valid".into()], None);
        assert!(matches!(err, Error::Authentication { .. }));
    }

    #[test]
    fn other_failures_keep_the_servers_errors() {
        let err = failure("readAgentTask", 200, vec!["Invalid argument".into()], None);
        assert_eq!(err.api_errors(), ["Invalid argument"]);
        assert_eq!(err.operation(), Some("readAgentTask"));
        assert_eq!(err.status(), Some(200));
        assert!(err.to_string().contains("Invalid argument"));
        let err = failure("readAgentTask", 200, vec![], None);
        assert!(err.to_string().contains("no reason given"));
    }

    #[test]
    fn only_network_errors_and_overload_statuses_are_transient() {
        let status = |status| Error::UnexpectedStatus {
            operation: "x",
            status,
            excerpt: String::new(),
            retry_after: None,
        };
        for transient in [429, 502, 503, 504] {
            assert!(status(transient).is_transient(), "{transient}");
        }
        for permanent in [400, 404, 500, 501] {
            assert!(!status(permanent).is_transient(), "{permanent}");
        }
        assert!(!failure("x", 200, vec!["Invalid argument".into()], None).is_transient());
        assert!(!failure("x", 200, vec!["Hash doesn't match.".into()], None).is_transient());
        assert!(failure("x", 503, vec!["busy".into()], None).is_transient());
    }

    #[test]
    fn envelopes_are_read_leniently() {
        let e = envelope_failure("x", 200, br#"{"success":false,"errors":"one"}"#, None).unwrap();
        assert_eq!(e.api_errors(), ["one"]);
        let e =
            envelope_failure("x", 200, br#"{"success":false,"errors":[1,"two"]}"#, None).unwrap();
        assert_eq!(e.api_errors(), ["1", "two"]);
        let e = envelope_failure("x", 500, br#"{"errors":["boom"]}"#, None).unwrap();
        assert_eq!(e.status(), Some(500));
        assert!(envelope_failure("x", 200, br#"{"success":true}"#, None).is_none());
        assert!(envelope_failure("x", 200, b"<html>", None).is_none());
        assert!(envelope_failure("x", 200, br#"{"task":1}"#, None).is_none());
    }

    #[test]
    fn messages_show_a_bounded_excerpt_of_the_servers_errors() {
        let errors: Vec<String> = (0..200_000).map(|i| format!("error {i}")).collect();
        let err = failure("x", 200, errors, None);
        let text = err.to_string();
        assert!(
            text.contains("error 0; error 1; error 2; and 199997 more"),
            "{text}"
        );
        assert_eq!(
            err.api_errors().len(),
            200_000,
            "the typed error keeps them all"
        );
        let huge = failure("x", 200, vec!["y".repeat(5_000_000)], None).to_string();
        assert!(huge.len() < 2 * EXCERPT_CHARS, "{}", huge.len());
        let auth = failure("x", 200, vec!["Hash doesn't match.".repeat(100_000)], None);
        assert!(auth.to_string().len() < 2_000, "{}", auth.to_string().len());
        let raw = failure(
            "x",
            200,
            vec!["a\u{1b}]52;c;ZXZpbA==\u{7}\r\u{1b}[2Kb\0".into()],
            None,
        );
        assert!(!raw.to_string().chars().any(|c| c.is_control()), "{raw}");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(100));
        headers.insert(reqwest::header::RETRY_AFTER, later.parse().unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(95) && wait <= Duration::from_secs(100),
            "{wait:?}"
        );
        headers.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
