//! `cargo xtask upstream`: what QuantConnect changed in its official spec that
//! `openapi.yaml` does not have yet.
//!
//! QuantConnect publishes its spec (OpenAPI 3.1, `QuantConnect-Platform-2.0.0.yaml` in the
//! `QuantConnect/Documentation` repository) with no changelog; `openapi.yaml` is our hand
//! port of its agents paths to OpenAPI 3.0. This command reads both into one model
//! ([`shape::Shape`]), compares every `/agents` operation (presence, method, operation id,
//! request and 200-response schemas field by field) and reports each difference with a JSON
//! pointer into each document and, for additions, the 3.0 text to paste.
//!
//! Exit status: 0 in sync, 1 on drift, 2 when either spec cannot be read or parsed.

mod diff;
mod document;
mod paste;
mod shape;

use std::{path::Path, process::ExitCode};

pub use diff::{compare, Comparison};
pub use document::{Document, DEFAULT_URL};

/// What `upstream` prints with `--json`.
#[derive(serde::Serialize)]
struct Report<'a> {
    upstream: &'a str,
    ours: &'a str,
    in_sync: bool,
    #[serde(flatten)]
    comparison: &'a Comparison,
}

/// Reads QuantConnect's spec from `source` (a path or an `http(s)://` URL; default
/// [`DEFAULT_URL`]) and compares it with `openapi.yaml` under `root`.
pub fn run(root: &Path, source: Option<&str>, json: bool) -> Result<ExitCode, String> {
    let source = source.unwrap_or(DEFAULT_URL);
    let comparison = compare_with(root, source)?;
    if json {
        let report = Report {
            upstream: source,
            ours: crate::spec::SPEC_FILE,
            in_sync: comparison.findings.is_empty(),
            comparison: &comparison,
        };
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| format!("cannot write the report as JSON: {e}"))?;
        println!("{text}");
    } else {
        print!("{}", render(source, &comparison));
    }
    Ok(if comparison.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The comparison of `source` with `root`'s `openapi.yaml`; an error says which document
/// could not be read or parsed, and why.
pub fn compare_with(root: &Path, source: &str) -> Result<Comparison, String> {
    let upstream = Document::parse(source, &document::read(source)?)?;
    let ours_path = root.join(crate::spec::SPEC_FILE);
    let ours_text =
        std::fs::read_to_string(&ours_path).map_err(|e| format!("{}: {e}", ours_path.display()))?;
    let ours = Document::parse(crate::spec::SPEC_FILE, &ours_text)?;
    Ok(compare(&upstream, &ours))
}

/// The report for people: findings grouped by operation, each with both pointers and the
/// text to paste, then one summary line.
pub fn render(source: &str, comparison: &Comparison) -> String {
    let mut out = String::new();
    let mut current = None;
    for drift in &comparison.findings {
        let op = &drift.operation;
        if current != Some(op) {
            out.push_str(&format!("\n{} {} ({})\n", op.method, op.path, op.id));
            current = Some(op);
        }
        let f = &drift.finding;
        out.push_str(&format!("  [{}] {}\n", f.rule.replace('-', " "), f.message));
        out.push_str(&format!(
            "    upstream:     {}#{}\n",
            drift.upstream.file, drift.upstream.pointer
        ));
        out.push_str(&format!("    openapi.yaml: {}#{}\n", f.file, f.pointer));
        if !drift.also.is_empty() {
            out.push_str(&format!("    also in:      {}\n", drift.also.join(", ")));
        }
        for paste in &drift.paste {
            out.push_str(&format!("    paste under {}#{}:\n", f.file, paste.under));
            out.push_str(&paste.text);
        }
    }
    if comparison.findings.is_empty() {
        out.push_str(&format!(
            "openapi.yaml is in sync with {source}: {} agents operations, and every field, type, nullability, required flag and enum value agree\n",
            comparison.upstream_operations
        ));
    } else {
        let operations: std::collections::BTreeSet<_> = comparison
            .findings
            .iter()
            .map(|d| &d.operation.id)
            .collect();
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        out.push_str(&format!(
            "\n{} in {} between {source} ({} agents operations) and openapi.yaml ({})\n",
            plural(comparison.findings.len(), "difference"),
            plural(operations.len(), "operation"),
            comparison.upstream_operations,
            comparison.our_operations
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{diff::Drift, *};

    const OURS: &str = include_str!("../../openapi.yaml");
    /// QuantConnect's 3.1 style, mirroring openapi.yaml's agents paths.
    const FIXTURE: &str = include_str!("../tests/fixtures/upstream/in-sync.yaml");

    fn findings(upstream: &str) -> Vec<Drift> {
        let upstream = Document::parse("fixture.yaml", upstream).unwrap();
        let ours = Document::parse("openapi.yaml", OURS).unwrap();
        compare(&upstream, &ours).findings
    }

    /// (rule, upstream pointer, openapi.yaml pointer) of each finding.
    fn rules(found: &[Drift]) -> Vec<(&str, &str, &str)> {
        found
            .iter()
            .map(|d| {
                (
                    d.finding.rule,
                    d.upstream.pointer.as_str(),
                    d.finding.pointer.as_str(),
                )
            })
            .collect()
    }

    /// The fixture with the first `from` after component `name`'s header replaced by `to`.
    fn in_component(name: &str, from: &str, to: &str) -> String {
        let start = FIXTURE
            .find(&format!("\n    {name}:\n"))
            .unwrap_or_else(|| panic!("no component {name}"));
        let at = start
            + FIXTURE[start..]
                .find(from)
                .unwrap_or_else(|| panic!("no {from:?}"));
        format!("{}{to}{}", &FIXTURE[..at], &FIXTURE[at + from.len()..])
    }

    #[test]
    fn openapi_yaml_is_in_sync_with_a_31_mirror_of_it() {
        let upstream = Document::parse("fixture.yaml", FIXTURE).unwrap();
        let ours = Document::parse("openapi.yaml", OURS).unwrap();
        let comparison = compare(&upstream, &ours);
        assert!(comparison.findings.is_empty(), "{:#?}", comparison.findings);
        // /authenticate is ours only, and is not an agents path.
        assert_eq!(
            (comparison.upstream_operations, comparison.our_operations),
            (17, 17)
        );
        assert!(render("fixture.yaml", &comparison)
            .contains("is in sync with fixture.yaml: 17 agents operations"));
        // An older copy that says 3.0.0 at the top but writes 3.1 inside reads the same.
        let labelled_30 = FIXTURE.replacen("openapi: 3.1.0", "openapi: 3.0.0", 1);
        assert!(findings(&labelled_30).is_empty());
    }

    #[test]
    fn a_field_added_to_a_shared_component_is_one_finding_with_its_30_text() {
        let text = in_component(
            "AgentDeployment",
            "      properties:\n",
            "      properties:\n        logsUrl:\n          type: [string, 'null']\n          description: Where the logs are.\n          examples: ['https://x']\n",
        );
        let found = findings(&text);
        assert_eq!(
            rules(&found),
            [(
                "field-added-upstream",
                "/components/schemas/AgentDeployment/properties/logsUrl",
                "/components/schemas/AgentDeployment/properties"
            )]
        );
        let drift = &found[0];
        assert_eq!(drift.operation.id, "createAgentDeployment");
        assert_eq!(drift.also, ["listAgentDeployments", "readAgentDeployment"]);
        assert_eq!(
            drift.finding.message,
            "AgentDeployment.logsUrl (200 response, deployment.logsUrl): new upstream: string or null"
        );
        assert_eq!(drift.paste.len(), 1);
        assert_eq!(
            drift.paste[0].under,
            "/components/schemas/AgentDeployment/properties"
        );
        assert_eq!(
            drift.paste[0].text,
            "        logsUrl:\n          type: string\n          nullable: true\n          description: Where the logs are.\n          example: https://x\n"
        );
    }

    #[test]
    fn enum_values_added_and_missing_upstream() {
        let text = in_component(
            "AgentDeploymentStatus",
            "        - Stopped\n",
            "        - Paused\n",
        );
        let found = findings(&text);
        let pointer = "/components/schemas/AgentDeploymentStatus/enum";
        assert_eq!(
            rules(&found),
            [
                ("enum-value-added-upstream", pointer, pointer),
                ("enum-value-missing-upstream", pointer, pointer)
            ]
        );
        assert!(found[0]
            .finding
            .message
            .contains("`Paused` is a new value upstream"));
        assert_eq!(found[0].paste[0].text, "        - Paused\n");
        assert!(found[1]
            .finding
            .message
            .contains("`Stopped` is listed in openapi.yaml, not upstream"));
        // `const` is a one-value enum.
        let text = in_component(
            "Agent",
            "          type: string\n          description: Tool selection",
            "          type: string\n          const: auto\n          description: Tool selection",
        );
        let found = findings(&text);
        assert_eq!(
            rules(&found),
            [(
                "enum-added-upstream",
                "/components/schemas/Agent/properties/toolChoice/const",
                "/components/schemas/Agent/properties/toolChoice"
            )]
        );
    }

    #[test]
    fn type_nullability_and_item_changes() {
        let text = in_component(
            "CreateAgentDeploymentRequest",
            "          type: integer\n",
            "          type: string\n",
        );
        let found = findings(&text);
        let at = "/components/schemas/CreateAgentDeploymentRequest/properties/taskId/type";
        assert_eq!(rules(&found), [("type-changed", at, at)]);
        assert_eq!(
            found[0].finding.message,
            "CreateAgentDeploymentRequest.taskId (request body, taskId): type string upstream, integer in openapi.yaml"
        );

        let text = in_component(
            "AgentDeployment",
            "        model:\n          type: string\n",
            "        model:\n          type: [string, 'null']\n",
        );
        let at = "/components/schemas/AgentDeployment/properties/model";
        assert_eq!(rules(&findings(&text)), [("nullability-changed", at, at)]);

        let text = in_component(
            "Agent",
            "          anyOf:\n            - $ref: '#/components/schemas/AgentToken'\n            - type: 'null'\n",
            "          $ref: '#/components/schemas/AgentToken'\n",
        );
        let found = findings(&text);
        assert_eq!(
            rules(&found),
            [(
                "nullability-changed",
                "/components/schemas/Agent/properties/token",
                "/components/schemas/Agent/properties/token"
            )]
        );
        assert!(found[0]
            .finding
            .message
            .contains("not nullable upstream, nullable in openapi.yaml"));

        let text = in_component(
            "AgentDeployment",
            "          items:\n            type: string\n",
            "          items:\n            type: integer\n",
        );
        let at = "/components/schemas/AgentDeployment/properties/mcpTools/items/type";
        let found = findings(&text);
        assert_eq!(rules(&found), [("type-changed", at, at)]);
        assert!(found[0]
            .finding
            .message
            .starts_with("AgentDeployment.mcpTools[] (200 response, deployment.mcpTools[])"));
    }

    #[test]
    fn required_flags_and_fields_gone_upstream() {
        let text = in_component(
            "UpdateAgentTaskRequest",
            "        - taskId\n",
            "        - taskId\n        - name\n",
        );
        let found = findings(&text);
        let at = "/components/schemas/UpdateAgentTaskRequest/required";
        assert_eq!(rules(&found), [("required-changed", at, at)]);
        assert!(found[0]
            .finding
            .message
            .contains("required upstream, optional in openapi.yaml"));
        assert_eq!(found[0].paste[0].text, "        - name\n");

        let text = in_component("ReadAgentConversationRequest", "        callableId:\n          type: string\n          description: Identifier of the callable whose conversation to read.\n", "");
        assert_eq!(
            rules(&findings(&text)),
            [(
                "field-missing-upstream",
                "/components/schemas/ReadAgentConversationRequest/properties",
                "/components/schemas/ReadAgentConversationRequest/properties/callableId"
            )]
        );
    }

    #[test]
    fn nested_objects_are_followed_through_arrays_and_refs() {
        let text = in_component(
            "AgentConversationMessagePart",
            "      properties:\n",
            "      properties:\n        tokens:\n          type: integer\n",
        );
        let found = findings(&text);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            found[0].finding.message,
            "AgentConversationMessagePart.tokens (200 response, conversation.messages[].parts[].tokens): new upstream: integer"
        );
    }

    #[test]
    fn operations_added_missing_renamed_and_moved() {
        let new_path = "  /agents/deployments/logs/read:\n    post:\n      summary: Read the logs of a deployment.\n      requestBody:\n        content:\n          application/json:\n            schema:\n              $ref: '#/components/schemas/ReadAgentDeploymentRequest'\n        required: true\n      responses:\n        '200':\n          description: Logs.\n          content:\n            application/json:\n              schema:\n                $ref: '#/components/schemas/AgentDeploymentLogsResponse'\n      operationId: readAgentDeploymentLogs\ncomponents:\n  schemas:\n    AgentDeploymentLogsResponse:\n      allOf:\n        - $ref: '#/components/schemas/RestResponse'\n        - type: object\n          properties:\n            logs:\n              type: [array, 'null']\n              items:\n                type: string\n";
        let text = FIXTURE.replacen("components:\n  schemas:\n", new_path, 1);
        let found = findings(&text);
        assert_eq!(
            rules(&found),
            [(
                "operation-added-upstream",
                "/paths/~1agents~1deployments~1logs~1read/post",
                "/paths"
            )]
        );
        let paste = &found[0].paste;
        assert_eq!(paste[0].under, "/paths");
        assert!(paste[0].text.starts_with("  /agents/deployments/logs/read:\n    post:\n      summary: Read the logs of a deployment.\n"), "{}", paste[0].text);
        assert_eq!(paste[1].under, "/components/schemas");
        assert!(paste[1].text.contains("    AgentDeploymentLogsResponse:\n      allOf:\n        - $ref: '#/components/schemas/RestResponse'\n"), "{}", paste[1].text);
        assert!(
            paste[1]
                .text
                .contains("              type: array\n              nullable: true\n"),
            "{}",
            paste[1].text
        );

        let start = FIXTURE.find("  /agents/deployments/stop:\n").unwrap();
        let end = FIXTURE.find("  /agents/deployments/delete:\n").unwrap();
        let text = format!("{}{}", &FIXTURE[..start], &FIXTURE[end..]);
        assert_eq!(
            rules(&findings(&text)),
            [(
                "operation-missing-upstream",
                "/paths/~1agents~1deployments~1stop",
                "/paths/~1agents~1deployments~1stop/post"
            )]
        );

        let text = FIXTURE.replacen(
            "operationId: stopAgentDeployment",
            "operationId: haltAgentDeployment",
            1,
        );
        let at = "/paths/~1agents~1deployments~1stop/post/operationId";
        assert_eq!(rules(&findings(&text)), [("operation-id-changed", at, at)]);

        let text = FIXTURE.replacen(
            "  /agents/deployments/stop:\n    post:\n",
            "  /agents/deployments/stop:\n    put:\n",
            1,
        );
        assert_eq!(
            rules(&findings(&text)),
            [(
                "method-changed",
                "/paths/~1agents~1deployments~1stop/put",
                "/paths/~1agents~1deployments~1stop/post"
            )]
        );
    }

    #[test]
    fn the_report_groups_by_operation_and_shows_both_pointers() {
        let text = in_component(
            "CreateAgentDeploymentRequest",
            "          type: integer\n",
            "          type: string\n",
        );
        let upstream = Document::parse("qc.yaml", &text).unwrap();
        let ours = Document::parse("openapi.yaml", OURS).unwrap();
        let report = render("qc.yaml", &compare(&upstream, &ours));
        assert_eq!(
            report,
            "\nPOST /agents/deployments/create (createAgentDeployment)\n  [type changed] CreateAgentDeploymentRequest.taskId (request body, taskId): type string upstream, integer in openapi.yaml\n    upstream:     qc.yaml#/components/schemas/CreateAgentDeploymentRequest/properties/taskId/type\n    openapi.yaml: openapi.yaml#/components/schemas/CreateAgentDeploymentRequest/properties/taskId/type\n\n1 difference in 1 operation between qc.yaml (17 agents operations) and openapi.yaml (17)\n"
        );
    }
}
