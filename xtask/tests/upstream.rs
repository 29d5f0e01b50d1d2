//! `cargo xtask upstream` as a maintainer runs it: the binary, its output and exit status,
//! against fixture files and a local HTTP server (never the internet).

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use httpmock::prelude::*;
use serde_json::Value;

fn fixture() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upstream/in-sync.yaml"),
    )
    .unwrap()
}

fn upstream(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("upstream")
        .args(args)
        .output()
        .unwrap()
}

fn text(output: &Output) -> (i32, String, String) {
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The fixture with the four changes of the issue's "Must show": a field added to
/// `AgentDeployment`, an enum value added to the deployment status, `taskId` a string in
/// `CreateAgentDeploymentRequest`, and a new `/agents/deployments/logs/read` path.
fn drifted(base: &str) -> String {
    let mut text = base.to_owned();
    let mut edit = |anchor: &str, from: &str, to: &str| {
        let start = text.find(anchor).unwrap_or_else(|| panic!("no {anchor:?}"));
        let at = start
            + text[start..]
                .find(from)
                .unwrap_or_else(|| panic!("no {from:?}"));
        text.replace_range(at..at + from.len(), to);
    };
    edit(
        "\n    AgentDeployment:\n",
        "      properties:\n",
        "      properties:\n        logsUrl:\n          type: [string, 'null']\n          description: Where the deployment's logs can be read.\n",
    );
    edit(
        "\n    AgentDeploymentStatus:\n",
        "        - Failed\n",
        "        - Failed\n        - Paused\n",
    );
    edit(
        "\n    CreateAgentDeploymentRequest:\n",
        "          type: integer\n",
        "          type: string\n",
    );
    edit(
        "\ncomponents:\n",
        "\ncomponents:\n",
        "\n  /agents/deployments/logs/read:\n    post:\n      summary: Read the logs of an agent deployment.\n      requestBody:\n        content:\n          application/json:\n            schema:\n              $ref: '#/components/schemas/ReadAgentDeploymentRequest'\n        required: true\n      responses:\n        \"200\":\n          description: The logs.\n          content:\n            application/json:\n              schema:\n                $ref: '#/components/schemas/RestResponse'\n      operationId: readAgentDeploymentLogs\ncomponents:\n",
    );
    text
}

#[test]
fn in_sync_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "qc.yaml", &fixture());
    let (code, out, err) = text(&upstream(&[path.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("openapi.yaml is in sync with"), "{out}");
    assert!(out.contains("17 agents operations"), "{out}");
}

#[test]
fn the_four_drifts_of_the_issue_exit_1_and_are_each_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "qc.yaml", &drifted(&fixture()));
    let (code, out, err) = text(&upstream(&[path.to_str().unwrap()]));
    assert_eq!(code, 1, "{out}{err}");
    for expected in [
        "[field added upstream] AgentDeployment.logsUrl",
        "[enum value added upstream] AgentDeployment.status (200 response, deployment.status): `Paused` is a new value upstream",
        "[type changed] CreateAgentDeploymentRequest.taskId (request body, taskId): type string upstream, integer in openapi.yaml",
        "[operation added upstream] POST /agents/deployments/logs/read (readAgentDeploymentLogs)",
        "4 differences in",
    ] {
        assert!(out.contains(expected), "{expected:?} not in\n{out}");
    }

    let (code, json, _) = text(&upstream(&[path.to_str().unwrap(), "--json"]));
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["in_sync"], false);
    let found: Vec<(&str, &str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap(),
                f["pointer"].as_str().unwrap(),
                f["upstream"]["pointer"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(found.len(), 4, "{json}");
    for expected in [
        (
            "field-added-upstream",
            "/components/schemas/AgentDeployment/properties",
            "/components/schemas/AgentDeployment/properties/logsUrl",
        ),
        (
            "enum-value-added-upstream",
            "/components/schemas/AgentDeploymentStatus/enum",
            "/components/schemas/AgentDeploymentStatus/enum",
        ),
        (
            "type-changed",
            "/components/schemas/CreateAgentDeploymentRequest/properties/taskId/type",
            "/components/schemas/CreateAgentDeploymentRequest/properties/taskId/type",
        ),
        (
            "operation-added-upstream",
            "/paths",
            "/paths/~1agents~1deployments~1logs~1read/post",
        ),
    ] {
        assert!(found.contains(&expected), "{expected:?} not in {found:#?}");
    }
    let field = &report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "field-added-upstream")
        .unwrap();
    assert_eq!(field["file"], "openapi.yaml");
    assert_eq!(
        field["paste"][0]["text"],
        "        logsUrl:\n          type: string\n          nullable: true\n          description: Where the deployment's logs can be read.\n"
    );
}

