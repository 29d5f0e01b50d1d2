//! The project's own tooling. `cargo xtask --help` lists the commands.

mod bench;
mod coverage;
mod findings;
mod record;
mod recordings;
mod spec;
mod upstream;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Parser, Subcommand};
use findings::Finding;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "quantconnect-agents' own tooling")]
struct Cli {
    /// The repository root (default: the workspace this xtask belongs to).
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check openapi.yaml, every recording in tests/recordings/ against it (as JSON Schema),
    /// that the open enums in src/enums.rs know the spec's values, and that every operation
    /// has a recording, a named method, a simulator handler and a contract test. Exits 1 on
    /// any finding. (The round trip through the generated types and api-surface.txt are
    /// checked by the crate's tests.)
    Validate {
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the benchmarks in benches/ in a short mode and print one summary table.
    Bench,
    /// Run the lifecycle of calls against a live endpoint and save each exchange, redacted,
    /// as a recording. Credentials and endpoint as for the client: QC_USER_ID, QC_API_TOKEN
    /// (or ~/.lean/credentials), QC_API_URL, QC_ORGANIZATION_ID; QC_AGENT_ID (default 47).
    Record {
        /// Where to write the recordings (default: tests/recordings/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// How long to wait for the deployment to end, in seconds.
        #[arg(long, default_value_t = 1800)]
        max_wait: u64,
    },
    /// Say what QuantConnect changed in its official spec that openapi.yaml does not have yet
    /// (exit 0 in sync, 1 on drift, 2 when a spec cannot be read).
    ///
    /// Compares QuantConnect's spec (OpenAPI 3.1) with openapi.yaml on every /agents path:
    /// missing or new operations, methods, operation ids, and the request and 200-response
    /// schemas field by field (types, nullability, required, enums, items, nested objects).
    /// Prints each difference with a JSON pointer into both files and, for additions, the
    /// OpenAPI 3.0 text to paste into openapi.yaml. /authenticate is not in QuantConnect's
    /// spec and is not compared.
    Upstream {
        /// QuantConnect's spec: a file, or an http(s) URL to download it from.
        #[arg(value_name = "PATH_OR_URL", default_value = upstream::DEFAULT_URL)]
        source: String,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = cli
        .root
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    let result = match cli.command {
        Command::Validate { json } => validate_command(&root, json),
        Command::Bench => bench::run(&root),
        Command::Record { out, max_wait } => {
            let out = out.unwrap_or_else(|| root.join(recordings::DIR));
            record::run(&out, std::time::Duration::from_secs(max_wait))
        }
        Command::Upstream { source, json } => upstream::run(&root, Some(&source), json),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// What `validate` found, and how much it looked at.
#[derive(serde::Serialize)]
struct Report {
    operations: usize,
    recordings: usize,
    findings: Vec<Finding>,
}

fn validate_command(root: &Path, json: bool) -> Result<ExitCode, String> {
    let report = validate(root)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialize")
        );
    } else {
        for finding in &report.findings {
            println!("{finding}");
        }
        println!(
            "{} findings in {} and {} recordings ({} operations)",
            report.findings.len(),
            spec::SPEC_FILE,
            report.recordings,
            report.operations
        );
    }
    Ok(if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn read_spec(root: &Path) -> Result<String, String> {
    let path = root.join(spec::SPEC_FILE);
    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
}

fn validate(root: &Path) -> Result<Report, String> {
    let text = read_spec(root)?;
    let spec = spec::Spec::parse(&text).map_err(|e| format!("{}: {e}", spec::SPEC_FILE))?;
    let mut findings = spec::check(&spec);

    let enums = std::fs::read_to_string(root.join(coverage::ENUMS_FILE)).unwrap_or_default();
    findings.extend(coverage::open_enums(&spec, &enums));

    let recordings = recordings::load(root)?;
    for recording in &recordings {
        findings.extend(recordings::check(&spec, recording));
    }
    let recorded: std::collections::BTreeSet<_> = recordings
        .iter()
        .filter_map(|r| r.doc["operation"].as_str())
        .collect();
    for op in &spec.operations {
        if !recorded.contains(op.id.as_str()) {
            findings.push(Finding::new(
                recordings::DIR,
                "",
                "operation-without-recording",
                format!("no recording exercises `{}`", op.id),
            ));
        }
    }
    // What each operation still lacks in the hand-written parts (method, simulator, test).
    findings.extend(coverage::check(root, &spec));
    Ok(Report {
        operations: spec.operations.len(),
        recordings: recordings.len(),
        findings,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    const SPEC: &str = include_str!("../../openapi.yaml");

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    fn recording(name: &str) -> recordings::Recording {
        let file = format!("{}/{name}.json", recordings::DIR);
        let text = std::fs::read_to_string(root().join(&file)).unwrap();
        recordings::Recording {
            file,
            doc: serde_json::from_str(&text).unwrap(),
        }
    }

    fn spec_from(text: &str) -> spec::Spec {
        spec::Spec::parse(text).unwrap()
    }

    fn rules(findings: &[Finding]) -> Vec<(&str, &str)> {
        findings
            .iter()
            .map(|f| (f.rule, f.pointer.as_str()))
            .collect()
    }

    fn edited(name: &str, pointer: &str, value: Value) -> recordings::Recording {
        let mut r = recording(name);
        *r.doc.pointer_mut(pointer).unwrap() = value;
        r
    }

    #[test]
    fn the_repository_validates_clean() {
        let report = validate(&root()).unwrap();
        assert!(report.findings.is_empty(), "{:#?}", report.findings);
        assert!(report.recordings >= 17);
        assert_eq!(report.operations, 18);
    }

    #[test]
    fn a_new_operation_in_the_spec_is_reported_with_what_it_lacks() {
        // A copy of the repository's checked files, with the logs endpoint of issue #11's
        // walk-through added to the spec and nothing else touched.
        let dir = tempfile::tempdir().unwrap();
        let root = root();
        for file in [
            coverage::CLIENT_FILE,
            coverage::SIMULATOR_FILE,
            coverage::CONTRACT_FILE,
            coverage::ENUMS_FILE,
        ] {
            let to = dir.path().join(file);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(root.join(file), to).unwrap();
        }
        let recordings = dir.path().join(recordings::DIR);
        std::fs::create_dir_all(&recordings).unwrap();
        for entry in std::fs::read_dir(root.join(recordings::DIR)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), recordings.join(entry.file_name())).unwrap();
        }
        let mut doc: serde_json::Value = serde_norway::from_str(SPEC).unwrap();
        doc["paths"]["/agents/deployments/logs/read"] = json!({"post": {
            "summary": "Read the logs of an agent deployment.",
            "description": "The log lines of a deployment.",
            "operationId": "readAgentDeploymentLogs",
            "requestBody": {"required": true, "content": {"application/json": {"schema":
                {"$ref": "#/components/schemas/ReadAgentDeploymentLogsRequest"}}}},
            "responses": {"200": {"description": "The logs.", "content": {"application/json":
                {"schema": {"$ref": "#/components/schemas/AgentDeploymentLogsResponse"}}}},
                "401": {"$ref": "#/components/responses/UnauthorizedErrorResponse"}}
        }});
        doc["components"]["schemas"]["ReadAgentDeploymentLogsRequest"] = json!({
            "type": "object", "required": ["deploymentId"],
            "properties": {"deploymentId": {"type": "string"}}
        });
        doc["components"]["schemas"]["AgentDeploymentLogsResponse"] = json!({
            "type": "object", "properties": {
                "logs": {"type": "array", "items": {"type": "string"}},
                "success": {"type": "boolean"},
                "errors": {"type": "array", "items": {"type": "string"}}
            }
        });
        std::fs::write(
            dir.path().join(spec::SPEC_FILE),
            serde_norway::to_string(&doc).unwrap(),
        )
        .unwrap();

        let report = validate(dir.path()).unwrap();
        assert_eq!(report.operations, 19);
        let about_logs: Vec<(&str, &str)> = report
            .findings
            .iter()
            .filter(|f| f.message.contains("readAgentDeploymentLogs"))
            .map(|f| (f.file.as_str(), f.rule))
            .collect();
        assert_eq!(
            about_logs,
            [
                (recordings::DIR, "operation-without-recording"),
                (coverage::CLIENT_FILE, "operation-without-method"),
                (coverage::SIMULATOR_FILE, "operation-not-simulated"),
                (coverage::CONTRACT_FILE, "operation-without-contract-test"),
            ],
            "{:#?}",
            report.findings
        );
        assert_eq!(
            report.findings.len(),
            about_logs.len(),
            "{:#?}",
            report.findings
        );
    }

    #[test]
    fn catches_a_wrong_type() {
        let spec = spec_from(SPEC);
        let r = edited(
            "readAgentDeployment.success",
            "/response/body/deployment/taskId",
            json!("332"),
        );
        let found = recordings::check(&spec, &r);
        assert!(
            rules(&found).contains(&("wrong-type", "/response/body/deployment/taskId")),
            "{found:#?}"
        );
        assert!(found[0]
            .to_string()
            .starts_with("tests/recordings/readAgentDeployment.success.json: "));
    }

    #[test]
    fn catches_a_missing_required_field() {
        let spec = spec_from(SPEC);
        let mut r = recording("createAgentTask.success");
        r.doc["request"].as_object_mut().unwrap().remove("prompt");
        let found = recordings::check(&spec, &r);
        assert_eq!(
            rules(&found),
            [("missing-required-field", "/request")],
            "{found:#?}"
        );
        assert!(found[0].message.contains("prompt"));
    }

    #[test]
    fn catches_an_undocumented_field() {
        let spec = spec_from(SPEC);
        let mut r = recording("readAgentTask.success");
        r.doc["response"]["body"]["task"]["owner"]["karma"] = json!(12);
        r.doc["request"]["verbose"] = json!(true);
        let found = recordings::check(&spec, &r);
        let found = rules(&found);
        assert!(
            found.contains(&("undocumented-field", "/response/body/task/owner/karma")),
            "{found:#?}"
        );
        assert!(
            found.contains(&("undocumented-field", "/request/verbose")),
            "{found:#?}"
        );
    }

    #[test]
    fn catches_an_unknown_enum_value() {
        let spec = spec_from(SPEC);
        let r = edited(
            "readAgentDeployment.success",
            "/response/body/deployment/status",
            json!("Paused"),
        );
        let found = recordings::check(&spec, &r);
        assert_eq!(
            rules(&found),
            [("enum-value-not-listed", "/response/body/deployment/status")],
            "{found:#?}"
        );
    }

    #[test]
    fn catches_a_broken_ref() {
        let text = SPEC.replacen(
            "$ref: '#/components/schemas/AgentTaskOwner'",
            "$ref: '#/components/schemas/AgentTaskOwnr'",
            1,
        );
        let found = spec::check(&spec_from(&text));
        assert!(
            found
                .iter()
                .any(|f| f.rule == "broken-ref" && f.message.contains("AgentTaskOwnr")),
            "{found:#?}"
        );
    }

    #[test]
    fn catches_a_missing_operation() {
        let start = SPEC.find("  /agents/deployments/stop:").unwrap();
        let end = SPEC.find("  /agents/deployments/delete:").unwrap();
        let text = format!("{}{}", &SPEC[..start], &SPEC[end..]);
        let found = spec::check(&spec_from(&text));
        let found = rules(&found);
        assert!(
            found.contains(&("missing-operation", "/paths/~1agents~1deployments~1stop")),
            "{found:#?}"
        );
        assert!(
            found.contains(&(
                "unused-component",
                "/components/schemas/StopAgentDeploymentRequest"
            )),
            "{found:#?}"
        );
    }

    #[test]
    fn catches_an_incomplete_operation_and_an_old_version() {
        let text = SPEC
            .replacen("openapi: 3.0.3", "openapi: 3.1.0", 1)
            .replacen("      operationId: deleteAgent\n", "", 1);
        let found = spec::check(&spec_from(&text));
        let found = rules(&found);
        assert!(
            found.contains(&("openapi-version", "/openapi")),
            "{found:#?}"
        );
        assert!(
            found.contains(&(
                "operation-incomplete",
                "/paths/~1agents~1delete/post/operationId"
            )),
            "{found:#?}"
        );
    }

    #[test]
    fn catches_enum_drift_between_the_spec_and_the_open_enums() {
        let text = SPEC.replacen("        - Completed\n", "", 1);
        let enums = std::fs::read_to_string(root().join(coverage::ENUMS_FILE)).unwrap();
        let found = coverage::open_enums(&spec_from(&text), &enums);
        assert_eq!(
            rules(&found),
            [(
                "enum-drift",
                "/components/schemas/AgentDeploymentStatus/enum"
            )]
        );
    }

    #[test]
    fn nullable_fields_accept_null_and_their_type_only() {
        let spec = spec_from(SPEC);
        let r = edited(
            "readAgentDeployment.success",
            "/response/body/deployment/runtimeError",
            Value::Null,
        );
        assert!(recordings::check(&spec, &r).is_empty());
        let r = edited(
            "readAgentDeployment.success",
            "/response/body/deployment/runtimeError",
            json!(3),
        );
        assert_eq!(rules(&recordings::check(&spec, &r))[0].0, "wrong-type");
        let r = edited(
            "readAgent.success",
            "/response/body/agent/token",
            Value::Null,
        );
        assert!(recordings::check(&spec, &r).is_empty());
    }

    #[test]
    fn a_recording_without_source_and_a_missing_enums_file_are_findings() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("openapi.yaml"), SPEC).unwrap();
        let recordings_dir = dir.path().join(recordings::DIR);
        std::fs::create_dir_all(&recordings_dir).unwrap();
        let mut r = recording("readAgentTask.success");
        r.doc["source"] = json!("");
        std::fs::write(recordings_dir.join("x.json"), r.doc.to_string()).unwrap();
        let report = validate(dir.path()).unwrap();
        let found = rules(&report.findings);
        assert!(
            found.contains(&(
                "enum-drift",
                "/components/schemas/AgentDeploymentStatus/enum"
            )),
            "{found:#?}"
        );
        assert!(
            found.contains(&("recording-incomplete", "/source")),
            "{found:#?}"
        );
        assert!(
            report
                .findings
                .iter()
                .filter(|f| f.rule == "operation-without-recording")
                .count()
                == 17,
            "{found:#?}"
        );
    }

    #[tokio::test]
    async fn record_saves_every_exchange_redacted_and_valid() {
        use httpmock::prelude::*;

        const ORG: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";
        const USER: &str = "424242";
        const TOKEN: &str = "live-token-never-recorded";
        let server = MockServer::start_async().await;
        let deployment = json!({"deploymentId": "A-a5d782221843ac9aa99211e3b1949c01", "taskId": 332, "status": "Completed", "agentId": 47});
        let task = json!({"id": 332, "name": "Print Hello World Message", "organizationId": ORG, "agentId": 47, "projectPreference": "project-for-task"});
        let agent = json!({"id": 105, "name": "quantconnect-agents recording", "organization": {"id": ORG}, "token": {"llmApiTokenUser": "sk-ant-secret", "llmProviderApi": "anthropic"}});
        let answers = [
            ("/authenticate", json!({"success": true})),
            ("/agents/list", json!({"success": true, "agents": [agent]})),
            ("/agents/read", json!({"success": true, "agent": agent})),
            ("/agents/create", json!({"success": true, "agent": agent})),
            ("/agents/update", json!({"success": true})),
            ("/agents/delete", json!({"success": true})),
            (
                "/agents/tasks/create",
                json!({"success": true, "task": task}),
            ),
            ("/agents/tasks/update", json!({"success": true})),
            (
                "/agents/tasks/list",
                json!({"success": true, "tasks": [task]}),
            ),
            ("/agents/tasks/delete", json!({"success": true})),
            (
                "/agents/deployments/create",
                json!({"success": true, "deployment": deployment}),
            ),
            (
                "/agents/deployments/read",
                json!({"success": true, "deployment": deployment}),
            ),
            (
                "/agents/deployments/list",
                json!({"success": true, "deployments": [deployment]}),
            ),
            (
                "/agents/deployments/prompt",
                json!({"success": true, "message": "Prompt run started."}),
            ),
            (
                "/agents/deployments/conversation/read",
                json!({"success": true, "conversation": {"id": "A-a5d782221843ac9aa99211e3b1949c01", "userId": 424242, "organizationId": ORG, "messages": []}}),
            ),
            ("/agents/deployments/stop", json!({"success": true})),
            ("/agents/deployments/delete", json!({"success": true})),
        ];
        for (path, body) in answers {
            server
                .mock_async(|when, then| {
                    when.method(POST)
                        .path(format!("/api/v2{path}"))
                        .header_exists("timestamp");
                    then.status(200).json_body(body);
                })
                .await;
        }
        // The deleted task reads as a failure, the last recording; tasks/read answers success
        // before that (httpmock serves the first matching mock, so match on nothing else).
        server
            .mock_async(|when, then| {
                when.method(POST).path("/api/v2/agents/tasks/read");
                then.status(200)
                    .json_body(json!({"success": true, "task": task}));
            })
            .await;

        let dir = tempfile::tempdir().unwrap();
        let target = record::Target {
            base_url: server.url("/api/v2"),
            user_id: USER.into(),
            api_token: TOKEN.into(),
            organization_id: ORG.into(),
            agent_id: 47,
        };
        let written = record::record_with(target, dir.path(), std::time::Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(written.len(), 19);
        let spec = spec_from(SPEC);
        for path in written {
            let text = std::fs::read_to_string(&path).unwrap();
            for secret in [ORG, TOKEN, "sk-ant-secret", USER] {
                assert!(
                    !text.contains(secret),
                    "{} contains {secret}",
                    path.display()
                );
            }
            let r = recordings::Recording {
                file: path.display().to_string(),
                doc: serde_json::from_str(&text).unwrap(),
            };
            assert!(r.doc["source"]
                .as_str()
                .unwrap()
                .contains("cargo xtask record"));
            let found = recordings::check(&spec, &r);
            assert!(found.is_empty(), "{found:#?}");
        }
    }
}
