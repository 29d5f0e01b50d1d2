//! What the test files share: the simulator on its own runtime, the binary run with an
//! empty environment and a temporary `HOME`, and waiting for a spawned process.

#![allow(dead_code)] // Each test file uses a part.

use std::{
    io::Read as _,
    path::Path,
    process::{Child, Command as StdCommand, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use assert_cmd::Command;
use quantconnect_agents::{
    simulator::{Schedule, Simulator},
    Client, Credentials, ProjectPreference,
};
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_qc-agents");
pub const USER: &str = "424242";
pub const TOKEN: &str = "tok-7f3c9e-SECRET-never-print";

/// The simulator's token in these tests is TOKEN: no output may ever contain it.
/// A simulator on its own runtime, so it serves while the test thread blocks on the CLI.
pub struct Sim {
    pub sim: Simulator,
    pub rt: tokio::runtime::Runtime,
    pub home: TempDir,
}

impl Sim {
    pub fn start(schedule: Schedule) -> Sim {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let sim = rt
            .block_on(
                Simulator::builder()
                    .schedule(schedule)
                    .credentials(Credentials::new(USER, TOKEN))
                    .start(),
            )
            .unwrap();
        Sim {
            sim,
            rt,
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// `qc-agents` pointed at the simulator through the environment.
    pub fn cmd(&self) -> Command {
        let mut cmd = bare(self.home.path());
        cmd.env("QC_API_URL", self.sim.base_url())
            .env("QC_USER_ID", USER)
            .env("QC_API_TOKEN", TOKEN)
            .env("QC_ORGANIZATION_ID", self.sim.organization_id());
        cmd
    }

    /// The same as a std command with piped stdio, to spawn and signal.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.std_cmd(args).spawn().unwrap()
    }

    pub fn std_cmd(&self, args: &[&str]) -> StdCommand {
        let mut cmd = StdCommand::new(BIN);
        cmd.args(args)
            .env_clear()
            .env("HOME", self.home.path())
            .env("QC_API_URL", self.sim.base_url())
            .env("QC_USER_ID", USER)
            .env("QC_API_TOKEN", TOKEN)
            .env("QC_ORGANIZATION_ID", self.sim.organization_id())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    pub fn client(&self) -> Client {
        self.sim.client()
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    pub fn new_task(&self, name: &str, prompt: &str) -> i64 {
        let client = self.client();
        self.block_on(client.create_agent_task(47, name, prompt, ProjectPreference::ProjectForTask))
            .unwrap()
            .id
            .unwrap()
    }

    pub fn new_deployment(&self, task_id: i64) -> String {
        let client = self.client();
        self.block_on(client.create_agent_deployment(task_id))
            .unwrap()
            .deployment_id
            .unwrap()
    }
}

pub fn fast() -> Schedule {
    Schedule {
        in_queue: Duration::from_millis(100),
        running: Duration::from_millis(300),
        failure: None,
    }
}

/// The binary with an empty environment and `HOME` at `home`.
pub fn bare(home: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear().env("HOME", home);
    cmd
}

pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command, args: &[&str]) -> Ran {
    let output = cmd
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

impl Ran {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", self.stdout))
    }

    #[track_caller]
    pub fn no_escapes(&self) {
        assert!(
            !self.stdout.contains('\u{1b}'),
            "escape code on stdout: {:?}",
            self.stdout
        );
        assert!(
            !self.stderr.contains('\u{1b}'),
            "escape code on stderr: {:?}",
            self.stderr
        );
    }

    /// The token, or a part of it, is on neither stream.
    #[track_caller]
    pub fn no_secret(&self) {
        for text in [&self.stdout, &self.stderr] {
            assert!(!text.contains(TOKEN), "the token was printed: {text}");
            assert!(
                !text.contains("SECRET"),
                "part of the token was printed: {text}"
            );
        }
    }

    #[track_caller]
    pub fn ok(self) -> Ran {
        assert_eq!(
            self.code,
            Some(0),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// No control character but newline reaches either stream.
    #[track_caller]
    pub fn printable(&self) {
        for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let bad: Vec<char> = text
                .chars()
                .filter(|c| c.is_control() && *c != '\n')
                .collect();
            assert!(bad.is_empty(), "{name} holds {bad:?}: {text:?}");
        }
    }
}

/// Waits for `child` to exit, killing it and failing after `within`.
pub fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (bounded) for `child` to exit, then reads what it wrote on stdout and stderr
/// (both piped, neither taken).
pub fn finished(child: &mut Child, within: Duration) -> Ran {
    let status = wait_exit(child, within);
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    Ran {
        code: status.code(),
        stdout,
        stderr,
    }
}

/// Sends `signal` (`INT`, `TERM`, `HUP`) to `child`, as `kill -SIGNAL` does.
pub fn signal(child: &Child, signal: &str) {
    let status = StdCommand::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Sends SIGINT to `child`, as Ctrl-C does.
pub fn interrupt(child: &Child) {
    signal(child, "INT");
}
