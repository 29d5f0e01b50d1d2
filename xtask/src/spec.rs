//! The spec itself: loading it, checking its structure, and turning its OpenAPI 3.0 schemas
//! into JSON Schema for the recordings.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::findings::{escape, Finding};

pub const SPEC_FILE: &str = "openapi.yaml";

/// Every path QuantConnect documents for agents, plus `/authenticate`, with its operation id.
pub const DOCUMENTED: &[(&str, &str)] = &[
    ("/authenticate", "authenticate"),
    ("/agents/create", "createAgent"),
    ("/agents/read", "readAgent"),
    ("/agents/update", "updateAgent"),
    ("/agents/delete", "deleteAgent"),
    ("/agents/list", "listAgents"),
    ("/agents/tasks/create", "createAgentTask"),
    ("/agents/tasks/read", "readAgentTask"),
    ("/agents/tasks/update", "updateAgentTask"),
    ("/agents/tasks/delete", "deleteAgentTask"),
    ("/agents/tasks/list", "listAgentTasks"),
    ("/agents/deployments/create", "createAgentDeployment"),
    ("/agents/deployments/read", "readAgentDeployment"),
    ("/agents/deployments/prompt", "updateAgentDeployment"),
    ("/agents/deployments/list", "listAgentDeployments"),
    ("/agents/deployments/stop", "stopAgentDeployment"),
    ("/agents/deployments/delete", "deleteAgentDeployment"),
    (
        "/agents/deployments/conversation/read",
        "readAgentConversation",
    ),
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One operation of the spec.
#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub method: String,
    pub path: String,
    /// The request body's schema (application/json), if any.
    pub request: Option<Value>,
    /// The schema of each response status (`None` when the status has no JSON body).
    pub responses: BTreeMap<String, Option<Value>>,
}

/// The spec, as JSON, with its operations.
pub struct Spec {
    pub doc: Value,
    pub operations: Vec<Operation>,
}

