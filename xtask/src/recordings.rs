//! Recorded exchanges (`tests/recordings/*.json`) checked against the spec. (Their round
//! trip through the generated Rust types is `tests/contract.rs`'s.)

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

/// Checks one recording: its shape, and its request and response against the spec's
/// schemas, undocumented fields included.
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
        Some(Some(schema)) => validate(spec, &schema, body, file, "/response/body", &mut findings),
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