#[test]
fn a_spec_that_cannot_be_read_or_parsed_exits_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.yaml");
    let (code, _, err) = text(&upstream(&[missing.to_str().unwrap()]));
    assert_eq!(code, 2);
    assert!(
        err.contains("missing.yaml") && err.contains("No such file"),
        "{err}"
    );

    let broken = write(&dir, "broken.yaml", "openapi: 3.1.0\npaths: {\n");
    let (code, _, err) = text(&upstream(&[broken.to_str().unwrap()]));
    assert_eq!(code, 2);
    assert!(err.contains("broken.yaml: not YAML"), "{err}");

    let list = write(&dir, "list.yaml", "- a\n- b\n");
    let (code, _, err) = text(&upstream(&[list.to_str().unwrap()]));
    assert_eq!(code, 2);
    assert!(err.contains("not an OpenAPI document"), "{err}");

    // Our own spec broken is exit 2 as well, naming it.
    let root = tempfile::tempdir().unwrap();
    write(&root, "openapi.yaml", "openapi: 3.0.3\npaths: [\n");
    let good = write(&dir, "qc.yaml", &fixture());
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "--root",
            root.path().to_str().unwrap(),
            "upstream",
            good.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let (code, _, err) = text(&output);
    assert_eq!(code, 2);
    assert!(err.contains("openapi.yaml: not YAML"), "{err}");
}

#[test]
fn downloads_the_spec_from_a_url() {
    let server = MockServer::start();
    let path = "/QuantConnect/Documentation/master/QuantConnect-Platform-2.0.0.yaml";
    let ok = server.mock(|when, then| {
        when.method(GET).path(path);
        then.status(200)
            .header("content-type", "text/plain; charset=utf-8")
            .body(fixture());
    });
    let (code, out, err) = text(&upstream(&[&server.url(path)]));
    ok.assert();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("in sync with {}", server.url(path))),
        "{out}"
    );
}

#[test]
fn a_404_or_an_html_answer_exits_2_with_the_reason() {
    let server = MockServer::start();
    server.mock(|when, then| {
        when.method(GET).path("/gone.yaml");
        then.status(404).body("404: Not Found");
    });
    server.mock(|when, then| {
        when.method(GET).path("/page.yaml");
        then.status(200)
            .header("content-type", "text/html")
            .body("<!DOCTYPE html>\n<html><body><h1>Rate limited</h1></body></html>\n");
    });
    let (code, out, err) = text(&upstream(&[&server.url("/gone.yaml")]));
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("HTTP 404 Not Found") && err.contains("/gone.yaml"),
        "{err}"
    );

    let (code, out, err) = text(&upstream(&[&server.url("/page.yaml")]));
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("not an OpenAPI document") && err.contains("looks like HTML"),
        "{err}"
    );

    // Nothing listening.
    let (code, _, err) = text(&upstream(&["http://127.0.0.1:9/spec.yaml"]));
    assert_eq!(code, 2);
    assert!(err.contains("GET http://127.0.0.1:9/spec.yaml"), "{err}");
}
