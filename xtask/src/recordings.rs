//! Recorded exchanges (`tests/recordings/*.json`) checked against the spec and the
//! generated Rust types.

use std::path::Path;

use serde_json::Value;

use crate::{
    findings::Finding,
    spec::{self, Spec},
};

pub const DIR: &str = "tests/recordings";

/// A recording: one exchange with the API.
pub struct Recording {
    /// Path relative to the repository root.
    pub file: String,
    pub doc: Value,
}

/// Every `*.json` file in `tests/recordings/`, sorted by name.
pub fn load(root: &Path) -> Result<Vec<Recording>, String> {
    let dir = root.join(DIR);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let file = format!("{DIR}/{}", path.file_name().unwrap().to_string_lossy());
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{file}: {e}"))?;
            let doc = serde_json::from_str(&text).map_err(|e| format!("{file}: not JSON: {e}"))?;
            Ok(Recording { file, doc })
        })
        .collect()
}

/// Checks one recording: its shape, its request and response against the spec's schemas,
/// undocumented fields, and the round trip through the generated type.
pub fn check(spec: &Spec, recording: &Recording) -> Vec<Finding> {
    let file = recording.file.as_str();
    let doc = &recording.doc;
    let mut findings = Vec::new();
    for field in ["operation", "method", "path", "source"] {
        if doc[field].as_str().is_none_or(|s| s.trim().is_empty()) {
            findings.push(Finding::new(
                file,
                format!("/{field}"),
                "recording-incomplete",
                format!("no `{field}` string"),
            ));
        }
    }
    let Some(status) = doc["response"]["status"].as_u64() else {
        findings.push(Finding::new(
            file,
            "/response/status",
            "recording-incomplete",
            "no response status",
        ));
        return findings;
    };
    let operation_id = doc["operation"].as_str().unwrap_or_default();
    let Some(op) = spec.operation(operation_id) else {
        findings.push(Finding::new(
            file,
            "/operation",
            "unknown-operation",
            format!("the spec has no operation `{operation_id}`"),
        ));
        return findings;
    };
    if doc["path"].as_str() != Some(op.path.as_str())
        || doc["method"].as_str() != Some(op.method.as_str())
    {
        findings.push(Finding::new(
            file,
            "/path",
            "operation-mismatch",
            format!("{operation_id} is {} {} in the spec", op.method, op.path),
        ));
    }

    match &op.request {
        Some(schema) => validate(
            spec,
            schema,
            &doc["request"],
            file,
            "/request",
            &mut findings,
        ),
        None if !doc["request"].is_null() => findings.push(Finding::new(
            file,
            "/request",
            "undocumented-field",
            "the operation takes no request body",
        )),
        None => {}
    }

    let body = &doc["response"]["body"];
    let schema = op.responses.get(&status.to_string()).cloned();
    match schema {
        None => findings.push(Finding::new(
            file,
            "/response/status",
            "undocumented-status",
            format!("{operation_id} documents no {status} response"),
        )),
        Some(None) => {
            if !(body.is_null() || body.as_str() == Some("")) {
                findings.push(Finding::new(
                    file,
                    "/response/body",
                    "undocumented-field",
                    format!("the {status} response has no documented body"),
                ));
            }
        }
        Some(Some(schema)) => {
            validate(spec, &schema, body, file, "/response/body", &mut findings);
            let mut extra = Vec::new();
            let documented = spec::undocumented(spec, &schema, body, "/response/body", &mut extra);
            if status == 200 {
                round_trip(operation_id, body, &documented, file, &mut findings);
            }
        }
    }
    findings
}

/// Validates `instance` against `schema` (OpenAPI), reporting schema errors and
/// undocumented fields under `at`.
fn validate(
    spec: &Spec,
    schema: &Value,
    instance: &Value,
    file: &str,
    at: &str,
    findings: &mut Vec<Finding>,
) {
    let json_schema = spec.json_schema(schema);
    match jsonschema::draft202012::options().build(&json_schema) {
        Ok(validator) => {
            for error in validator.iter_errors(instance) {
                use jsonschema::error::ValidationErrorKind as K;
                let rule = match error.kind() {
                    K::Type { .. } => "wrong-type",
                    K::Required { .. } => "missing-required-field",
                    K::Enum { .. } => "enum-value-not-listed",
                    _ => "schema-violation",
                };
                findings.push(Finding::new(
                    file,
                    format!("{at}{}", error.instance_path()),
                    rule,
                    error.to_string(),
                ));
            }
        }
        Err(e) => findings.push(Finding::new(
            file,
            at,
            "schema-unusable",
            format!("the spec's schema does not compile: {e}"),
        )),
    }
    let mut extra = Vec::new();
    spec::undocumented(spec, schema, instance, at, &mut extra);
    for pointer in extra {
        findings.push(Finding::new(
            file,
            pointer,
            "undocumented-field",
            "the spec does not document this field",
        ));
    }
}

