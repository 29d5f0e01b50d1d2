//! `cargo run --example lifecycle`, run as a user runs it: without credentials (the
//! simulator), against another server through `QC_API_URL`, and against a failing one.

use std::process::{Command, Output};

use quantconnect_agents::simulator::{Fault, FaultKind, Simulator};

/// The example's binary, built by `cargo test` next to the test binaries (a filtered
/// `cargo test --test lifecycle_example` does not rebuild it: run `cargo build --examples`
/// first).
fn example() -> Command {
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    if path.ends_with("deps") {
        path.pop();
    }
    let binary = path
        .join("examples")
        .join(format!("lifecycle{}", std::env::consts::EXE_SUFFIX));
    assert!(binary.exists(), "{} not built", binary.display());
    let mut command = Command::new(binary);
    let home = std::env::temp_dir().join(format!("qca-no-home-{}", std::process::id()));
    command
        .env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command
}

/// The example, with credentials pointing it at `server` through `QC_API_URL`.
fn example_against(server: &Simulator) -> Command {
    let mut command = example();
    command
        .env("QC_API_URL", server.base_url())
        .env("QC_USER_ID", server.credentials().user_id())
        .env("QC_API_TOKEN", server.credentials().expose_api_token())
        .env("QC_ORGANIZATION_ID", server.organization_id());
    command
}

async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn without_credentials_it_runs_against_the_simulator_and_says_so_first() {
    let output = run(example()).await;
    let stdout = lines(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout:?} {:?}",
        lines(&output.stderr)
    );
    assert!(stdout[0].contains("simulator"), "{}", stdout[0]);
    assert!(
        stdout.iter().any(|l| l.ends_with("Completed")),
        "{stdout:?}"
    );
    assert!(
        stdout.last().unwrap().starts_with("deleted task"),
        "{stdout:?}"
    );
}

#[tokio::test]
async fn with_credentials_it_talks_to_qc_api_url_and_sends_only_documented_requests() {
    let server = Simulator::start().await.unwrap();
    let command = example_against(&server);
    let output = run(command).await;
    let stdout = lines(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout:?} {:?}",
        lines(&output.stderr)
    );
    assert!(
        stdout[0].starts_with(&format!("using {}", server.base_url())),
        "{}",
        stdout[0]
    );
    let mut requests = server.requests();
    requests.dedup(); // the waiter's repeated reads
    assert_eq!(
        requests,
        [
            "authenticate",
            "createAgentTask",
            "readAgentTask",
            "updateAgentTask",
            "listAgentTasks",
            "createAgentDeployment",
            "readAgentDeployment",
            "listAgentDeployments",
            "updateAgentDeployment",
            "readAgentConversation",
            "stopAgentDeployment",
            "deleteAgentDeployment",
            "deleteAgentTask",
        ]
    );
}

#[tokio::test]
async fn a_failing_server_gives_one_line_on_stderr_and_exit_1() {
    let server = Simulator::start().await.unwrap();
    server.inject(Fault::new(FaultKind::HtmlPage(502)).on("createAgentDeployment"));
    let command = example_against(&server);
    let output = run(command).await;
    let stderr = lines(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr.len(), 1, "{stderr:?}");
    assert!(
        stderr[0].starts_with("error: createAgentDeployment: unexpected HTTP status 502"),
        "{}",
        stderr[0]
    );
    let token = server.credentials().expose_api_token();
    assert!(!String::from_utf8_lossy(&output.stdout).contains(token));
    assert!(!stderr[0].contains(token));
    let creates = server
        .requests()
        .iter()
        .filter(|op| *op == "createAgentDeployment")
        .count();
    assert_eq!(creates, 1, "a create is never repeated");
}

/// One hostile case: a fault on one endpoint, and how many requests that endpoint should
/// see (reads that may pass are retried, writes never).
struct Case {
    name: &'static str,
    operation: &'static str,
    fault: FaultKind,
    expected_requests: usize,
}

fn respond(status: u16, content_type: &str, body: impl Into<String>) -> FaultKind {
    FaultKind::Respond {
        status,
        content_type: content_type.into(),
        body: body.into(),
    }
}

