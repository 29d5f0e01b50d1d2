//! What differs between QuantConnect's spec and `openapi.yaml` on the `/agents` paths:
//! operations, then the request and 200-response schemas field by field.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;
use serde_norway::Value as Yaml;

use super::{
    document::Document,
    paste,
    shape::{self, value_text, values_text, Shape},
};
use crate::findings::{escape, Finding};

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// A place in a document: the file (or URL) and a JSON pointer into it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    pub file: String,
    pub pointer: String,
}

/// The operation a difference was found in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OperationRef {
    pub id: String,
    pub method: String,
    pub path: String,
}

/// OpenAPI 3.0 text to paste into `openapi.yaml`, and under which node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Paste {
    /// A JSON pointer into `openapi.yaml`; the text is indented for that place.
    pub under: String,
    pub text: String,
}

/// One difference. `finding` is `validate`'s format, located in `openapi.yaml`; `upstream`
/// is the same place in QuantConnect's file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    #[serde(flatten)]
    pub finding: Finding,
    pub upstream: Location,
    pub operation: OperationRef,
    /// Other operations the same difference reaches (a shared component).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paste: Vec<Paste>,
}

/// The differences, and how many agents operations each side has.
#[derive(Debug, serde::Serialize)]
pub struct Comparison {
    pub upstream_operations: usize,
    pub our_operations: usize,
    pub findings: Vec<Drift>,
}

/// Whether a path is one of the agents API's (`/authenticate` is not: QuantConnect's
/// spec does not list it, and that is not drift).
pub fn is_agents_path(path: &str) -> bool {
    path == "/agents" || path.starts_with("/agents/")
}

/// Compares `upstream` (QuantConnect's) with `ours` (`openapi.yaml`) on every agents path.
pub fn compare(upstream: &Document, ours: &Document) -> Comparison {
    let up_ops = operations(&upstream.json);
    let our_ops = operations(&ours.json);
    let mut c = Collector {
        upstream,
        ours,
        findings: Vec::new(),
        seen: HashMap::new(),
        operation: None,
    };
    let paths: BTreeSet<&String> = up_ops.keys().chain(our_ops.keys()).collect();
    let empty = BTreeMap::new();
    for path in paths {
        let up = up_ops.get(path).unwrap_or(&empty);
        let our = our_ops.get(path).unwrap_or(&empty);
        if let ([(up_method, up_at)], [(our_method, our_at)]) = (
            up.iter().collect::<Vec<_>>().as_slice(),
            our.iter().collect::<Vec<_>>().as_slice(),
        ) {
            if up_method != our_method {
                c.enter(path, up_method, up_at, our_at);
                c.push(
                    "method-changed",
                    up_at,
                    our_at,
                    String::new(),
                    format!(
                        "{path} is {} upstream, {} in openapi.yaml",
                        up_method.to_uppercase(),
                        our_method.to_uppercase()
                    ),
                    Vec::new(),
                );
                c.operation(up_at, our_at);
                continue;
            }
        }
        let methods: BTreeSet<&String> = up.keys().chain(our.keys()).collect();
        for method in methods {
            match (up.get(method), our.get(method)) {
                (Some(up_at), Some(our_at)) => {
                    c.enter(path, method, up_at, our_at);
                    c.operation(up_at, our_at);
                }
                (Some(up_at), None) => c.operation_added(path, method, up_at, our.is_empty()),
                (None, Some(our_at)) => {
                    c.enter(path, method, "", our_at);
                    c.push(
                        "operation-missing-upstream",
                        &format!("/paths/{}", escape(path)),
                        our_at,
                        String::new(),
                        format!(
                            "{} {path} is in openapi.yaml; QuantConnect's spec does not have it",
                            method.to_uppercase()
                        ),
                        Vec::new(),
                    );
                }
                (None, None) => {}
            }
        }
    }
    Comparison {
        upstream_operations: up_ops.values().map(BTreeMap::len).sum(),
        our_operations: our_ops.values().map(BTreeMap::len).sum(),
        findings: c.findings,
    }
}