impl Spec {
    pub fn parse(text: &str) -> Result<Spec, String> {
        let doc: Value = serde_norway::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
        let mut operations = Vec::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (path, item) in paths {
                for method in METHODS {
                    let Some(op) = item.get(*method) else {
                        continue;
                    };
                    let json_schema =
                        |content: &Value| content["content"]["application/json"]["schema"].clone();
                    let request = op
                        .get("requestBody")
                        .map(|b| resolve(&doc, b))
                        .map(|b| json_schema(&b))
                        .filter(|s| !s.is_null());
                    let responses = op["responses"]
                        .as_object()
                        .map(|r| {
                            r.iter()
                                .map(|(status, response)| {
                                    let response = resolve(&doc, response);
                                    let schema = json_schema(&response);
                                    (status.clone(), (!schema.is_null()).then_some(schema))
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    operations.push(Operation {
                        id: op["operationId"].as_str().unwrap_or_default().to_owned(),
                        method: method.to_uppercase(),
                        path: path.clone(),
                        request,
                        responses,
                    });
                }
            }
        }
        Ok(Spec { doc, operations })
    }

    pub fn operation(&self, id: &str) -> Option<&Operation> {
        self.operations.iter().find(|op| op.id == id)
    }

    /// A JSON Schema (2020-12) for `schema`: the schema itself, with the spec's `components`
    /// beside it so that its `$ref`s (`#/components/schemas/X`) resolve as they are.
    pub fn json_schema(&self, schema: &Value) -> Value {
        let mut root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.doc["components"],
        });
        if let (Some(root), Some(schema)) = (root.as_object_mut(), schema.as_object()) {
            root.extend(schema.clone());
        }
        admit_null(&mut root);
        root
    }

    /// The enum values the spec lists for a component schema.
    pub fn enum_values(&self, component: &str) -> Option<Vec<String>> {
        let values = self.doc["components"]["schemas"][component]["enum"].as_array()?;
        Some(
            values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        )
    }

    /// The schema at a `$ref`.
    pub fn deref<'a>(&'a self, schema: &'a Value) -> &'a Value {
        let mut current = schema;
        for _ in 0..32 {
            match current.get("$ref").and_then(Value::as_str) {
                Some(reference) => match pointer_of(reference).and_then(|p| self.doc.pointer(&p)) {
                    Some(target) => current = target,
                    None => return current,
                },
                None => return current,
            }
        }
        current
    }
}

fn resolve(doc: &Value, value: &Value) -> Value {
    match value
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(pointer_of)
    {
        Some(pointer) => doc.pointer(&pointer).cloned().unwrap_or(Value::Null),
        None => value.clone(),
    }
}

/// `#/components/schemas/X` → `/components/schemas/X`; other references are not local.
fn pointer_of(reference: &str) -> Option<String> {
    reference.strip_prefix('#').map(str::to_owned)
}

/// The one OpenAPI 3.0 keyword JSON Schema reads differently: `nullable: true` also admits
/// `null` (`type: [t, "null"]`, or `anyOf` null or the schema when it has no single type).
/// Everything else OpenAPI adds (`example`, `readOnly`, ...) JSON Schema ignores.
fn admit_null(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.values_mut().for_each(admit_null);
            if map.get("nullable") != Some(&Value::Bool(true)) {
                return;
            }
            map.remove("nullable");
            match map.get("type").cloned() {
                Some(Value::String(t)) => {
                    map.insert("type".into(), json!([t, "null"]));
                    if let Some(Value::Array(values)) = map.get_mut("enum") {
                        values.push(Value::Null);
                    }
                }
                _ => {
                    let schema = std::mem::take(map);
                    map.insert("anyOf".into(), json!([{"type": "null"}, schema]));
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(admit_null),
        _ => {}
    }
}

/// The structural rules: version, operations complete, references resolve, nothing unused,
/// every documented path present.
pub fn check(spec: &Spec) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut add = |pointer: String, rule: &'static str, message: String| {
        findings.push(Finding::new(SPEC_FILE, pointer, rule, message))
    };
    let version = spec.doc["openapi"].as_str().unwrap_or_default();
    if !version.starts_with("3.0.") {
        add(
            "/openapi".into(),
            "openapi-version",
            format!("`{version}` is not OpenAPI 3.0.x, the only version progenitor reads"),
        );
    }
    if let Some(paths) = spec.doc["paths"].as_object() {
        for (path, item) in paths {
            for method in METHODS {
                let Some(op) = item.get(*method) else {
                    continue;
                };
                let at = format!("/paths/{}/{method}", escape(path));
                for field in ["operationId", "summary", "description"] {
                    if op[field].as_str().is_none_or(|s| s.trim().is_empty()) {
                        add(
                            format!("{at}/{field}"),
                            "operation-incomplete",
                            format!("{method} {path} has no {field}"),
                        );
                    }
                }
                let has_request = op
                    .get("requestBody")
                    .map(|b| resolve(&spec.doc, b))
                    .is_some_and(|b| !b["content"]["application/json"]["schema"].is_null());
                if !has_request {
                    add(
                        format!("{at}/requestBody"),
                        "operation-incomplete",
                        format!("{method} {path} has no application/json request schema"),
                    );
                }
                for status in ["200", "401"] {
                    if op["responses"].get(status).is_none() {
                        add(
                            format!("{at}/responses"),
                            "operation-incomplete",
                            format!("{method} {path} has no {status} response"),
                        );
                    }
                }
                let ok = op["responses"].get("200").map(|r| resolve(&spec.doc, r));
                if ok.is_some_and(|r| r["content"]["application/json"]["schema"].is_null()) {
                    add(
                        format!("{at}/responses/200"),
                        "operation-incomplete",
                        format!("{method} {path}: the 200 response has no application/json schema"),
                    );
                }
            }
        }
    }
    let mut ids = BTreeSet::new();
    for op in &spec.operations {
        if !op.id.is_empty() && !ids.insert(op.id.clone()) {
            add(
                format!("/paths/{}", escape(&op.path)),
                "duplicate-operation-id",
                format!("operation id `{}` is used twice", op.id),
            );
        }
    }
    for (path, id) in DOCUMENTED {
        match spec.operations.iter().find(|op| op.path == *path) {
            None => add(
                format!("/paths/{}", escape(path)),
                "missing-operation",
                format!("QuantConnect documents POST {path} ({id}); the spec lacks it"),
            ),
            Some(op) if op.method != "POST" || op.id != *id => add(
                format!("/paths/{}", escape(path)),
                "operation-mismatch",
                format!(
                    "{path} should be POST with operation id `{id}`, not {} `{}`",
                    op.method, op.id
                ),
            ),
            Some(_) => {}
        }
    }
    // References: each must resolve; each component must be reachable from the paths.
    let mut references = Vec::new();
    collect_refs(&spec.doc, String::new(), &mut references);
    for (at, reference) in &references {
        let resolves = pointer_of(reference).is_some_and(|p| spec.doc.pointer(&p).is_some());
        if !resolves {
            add(
                at.clone(),
                "broken-ref",
                format!("`{reference}` does not resolve"),
            );
        }
    }
    let mut reachable = BTreeSet::new();
    let mut queue: Vec<String> = Vec::new();
    let mut from_paths = Vec::new();
    collect_refs(&spec.doc["paths"], "/paths".into(), &mut from_paths);
    queue.extend(from_paths.into_iter().map(|(_, r)| r));
    while let Some(reference) = queue.pop() {
        if !reachable.insert(reference.clone()) {
            continue;
        }
        if let Some(target) = pointer_of(&reference).and_then(|p| spec.doc.pointer(&p)) {
            let mut inner = Vec::new();
            collect_refs(target, String::new(), &mut inner);
            queue.extend(inner.into_iter().map(|(_, r)| r));
        }
    }
    for kind in [
        "schemas",
        "responses",
        "parameters",
        "requestBodies",
        "headers",
    ] {
        if let Some(components) = spec.doc["components"][kind].as_object() {
            for name in components.keys() {
                let reference = format!("#/components/{kind}/{name}");
                if !reachable.contains(&reference) {
                    add(
                        format!("/components/{kind}/{}", escape(name)),
                        "unused-component",
                        format!("{reference} is not used by any operation"),
                    );
                }
            }
        }
    }
    findings
}

