//! `qc-agents` as a user runs it: the binary, in its own process, against a server it did not
//! start: the library's simulator running in this test process, or an httpmock server.
//!
//! Every invocation gets an empty environment but for what the test sets, and `HOME` in a
//! temporary directory, so no test reads or writes the real `~/.lean/credentials` or picks
//! up the developer's `QC_*` variables.

use std::{
    io::{BufRead as _, BufReader, Read as _},
    process::{Command as StdCommand, Stdio},
    time::Duration,
};

use assert_cmd::Command;
use httpmock::MockServer;
use quantconnect_agents::{simulator::Schedule, Credentials, DeploymentStatus, ProjectPreference};
use serde_json::Value;

mod support;

use support::*;

// --- run -------------------------------------------------------------------------------

#[test]
fn run_json_completes_with_the_conversation_and_cleans_up() {
    let sim = Sim::start(fast());
    let ran = run(
        &mut sim.cmd(),
        &[
            "run",
            "--agent",
            "47",
            "--name",
            "Hello",
            "--prompt",
            "Print Hello World",
            "--json",
        ],
    )
    .ok();
    let v = ran.json();
    assert_eq!(v["deployment"]["status"], "Completed");
    assert_eq!(v["task"]["name"], "Hello");
    let messages = v["conversation"]["messages"].as_array().unwrap();
    assert!(messages.len() >= 2, "{messages:?}");
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages[0]["parts"][0]["text"], "Print Hello World");
    assert_eq!(messages.last().unwrap()["role"], "assistant");
    let requests = sim.sim.requests();
    let tail: Vec<_> = requests.iter().rev().take(2).rev().cloned().collect();
    assert_eq!(
        tail,
        ["deleteAgentDeployment", "deleteAgentTask"],
        "{requests:?}"
    );
    let task_id = v["task"]["id"].as_i64().unwrap();
    assert!(sim.block_on(sim.client().read_agent_task(task_id)).is_err());
    ran.no_secret();
}

#[test]
fn run_prints_status_changes_and_the_conversation_for_people() {
    let sim = Sim::start(fast());
    let ran = run(
        &mut sim.cmd(),
        &[
            "run", "--agent", "47", "--name", "Hello", "--prompt", "Say hi",
        ],
    )
    .ok();
    ran.no_escapes();
    assert!(ran.stdout.contains("created task"), "{}", ran.stdout);
    assert!(ran.stdout.contains("Completed after"), "{}", ran.stdout);
    assert!(ran.stdout.contains("user"), "{}", ran.stdout);
    assert!(ran.stdout.contains("  Say hi"), "{}", ran.stdout);
    assert!(ran.stdout.contains("deleted deployment"), "{}", ran.stdout);
    // Without --follow the conversation is read once, at the end.
    let reads: Vec<_> = sim
        .sim
        .requests()
        .into_iter()
        .filter(|r| r == "readAgentConversation")
        .collect();
    assert_eq!(reads.len(), 1);
    // Not a terminal: one plain line per status change instead of a status line.
    assert!(ran.stderr.contains(": InQueue"), "{}", ran.stderr);
    assert!(ran.stderr.contains(": Completed"), "{}", ran.stderr);
}

#[test]
fn run_keep_leaves_the_task_and_deployment() {
    let sim = Sim::start(fast());
    let ran = run(
        &mut sim.cmd(),
        &[
            "run", "--agent", "47", "--name", "Kept", "--prompt", "x", "--keep", "--json",
        ],
    )
    .ok();
    let v = ran.json();
    let task_id = v["task"]["id"].as_i64().unwrap();
    let client = sim.client();
    assert!(sim.block_on(client.read_agent_task(task_id)).is_ok());
    let deployments = sim
        .block_on(client.list_agent_deployments(task_id))
        .unwrap();
    assert_eq!(deployments.len(), 1);
    assert!(!sim.sim.requests().iter().any(|r| r.starts_with("delete")));
}

#[test]
fn run_follow_prints_each_message_once() {
    let sim = Sim::start(Schedule {
        in_queue: Duration::from_millis(100),
        running: Duration::from_millis(1500),
        failure: None,
    });
    let ran = run(
        &mut sim.cmd(),
        &[
            "run",
            "--agent",
            "47",
            "--name",
            "F",
            "--prompt",
            "Follow me",
            "--follow",
        ],
    )
    .ok();
    assert_eq!(
        ran.stdout.matches("  Follow me").count(),
        1,
        "{}",
        ran.stdout
    );
    assert_eq!(
        ran.stdout.matches("\nassistant").count(),
        1,
        "{}",
        ran.stdout
    );
    // The follower read the conversation while the deployment ran, then one final read.
    let reads = sim
        .sim
        .requests()
        .iter()
        .filter(|r| *r == "readAgentConversation")
        .count();
    assert!(reads >= 2, "{:?}", sim.sim.requests());
}

