//! Reading an OpenAPI document, from a file or a URL, into two views: `serde_json::Value`
//! for comparing (JSON pointers, no YAML details) and `serde_norway::Value` for quoting it
//! back as YAML (keys in the document's own order).
//!
//! Both OpenAPI 3.0 and 3.1 parse the same way here: nothing is validated beyond "a mapping
//! with an `openapi: 3.x` version and `paths`", so a construct this tool does not understand
//! elsewhere in QuantConnect's file can never stop it.

use std::time::Duration;

use serde_json::{Map, Number, Value};
use serde_norway::Value as Yaml;

/// Where `cargo xtask upstream` reads QuantConnect's spec when it is given nothing.
pub const DEFAULT_URL: &str =
    "https://raw.githubusercontent.com/QuantConnect/Documentation/master/QuantConnect-Platform-2.0.0.yaml";

/// The most a download may weigh (QuantConnect's file is about 300 KB).
const MAX_DOWNLOAD: usize = 32 * 1024 * 1024;

/// A parsed OpenAPI document.
pub struct Document {
    /// Where it came from (a path or a URL), for messages and findings.
    pub name: String,
    pub json: Value,
    pub yaml: Yaml,
}

impl Document {
    /// Parses `text` as an OpenAPI 3.x document named `name`.
    pub fn parse(name: &str, text: &str) -> Result<Document, String> {
        let yaml: Yaml = serde_norway::from_str(text)
            .map_err(|e| format!("{name}: not YAML ({e}){}", looks_like(text)))?;
        let json = to_json(&yaml);
        let Some(version) = json.get("openapi").and_then(Value::as_str) else {
            return Err(format!(
                "{name}: not an OpenAPI document: no `openapi:` version at the top{}",
                looks_like(text)
            ));
        };
        if !version.starts_with("3.") {
            return Err(format!(
                "{name}: OpenAPI {version}; only OpenAPI 3.0 and 3.1 documents are read"
            ));
        }
        if !json.get("paths").is_some_and(Value::is_object) {
            return Err(format!("{name}: no `paths` mapping"));
        }
        Ok(Document {
            name: name.to_owned(),
            json,
            yaml,
        })
    }

    /// The YAML node at a JSON pointer, for quoting it.
    pub fn yaml_at(&self, pointer: &str) -> Option<&Yaml> {
        let mut node = &self.yaml;
        for segment in segments(pointer) {
            node = match untag(node) {
                Yaml::Mapping(map) => map.iter().find(|(k, _)| key_string(k) == segment)?.1,
                Yaml::Sequence(items) => items.get(segment.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(untag(node))
    }
}

/// A hint for text that is plainly not a spec (an HTML error page, an empty answer).
fn looks_like(text: &str) -> &'static str {
    let start = text.trim_start();
    if start.is_empty() {
        " (the text is empty)"
    } else if start.starts_with('<') {
        " (the text looks like HTML)"
    } else {
        ""
    }
}

/// The unescaped segments of a JSON pointer (RFC 6901).
pub fn segments(pointer: &str) -> impl Iterator<Item = String> + '_ {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
}

fn untag(value: &Yaml) -> &Yaml {
    match value {
        Yaml::Tagged(tagged) => untag(&tagged.value),
        other => other,
    }
}

/// A mapping key as the string JSON would use (`200:` and `"200":` are the same key).
pub fn key_string(key: &Yaml) -> String {
    match untag(key) {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Null => "null".to_owned(),
        other => serde_norway::to_string(other)
            .map(|s| s.trim_end().to_owned())
            .unwrap_or_default(),
    }
}

/// YAML to JSON without failing: keys become strings, tags are dropped, and a float JSON
/// cannot hold (`.nan`) becomes null.
pub fn to_json(value: &Yaml) -> Value {
    match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (key_string(k), to_json(v)))
                .collect::<Map<_, _>>(),
        ),
        Yaml::Tagged(tagged) => to_json(&tagged.value),
    }
}

/// The text of `source`: downloaded when it is an `http(s)://` URL, read from disk otherwise.
pub fn read(source: &str) -> Result<String, String> {
    if source.starts_with("http://") || source.starts_with("https://") {
        download(source)
    } else {
        std::fs::read_to_string(source).map_err(|e| format!("{source}: {e}"))
    }
}

fn download(url: &str) -> Result<String, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the HTTP runtime: {e}"))?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!(
                "quantconnect-agents-xtask/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", chain(&e)))?;
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {}", chain(&e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("GET {url}: HTTP {status}"));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DOWNLOAD as u64)
        {
            return Err(format!("GET {url}: larger than {MAX_DOWNLOAD} bytes"));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("GET {url}: reading the body: {}", chain(&e)))?;
        if body.len() > MAX_DOWNLOAD {
            return Err(format!("GET {url}: larger than {MAX_DOWNLOAD} bytes"));
        }
        String::from_utf8(body.to_vec()).map_err(|e| format!("GET {url}: not UTF-8 text: {e}"))
    })
}

/// An error with its causes, `a: b: c`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_31_and_30_labelled_documents_and_unquoted_status_keys() {
        let doc = Document::parse(
            "x.yaml",
            "openapi: 3.0.0\npaths:\n  /a:\n    post:\n      responses:\n        200:\n          description: ok\n",
        )
        .unwrap();
        assert_eq!(
            doc.json
                .pointer("/paths/~1a/post/responses/200/description"),
            Some(&Value::from("ok"))
        );
        assert!(doc.yaml_at("/paths/~1a/post/responses/200").is_some());
    }

    #[test]
    fn says_why_a_text_is_not_a_spec() {
        let html = Document::parse("u", "<html><body>404: Not Found</body></html>")
            .err()
            .unwrap();
        assert!(html.contains("not an OpenAPI document"), "{html}");
        assert!(html.contains("looks like HTML"), "{html}");
        let broken = Document::parse("u", "openapi: 3.1.0\npaths: [\n")
            .err()
            .unwrap();
        assert!(broken.starts_with("u: not YAML"), "{broken}");
        let swagger = Document::parse("u", "swagger: '2.0'\npaths: {}\n")
            .err()
            .unwrap();
        assert!(swagger.contains("no `openapi:` version"), "{swagger}");
        let v2 = Document::parse("u", "openapi: 2.0.0\npaths: {}\n")
            .err()
            .unwrap();
        assert!(v2.contains("only OpenAPI 3.0 and 3.1"), "{v2}");
        let empty = Document::parse("u", "").err().unwrap();
        assert!(empty.contains("empty"), "{empty}");
        let no_paths = Document::parse("u", "openapi: 3.1.0\n").err().unwrap();
        assert!(no_paths.contains("no `paths`"), "{no_paths}");
    }
}