/// Agents path → method → pointer of the operation.
fn operations(doc: &Value) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (path, item) in paths.iter().filter(|(p, _)| is_agents_path(p)) {
        // A path item may itself be a `$ref` (OpenAPI 3.1).
        let (item_at, item) = match item.get("$ref").and_then(Value::as_str) {
            Some(reference) => match shape::resolve(doc, reference) {
                Some(found) => found,
                None => continue,
            },
            None => (format!("/paths/{}", escape(path)), item),
        };
        let methods: BTreeMap<String, String> = METHODS
            .iter()
            .filter(|m| item.get(**m).is_some_and(Value::is_object))
            .map(|m| (m.to_string(), format!("{item_at}/{m}")))
            .collect();
        if !methods.is_empty() {
            out.insert(path.clone(), methods);
        }
    }
    out
}

/// The JSON schema of a request body or a response, following `$ref`s to components.
fn json_schema<'a>(doc: &'a Value, at: &str) -> Option<(String, &'a Value)> {
    let mut at = at.to_owned();
    let mut node = doc.pointer(&at)?;
    for _ in 0..8 {
        match node.get("$ref").and_then(Value::as_str) {
            Some(reference) => (at, node) = shape::resolve(doc, reference)?,
            None => break,
        }
    }
    let schema = node
        .get("content")?
        .get("application/json")?
        .get("schema")?;
    Some((format!("{at}/content/application~1json/schema"), schema))
}

struct Collector<'a> {
    upstream: &'a Document,
    ours: &'a Document,
    findings: Vec<Drift>,
    /// (rule, upstream pointer, our pointer, detail) → index in `findings`.
    seen: HashMap<(&'static str, String, String, String), usize>,
    operation: Option<OperationRef>,
}

/// What a node is called in messages, and where it sits in the body.
#[derive(Clone)]
struct Label {
    /// `AgentDeployment.taskId`, `CreateAgentDeploymentRequest`, `request body`.
    name: String,
    /// `200 response, deployment.taskId`.
    place: String,
}