#[test]
fn run_of_a_failing_deployment_exits_3_with_the_runtime_error() {
    let sim = Sim::start(Schedule {
        failure: Some("The backtest ended with a runtime error.".into()),
        ..fast()
    });
    let ran = run(
        &mut sim.cmd(),
        &[
            "run", "--agent", "47", "--name", "Fails", "--prompt", "x", "--json",
        ],
    );
    assert_eq!(ran.code, Some(3), "{}", ran.stderr);
    assert_eq!(ran.json()["deployment"]["status"], "Failed");
    let last = ran.stderr.lines().last().unwrap();
    assert!(last.starts_with("error: deployment A-"), "{last}");
    assert!(
        last.contains("The backtest ended with a runtime error."),
        "{last}"
    );
}

#[test]
fn run_that_outlasts_max_wait_exits_5_and_keeps_the_task() {
    let sim = Sim::start(Schedule {
        in_queue: Duration::from_millis(100),
        running: Duration::from_secs(600),
        failure: None,
    });
    let ran = run(
        &mut sim.cmd(),
        &[
            "run",
            "--agent",
            "47",
            "--name",
            "Slow",
            "--prompt",
            "x",
            "--max-wait",
            "1500ms",
        ],
    );
    assert_eq!(ran.code, Some(5), "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stderr.contains("qc-agents deployments wait A-"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("qc-agents deployments stop A-"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.lines().last().unwrap().contains("had not ended"),
        "{}",
        ran.stderr
    );
    assert!(!sim.sim.requests().iter().any(|r| r.starts_with("delete")));
}

#[test]
fn ctrl_c_during_run_prints_the_ids_and_how_to_resume_or_stop() {
    let sim = Sim::start(Schedule {
        in_queue: Duration::from_millis(100),
        running: Duration::from_secs(600),
        failure: None,
    });
    let mut child = sim.spawn(&["run", "--agent", "47", "--name", "Long", "--prompt", "x"]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let id = loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "stdout ended early"
        );
        if let Some(id) = line.trim().strip_prefix("created deployment ") {
            break id.to_owned();
        }
    };
    std::thread::sleep(Duration::from_millis(300));
    interrupt(&child);
    let status = wait_exit(&mut child, Duration::from_secs(10));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        stderr.contains(&format!("qc-agents deployments wait {id}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("qc-agents deployments stop {id}")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Nothing was stopped or deleted: the deployment runs on.
    let deployment = sim
        .block_on(sim.client().read_agent_deployment(&id))
        .unwrap();
    assert_eq!(deployment.status, Some(DeploymentStatus::Running));

    // Resuming as told, then Ctrl-C again: the same advice, the deployment still running.
    let mut child = sim.spawn(&["deployments", "wait", &id]);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    line.clear();
    stderr.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), format!("deployment {id}: Running"));
    interrupt(&child);
    let status = wait_exit(&mut child, Duration::from_secs(10));
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(
        rest.contains(&format!("qc-agents deployments stop {id}")),
        "{rest}"
    );
    let deployment = sim
        .block_on(sim.client().read_agent_deployment(&id))
        .unwrap();
    assert_eq!(deployment.status, Some(DeploymentStatus::Running));
}

// --- waiting on an existing deployment ---------------------------------------------------

#[test]
fn deployments_wait_exits_0_4_and_5_by_how_the_deployment_ends() {
    let sim = Sim::start(Schedule {
        in_queue: Duration::from_millis(100),
        running: Duration::from_secs(600),
        failure: None,
    });
    let task = sim.new_task("w", "Print Hello World");
    let running = sim.new_deployment(task);
    let ran = run(
        &mut sim.cmd(),
        &["deployments", "wait", &running, "--max-wait", "1s"],
    );
    assert_eq!(ran.code, Some(5), "{}", ran.stderr);

    sim.block_on(sim.client().stop_agent_deployment(&running))
        .unwrap();
    let ran = run(&mut sim.cmd(), &["deployments", "wait", &running, "--json"]);
    assert_eq!(ran.code, Some(4), "{}", ran.stderr);
    assert_eq!(ran.json()["status"], "Stopped");
    assert!(ran.stderr.contains("was stopped"), "{}", ran.stderr);

    let fast = Sim::start(fast());
    let task = fast.new_task("w", "Print Hello World");
    let id = fast.new_deployment(task);
    let ran = run(&mut fast.cmd(), &["deployments", "wait", &id]).ok();
    assert!(ran.stdout.contains("Completed after"), "{}", ran.stdout);
    ran.no_escapes();
}