fn collect_refs(value: &Value, at: String, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let here = format!("{at}/{}", escape(key));
                if key == "$ref" {
                    if let Some(reference) = child.as_str() {
                        out.push((here, reference.to_owned()));
                    }
                } else {
                    collect_refs(child, here, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_refs(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Fields of `instance` that `schema` does not document, as pointers under `at`.
pub fn undocumented(
    spec: &Spec,
    schema: &Value,
    instance: &Value,
    at: &str,
    found: &mut Vec<String>,
) {
    // allOf: the union of the parts' properties; anyOf/oneOf (nullable wrappers): the
    // first part that is an object schema.
    let mut properties: Option<Map<String, Value>> = None;
    let mut items: Option<Value> = None;
    let mut parts = vec![spec.deref(schema).clone()];
    while let Some(part) = parts.pop() {
        let part = spec.deref(&part).clone();
        if let Some(all) = part["allOf"].as_array() {
            parts.extend(all.iter().cloned());
        }
        if let Some(any) = part["anyOf"].as_array().or(part["oneOf"].as_array()) {
            parts.extend(any.iter().cloned());
        }
        if let Some(p) = part["properties"].as_object() {
            properties.get_or_insert_with(Map::new).extend(p.clone());
        }
        if !part["items"].is_null() {
            items = Some(part["items"].clone());
        }
    }
    match (instance, properties, items) {
        // An object schema without properties is free-form: nothing to check inside.
        (Value::Object(map), Some(properties), _) => {
            for (key, value) in map {
                let here = format!("{at}/{}", escape(key));
                match properties.get(key) {
                    Some(child) => undocumented(spec, child, value, &here, found),
                    None => found.push(here),
                }
            }
        }
        (Value::Array(values), _, Some(item)) => {
            for (i, v) in values.iter().enumerate() {
                undocumented(spec, &item, v, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}
