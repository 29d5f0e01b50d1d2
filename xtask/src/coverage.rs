//! What each operation of the spec still lacks in the hand-written parts of the project.
//!
//! An operation added to `openapi.yaml` is callable through `Client::send` at the next
//! build (`build.rs` generates its wiring); what a maintainer adds after that is optional
//! for callers but expected of the project: a named method on `Client`, a handler in the
//! simulator, a contract test, a recording (checked in `main.rs`). Each missing piece is a
//! finding naming the file and the rule. The open enums of `src/enums.rs`, which replace
//! generated ones, must know exactly the values the spec lists. The files are read as text,
//! so a spec the crate does not build against yet still gets a report.

use std::path::Path;

use crate::{
    findings::{escape, Finding},
    spec::{Spec, SPEC_FILE},
};

/// Where the named methods live.
pub const CLIENT_FILE: &str = "src/client/mod.rs";
/// Where the simulator's handlers are listed, one `("operationId", handler)` a line.
pub const SIMULATOR_FILE: &str = "src/simulator/handlers.rs";
/// Where every operation's exact request is pinned.
pub const CONTRACT_FILE: &str = "tests/contract.rs";
/// Where the open enums are, one `Variant => "value",` a line.
pub const ENUMS_FILE: &str = "src/enums.rs";

/// Each spec enum that `src/enums.rs` replaces, and the Rust type replacing it.
const OPEN_ENUMS: [(&str, &str); 3] = [
    ("AgentDeploymentStatus", "DeploymentStatus"),
    ("AgentProjectPreference", "ProjectPreference"),
    ("AgentReasoningEffort", "ReasoningEffort"),
];

/// The findings for every operation of `spec` against the files under `root`.
pub fn check(root: &Path, spec: &Spec) -> Vec<Finding> {
    let read = |file: &str| std::fs::read_to_string(root.join(file)).unwrap_or_default();
    let (client, simulator, contract) =
        (read(CLIENT_FILE), read(SIMULATOR_FILE), read(CONTRACT_FILE));
    let mut findings = Vec::new();
    for op in &spec.operations {
        let id = &op.id;
        let method = op.method.to_lowercase();
        let at = format!("/paths/{}/{method}", escape(&op.path));
        let post = &spec.doc["paths"][&op.path][&method];
        let request = op
            .request
            .as_ref()
            .and_then(|schema| schema["$ref"].as_str())
            .and_then(|r| r.strip_prefix("#/components/schemas/"));

        match request {
            Some(request) if mentions_type(&client, request) => {
                if let Some(summary) = post["summary"].as_str() {
                    if !client.contains(&format!("/// {summary}")) {
                        findings.push(Finding::new(
                            CLIENT_FILE,
                            format!("{at}/summary"),
                            "method-undocumented",
                            format!("the method for `{id}` does not start its docs with the spec's summary `{summary}`"),
                        ));
                    }
                }
                if !client.contains(&format!("`POST {}` (operation `{id}`", op.path)) {
                    findings.push(Finding::new(
                        CLIENT_FILE,
                        at.clone(),
                        "method-undocumented",
                        format!("the method for `{id}` does not name its path: add \"`POST {}` (operation `{id}`)\" to its docs", op.path),
                    ));
                }
            }
            _ => findings.push(Finding::new(
                CLIENT_FILE,
                at.clone(),
                "operation-without-method",
                format!(
                    "no named method sends `{id}` (`types::{}`); it is callable with `Client::send` \
                     until one is added",
                    request.unwrap_or("?")
                ),
            )),
        }
        if !simulator.contains(&format!("(\"{id}\",")) {
            findings.push(Finding::new(
                SIMULATOR_FILE,
                at.clone(),
                "operation-not-simulated",
                format!("the simulator has no handler for `{id}`: it answers `success: false` naming it"),
            ));
        }
        if !contract.contains(&format!("id: \"{id}\"")) {
            findings.push(Finding::new(
                CONTRACT_FILE,
                at,
                "operation-without-contract-test",
                format!("no contract test pins the request `{id}` sends"),
            ));
        }
    }
    findings
}

/// The hand-written open enums in `source` (the text of `src/enums.rs`) must know exactly
/// the values the spec lists, in its order.
pub fn open_enums(spec: &Spec, source: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (component, rust) in OPEN_ENUMS {
        let Some(listed) = spec.enum_values(component) else {
            findings.push(Finding::new(
                SPEC_FILE,
                format!("/components/schemas/{component}"),
                "missing-enum",
                format!("{component} is replaced by a hand-written type but is not in the spec"),
            ));
            continue;
        };
        let known = known_values(source, rust);
        if listed != known {
            findings.push(Finding::new(
                SPEC_FILE,
                format!("/components/schemas/{component}/enum"),
                "enum-drift",
                format!("the spec lists {listed:?}; {ENUMS_FILE} knows {known:?}: update the one that is wrong"),
            ));
        }
    }
    findings
}

/// The wire values of `open_enum! { ... Name { Variant => "value", ... } }` in `source`.
fn known_values(source: &str, name: &str) -> Vec<String> {
    let Some(start) = source.find(&format!("\n    {name} {{\n")) else {
        return Vec::new();
    };
    let body = &source[start + 1..];
    let body = &body[..body.find("\n    }").unwrap_or(body.len())];
    body.lines()
        .filter_map(|line| line.split_once("=> \"")?.1.strip_suffix("\","))
        .map(str::to_owned)
        .collect()
}

/// Whether `source` names `types::{name}` (not merely a longer name that starts with it).
fn mentions_type(source: &str, name: &str) -> bool {
    let needle = format!("types::{name}");
    source.match_indices(&needle).any(|(at, _)| {
        source[at + needle.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_enums_values_are_read_from_their_macro_calls() {
        let source = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(ENUMS_FILE),
        )
        .unwrap();
        assert_eq!(
            known_values(&source, "DeploymentStatus"),
            ["InQueue", "Running", "Completed", "Stopped", "Failed"]
        );
        assert_eq!(
            known_values(&source, "ReasoningEffort"),
            ["low", "medium", "high"]
        );
        assert!(known_values(&source, "Missing").is_empty());
    }

    #[test]
    fn a_type_is_named_only_by_its_whole_name() {
        assert!(mentions_type(
            "let b = types::ReadAgentRequest { agent_id };",
            "ReadAgentRequest"
        ));
        assert!(!mentions_type(
            "types::ReadAgentRequestV2 {",
            "ReadAgentRequest"
        ));
        assert!(mentions_type(
            "x types::ReadAgentRequest",
            "ReadAgentRequest"
        ));
    }
}
