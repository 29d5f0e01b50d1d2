//! `qc-agents simulate` as a CI step runs it: in the background on a chosen port, its
//! environment read from `--env-file` through a shell, its requests logged with `-v`,
//! stopped by SIGTERM or SIGHUP, and with faults aimed at chosen operations.

mod support;

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command as StdCommand, Stdio},
    time::{Duration, Instant},
};

use support::{bare, finished, run, Ran, BIN, TOKEN, USER};

/// A `qc-agents simulate` in the background, and the env file it writes.
struct Background {
    child: Child,
    home: tempfile::TempDir,
    env_file: PathBuf,
}

impl Background {
    /// Starts `simulate --env-file F ARGS` and waits for F, failing if it exits first.
    fn start(args: &[&str], env: &[(&str, &str)]) -> Background {
        let home = tempfile::tempdir().unwrap();
        let env_file = home.path().join("sim.env");
        let mut child = StdCommand::new(BIN)
            .arg("simulate")
            .arg("--env-file")
            .arg(&env_file)
            .args(args)
            .env_clear()
            .env("HOME", home.path())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !env_file.exists() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("simulate exited with {status} before writing its env file");
            }
            assert!(Instant::now() < deadline, "no env file after 30 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        Background {
            child,
            home,
            env_file,
        }
    }

    /// `qc-agents ARGS` in a shell that sourced the env file first, as a CI step does.
    fn cli(&self, args: &[&str]) -> Ran {
        let mut cmd = assert_cmd::Command::new("sh");
        cmd.env_clear()
            .env("HOME", self.home.path())
            .arg("-c")
            .arg(r#". "$1" && shift && exec "$@""#)
            .arg("sh")
            .arg(&self.env_file)
            .arg(BIN);
        run(&mut cmd, args)
    }

    /// The variables the env file sets, as a shell reads them.
    fn sourced(&self) -> Vec<String> {
        let output = StdCommand::new("sh")
            .arg("-c")
            .arg(r#". "$1" && printf '%s\n' "$QC_API_URL" "$QC_USER_ID" "$QC_API_TOKEN" "$QC_ORGANIZATION_ID""#)
            .arg("sh")
            .arg(&self.env_file)
            .env_clear()
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Sends `signal` (`TERM`, `HUP`, `INT`) and returns the exit code, stdout and stderr.
    fn stop(mut self, signal: &str) -> Ran {
        support::signal(&self.child, signal);
        finished(&mut self.child, Duration::from_secs(30))
    }
}

/// A failed test does not leave the simulator running.
impl Drop for Background {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port no one listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn in_the_background_on_a_port_it_writes_an_env_file_logs_requests_and_stops_on_sigterm() {
    let port = free_port();
    let sim = Background::start(
        &[
            "-v",
            "--port",
            &port.to_string(),
            "--in-queue",
            "0",
            "--running",
            "100ms",
        ],
        &[],
    );
    assert_eq!(mode(&sim.env_file), 0o600);
    let vars = sim.sourced();
    assert_eq!(vars[0], format!("http://127.0.0.1:{port}/api/v2"));
    assert_eq!(vars.len(), 4, "{vars:?}");
    assert!(vars.iter().all(|v| !v.is_empty()), "{vars:?}");

    let ran = sim.cli(&[
        "run", "--agent", "47", "--name", "ci", "--prompt", "x", "--json",
    ]);
    let ran = ran.ok();
    assert_eq!(ran.json()["deployment"]["status"], "Completed");
    sim.cli(&["tasks", "list"]).ok();

    let env_file = sim.env_file.clone();
    let stopped = sim.stop("TERM");
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    assert!(!env_file.exists(), "the env file outlived the simulator");
    let last = stopped.stderr.lines().last().unwrap_or_default();
    let count: usize = last
        .strip_prefix("simulator stopped after ")
        .and_then(|rest| rest.strip_suffix(" requests"))
        .unwrap_or_else(|| panic!("last line: {last:?}"))
        .parse()
        .unwrap();
    assert!(count >= 5, "{count} requests");
    // One INFO line per request, with its fields.
    let logged: Vec<&str> = stopped
        .stderr
        .lines()
        .filter(|l| l.contains("simulator request"))
        .collect();
    assert_eq!(logged.len(), count, "{}", stopped.stderr);
    let list = logged
        .iter()
        .find(|l| l.contains("operation=listAgentTasks"))
        .unwrap_or_else(|| panic!("{logged:#?}"));
    for field in [
        "INFO",
        "method=POST",
        "path=/api/v2/agents/tasks/list",
        "status=200",
        "latency=",
    ] {
        assert!(list.contains(field), "{field} missing: {list}");
    }
}

#[test]
fn a_port_in_use_is_an_error_and_without_v_nothing_is_logged() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let home = tempfile::tempdir().unwrap();
    let ran = run(&mut bare(home.path()), &["simulate", "--port", &port]);
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert_eq!(ran.stdout, "");
    assert!(
        ran.stderr.starts_with(&format!(
            "error: the simulator cannot bind 127.0.0.1:{port}: "
        )),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
    for bad in ["70000", "http"] {
        let ran = run(&mut bare(home.path()), &["simulate", "--port", bad]);
        assert_eq!(ran.code, Some(2), "{bad}: {}", ran.stderr);
    }

    let sim = Background::start(&[], &[]);
    sim.cli(&["agents", "list"]).ok();
    let stopped = sim.stop("HUP");
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    assert_eq!(stopped.stderr, "simulator stopped after 1 requests\n");
}

#[test]
fn fixed_credentials_are_accepted_and_their_token_is_only_in_the_env_file() {
    let check = |sim: Background| {
        let vars = sim.sourced();
        assert_eq!(vars[1..3], [USER, TOKEN]);
        let ran = sim.cli(&["auth"]).ok();
        assert!(ran.stdout.contains(USER), "{}", ran.stdout);
        let stopped = sim.stop("TERM");
        assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
        stopped.no_secret();
        assert!(
            stopped
                .stdout
                .contains(&format!("export QC_USER_ID={USER}\n")),
            "{}",
            stopped.stdout
        );
        assert!(
            !stopped.stdout.contains("QC_API_TOKEN="),
            "{}",
            stopped.stdout
        );
    };
    check(Background::start(
        &["--user-id", USER, "--api-token", TOKEN],
        &[],
    ));
    check(Background::start(
        &["--credentials-from-env"],
        &[("QC_USER_ID", USER), ("QC_API_TOKEN", TOKEN)],
    ));

    let home = tempfile::tempdir().unwrap();
    let ran = run(
        bare(home.path()).env("QC_USER_ID", USER),
        &["simulate", "--credentials-from-env"],
    );
    assert_eq!(ran.code, Some(2));
    assert!(
        ran.stderr.contains("QC_API_TOKEN is not set"),
        "{}",
        ran.stderr
    );
    for args in [
        &["simulate", "--user-id", USER][..],
        &["simulate", "--api-token", TOKEN],
        &[
            "simulate",
            "--credentials-from-env",
            "--user-id",
            USER,
            "--api-token",
            TOKEN,
        ],
        &["simulate", "--user-id", " ", "--api-token", TOKEN],
        &["simulate", "--user-id", USER, "--api-token", "a\nb"],
    ] {
        let ran = run(&mut bare(home.path()), args);
        assert_eq!(ran.code, Some(2), "{args:?}: {}", ran.stderr);
        ran.no_secret();
    }
}

#[test]
fn a_fault_on_one_operation_fails_that_operation_only_for_its_count() {
    // 500 is not retried, so the command sees the fault.
    let sim = Background::start(
        &[
            "-v",
            "--fault",
            "status=500@listAgentTasks",
            "--fault",
            "html-page=502@readAgentx1",
        ],
        &[],
    );
    let ran = sim.cli(&["tasks", "list"]);
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(ran.stderr.contains("500"), "{}", ran.stderr);
    sim.cli(&["agents", "list"]).ok();
    // The page once, then the agent: reads retry a 502.
    let ran = sim.cli(&["agents", "read", "47", "--json"]).ok();
    assert_eq!(ran.json()["id"], 47);
    assert_eq!(sim.cli(&["tasks", "list"]).code, Some(1));
    let stopped = sim.stop("INT");
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    let reads: Vec<&str> = stopped
        .stderr
        .lines()
        .filter(|l| l.contains("operation=readAgent "))
        .collect();
    assert_eq!(reads.len(), 2, "{}", stopped.stderr);
    assert!(
        reads[0].contains("status=502") && reads[0].contains("fault=HtmlPage(502)"),
        "{}",
        reads[0]
    );
    assert!(
        reads[1].contains("status=200") && !reads[1].contains("fault="),
        "{}",
        reads[1]
    );
}

#[test]
fn a_wrong_fault_is_a_usage_error_that_lists_what_is_valid() {
    let home = tempfile::tempdir().unwrap();
    let ran = run(
        &mut bare(home.path()),
        &["simulate", "--fault", "teapot=418"],
    );
    assert_eq!(ran.code, Some(2));
    for kind in [
        "latency=DURATION",
        "status=CODE",
        "drop-connection-after-effect",
        "respond=FILE",
    ] {
        assert!(ran.stderr.contains(kind), "{kind}: {}", ran.stderr);
    }
    let ran = run(
        &mut bare(home.path()),
        &["simulate", "--fault", "status=503@readAgentTasks"],
    );
    assert_eq!(ran.code, Some(2));
    assert!(
        ran.stderr
            .contains("`readAgentTasks` is not an operation id"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .contains("readAgentDeployment, updateAgentDeployment"),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.stdout, "");
}
