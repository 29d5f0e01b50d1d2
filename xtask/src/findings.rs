//! A finding: one thing `validate` says is wrong, with where and which rule.

use std::fmt;

/// One problem, located: the file, a JSON pointer into it, and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The file, relative to the repository root (`openapi.yaml`, `tests/recordings/x.json`).
    pub file: String,
    /// Where in the file (a JSON pointer; inside a recording, into the request or response).
    pub pointer: String,
    /// The rule, a short kebab-case name (`wrong-type`, `undocumented-field`, ...).
    pub rule: &'static str,
    /// What is wrong, in words.
    pub message: String,
}

impl Finding {
    pub fn new(
        file: impl Into<String>,
        pointer: impl Into<String>,
        rule: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            file: file.into(),
            pointer: pointer.into(),
            rule,
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(
            f,
            "{}: {} [{}] {}",
            self.file, pointer, self.rule, self.message
        )
    }
}

/// Escapes one JSON-pointer segment (RFC 6901).
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}
