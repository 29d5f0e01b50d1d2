//! `simulate --fault SPEC`: the library's fault kinds written on the command line,
//! `KIND[=VALUE][@OPERATION,...][xN]`, each aimed at chosen operations for a number of
//! requests ([`parse`]).

use quantconnect_agents::{
    operation::OPERATIONS,
    simulator::{Fault, FaultKind},
};

use crate::context::parse_duration;

/// The kinds, as written, with their values: the list an unknown kind is answered with.
pub const KINDS: &str = "latency=DURATION, status=CODE, too-many-requests[=SECONDS], \
     html-page[=CODE], drop-connection, drop-connection-after-effect, respond=FILE, drip, \
     large-body=BYTES[,chunked], reset-mid-body";

/// The most a `respond=FILE` body may hold.
const MAX_RESPOND_BYTES: u64 = 64 << 20;

/// One `--fault`: `KIND[=VALUE]`, then `@` and the operations it applies to (comma-separated
/// operation ids; all of them when left out), then `xN` for only the next N matching
/// requests (every one when left out). `status=503@readAgentDeployment x2` is written
/// `status=503@readAgentDeploymentx2`.
pub fn parse(spec: &str) -> Result<Fault, String> {
    let spec = spec.trim();
    let (rest, times) = split_times(spec)?;
    let (kind_value, operations) = match rest.rsplit_once('@') {
        Some((kind_value, operations)) => (kind_value, Some(operations)),
        None => (rest, None),
    };
    let (name, value) = match kind_value.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (kind_value, None),
    };
    let mut fault = Fault::new(kind(name, value)?);
    for operation in operations.map(|o| o.split(',')).into_iter().flatten() {
        let operation = operation.trim();
        if !OPERATIONS.iter().any(|op| op.id == operation) {
            let ids: Vec<&str> = OPERATIONS.iter().map(|op| op.id).collect();
            return Err(format!(
                "`{operation}` is not an operation id; the operations are: {}",
                ids.join(", ")
            ));
        }
        fault = fault.on(operation);
    }
    if let Some(times) = times {
        fault = fault.times(times);
    }
    Ok(fault)
}

/// A trailing `xN` (N from 1) split off.
fn split_times(spec: &str) -> Result<(&str, Option<u32>), String> {
    let digits = spec.len() - spec.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let cut = spec.len() - digits;
    if digits == 0 || !spec[..cut].ends_with('x') {
        return Ok((spec, None));
    }
    match spec[cut..].parse::<u32>() {
        Ok(n) if n > 0 => Ok((&spec[..cut - 1], Some(n))),
        _ => Err(format!(
            "`x{}`: the count of requests is a number from 1 to {}",
            &spec[cut..],
            u32::MAX
        )),
    }
}

/// The kind `name` names (in kebab case, or as the library spells it), with its value.
fn kind(name: &str, value: Option<&str>) -> Result<FaultKind, String> {
    let key: String = name
        .chars()
        .filter(|c| !matches!(c, '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect();
    let value = value.map(str::trim);
    fn syntax(form: &'static str) -> impl Fn(String) -> String {
        move |detail| format!("{form}: {detail}")
    }
    let kind = match (key.as_str(), value) {
        ("latency", Some(v)) => {
            FaultKind::Latency(parse_duration(v).map_err(syntax("latency=DURATION"))?)
        }
        ("status", Some(v)) => FaultKind::Status(status(v).map_err(syntax("status=CODE"))?),
        ("toomanyrequests", v) => FaultKind::TooManyRequests {
            retry_after: v
                .map_or(Ok(1), seconds)
                .map_err(syntax("too-many-requests=SECONDS"))?,
        },
        ("htmlpage", v) => FaultKind::HtmlPage(
            v.map_or(Ok(502), status)
                .map_err(syntax("html-page=CODE"))?,
        ),
        ("dropconnection", None) => FaultKind::DropConnection,
        ("dropconnectionaftereffect", None) => FaultKind::DropConnectionAfterEffect,
        ("respond", Some(path)) => FaultKind::Respond {
            status: 200,
            content_type: "application/json".into(),
            body: read_body(path).map_err(syntax("respond=FILE"))?,
        },
        ("drip", None) => FaultKind::Drip,
        ("largebody", Some(v)) => {
            let (size, chunked) = match v.strip_suffix(",chunked") {
                Some(size) => (size, true),
                None => (v, false),
            };
            FaultKind::LargeBody {
                bytes: bytes(size).map_err(syntax("large-body=BYTES[,chunked]"))?,
                declare_length: !chunked,
            }
        }
        ("resetmidbody", None) => FaultKind::ResetMidBody,
        ("latency" | "status" | "respond" | "largebody", None) => {
            return Err(format!("`{name}` needs a value; the kinds are: {KINDS}"))
        }
        ("dropconnection" | "dropconnectionaftereffect" | "drip" | "resetmidbody", Some(_)) => {
            return Err(format!("`{name}` takes no value; the kinds are: {KINDS}"))
        }
        _ => {
            return Err(format!(
                "`{name}` is not a fault kind; the kinds are: {KINDS}"
            ))
        }
    };
    Ok(kind)
}

fn status(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(code @ 100..=599) => Ok(code),
        _ => Err(format!("`{text}` is not an HTTP status from 100 to 599")),
    }
}

fn seconds(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a whole number of seconds"))
}

/// A size in bytes, with an optional `KiB`, `MiB` or `GiB`.
fn bytes(text: &str) -> Result<u64, String> {
    let (number, unit) = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30)]
        .into_iter()
        .find_map(|(suffix, unit)| text.strip_suffix(suffix).map(|n| (n, unit)))
        .unwrap_or((text, 1));
    number
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(|| format!("`{text}` is not a size like 1048576, 512KiB, 64MiB or 1GiB"))
}

