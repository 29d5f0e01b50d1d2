//! QuantConnect's OpenAPI 3.1 text, rewritten as the OpenAPI 3.0 that `openapi.yaml` is in
//! (progenitor reads only 3.0), and laid out to paste into it.
//!
//! - `type: [x, "null"]`, `enum` with `null`, `const: null` and `anyOf: [X, {type: "null"}]`
//!   become `nullable: true`;
//! - a `$ref` with sibling keys (a description) becomes `allOf: [{$ref}]` beside them, since
//!   3.0 ignores whatever sits beside a `$ref`;
//! - `const: x` becomes `enum: [x]`, and an `examples` list its first `example`.
//!
//! Blocks are indented for `openapi.yaml`'s layout (two spaces a level, list items indented
//! under their key), so a block pasted under its pointer needs no re-indenting.

use serde_norway::{Mapping, Value as Yaml};

use super::document::key_string;

/// A schema in OpenAPI 3.0 form.
pub fn schema(value: &Yaml) -> Yaml {
    let Yaml::Mapping(map) = value else {
        return value.clone();
    };
    let has_siblings = map.len() > 1 && get(map, "$ref").is_some();
    let mut nullable = false;
    let mut out = Mapping::new();
    for (key, value) in map {
        let name = key_string(key);
        match name.as_str() {
            "$ref" if has_siblings => {
                let mut reference = Mapping::new();
                reference.insert(key.clone(), value.clone());
                out.insert(
                    Yaml::from("allOf"),
                    Yaml::Sequence(vec![Yaml::Mapping(reference)]),
                );
            }
            "type" => match value {
                Yaml::Sequence(types) => {
                    let kept: Vec<&Yaml> = types.iter().filter(|t| !is_str(t, "null")).collect();
                    nullable |= kept.len() < types.len();
                    match kept.as_slice() {
                        [] => {}
                        [only] => {
                            out.insert(key.clone(), (*only).clone());
                        }
                        several => {
                            let alternatives = several
                                .iter()
                                .map(|t| {
                                    let mut m = Mapping::new();
                                    m.insert(Yaml::from("type"), (*t).clone());
                                    Yaml::Mapping(m)
                                })
                                .collect();
                            out.insert(Yaml::from("anyOf"), Yaml::Sequence(alternatives));
                        }
                    }
                }
                t if is_str(t, "null") => nullable = true,
                t => {
                    out.insert(key.clone(), t.clone());
                }
            },
            "nullable" => nullable |= value == &Yaml::Bool(true),
            "const" => {
                if value.is_null() {
                    nullable = true;
                } else {
                    out.insert(Yaml::from("enum"), Yaml::Sequence(vec![value.clone()]));
                }
            }
            "enum" => {
                let values = value.as_sequence().cloned().unwrap_or_default();
                nullable |= values.iter().any(Yaml::is_null);
                let kept = values.into_iter().filter(|v| !v.is_null()).collect();
                out.insert(key.clone(), Yaml::Sequence(kept));
            }
            "examples" => {
                if let Some(first) = value.as_sequence().and_then(|e| e.first()) {
                    out.insert(Yaml::from("example"), first.clone());
                }
            }
            "properties" => {
                let properties = match value {
                    Yaml::Mapping(fields) => {
                        Yaml::Mapping(fields.iter().map(|(k, v)| (k.clone(), schema(v))).collect())
                    }
                    other => other.clone(),
                };
                out.insert(key.clone(), properties);
            }
            "items" | "not" | "additionalProperties" => {
                out.insert(key.clone(), schema(value));
            }
            "allOf" => {
                let parts = value.as_sequence().cloned().unwrap_or_default();
                out.insert(
                    key.clone(),
                    Yaml::Sequence(parts.iter().map(schema).collect()),
                );
            }
            "anyOf" | "oneOf" => {
                let alternatives = value.as_sequence().cloned().unwrap_or_default();
                let kept: Vec<Yaml> = alternatives
                    .iter()
                    .filter(|a| !is_null_schema(a))
                    .map(schema)
                    .collect();
                nullable |= kept.len() < alternatives.len();
                match kept.as_slice() {
                    [only] if kept.len() < alternatives.len() => match only {
                        Yaml::Mapping(m) if m.len() == 1 && get(m, "$ref").is_some() => {
                            out.insert(Yaml::from("allOf"), Yaml::Sequence(vec![only.clone()]));
                        }
                        Yaml::Mapping(m) => {
                            for (k, v) in m {
                                out.insert(k.clone(), v.clone());
                            }
                        }
                        other => {
                            out.insert(key.clone(), Yaml::Sequence(vec![other.clone()]));
                        }
                    },
                    _ => {
                        out.insert(key.clone(), Yaml::Sequence(kept));
                    }
                }
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if nullable {
        out = with_nullable(out);
    }
    Yaml::Mapping(out)
}

/// Anything that holds schemas (a path item, an operation, a response): every `schema`
/// inside it in 3.0 form, the rest as it is.
pub fn holder(value: &Yaml) -> Yaml {
    match value {
        Yaml::Mapping(map) => Yaml::Mapping(
            map.iter()
                .map(|(k, v)| {
                    let v = if key_string(k) == "schema" {
                        schema(v)
                    } else {
                        holder(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Yaml::Sequence(items) => Yaml::Sequence(items.iter().map(holder).collect()),
        other => other.clone(),
    }
}

/// `nullable: true` right after `type` (or at the end when there is no type).
fn with_nullable(map: Mapping) -> Mapping {
    let mut out = Mapping::new();
    let mut placed = false;
    for (k, v) in map {
        let is_type = key_string(&k) == "type";
        out.insert(k, v);
        if is_type {
            out.insert(Yaml::from("nullable"), Yaml::Bool(true));
            placed = true;
        }
    }
    if !placed {
        out.insert(Yaml::from("nullable"), Yaml::Bool(true));
    }
    out
}

fn get<'a>(map: &'a Mapping, key: &str) -> Option<&'a Yaml> {
    map.iter()
        .find(|(k, _)| key_string(k) == key)
        .map(|(_, v)| v)
}

fn is_str(value: &Yaml, s: &str) -> bool {
    value.as_str() == Some(s)
}

fn is_null_schema(value: &Yaml) -> bool {
    let Yaml::Mapping(map) = value else {
        return false;
    };
    match get(map, "type") {
        Some(t) if is_str(t, "null") => true,
        Some(Yaml::Sequence(types)) => types.iter().all(|t| is_str(t, "null")),
        _ => false,
    }
}

/// The `$ref`s in a value, in order, each once.
pub fn references(value: &Yaml, out: &mut Vec<String>) {
    match value {
        Yaml::Mapping(map) => {
            for (k, v) in map {
                match (key_string(k).as_str(), v.as_str()) {
                    ("$ref", Some(reference)) => {
                        if !out.iter().any(|r| r == reference) {
                            out.push(reference.to_owned());
                        }
                    }
                    _ => references(v, out),
                }
            }
        }
        Yaml::Sequence(items) => items.iter().for_each(|v| references(v, out)),
        Yaml::Tagged(tagged) => references(&tagged.value, out),
        _ => {}
    }
}

/// How far `openapi.yaml` indents the children of the node at `pointer`: two spaces a
/// segment (a list item's keys sit two spaces right of its `-`, so indices count too).
pub fn indent_under(pointer: &str) -> usize {
    2 * pointer.split('/').skip(1).count()
}

/// `key: value` as YAML, at `indent`.
pub fn entry(key: &str, value: &Yaml, indent: usize) -> String {
    let mut out = String::new();
    write_entry(&mut out, &scalar(&Yaml::from(key)), value, indent);
    out
}

/// `- value` as YAML, at `indent`.
pub fn item(value: &Yaml, indent: usize) -> String {
    let mut out = String::new();
    write_item(&mut out, value, indent);
    out
}

fn write_entry(out: &mut String, key: &str, value: &Yaml, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Yaml::Mapping(map) if !map.is_empty() => {
            out.push_str(&format!("{pad}{key}:\n"));
            for (k, v) in map {
                write_entry(out, &scalar(k), v, indent + 2);
            }
        }
        Yaml::Sequence(items) if !items.is_empty() => {
            out.push_str(&format!("{pad}{key}:\n"));
            for v in items {
                write_item(out, v, indent + 2);
            }
        }
        Yaml::Tagged(tagged) => write_entry(out, key, &tagged.value, indent),
        other => out.push_str(&format!("{pad}{key}: {}\n", scalar(other))),
    }
}

fn write_item(out: &mut String, value: &Yaml, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Yaml::Mapping(map) if !map.is_empty() => {
            let mut inner = String::new();
            for (k, v) in map {
                write_entry(&mut inner, &scalar(k), v, indent + 2);
            }
            // The first key goes on the dash's line.
            out.push_str(&format!("{pad}- {}", &inner[indent + 2..]));
        }
        Yaml::Sequence(items) if !items.is_empty() => {
            out.push_str(&format!("{pad}-\n"));
            for v in items {
                write_item(out, v, indent + 2);
            }
        }
        Yaml::Tagged(tagged) => write_item(out, &tagged.value, indent),
        other => out.push_str(&format!("{pad}- {}\n", scalar(other))),
    }
}

/// One scalar on one line, quoted where YAML needs it.
fn scalar(value: &Yaml) -> String {
    match value {
        Yaml::Mapping(_) => "{}".to_owned(),
        Yaml::Sequence(_) => "[]".to_owned(),
        // A double-quoted JSON string is valid YAML and keeps line breaks on one line.
        Yaml::String(s) if s.contains('\n') => {
            serde_json::to_string(s).unwrap_or_else(|_| "''".to_owned())
        }
        Yaml::String(s) => {
            let written = serde_norway::to_string(value)
                .map(|t| t.trim_end().to_owned())
                .unwrap_or_default();
            // YAML 1.2 reads `2026-05-12 17:08:53` and `no` as strings, YAML 1.1 readers as a
            // timestamp and a boolean: quote what one reader could take for something else.
            let ambiguous = s.starts_with(|c: char| c.is_ascii_digit())
                || ["y", "n", "yes", "no", "on", "off"].contains(&s.to_lowercase().as_str());
            if written == *s && ambiguous {
                format!("'{}'", s.replace('\'', "''"))
            } else {
                written
            }
        }
        other => serde_norway::to_string(other)
            .map(|s| s.trim_end().to_owned())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Yaml {
        serde_norway::from_str(text).unwrap()
    }

    #[test]
    fn writes_31_forms_as_30() {
        let field = yaml(
            "type: [string, 'null']\ndescription: When it ended.\nexamples: ['2026-05-12 17:08:53']\n",
        );
        assert_eq!(
            entry("ended", &schema(&field), 8),
            "        ended:\n          type: string\n          nullable: true\n          description: When it ended.\n          example: '2026-05-12 17:08:53'\n"
        );
        let reference =
            yaml("$ref: '#/components/schemas/AgentDeploymentStatus'\ndescription: Status.\n");
        assert_eq!(
            entry("status", &schema(&reference), 8),
            "        status:\n          allOf:\n            - $ref: '#/components/schemas/AgentDeploymentStatus'\n          description: Status.\n"
        );
        let any = yaml("anyOf:\n  - $ref: '#/components/schemas/AgentToken'\n  - type: 'null'\n");
        assert_eq!(
            entry("token", &schema(&any), 0),
            "token:\n  allOf:\n    - $ref: '#/components/schemas/AgentToken'\n  nullable: true\n"
        );
        let constant = yaml("type: string\nconst: v2\n");
        assert_eq!(
            entry("kind", &schema(&constant), 0),
            "kind:\n  type: string\n  enum:\n    - v2\n"
        );
        let items = yaml("type: array\nitems:\n  type: [integer, 'null']\n");
        assert_eq!(
            entry("ids", &schema(&items), 0),
            "ids:\n  type: array\n  items:\n    type: integer\n    nullable: true\n"
        );
    }

    #[test]
    fn only_schemas_are_rewritten_in_a_path_item() {
        let path = yaml("post:\n  responses:\n    '200':\n      content:\n        application/json:\n          schema:\n            type: [object, 'null']\n");
        let text = entry("/agents/x", &holder(&path), 2);
        assert!(text.contains("        '200':\n"), "{text}");
        assert!(
            text.contains("                type: object\n                nullable: true\n"),
            "{text}"
        );
    }

    #[test]
    fn indentation_follows_the_pointer() {
        assert_eq!(
            indent_under("/components/schemas/AgentDeployment/properties"),
            8
        );
        assert_eq!(
            indent_under("/components/schemas/AgentResponse/allOf/1/properties"),
            12
        );
        assert_eq!(indent_under("/paths"), 2);
        assert_eq!(item(&Yaml::from("Paused"), 8), "        - Paused\n");
        let mut refs = Vec::new();
        references(
            &yaml("a:\n  $ref: '#/x'\nb:\n  - $ref: '#/y'\n  - $ref: '#/x'\n"),
            &mut refs,
        );
        assert_eq!(refs, ["#/x", "#/y"]);
    }
}