// --- errors ----------------------------------------------------------------------------

#[test]
fn tasks_read_of_an_unknown_id_exits_1_with_the_apis_message() {
    let sim = Sim::start(fast());
    let ran = run(&mut sim.cmd(), &["tasks", "read", "999999"]);
    assert_eq!(ran.code, Some(1));
    assert_eq!(ran.stdout, "");
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    assert!(ran.stderr.contains("readAgentTask"), "{}", ran.stderr);
    assert!(ran.stderr.contains("Invalid argument"), "{}", ran.stderr);
    assert!(ran.stderr.contains("may not exist"), "{}", ran.stderr);
}

#[test]
fn an_independent_servers_own_error_message_reaches_stderr() {
    let server = MockServer::start();
    let refused = server.mock(|when, then| {
        when.method("POST")
            .path("/api/v2/agents/tasks/read")
            .header_exists("timestamp")
            .json_body(serde_json::json!({"taskId": 404}));
        then.status(200)
            .header("content-type", "application/json")
            .body(r#"{"success": false, "errors": ["Task 404 not found in your organization"]}"#);
    });
    let callable = server.mock(|when, then| {
        when.method("POST")
            .path("/api/v2/agents/deployments/conversation/read")
            .json_body(serde_json::json!({"deploymentId": "A-1", "callableId": "sub-7"}));
        then.status(200).header("content-type", "application/json").body(
            r#"{"success": true, "conversation": {"id": "A-1", "messages": [
                {"id": "m1", "role": "assistant", "parts": [{"type": "text", "text": "from the sub-agent"}]}]}}"#,
        );
    });
    let home = tempfile::tempdir().unwrap();
    let cmd = || {
        let mut cmd = bare(home.path());
        cmd.env("QC_USER_ID", USER).env("QC_API_TOKEN", TOKEN);
        cmd
    };
    let url = server.url("/api/v2");
    let ran = run(&mut cmd(), &["tasks", "read", "404", "--api-url", &url]);
    assert_eq!(ran.code, Some(1));
    assert_eq!(
        ran.stderr.trim_end(),
        "error: readAgentTask: QuantConnect refused the request (HTTP 200): Task 404 not found in your organization"
    );
    ran.no_secret();
    refused.assert_calls(1);

    let ran = run(
        &mut cmd(),
        &[
            "conversation",
            "A-1",
            "--callable",
            "sub-7",
            "--api-url",
            &url,
        ],
    )
    .ok();
    assert!(ran.stdout.contains("from the sub-agent"), "{}", ran.stdout);
    callable.assert_calls(1);
}