#[tokio::test]
async fn against_a_hostile_server_it_fails_in_one_line_within_its_deadline() {
    let deep = format!(
        r#"{{"success": true, "task": {{"notifications": [{{"x": {}{}}}]}}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let cases = vec![
        Case {
            name: "HTML 502",
            operation: "readAgentTask",
            fault: FaultKind::HtmlPage(502),
            expected_requests: 3,
        },
        Case {
            name: "empty 500",
            operation: "readAgentTask",
            fault: FaultKind::Status(500),
            expected_requests: 1,
        },
        Case {
            name: "truncated JSON",
            operation: "readAgentTask",
            fault: respond(200, "application/json", r#"{"success": true, "task": {"#),
            expected_requests: 1,
        },
        Case {
            name: "100 MB body",
            operation: "readAgentTask",
            fault: FaultKind::LargeBody {
                bytes: 100 << 20,
                declare_length: false,
            },
            expected_requests: 1,
        },
        Case {
            name: "HTML as JSON",
            operation: "readAgentTask",
            fault: respond(200, "application/json", "<html>maintenance</html>"),
            expected_requests: 1,
        },
        Case {
            name: "drip",
            operation: "readAgentTask",
            fault: FaultKind::Drip,
            // The timeout bounds the whole call: the drip holds the one attempt to the end.
            expected_requests: 1,
        },
        Case {
            name: "reset mid-body",
            operation: "readAgentTask",
            fault: FaultKind::ResetMidBody,
            expected_requests: 3,
        },
        Case {
            name: "success false, no errors",
            operation: "readAgentTask",
            fault: respond(200, "application/json", r#"{"success": false}"#),
            expected_requests: 1,
        },
        Case {
            name: "number out of range",
            operation: "readAgentTask",
            fault: respond(
                200,
                "application/json",
                r#"{"success": true, "task": {"id": 1e400}}"#,
            ),
            expected_requests: 1,
        },
        Case {
            name: "nested 10,000 deep",
            operation: "readAgentTask",
            fault: respond(200, "application/json", deep),
            expected_requests: 1,
        },
        Case {
            name: "429",
            operation: "readAgentTask",
            fault: FaultKind::TooManyRequests { retry_after: 0 },
            expected_requests: 3,
        },
        Case {
            name: "create dropped after effect",
            operation: "createAgentTask",
            fault: FaultKind::DropConnectionAfterEffect,
            expected_requests: 1,
        },
        Case {
            name: "create drips",
            operation: "createAgentTask",
            fault: FaultKind::Drip,
            expected_requests: 1,
        },
        Case {
            name: "deploy reset mid-body",
            operation: "createAgentDeployment",
            fault: FaultKind::ResetMidBody,
            expected_requests: 1,
        },
    ];
    let runs = cases.into_iter().map(|case| async move {
        let server = Simulator::start().await.unwrap();
        server.inject(Fault::new(case.fault.clone()).on(case.operation));
        let mut command = example_against(&server);
        command.env("QC_REQUEST_TIMEOUT", "1");
        let started = std::time::Instant::now();
        let output = run(command).await;
        (case, server, output, started.elapsed())
    });
    for (case, server, output, elapsed) in futures_util::future::join_all(runs).await {
        let name = case.name;
        let stderr = lines(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{name}: {stdout} {stderr:?}");
        assert_eq!(stderr.len(), 1, "{name}: {stderr:?}");
        assert!(stderr[0].starts_with("error: "), "{name}: {}", stderr[0]);
        assert!(!stderr[0].contains("panicked"), "{name}: {}", stderr[0]);
        let token = server.credentials().expose_api_token();
        assert!(
            !stdout.contains(token) && !stderr[0].contains(token),
            "{name}: token printed"
        );
        assert!(
            elapsed < std::time::Duration::from_secs(20),
            "{name}: took {elapsed:?}"
        );
        let sent = server
            .requests()
            .iter()
            .filter(|op| *op == case.operation)
            .count();
        assert_eq!(
            sent, case.expected_requests,
            "{name}: {} requests",
            case.operation
        );
        let creates = server
            .requests()
            .iter()
            .filter(|op| op.starts_with("create"))
            .count();
        assert!(
            creates <= 2,
            "{name}: a create was repeated: {:?}",
            server.requests()
        );
    }
}

#[tokio::test]
async fn a_dripping_read_ends_the_example_at_its_request_timeout_and_says_so() {
    let server = Simulator::start().await.unwrap();
    server.inject(Fault::new(FaultKind::Drip).on("readAgentTask"));
    let mut command = example_against(&server);
    command.env("QC_REQUEST_TIMEOUT", "4");
    let started = std::time::Instant::now();
    let output = run(command).await;
    let elapsed = started.elapsed();
    let stderr = lines(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr:?}");
    // The steps before the read take milliseconds against the simulator.
    assert!(
        elapsed >= std::time::Duration::from_secs(4)
            && elapsed < std::time::Duration::from_millis(5500),
        "took {elapsed:?}"
    );
    let last = stderr.last().expect("an error line");
    assert!(
        last.ends_with(
            "readAgentTask: no answer within the 4 s request timeout (1 attempt, 4.0 s)"
        ),
        "{last}"
    );
}