impl Collector<'_> {
    fn enter(&mut self, path: &str, method: &str, up_at: &str, our_at: &str) {
        let id = |doc: &Value, at: &str| {
            doc.pointer(&format!("{at}/operationId"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let id = id(&self.upstream.json, up_at)
            .or_else(|| id(&self.ours.json, our_at))
            .unwrap_or_else(|| format!("{} {path}", method.to_uppercase()));
        self.operation = Some(OperationRef {
            id,
            method: method.to_uppercase(),
            path: path.to_owned(),
        });
    }

    fn push(
        &mut self,
        rule: &'static str,
        up_at: &str,
        our_at: &str,
        detail: String,
        message: String,
        paste: Vec<Paste>,
    ) {
        let Some(operation) = self.operation.clone() else {
            return;
        };
        let key = (rule, up_at.to_owned(), our_at.to_owned(), detail);
        if let Some(&i) = self.seen.get(&key) {
            let drift = &mut self.findings[i];
            if drift.operation.id != operation.id && !drift.also.contains(&operation.id) {
                drift.also.push(operation.id);
            }
            return;
        }
        self.seen.insert(key, self.findings.len());
        self.findings.push(Drift {
            finding: Finding::new(crate::spec::SPEC_FILE, our_at, rule, message),
            upstream: Location {
                file: self.upstream.name.clone(),
                pointer: up_at.to_owned(),
            },
            operation,
            also: Vec::new(),
            paste,
        });
    }

    fn operation_added(&mut self, path: &str, method: &str, up_at: &str, whole_path: bool) {
        self.enter(path, method, up_at, "");
        let (under, key, node_at) = if whole_path {
            (
                "/paths".to_owned(),
                path.to_owned(),
                format!("/paths/{}", escape(path)),
            )
        } else {
            (
                format!("/paths/{}", escape(path)),
                method.to_owned(),
                up_at.to_owned(),
            )
        };
        let mut pastes = Vec::new();
        if let Some(node) = self.upstream.yaml_at(&node_at) {
            let node = paste::holder(node);
            pastes.push(Paste {
                text: paste::entry(&key, &node, paste::indent_under(&under)),
                under,
            });
            pastes.extend(self.missing_components(&node));
        }
        let id = self
            .operation
            .as_ref()
            .map(|op| op.id.clone())
            .unwrap_or_default();
        self.push(
            "operation-added-upstream",
            up_at,
            "/paths",
            String::new(),
            format!(
                "{} {path} ({id}) is in QuantConnect's spec, not in openapi.yaml (when adding \
                 it, mark it `x-idempotent: true` if it changes nothing: otherwise the client \
                 treats it as a write and never resends it)",
                method.to_uppercase()
            ),
            pastes,
        );
    }

    /// Components that `node` (upstream text) refers to and `openapi.yaml` lacks, each as
    /// 3.0 text, with the ones they refer to in turn.
    fn missing_components(&self, node: &Yaml) -> Vec<Paste> {
        let mut queue = Vec::new();
        paste::references(node, &mut queue);
        let mut done = BTreeSet::new();
        let mut pastes = Vec::new();
        while let Some(reference) = queue.pop() {
            if !done.insert(reference.clone()) {
                continue;
            }
            let Some(pointer) = reference.strip_prefix('#') else {
                continue;
            };
            let mut parts = pointer.split('/').skip(1);
            let (Some("components"), Some(kind), Some(name), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if self.ours.json.pointer(pointer).is_some() {
                continue;
            }
            let Some(target) = self.upstream.yaml_at(pointer) else {
                continue;
            };
            let target = if kind == "schemas" {
                paste::schema(target)
            } else {
                paste::holder(target)
            };
            let under = format!("/components/{kind}");
            let name = name.replace("~1", "/").replace("~0", "~");
            pastes.push(Paste {
                text: paste::entry(&name, &target, paste::indent_under(&under)),
                under,
            });
            paste::references(&target, &mut queue);
        }
        pastes
    }

    /// Operation id, request body and 200 response of one operation present on both sides.
    fn operation(&mut self, up_at: &str, our_at: &str) {
        let id = |doc: &Value| {
            doc.get("operationId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let (Some(up_op), Some(our_op)) = (
            self.upstream.json.pointer(up_at),
            self.ours.json.pointer(our_at),
        ) else {
            return;
        };
        let (up_id, our_id) = (id(up_op), id(our_op));
        if up_id != our_id {
            self.push(
                "operation-id-changed",
                &format!("{up_at}/operationId"),
                &format!("{our_at}/operationId"),
                String::new(),
                format!("operation id `{up_id}` upstream, `{our_id}` in openapi.yaml"),
                Vec::new(),
            );
        }
        for (body, up_body, our_body) in [
            (
                "request body",
                format!("{up_at}/requestBody"),
                format!("{our_at}/requestBody"),
            ),
            (
                "200 response",
                format!("{up_at}/responses/200"),
                format!("{our_at}/responses/200"),
            ),
        ] {
            let up = json_schema(&self.upstream.json, &up_body);
            let our = json_schema(&self.ours.json, &our_body);
            match (up, our) {
                (Some((up_at, up)), Some((our_at, our))) => {
                    let up = shape::shape(&self.upstream.json, up, &up_at);
                    let our = shape::shape(&self.ours.json, our, &our_at);
                    let name = up
                        .component
                        .clone()
                        .or_else(|| our.component.clone())
                        .unwrap_or_else(|| body.to_owned());
                    let label = Label {
                        name,
                        place: body.to_owned(),
                    };
                    self.shapes(&up, &our, &label);
                }
                (Some((up_at, up)), None) => {
                    let described = shape::shape(&self.upstream.json, up, &up_at).describe();
                    self.push(
                        "schema-added-upstream",
                        &up_at,
                        &our_body,
                        body.to_owned(),
                        format!("the {body} has a JSON schema upstream ({described}), none in openapi.yaml"),
                        Vec::new(),
                    );
                }
                (None, Some((our_at, _))) => self.push(
                    "schema-missing-upstream",
                    &up_body,
                    &our_at,
                    body.to_owned(),
                    format!("the {body} has a JSON schema in openapi.yaml, none upstream"),
                    Vec::new(),
                ),
                (None, None) => {}
            }
        }
    }

    fn shapes(&mut self, up: &Shape, our: &Shape, label: &Label) {
        let say = |detail: String| format!("{} ({}): {detail}", label.name, label.place);
        if up.unfollowed.is_some() || our.unfollowed.is_some() {
            // A recursive schema met again, or a reference that does not resolve: compared
            // where it was first followed, or not at all.
            if up.describe() != our.describe() {
                self.push(
                    "type-changed",
                    &up.at,
                    &our.at,
                    String::new(),
                    say(format!(
                        "{} upstream, {} in openapi.yaml",
                        up.describe(),
                        our.describe()
                    )),
                    Vec::new(),
                );
            }
            return;
        }
        if up.types != our.types {
            self.push(
                "type-changed",
                &up.types_at,
                &our.types_at,
                String::new(),
                say(format!(
                    "type {} upstream, {} in openapi.yaml",
                    types_text(up),
                    types_text(our)
                )),
                Vec::new(),
            );
            return;
        }
        if up.nullable != our.nullable {
            let detail = if up.nullable {
                "nullable upstream, not in openapi.yaml"
            } else {
                "not nullable upstream, nullable in openapi.yaml"
            };
            self.push(
                "nullability-changed",
                &up.at,
                &our.at,
                String::new(),
                say(detail.to_owned()),
                Vec::new(),
            );
        }
        self.values(up, our, label);
        self.fields(up, our, label);
        match (&up.items, &our.items) {
            (Some(up_items), Some(our_items)) => {
                let label = Label {
                    name: format!("{}[]", label.name),
                    place: format!("{}[]", label.place),
                };
                self.shapes(up_items, our_items, &label);
            }
            (None, None) => {}
            (up_items, our_items) => self.push(
                "items-changed",
                &format!("{}/items", up.at),
                &format!("{}/items", our.at),
                String::new(),
                say(format!(
                    "array items {} upstream, {} in openapi.yaml",
                    up_items
                        .as_ref()
                        .map_or("unspecified".to_owned(), |s| s.describe()),
                    our_items
                        .as_ref()
                        .map_or("unspecified".to_owned(), |s| s.describe()),
                )),
                Vec::new(),
            ),
        }
        if up.alternatives.len() != our.alternatives.len() {
            self.push(
                "alternatives-changed",
                &up.at,
                &our.at,
                String::new(),
                say(format!(
                    "{} oneOf/anyOf alternatives upstream, {} in openapi.yaml",
                    up.alternatives.len(),
                    our.alternatives.len()
                )),
                Vec::new(),
            );
        } else {
            for (i, (u, o)) in up.alternatives.iter().zip(&our.alternatives).enumerate() {
                let label = Label {
                    name: format!("{}|{i}", label.name),
                    place: format!("{}|{i}", label.place),
                };
                self.shapes(u, o, &label);
            }
        }
    }

    fn values(&mut self, up: &Shape, our: &Shape, label: &Label) {
        let say = |detail: String| format!("{} ({}): {detail}", label.name, label.place);
        match (&up.values, &our.values) {
            (Some(up_values), Some(our_values)) => {
                for value in up_values.iter().filter(|v| !our_values.contains(v)) {
                    let yaml = serde_norway::to_value(value).unwrap_or(Yaml::Null);
                    self.push(
                        "enum-value-added-upstream",
                        &up.values_at,
                        &our.values_at,
                        value_text(value),
                        say(format!(
                            "`{}` is a new value upstream (openapi.yaml lists {})",
                            value_text(value),
                            values_text(our_values)
                        )),
                        vec![Paste {
                            text: paste::item(&yaml, paste::indent_under(&our.values_at)),
                            under: our.values_at.clone(),
                        }],
                    );
                }
                for value in our_values.iter().filter(|v| !up_values.contains(v)) {
                    self.push(
                        "enum-value-missing-upstream",
                        &up.values_at,
                        &our.values_at,
                        value_text(value),
                        say(format!(
                            "`{}` is listed in openapi.yaml, not upstream (upstream lists {})",
                            value_text(value),
                            values_text(up_values)
                        )),
                        Vec::new(),
                    );
                }
            }
            (Some(up_values), None) => {
                let yaml = serde_norway::to_value(up_values).unwrap_or(Yaml::Null);
                self.push(
                    "enum-added-upstream",
                    &up.values_at,
                    &our.at,
                    String::new(),
                    say(format!(
                        "upstream allows only {}; openapi.yaml allows any value",
                        values_text(up_values)
                    )),
                    vec![Paste {
                        text: paste::entry("enum", &yaml, paste::indent_under(&our.at)),
                        under: our.at.clone(),
                    }],
                );
            }
            (None, Some(our_values)) => self.push(
                "enum-missing-upstream",
                &up.at,
                &our.values_at,
                String::new(),
                say(format!(
                    "openapi.yaml allows only {}; upstream allows any value",
                    values_text(our_values)
                )),
                Vec::new(),
            ),
            (None, None) => {}
        }
    }

    fn fields(&mut self, up: &Shape, our: &Shape, label: &Label) {
        let owner = up
            .component
            .clone()
            .or_else(|| our.component.clone())
            .unwrap_or_else(|| label.name.clone());
        let names: BTreeSet<&String> = up.properties.keys().chain(our.properties.keys()).collect();
        for name in names {
            let child = Label {
                name: format!("{owner}.{name}"),
                place: if label.place.ends_with("body") || label.place.ends_with("response") {
                    format!("{}, {name}", label.place)
                } else {
                    format!("{}.{name}", label.place)
                },
            };
            let say = |detail: String| format!("{} ({}): {detail}", child.name, child.place);
            match (up.properties.get(name), our.properties.get(name)) {
                (Some(u), Some(o)) => {
                    let (u_required, o_required) =
                        (up.required.contains(name), our.required.contains(name));
                    if u_required != o_required {
                        let (detail, pastes) = if u_required {
                            let text = paste::item(
                                &Yaml::from(name.as_str()),
                                paste::indent_under(&our.required_at),
                            );
                            (
                                "required upstream, optional in openapi.yaml",
                                vec![Paste {
                                    under: our.required_at.clone(),
                                    text,
                                }],
                            )
                        } else {
                            ("optional upstream, required in openapi.yaml", Vec::new())
                        };
                        self.push(
                            "required-changed",
                            &up.required_at,
                            &our.required_at,
                            name.clone(),
                            say(detail.to_owned()),
                            pastes,
                        );
                    }
                    self.shapes(u, o, &child);
                }
                (Some(u), None) => {
                    let required = up.required.contains(name);
                    let mut pastes = Vec::new();
                    if let Some(node) = self.upstream.yaml_at(&u.at) {
                        let node = paste::schema(node);
                        pastes.push(Paste {
                            text: paste::entry(
                                name,
                                &node,
                                paste::indent_under(&our.properties_at),
                            ),
                            under: our.properties_at.clone(),
                        });
                        if required {
                            pastes.push(Paste {
                                text: paste::item(
                                    &Yaml::from(name.as_str()),
                                    paste::indent_under(&our.required_at),
                                ),
                                under: our.required_at.clone(),
                            });
                        }
                        pastes.extend(self.missing_components(&node));
                    }
                    self.push(
                        "field-added-upstream",
                        &u.at,
                        &our.properties_at,
                        name.clone(),
                        say(format!(
                            "new upstream: {}{}",
                            u.describe(),
                            if required { ", required" } else { "" }
                        )),
                        pastes,
                    );
                }
                (None, Some(o)) => self.push(
                    "field-missing-upstream",
                    &up.properties_at,
                    &o.at,
                    name.clone(),
                    say(format!("in openapi.yaml ({}), not upstream", o.describe())),
                    Vec::new(),
                ),
                (None, None) => {}
            }
        }
    }
}

fn types_text(shape: &Shape) -> String {
    if shape.types.is_empty() {
        "unspecified".to_owned()
    } else {
        shape.types.iter().cloned().collect::<Vec<_>>().join(" or ")
    }
}