/// The Unix time a request was signed at, from its `Timestamp` header.
fn signed_at(req: &httpmock::HttpMockRequest) -> u64 {
    req.headers_vec()
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("timestamp"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn auth_warns_about_a_clock_three_hours_behind_the_servers() {
    const AHEAD: u64 = 3 * 3600;
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let server = MockServer::start();
    // The server's clock is three hours ahead: it refuses the local timestamp as too old and
    // says what time it is; the library then signs with the server's time.
    let refused = server.mock(|when, then| {
        when.method("POST")
            .path("/api/v2/authenticate")
            .is_true(move |req| signed_at(req) < now() + AHEAD / 2);
        then.status(401)
            .header(
                "date",
                httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(AHEAD)),
            )
            .header("www-authenticate", "Basic realm=\"QuantConnect\"");
    });
    let accepted = server.mock(|when, then| {
        when.method("POST")
            .path("/api/v2/authenticate")
            .is_true(move |req| signed_at(req) >= now() + AHEAD / 2);
        then.status(200)
            .header("content-type", "application/json")
            .body(r#"{"success": true}"#);
    });
    let home = tempfile::tempdir().unwrap();
    let mut cmd = bare(home.path());
    cmd.env("QC_USER_ID", USER)
        .env("QC_API_TOKEN", TOKEN)
        .env("QC_API_URL", server.url("/api/v2"));
    let ran = run(&mut cmd, &["auth"]).ok();
    refused.assert_calls(1);
    accepted.assert_calls(1);
    assert!(
        ran.stdout.contains("authenticated as user"),
        "{}",
        ran.stdout
    );
    assert!(ran.stderr.contains("clock is off"), "{}", ran.stderr);
    let offset: i64 = ran
        .stderr
        .split("offset_seconds=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no offset in {}", ran.stderr));
    assert!((10_790..=10_810).contains(&offset), "{offset}");
    ran.no_escapes();
    ran.no_secret();
}

#[test]
fn an_agents_llm_token_is_never_printed() {
    const LLM_TOKEN: &str = "sk-ant-LLM-SECRET-0001";
    let agent = format!(
        r#"{{"id": 105, "name": "Own key", "token": {{"llmApiTokenUser": "{LLM_TOKEN}", "llmProviderApi": "anthropic"}}}}"#
    );
    let server = MockServer::start();
    server.mock(|when, then| {
        when.method("POST").path("/api/v2/agents/read");
        then.status(200)
            .header("content-type", "application/json")
            .body(format!(r#"{{"success": true, "agent": {agent}}}"#));
    });
    server.mock(|when, then| {
        when.method("POST").path("/api/v2/agents/list");
        then.status(200)
            .header("content-type", "application/json")
            .body(format!(r#"{{"success": true, "agents": [{agent}]}}"#));
    });
    let home = tempfile::tempdir().unwrap();
    let url = server.url("/api/v2");
    for args in [
        &["agents", "read", "105"][..],
        &["agents", "read", "105", "--json"],
        &["agents", "list"],
        &["agents", "list", "--json"],
    ] {
        let mut cmd = bare(home.path());
        cmd.env("QC_USER_ID", USER)
            .env("QC_API_TOKEN", TOKEN)
            .env("QC_API_URL", &url)
            .env("QC_ORGANIZATION_ID", "5cad178b20a1d52567b534553413b691");
        let ran = run(&mut cmd, args).ok();
        assert!(!ran.stdout.contains(LLM_TOKEN), "{args:?}: {}", ran.stdout);
        assert!(
            ran.stdout.contains("anthropic") || args[1] == "list",
            "{}",
            ran.stdout
        );
        if args.contains(&"--json") {
            let v = ran.json();
            let agent = if v.is_array() { &v[0] } else { &v };
            assert_eq!(agent["token"]["llmApiTokenUser"], "(redacted)");
            assert_eq!(agent["token"]["llmProviderApi"], "anthropic");
        }
    }
}

#[test]
fn a_wrong_token_exits_1_with_advice_and_without_the_token() {
    let sim = Sim::start(fast());
    let mut cmd = sim.cmd();
    cmd.env("QC_API_TOKEN", "wrong-token-SECRET");
    let ran = run(&mut cmd, &["auth"]);
    assert_eq!(ran.code, Some(1));
    assert!(
        ran.stderr.contains("authentication failed"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("wrong-token"), "{}", ran.stderr);
    ran.no_secret();
}

#[test]
fn without_credentials_nothing_is_sent_and_the_error_names_both_sources_and_login() {
    let sim = Sim::start(fast());
    let home = tempfile::tempdir().unwrap();
    let ran = run(
        bare(home.path()).env("QC_API_URL", sim.sim.base_url()),
        &["tasks", "list"],
    );
    assert_eq!(ran.code, Some(1));
    assert_eq!(ran.stdout, "");
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    for needle in [
        "QC_USER_ID",
        "QC_API_TOKEN",
        ".lean/credentials",
        "qc-agents login",
    ] {
        assert!(ran.stderr.contains(needle), "{needle}: {}", ran.stderr);
    }
    assert!(
        sim.sim.requests().is_empty(),
        "no request may reach any server"
    );
}

#[test]
fn usage_errors_exit_2() {
    let sim = Sim::start(fast());
    for args in [
        &["tasks", "read", "not-a-number"][..],
        &["run", "--agent", "47", "--name", "x"],
        &[
            "run",
            "--agent",
            "47",
            "--name",
            "x",
            "--prompt",
            "y",
            "--max-wait",
            "soon",
        ],
        &["conversation", "A-1", "--follow", "--callable", "c"],
        &["agents", "create"],
        &["no-such-command"],
        // Fits a Duration but would overflow the clock: refused, not a panic later.
        &["simulate", "--running", "1e19"],
        &["deployments", "wait", "A-1", "--max-wait", "0"],
        // Nothing to change is not a silent success.
        &["agents", "update", "105"],
        &["tasks", "list", "--timeout", "0s"],
        // Global options come after the command, and only on those they apply to.
        &["--json", "tasks", "list"],
        &["tasks", "read", "1", "--organization", "o"],
        &["simulate", "--api-url", "http://127.0.0.1:1/api/v2"],
        &["completions", "bash", "--json"],
    ] {
        let ran = run(&mut sim.cmd(), args);
        assert_eq!(ran.code, Some(2), "{args:?}: {}", ran.stderr);
    }
    // No organization: a usage error that says how to give one.
    let mut cmd = sim.cmd();
    cmd.env_remove("QC_ORGANIZATION_ID");
    let ran = run(&mut cmd, &["tasks", "list"]);
    assert_eq!(ran.code, Some(2));
    assert!(ran.stderr.contains("--organization"), "{}", ran.stderr);
    assert!(sim.sim.requests().is_empty(), "{:?}", sim.sim.requests());
}

// --- every resource command ------------------------------------------------------------

#[test]
fn every_resource_command_works_in_json_and_for_people() {
    let sim = Sim::start(Schedule {
        in_queue: Duration::from_millis(100),
        running: Duration::from_secs(600),
        failure: None,
    });
    let json = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push("--json");
        let ran = run(&mut sim.cmd(), &all).ok();
        ran.no_secret();
        let value = ran.json();
        assert!(
            value.get("success").is_none() && value.get("errors").is_none(),
            "{args:?}: the payload only, never the envelope: {value}"
        );
        value
    };
    let human = |args: &[&str]| {
        let ran = run(&mut sim.cmd(), args).ok();
        ran.no_escapes();
        ran.no_secret();
        ran.stdout
    };

    assert_eq!(json(&["auth"]), serde_json::json!({}));
    assert!(human(&["auth"]).contains(&format!("authenticated as user {USER}")));

    // agents
    let agent = json(&[
        "agents",
        "create",
        "--name",
        "Researcher",
        "--model",
        "claude-opus-4-7",
        "--reasoning-effort",
        "high",
        "--max-turns",
        "100",
        "--tool-choice",
        "auto",
        "--tool",
        "create_file",
        "--tool",
        "edit_file",
        "--public",
        "false",
    ]);
    let agent_id = agent["id"].as_i64().unwrap().to_string();
    assert_eq!(agent["reasoningEffort"], "high");
    assert_eq!(
        agent["tools"],
        serde_json::json!(["create_file", "edit_file"])
    );
    assert_eq!(
        json(&[
            "agents",
            "update",
            &agent_id,
            "--description",
            "Finds momentum"
        ]),
        serde_json::json!({}),
        "nothing to return: {{}}"
    );
    assert_eq!(
        json(&["agents", "read", &agent_id])["description"],
        "Finds momentum"
    );
    let agents = json(&["agents", "list"]);
    assert_eq!(
        agents.as_array().unwrap().len(),
        2,
        "agent 47 and the new one"
    );
    let table = human(&["agents", "list"]);
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("Researcher"), "{table}");
    assert!(human(&["agents", "read", &agent_id]).contains("Finds momentum"));
    assert!(human(&["agents", "delete", &agent_id]).contains("deleted agent"));
    assert_eq!(json(&["agents", "list"]).as_array().unwrap().len(), 1);

    // tasks
    let task = json(&[
        "tasks",
        "create",
        "--agent",
        "47",
        "--name",
        "Momentum",
        "--prompt",
        "Find momentum",
        "--project-preference",
        "project-each-task-deployment",
    ]);
    assert_eq!(task["projectPreference"], "project-each-task-deployment");
    let task_id = task["id"].as_i64().unwrap().to_string();
    assert!(human(&["tasks", "rename", &task_id, "Momentum 2"]).contains("renamed"));
    assert_eq!(json(&["tasks", "read", &task_id])["name"], "Momentum 2");
    assert!(human(&["tasks", "read", &task_id]).contains("Find momentum"));
    assert!(human(&["tasks", "list"]).contains("Momentum 2"));

    // deployments
    let deployment = json(&["deployments", "create", &task_id]);
    let id = deployment["deploymentId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("A-"), "{id}");
    assert!(human(&["deployments", "create", &task_id]).contains("qc-agents deployments wait A-"));
    let list = json(&["deployments", "list", &task_id]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(human(&["deployments", "list", &task_id]).contains(&id));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(json(&["deployments", "read", &id])["status"], "Running");
    assert!(human(&["deployments", "read", &id]).contains("Running"));
    let prompted = json(&["deployments", "prompt", &id, "And now the bonds"]);
    assert_eq!(
        prompted,
        serde_json::json!({"message": "Prompt run started."}),
        "the payload, not the envelope"
    );
    let conversation = json(&["conversation", &id]);
    let texts: Vec<&str> = conversation["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["parts"][0]["text"].as_str())
        .collect();
    assert!(texts.contains(&"And now the bonds"), "{texts:?}");
    assert!(human(&["conversation", &id]).contains("  And now the bonds"));
    assert!(human(&["deployments", "stop", &id]).contains("stopped"));
    assert_eq!(json(&["deployments", "read", &id])["status"], "Stopped");
    // --follow of an ended deployment prints every message's events, one JSON object a
    // line, and exits as `deployments wait` does (4: stopped).
    let conversation = json(&["conversation", &id]);
    let ran = run(&mut sim.cmd(), &["conversation", &id, "--follow", "--json"]);
    assert_eq!(ran.code, Some(4), "{}", ran.stderr);
    let lines: Vec<Value> = ran
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let completed = lines
        .iter()
        .filter(|l| l["event"] == "message_completed")
        .count();
    assert_eq!(
        completed,
        conversation["messages"].as_array().unwrap().len()
    );
    assert_eq!(lines.last().unwrap()["event"], "deployment_ended");
    assert_eq!(json(&["deployments", "delete", &id]), serde_json::json!({}));
    assert!(human(&["tasks", "delete", &task_id]).contains("deleted task"));
    assert_eq!(json(&["tasks", "list"]), serde_json::json!([]));
}

#[test]
fn tasks_list_json_is_an_array() {
    let sim = Sim::start(fast());
    let ran = run(&mut sim.cmd(), &["tasks", "list", "--json"]).ok();
    assert_eq!(ran.json(), serde_json::json!([]));
    sim.new_task("one", "Print Hello World");
    sim.new_task("two", "Print Hello World");
    let v = run(&mut sim.cmd(), &["tasks", "list", "--json"])
        .ok()
        .json();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["one", "two"]);
}

// --- output hygiene --------------------------------------------------------------------

#[test]
fn piped_output_has_no_escape_codes_even_in_a_colour_terminal_environment() {
    let sim = Sim::start(fast());
    let task = sim.new_task("plain", "Print Hello World");
    let id = sim.new_deployment(task);
    let task = task.to_string();
    for args in [
        &["tasks", "list"][..],
        &["tasks", "read", &task],
        &["deployments", "list", &task],
        &["deployments", "wait", &id],
        &["deployments", "read", &id],
        &["conversation", &id],
        &[
            "run", "--agent", "47", "--name", "p", "--prompt", "x", "--follow",
        ],
        &["tasks", "read", "999999"],
    ] {
        let mut cmd = sim.cmd();
        cmd.env("TERM", "xterm-256color")
            .env("COLORTERM", "truecolor");
        run(&mut cmd, args).no_escapes();
    }
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let sim = Sim::start(fast());
    // More than a pipe holds, so the CLI is still writing when the reader goes.
    let client = sim.client();
    let long = "n".repeat(1000);
    sim.block_on(async {
        for _ in 0..150 {
            client
                .create_agent_task(47, long.as_str(), "p", ProjectPreference::ProjectForTask)
                .await
                .unwrap();
        }
    });
    for args in [&["tasks", "list", "--json"][..], &["tasks", "list"]] {
        let mut child = sim.spawn(args);
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 1];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout); // `| head -c1`
        let status = wait_exit(&mut child, Duration::from_secs(20));
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(stderr, "", "{args:?}");
        assert_eq!(status.code(), Some(0), "{args:?}");
    }
}

#[test]
fn no_command_prints_the_token() {
    let sim = Sim::start(fast());
    let task = sim
        .new_task("secret-check", "Print Hello World")
        .to_string();
    for args in [
        &["auth"][..],
        &["auth", "--json", "--verbose"],
        &["tasks", "list", "--verbose"],
        &["tasks", "read", &task, "--json"],
        &["tasks", "read", "999999"],
        &["agents", "read", "47"],
        &[
            "run",
            "--agent",
            "47",
            "--name",
            "s",
            "--prompt",
            "x",
            "--verbose",
        ],
        &[
            "run", "--agent", "47", "--name", "s", "--prompt", "x", "--json",
        ],
    ] {
        run(&mut sim.cmd(), args).no_secret();
    }
}

// --- login, simulate -------------------------------------------------------------------

#[test]
fn login_writes_the_shared_credentials_file_mode_600_and_later_commands_use_it() {
    let sim = Sim::start(fast());
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join(".lean").join("credentials");
    // Checked with /authenticate first: a wrong token is not saved.
    let mut cmd = bare(home.path());
    cmd.env("QC_API_URL", sim.sim.base_url());
    let ran = run(
        &mut cmd,
        &["login", "--user-id", USER, "--api-token", "wrong"],
    );
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(
        ran.stderr.starts_with("error: ") && ran.stderr.lines().count() == 1,
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("nothing was saved"), "{}", ran.stderr);
    assert!(!path.exists());
    assert_eq!(sim.sim.requests(), ["authenticate"]);
    let mut cmd = bare(home.path());
    cmd.env("QC_API_URL", sim.sim.base_url());
    let ran = run(
        &mut cmd,
        &["login", "--user-id", USER, "--api-token", TOKEN],
    )
    .ok();
    ran.no_secret();
    assert!(
        ran.stdout.contains("the API accepted them"),
        "{}",
        ran.stdout
    );
    assert_eq!(sim.sim.requests(), ["authenticate", "authenticate"]);
    let data: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(data["user-id"], USER);
    assert_eq!(data["api-token"], TOKEN);
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // lean-cli's reader (the library's) agrees with what was written.
    let credentials = Credentials::from_lean_file(&path).unwrap();
    assert_eq!(credentials.user_id(), USER);

    // No QC_USER_ID / QC_API_TOKEN: the file is what authenticates.
    let mut cmd = bare(home.path());
    cmd.env("QC_API_URL", sim.sim.base_url())
        .env("QC_ORGANIZATION_ID", sim.sim.organization_id());
    let ran = run(&mut cmd, &["tasks", "list", "--json"]).ok();
    assert_eq!(ran.json(), serde_json::json!([]));
    assert_eq!(
        sim.sim.requests(),
        ["authenticate", "authenticate", "listAgentTasks"]
    );

    // The token can come from stdin instead of the command line; --no-verify sends nothing.
    let ran = run(
        bare(home.path()).write_stdin("other-token\n"),
        &["login", "--user-id", "7", "--no-verify", "--json"],
    )
    .ok();
    ran.no_secret();
    assert_eq!(ran.json()["verified"], false);
    assert_eq!(sim.sim.requests().len(), 3);
    let data: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        data,
        serde_json::json!({"user-id": "7", "api-token": "other-token"})
    );
}

#[test]
fn simulate_prints_exports_that_work_and_serves_until_ctrl_c() {
    let home = tempfile::tempdir().unwrap();
    let mut child = StdCommand::new(BIN)
        .args(["simulate", "--in-queue", "0s", "--running", "100ms"])
        .env_clear()
        .env("HOME", home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut vars = Vec::new();
    let mut line = String::new();
    while vars.len() < 4 {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "stdout ended early"
        );
        if let Some(export) = line.trim().strip_prefix("export ") {
            let (k, v) = export.split_once('=').unwrap();
            vars.push((k.to_owned(), v.to_owned()));
        } else {
            assert!(line.starts_with('#'), "{line}");
        }
    }
    let names: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "QC_API_URL",
            "QC_USER_ID",
            "QC_API_TOKEN",
            "QC_ORGANIZATION_ID"
        ]
    );

    let mut cmd = bare(home.path());
    cmd.envs(vars.iter().map(|(k, v)| (k, v)));
    let ran = run(
        &mut cmd,
        &[
            "run", "--agent", "47", "--name", "s", "--prompt", "x", "--json",
        ],
    )
    .ok();
    assert_eq!(ran.json()["deployment"]["status"], "Completed");

    interrupt(&child);
    let status = wait_exit(&mut child, Duration::from_secs(10));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("simulator stopped"), "{stderr}");
}

