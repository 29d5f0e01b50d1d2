//! One model of a schema, whichever way a document writes it.
//!
//! OpenAPI 3.0 (our `openapi.yaml`) and 3.1 (QuantConnect's file) say the same things
//! differently: `nullable: true` or `type: [string, "null"]`; `allOf: [$ref]` with a
//! description beside it or a `$ref` with sibling keys; `enum: [x]` or `const: x`;
//! `anyOf: [X, {type: "null"}]`. [`Shape`] is what both mean: `$ref`s followed, `allOf`
//! merged, annotations (`description`, `example`, `examples`) dropped. Each part remembers
//! the JSON pointer where its document writes it, so a difference can say where to look.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::findings::escape;

/// How deep schemas may nest before the rest is treated as "anything" (a guard against
/// pathological documents; the agents schemas nest four levels).
const MAX_DEPTH: usize = 64;

/// What a schema allows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape {
    /// Where the schema is written.
    pub at: String,
    /// The component it is (`AgentDeployment`), when it is a `$ref` to one.
    pub component: Option<String>,
    /// The JSON types it allows, `null` aside; empty means any type.
    pub types: BTreeSet<String>,
    /// Where the type is written.
    pub types_at: String,
    /// Whether `null` is allowed.
    pub nullable: bool,
    /// The values it allows, `null` aside (`const` is a one-value enum); `None` means any.
    pub values: Option<Vec<Value>>,
    /// Where the enum is written (a new value goes there).
    pub values_at: String,
    /// The schema of an array's items.
    pub items: Option<Box<Shape>>,
    /// An object's fields.
    pub properties: BTreeMap<String, Shape>,
    /// The `properties` mapping a new field goes in.
    pub properties_at: String,
    /// An object's required fields.
    pub required: BTreeSet<String>,
    /// The `required` list a newly required field goes in.
    pub required_at: String,
    /// `oneOf`/`anyOf` alternatives, the `null` alternative aside.
    pub alternatives: Vec<Shape>,
    /// Set when the schema is a `$ref` already being followed (a recursive schema), or one
    /// that does not resolve: the reference, not followed.
    pub unfollowed: Option<String>,
}

impl Shape {
    fn at(at: &str) -> Shape {
        Shape {
            at: at.to_owned(),
            types_at: format!("{at}/type"),
            values_at: format!("{at}/enum"),
            properties_at: format!("{at}/properties"),
            required_at: format!("{at}/required"),
            ..Shape::default()
        }
    }

    /// `integer`, `string or null`, `AgentDeployment`, `string[]`, `enum InQueue|Running`.
    pub fn describe(&self) -> String {
        let mut text = if let Some(name) = &self.component {
            name.clone()
        } else if let Some(reference) = &self.unfollowed {
            reference.clone()
        } else if self.types.len() == 1 && self.types.contains("array") {
            match &self.items {
                Some(items) => format!("{}[]", items.describe()),
                None => "array".to_owned(),
            }
        } else if self.types.is_empty() {
            if self.alternatives.is_empty() {
                "any".to_owned()
            } else {
                let alternatives: Vec<_> = self.alternatives.iter().map(Shape::describe).collect();
                format!("one of ({})", alternatives.join(", "))
            }
        } else {
            self.types.iter().cloned().collect::<Vec<_>>().join(" or ")
        };
        if let Some(values) = &self.values {
            if self.component.is_none() {
                text.push_str(&format!(" enum {}", values_text(values)));
            }
        }
        if self.nullable {
            text.push_str(" or null");
        }
        text
    }

    /// Takes in what `other` (an `allOf` part or a `$ref` target) adds to this schema.
    fn merge(&mut self, other: Shape) {
        if !other.types.is_empty() {
            if self.types.is_empty() {
                self.types = other.types;
                self.types_at = other.types_at;
            } else {
                self.types = self.types.intersection(&other.types).cloned().collect();
            }
        }
        self.nullable |= other.nullable;
        if let Some(values) = other.values {
            self.values = Some(match self.values.take() {
                None => {
                    self.values_at = other.values_at;
                    values
                }
                Some(mine) => mine.into_iter().filter(|v| values.contains(v)).collect(),
            });
        }
        if let Some(items) = other.items {
            match &mut self.items {
                Some(mine) => mine.merge(*items),
                None => self.items = Some(items),
            }
        }
        if !other.properties.is_empty() {
            self.properties_at = other.properties_at;
        }
        for (name, field) in other.properties {
            match self.properties.get_mut(&name) {
                Some(mine) => mine.merge(field),
                None => {
                    self.properties.insert(name, field);
                }
            }
        }
        if !other.required.is_empty() {
            self.required_at = other.required_at;
        }
        self.required.extend(other.required);
        self.alternatives.extend(other.alternatives);
        if self.unfollowed.is_none() {
            self.unfollowed = other.unfollowed;
        }
    }
}

