//! `cargo run --example lifecycle`, run as a user runs it: without credentials (the
//! simulator), against another server through `QC_API_URL`, and against a failing one.

use std::process::{Command, Output};

use quantconnect_agents::simulator::{Fault, FaultKind, Simulator};

/// The example's binary, built by `cargo test` next to the test binaries.
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
    let mut command = example();
    command
        .env("QC_API_URL", server.base_url())
        .env("QC_USER_ID", server.credentials().user_id())
        .env("QC_API_TOKEN", server.credentials().expose_api_token())
        .env("QC_ORGANIZATION_ID", server.organization_id());
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
    let mut command = example();
    command
        .env("QC_API_URL", server.base_url())
        .env("QC_USER_ID", server.credentials().user_id())
        .env("QC_API_TOKEN", server.credentials().expose_api_token())
        .env("QC_ORGANIZATION_ID", server.organization_id());
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