#[test]
fn on_a_terminal_there_is_a_status_line_and_colour_unless_no_color() {
    // util-linux's `script` (Debian: bsdutils, an essential package) gives the CLI a pty.
    let sim = Sim::start(fast());
    let task = sim.new_task("tty", "Print Hello World");
    let on_a_terminal = |no_color: bool| {
        let id = sim.new_deployment(task);
        let mut cmd = Command::new("script");
        cmd.env_clear()
            .env("HOME", sim.home.path())
            .env("TERM", "xterm-256color")
            .env("QC_API_URL", sim.sim.base_url())
            .env("QC_USER_ID", USER)
            .env("QC_API_TOKEN", TOKEN);
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let inner = format!("{BIN} deployments wait {id}");
        run(&mut cmd, &["-qec", &inner, "/dev/null"]).ok()
    };
    let ran = on_a_terminal(false);
    assert!(
        ran.stdout.contains("reads: 1"),
        "no status line: {:?}",
        ran.stdout
    );
    assert!(ran.stdout.contains(" after "), "{:?}", ran.stdout);
    assert!(
        ran.stdout.contains("\u{1b}[32mCompleted"),
        "no green Completed: {:?}",
        ran.stdout
    );
    ran.no_secret();
    let ran = on_a_terminal(true);
    assert!(
        ran.stdout.contains("reads: 1"),
        "no status line: {:?}",
        ran.stdout
    );
    assert!(
        !ran.stdout.contains("\u{1b}[32m"),
        "colour despite NO_COLOR: {:?}",
        ran.stdout
    );
}