/// The whole of a UTF-8 file, at most [`MAX_RESPOND_BYTES`].
fn read_body(path: &str) -> Result<String, String> {
    use std::io::Read as _;
    let mut body = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_RESPOND_BYTES + 1).read_to_string(&mut body))
        .map_err(|e| format!("cannot read `{path}` as UTF-8 text: {e}"))?;
    if body.len() as u64 > MAX_RESPOND_BYTES {
        return Err(format!(
            "`{path}` holds more than {} MiB",
            MAX_RESPOND_BYTES >> 20
        ));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn on(kind: FaultKind, ops: &[&str], times: Option<u32>) -> Fault {
        let mut fault = Fault::new(kind);
        for op in ops {
            fault = fault.on(op);
        }
        match times {
            Some(n) => fault.times(n),
            None => fault,
        }
    }

    #[test]
    fn every_kind_parses_with_its_operations_and_count() {
        let body = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(body.path(), "{\"success\": tr").unwrap();
        let respond = format!("respond={}@readAgentTask", body.path().display());
        let cases = [
            (
                "latency=2s",
                on(FaultKind::Latency(Duration::from_secs(2)), &[], None),
            ),
            (
                "status=503@readAgentDeploymentx2",
                on(FaultKind::Status(503), &["readAgentDeployment"], Some(2)),
            ),
            (
                "too-many-requests@createAgentTask,listAgentTasks",
                on(
                    FaultKind::TooManyRequests { retry_after: 1 },
                    &["createAgentTask", "listAgentTasks"],
                    None,
                ),
            ),
            (
                "TooManyRequests=30x1",
                on(FaultKind::TooManyRequests { retry_after: 30 }, &[], Some(1)),
            ),
            ("html-page", on(FaultKind::HtmlPage(502), &[], None)),
            ("html_page=504", on(FaultKind::HtmlPage(504), &[], None)),
            (
                "drop-connection@authenticate",
                on(FaultKind::DropConnection, &["authenticate"], None),
            ),
            (
                "drop-connection-after-effect@createAgentDeploymentx1",
                on(
                    FaultKind::DropConnectionAfterEffect,
                    &["createAgentDeployment"],
                    Some(1),
                ),
            ),
            (
                &respond,
                on(
                    FaultKind::Respond {
                        status: 200,
                        content_type: "application/json".into(),
                        body: "{\"success\": tr".into(),
                    },
                    &["readAgentTask"],
                    None,
                ),
            ),
            ("drip", on(FaultKind::Drip, &[], None)),
            (
                "large-body=64MiB",
                on(
                    FaultKind::LargeBody {
                        bytes: 64 << 20,
                        declare_length: true,
                    },
                    &[],
                    None,
                ),
            ),
            (
                "large-body=1000,chunked@listAgents",
                on(
                    FaultKind::LargeBody {
                        bytes: 1000,
                        declare_length: false,
                    },
                    &["listAgents"],
                    None,
                ),
            ),
            ("reset-mid-body", on(FaultKind::ResetMidBody, &[], None)),
        ];
        for (spec, expected) in cases {
            assert_eq!(parse(spec), Ok(expected), "{spec}");
        }
    }

    #[test]
    fn a_wrong_spec_says_what_is_valid() {
        let error = parse("teapot=418").unwrap_err();
        assert!(
            error.contains("not a fault kind") && error.contains("reset-mid-body"),
            "{error}"
        );
        let error = parse("status=503@readAgentTasks").unwrap_err();
        assert!(
            error.contains("`readAgentTasks` is not an operation id"),
            "{error}"
        );
        assert!(error.contains("readAgentDeployment"), "{error}");
        for (bad, says) in [
            ("status", "needs a value"),
            ("drip=3", "takes no value"),
            ("status=99", "from 100 to 599"),
            ("status=5o3", "from 100 to 599"),
            ("latency=0", "zero"),
            ("latency=soon", "not a duration"),
            ("too-many-requests=-1", "whole number"),
            ("large-body=lots", "not a size"),
            ("large-body=99999999999GiB", "not a size"),
            ("status=503x0", "from 1"),
            ("status=503x99999999999", "from 1"),
            ("status=503@", "``"),
            ("respond=/nonexistent/body.json", "cannot read"),
            ("", "not a fault kind"),
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