/// `InQueue|Running|"3"` — enum values as a maintainer reads them.
pub fn values_text(values: &[Value]) -> String {
    values.iter().map(value_text).collect::<Vec<_>>().join("|")
}

/// A JSON value as text: strings bare, everything else as JSON.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The shape of `schema`, written at `at` in `doc`.
pub fn shape(doc: &Value, schema: &Value, at: &str) -> Shape {
    Normalizer {
        doc,
        following: Vec::new(),
    }
    .shape(schema, at, 0)
}

/// `#/components/schemas/X` → (`/components/schemas/X`, its target), when it resolves.
pub fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<(String, &'a Value)> {
    let pointer = reference.strip_prefix('#')?;
    doc.pointer(pointer)
        .map(|target| (pointer.to_owned(), target))
}

struct Normalizer<'a> {
    doc: &'a Value,
    /// The `$ref`s being followed, to stop on recursive schemas.
    following: Vec<String>,
}

impl Normalizer<'_> {
    fn shape(&mut self, schema: &Value, at: &str, depth: usize) -> Shape {
        let mut shape = Shape::at(at);
        // `true`, `{}` and anything that is not a mapping allow anything.
        let Value::Object(map) = schema else {
            return shape;
        };
        if depth > MAX_DEPTH {
            return shape;
        }
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            let name = reference.rsplit('/').next().unwrap_or(reference);
            match resolve(self.doc, reference) {
                Some(_) if self.following.iter().any(|r| r == reference) => {
                    shape.unfollowed = Some(name.to_owned());
                }
                Some((pointer, target)) => {
                    self.following.push(reference.to_owned());
                    let inner = self.shape(target, &pointer, depth + 1);
                    self.following.pop();
                    shape.merge(inner);
                }
                None => shape.unfollowed = Some(format!("unresolved {reference}")),
            }
            if reference.starts_with("#/components/schemas/") {
                shape.component = Some(name.to_owned());
            }
        }
        if let Some(parts) = map.get("allOf").and_then(Value::as_array) {
            for (i, part) in parts.iter().enumerate() {
                let part = self.shape(part, &format!("{at}/allOf/{i}"), depth + 1);
                // `allOf: [$ref]` is OpenAPI 3.0's way to put keys beside a `$ref`.
                if parts.len() == 1 && shape.component.is_none() {
                    shape.component = part.component.clone();
                }
                shape.merge(part);
            }
        }
        match map.get("type") {
            Some(Value::String(t)) => {
                shape.types_at = format!("{at}/type");
                if t == "null" {
                    shape.nullable = true;
                } else {
                    shape.types = BTreeSet::from([t.clone()]);
                }
            }
            Some(Value::Array(types)) => {
                shape.types_at = format!("{at}/type");
                shape.types.clear();
                for t in types.iter().filter_map(Value::as_str) {
                    if t == "null" {
                        shape.nullable = true;
                    } else {
                        shape.types.insert(t.to_owned());
                    }
                }
            }
            _ => {}
        }
        if map.get("nullable") == Some(&Value::Bool(true)) {
            shape.nullable = true;
        }
        if let Some(values) = map.get("enum").and_then(Value::as_array) {
            shape.nullable |= values.iter().any(Value::is_null);
            shape.values = Some(values.iter().filter(|v| !v.is_null()).cloned().collect());
            shape.values_at = format!("{at}/enum");
        }
        if let Some(constant) = map.get("const") {
            if constant.is_null() {
                shape.nullable = true;
            } else {
                shape.values = Some(vec![constant.clone()]);
            }
            shape.values_at = format!("{at}/const");
        }
        if let Some(properties) = map.get("properties").and_then(Value::as_object) {
            shape.properties_at = format!("{at}/properties");
            for (name, field) in properties {
                let field_at = format!("{at}/properties/{}", escape(name));
                let field = self.shape(field, &field_at, depth + 1);
                match shape.properties.get_mut(name) {
                    Some(mine) => mine.merge(field),
                    None => {
                        shape.properties.insert(name.clone(), field);
                    }
                }
            }
        }
        if let Some(required) = map.get("required").and_then(Value::as_array) {
            shape.required_at = format!("{at}/required");
            shape
                .required
                .extend(required.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        if let Some(items) = map.get("items") {
            let items = self.shape(items, &format!("{at}/items"), depth + 1);
            match &mut shape.items {
                Some(mine) => mine.merge(items),
                None => shape.items = Some(Box::new(items)),
            }
        }
        for keyword in ["anyOf", "oneOf"] {
            let Some(alternatives) = map.get(keyword).and_then(Value::as_array) else {
                continue;
            };
            let mut kept = Vec::new();
            for (i, alternative) in alternatives.iter().enumerate() {
                let alternative =
                    self.shape(alternative, &format!("{at}/{keyword}/{i}"), depth + 1);
                if is_just_null(&alternative) {
                    shape.nullable = true;
                } else {
                    kept.push(alternative);
                }
            }
            // `anyOf: [X, {type: "null"}]` is X, nullable.
            if kept.len() == 1 && shape.alternatives.is_empty() {
                let only = kept.remove(0);
                if shape.component.is_none() {
                    shape.component = only.component.clone();
                }
                shape.merge(only);
            } else {
                shape.alternatives.extend(kept);
            }
        }
        shape
    }
}