#[test]
fn json_is_one_value_and_an_empty_object_when_there_is_nothing_to_return() {
    let sim = Sim::start(fast());
    let agent = run(
        &mut sim.cmd(),
        &["agents", "create", "--name", "Gone soon", "--json"],
    )
    .ok()
    .json();
    let agent = agent["id"].to_string();
    let task = sim.new_task("json rule", "p").to_string();
    let id = sim.new_deployment(task.parse().unwrap());
    for args in [
        &["agents", "delete", &agent][..],
        &["deployments", "stop", &id],
        &["deployments", "delete", &id],
        &["tasks", "rename", &task, "renamed"],
        &["tasks", "delete", &task],
        &["auth"],
    ] {
        let mut all = args.to_vec();
        all.push("--json");
        let ran = run(&mut sim.cmd(), &all).ok();
        assert_eq!(ran.json(), serde_json::json!({}), "{args:?}");
    }
    // A failure leaves stdout empty, --json or not: the one `error:` line says it all.
    for json in [false, true] {
        let mut args = vec!["deployments", "wait", "A-nope"];
        if json {
            args.push("--json");
        }
        let ran = run(&mut sim.cmd(), &args);
        assert_eq!(ran.code, Some(1), "{}", ran.stderr);
        assert_eq!(ran.stdout, "", "{args:?}");
        assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
        assert!(ran.stderr.starts_with("error: "), "{}", ran.stderr);
    }
}