/// Without generated types (generation failed, reported by `validate`), there is nothing
/// to round-trip through.
#[cfg(not(generated_types))]
fn round_trip(_: &str, _: &Value, _: &Value, _: &str, _: &mut Vec<Finding>) {}

/// Decodes `body` into the operation's generated response type, encodes it again, and
/// checks that every documented field survived.
#[cfg(generated_types)]
fn round_trip(
    operation_id: &str,
    body: &Value,
    documented: &Value,
    file: &str,
    findings: &mut Vec<Finding>,
) {
    use crate::types;
    macro_rules! through {
        ($ty:ty) => {{
            let decoded: Result<$ty, _> = serde_path_to_error::deserialize(body);
            decoded
                .map_err(|e| (pointer_of(e.path()), e.into_inner().to_string()))
                .and_then(|v| serde_json::to_value(v).map_err(|e| (String::new(), e.to_string())))
        }};
    }
    let reencoded = match operation_id {
        "authenticate"
        | "updateAgent"
        | "deleteAgent"
        | "updateAgentTask"
        | "deleteAgentTask"
        | "stopAgentDeployment"
        | "deleteAgentDeployment" => through!(types::RestResponse),
        "createAgent" | "readAgent" => through!(types::AgentResponse),
        "listAgents" => through!(types::AgentListResponse),
        "createAgentTask" | "readAgentTask" => through!(types::AgentTaskResponse),
        "listAgentTasks" => through!(types::AgentTaskListResponse),
        "createAgentDeployment" => through!(types::CreateAgentDeploymentResponse),
        "readAgentDeployment" => through!(types::AgentDeploymentResponse),
        "updateAgentDeployment" => through!(types::UpdateAgentDeploymentResponse),
        "listAgentDeployments" => through!(types::AgentDeploymentListResponse),
        "readAgentConversation" => through!(types::AgentConversationResponse),
        other => {
            findings.push(Finding::new(file, "/operation", "no-rust-type", format!("xtask knows no generated response type for `{other}`: add it to recordings::round_trip")));
            return;
        }
    };
    match reencoded {
        Err((path, message)) => findings.push(Finding::new(
            file,
            format!("/response/body{path}"),
            "does-not-decode",
            format!("the generated Rust type rejects it: {message}"),
        )),
        Ok(reencoded) => {
            let mut lost = Vec::new();
            compare(
                &normalized(documented),
                &normalized(&reencoded),
                "/response/body".into(),
                &mut lost,
            );
            for (pointer, message) in lost {
                findings.push(Finding::new(file, pointer, "lost-in-round-trip", message));
            }
        }
    }
}

#[cfg(generated_types)]
/// What the generated types write back: no `null`, `[]` or `{}` (they mean the same as an
/// absent field and are skipped on encoding).
pub fn normalized(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !is_empty(v))
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

#[cfg(generated_types)]
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(generated_types)]
fn compare(expected: &Value, actual: &Value, at: String, out: &mut Vec<(String, String)>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let here = format!("{at}/{}", crate::findings::escape(key));
                match a.get(key) {
                    Some(other) => compare(value, other, here, out),
                    None => out.push((
                        here,
                        "a documented field is dropped by the generated type".into(),
                    )),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (x, y)) in e.iter().zip(a).enumerate() {
                compare(x, y, format!("{at}/{i}"), out);
            }
        }
        (e, a) if e == a => {}
        (e, a) => out.push((at, format!("recorded {e}, re-encoded as {a}"))),
    }
}

/// A serde path (`deployment.taskId`, `tasks[0].id`) as a JSON pointer.
#[cfg(generated_types)]
fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(format!("/{index}")),
            Segment::Map { key } => Some(format!("/{}", crate::findings::escape(key))),
            Segment::Enum { variant } => Some(format!("/{}", crate::findings::escape(variant))),
            Segment::Unknown => None,
        })
        .collect()
}