fn is_just_null(shape: &Shape) -> bool {
    shape.nullable
        && shape.types.is_empty()
        && shape.values.is_none()
        && shape.properties.is_empty()
        && shape.items.is_none()
        && shape.alternatives.is_empty()
        && shape.unfollowed.is_none()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc() -> Value {
        json!({"components": {"schemas": {
            "Status": {"type": "string", "enum": ["InQueue", "Running"]},
            "Base": {"type": "object", "properties": {"success": {"type": "boolean"}}},
            "Node": {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Node"}}},
        }}})
    }

    /// The 3.0 and 3.1 spellings of the same field normalise to the same shape.
    #[test]
    fn nullable_ref_siblings_and_const_mean_the_same_in_30_and_31() {
        let doc = doc();
        let same = |a: Value, b: Value| {
            let mut a = shape(&doc, &a, "");
            let mut b = shape(&doc, &b, "");
            for s in [&mut a, &mut b] {
                s.types_at.clear();
                s.values_at.clear();
            }
            assert_eq!(a.describe(), b.describe());
            assert_eq!(
                (a.types, a.nullable, a.values),
                (b.types, b.nullable, b.values)
            );
        };
        same(
            json!({"type": "string", "nullable": true}),
            json!({"type": ["string", "null"]}),
        );
        same(
            json!({"allOf": [{"$ref": "#/components/schemas/Status"}], "description": "d"}),
            json!({"$ref": "#/components/schemas/Status", "description": "d", "examples": ["Running"]}),
        );
        same(
            json!({"allOf": [{"$ref": "#/components/schemas/Status"}], "nullable": true}),
            json!({"anyOf": [{"$ref": "#/components/schemas/Status"}, {"type": "null"}]}),
        );
        same(
            json!({"type": "string", "enum": ["x"]}),
            json!({"type": "string", "const": "x"}),
        );
        same(json!({"type": "integer"}), json!({"type": ["integer"]}));
    }

    #[test]
    fn all_of_merges_fields_and_remembers_where_they_go() {
        let doc = doc();
        let s = shape(
            &doc,
            &json!({"allOf": [{"$ref": "#/components/schemas/Base"}, {"type": "object", "required": ["x"], "properties": {"x": {"type": "integer"}}}]}),
            "/r",
        );
        assert_eq!(s.properties.keys().collect::<Vec<_>>(), ["success", "x"]);
        assert_eq!(s.properties_at, "/r/allOf/1/properties");
        assert_eq!(
            s.properties["success"].at,
            "/components/schemas/Base/properties/success"
        );
        assert_eq!(s.required, BTreeSet::from(["x".to_owned()]));
        assert_eq!(s.types, BTreeSet::from(["object".to_owned()]));
    }

    #[test]
    fn recursive_and_broken_references_stop_instead_of_looping() {
        let doc = doc();
        let s = shape(&doc, &json!({"$ref": "#/components/schemas/Node"}), "");
        assert_eq!(s.properties["next"].unfollowed.as_deref(), Some("Node"));
        let s = shape(&doc, &json!({"$ref": "#/components/schemas/Nope"}), "");
        assert_eq!(s.describe(), "Nope");
        assert_eq!(
            s.unfollowed.as_deref(),
            Some("unresolved #/components/schemas/Nope")
        );
        let s = shape(&doc, &json!(true), "");
        assert_eq!(s.describe(), "any");
    }
}