#[test]
fn global_options_show_only_where_they_apply_after_the_commands_own() {
    let help = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push("--help");
        run(&mut bare(std::path::Path::new("/nonexistent")), &all)
            .ok()
            .stdout
    };
    let run_help = help(&["run"]);
    let (own, global) = run_help.split_once("Global options:").expect("a heading");
    assert!(
        own.contains("--agent") && own.contains("--keep"),
        "{run_help}"
    );
    for flag in [
        "--api-url",
        "--organization",
        "--timeout",
        "--json",
        "--verbose",
    ] {
        let listed = |text: &str| {
            text.lines()
                .any(|l| l.trim_start().trim_start_matches("-v, ").starts_with(flag))
        };
        assert!(listed(global) && !listed(own), "{flag}: {run_help}");
    }
    // --organization only where agents and tasks are listed or created.
    for args in [
        &["agents", "list"][..],
        &["agents", "create"],
        &["tasks", "list"],
        &["tasks", "create"],
        &["auth"],
    ] {
        assert!(help(args).contains("--organization"), "{args:?}");
    }
    for args in [
        &["agents", "read"][..],
        &["tasks", "delete"],
        &["deployments", "stop"],
        &["conversation"],
        &["login"],
    ] {
        let text = help(args);
        assert!(!text.contains("--organization"), "{args:?}: {text}");
        assert!(
            text.contains("Global options:") && text.contains("--api-url"),
            "{args:?}"
        );
    }
    // None of the API's options where no API is called; simulate has its own -v and --json.
    for args in [&["simulate"][..], &["completions"], &["man"]] {
        let text = help(args);
        for flag in ["--api-url", "--organization", "--timeout", "Global options"] {
            assert!(!text.contains(flag), "{args:?} {flag}: {text}");
        }
    }
    assert!(help(&["simulate"]).contains("--verbose"));
}

#[test]
fn a_run_whose_wait_fails_for_good_claims_no_status_it_did_not_read() {
    use quantconnect_agents::simulator::{Fault, FaultKind};
    let sim = Sim::start(fast());
    sim.sim.inject(
        Fault::new(FaultKind::Respond {
            status: 200,
            content_type: "application/json".into(),
            body: r#"{"success": false, "errors": ["Invalid argument"]}"#.into(),
        })
        .on("readAgentDeployment"),
    );
    for follow in [false, true] {
        let mut args = vec!["run", "--agent", "47", "--name", "w", "--prompt", "p"];
        if follow {
            args.push("--follow");
        }
        let ran = run(&mut sim.cmd(), &args);
        assert_eq!(ran.code, Some(1), "{}", ran.stderr);
        assert!(!ran.stdout.contains("still running"), "{}", ran.stdout);
        assert!(ran.stderr.contains("readAgentDeployment"), "{}", ran.stderr);
    }
}
