//! `qc-agents run` tells the exact truth about what exists when it is interrupted or a
//! create's answer is lost: SIGINT, SIGTERM and SIGHUP before, during and after each create
//! (each create slowed down by the simulator), and creates that fail or lose their answer.
//! In each case the ids reported are exactly what the server holds, nothing is created
//! twice, and `--json` prints the outcome object.

#![cfg(target_os = "linux")] // Signals, and /proc to see that they are caught.

mod support;

use std::{
    io::{BufRead as _, BufReader, Read as _},
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use quantconnect_agents::{
    simulator::{Fault, FaultKind, Schedule},
    DeploymentStatus,
};
use serde_json::Value;
use support::{finished, wait_exit, Ran, Sim};

const SIGNALS: [(&str, i32); 3] = [("INT", 2), ("TERM", 15), ("HUP", 1)];

/// Running at once (so the status a signal reports is the server's), for ten minutes.
fn long() -> Schedule {
    Schedule {
        in_queue: Duration::ZERO,
        running: Duration::from_secs(600),
        failure: None,
    }
}

/// Waits (bounded) until `ready` holds.
fn until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether `pid` catches SIGHUP, SIGINT and SIGTERM (its `SigCgt` mask in /proc).
fn catches_signals(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .unwrap_or(0);
    let wanted = (1 << 0) | (1 << 1) | (1 << 14);
    mask & wanted == wanted
}

struct Ended {
    code: Option<i32>,
    json: Value,
    stderr: String,
}

fn finish(mut child: Child) -> Ended {
    let Ran {
        code,
        stdout,
        stderr,
    } = finished(&mut child, Duration::from_secs(60));
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {stdout}\n{stderr}"));
    Ended { code, json, stderr }
}

/// The server's tasks named `name`, with their deployments' ids.
fn held(sim: &Sim, name: &str) -> Vec<(i64, Vec<String>)> {
    let client = sim.client();
    sim.block_on(async {
        let mut held = vec![];
        for task in client.list_agent_tasks().await.unwrap() {
            if task.name.as_deref() == Some(name) {
                let id = task.id.unwrap();
                let deployments = client.list_agent_deployments(id).await.unwrap();
                let ids = deployments
                    .into_iter()
                    .filter_map(|d| d.deployment_id)
                    .collect();
                held.push((id, ids));
            }
        }
        held
    })
}

fn count(sim: &Sim, operation: &str) -> usize {
    sim.sim
        .requests()
        .iter()
        .filter(|r| *r == operation)
        .count()
}

fn run_args(name: &str) -> Vec<&str> {
    vec![
        "run", "--json", "--agent", "47", "--name", name, "--prompt", "work",
    ]
}

/// What the JSON object says exists, checked against the server: the same task and
/// deployment ids, nothing deleted, nothing made twice.
#[track_caller]
fn reported_is_held(sim: &Sim, name: &str, ended: &Ended) -> (Option<i64>, Option<String>) {
    let v = &ended.json;
    let task = v["task"]["id"].as_i64();
    let deployment = v["deployment"]["deploymentId"].as_str().map(str::to_owned);
    let expected: Vec<(i64, Vec<String>)> = match task {
        Some(task) => vec![(task, deployment.iter().cloned().collect())],
        None => vec![],
    };
    assert_eq!(held(sim, name), expected, "{v}\n{}", ended.stderr);
    assert!(count(sim, "createAgentTask") <= 1);
    assert!(count(sim, "createAgentDeployment") <= 1);
    assert!(!sim.sim.requests().iter().any(|r| r.starts_with("delete")));
    assert_eq!(v["deleted"], false);
    (task, deployment)
}

#[test]
fn a_signal_before_the_task_create_reports_that_nothing_exists() {
    for (signal, number) in SIGNALS {
        let sim = Sim::start(long());
        let name = format!("before-{signal}");
        let mut args = run_args(&name);
        args.truncate(6);
        args.extend(["--prompt-file", "-"]);
        // The prompt comes from stdin, held open: the CLI waits for it, signals caught.
        let mut child = sim.std_cmd(&args).stdin(Stdio::piped()).spawn().unwrap();
        let stdin = child.stdin.take();
        until("the signals are caught", || catches_signals(child.id()));
        support::signal(&child, signal);
        let ended = finish(child);
        drop(stdin);
        assert_eq!(ended.code, Some(128 + number), "{}", ended.stderr);
        assert_eq!(ended.json["outcome"], "interrupted");
        assert_eq!(ended.json["signal"], format!("SIG{signal}"));
        assert_eq!(reported_is_held(&sim, &name, &ended), (None, None));
        assert_eq!(count(&sim, "createAgentTask"), 0);
        assert!(
            ended.stderr.contains("no task was created"),
            "{}",
            ended.stderr
        );
    }
}

#[test]
fn a_signal_during_the_task_create_waits_for_it_and_reports_the_task() {
    for (signal, number) in SIGNALS {
        let sim = Sim::start(long());
        sim.sim.inject(
            Fault::new(FaultKind::Latency(Duration::from_millis(1500))).on("createAgentTask"),
        );
        let name = format!("during-task-{signal}");
        let child = sim.spawn(&run_args(&name));
        until("the task create is in flight", || {
            count(&sim, "createAgentTask") == 1
        });
        support::signal(&child, signal);
        let ended = finish(child);
        assert_eq!(ended.code, Some(128 + number), "{}", ended.stderr);
        assert_eq!(ended.json["outcome"], "interrupted");
        let (task, deployment) = reported_is_held(&sim, &name, &ended);
        let task = task.expect("the task the create made");
        assert_eq!(deployment, None);
        assert_eq!(count(&sim, "createAgentDeployment"), 0);
        assert!(
            ended
                .stderr
                .contains(&format!("left: task {task}, not deployed")),
            "{}",
            ended.stderr
        );
    }
}

#[test]
fn a_signal_after_the_task_create_during_the_deployment_create_reports_both() {
    for (signal, number) in SIGNALS {
        let sim = Sim::start(long());
        sim.sim.inject(
            Fault::new(FaultKind::Latency(Duration::from_millis(1500))).on("createAgentDeployment"),
        );
        let name = format!("during-deployment-{signal}");
        let child = sim.spawn(&run_args(&name));
        until("the deployment create is in flight", || {
            count(&sim, "createAgentDeployment") == 1
        });
        support::signal(&child, signal);
        let ended = finish(child);
        assert_eq!(ended.code, Some(128 + number), "{}", ended.stderr);
        assert_eq!(ended.json["outcome"], "interrupted");
        let (task, deployment) = reported_is_held(&sim, &name, &ended);
        let (task, id) = (task.unwrap(), deployment.expect("the deployment it made"));
        // Never "deploy it": the deployment runs, and the hints say how to wait or stop it.
        assert!(
            !ended.stderr.contains("deployments create"),
            "{}",
            ended.stderr
        );
        assert!(
            ended
                .stderr
                .contains(&format!("left: task {task} and its deployment {id}")),
            "{}",
            ended.stderr
        );
        assert!(ended
            .stderr
            .contains(&format!("qc-agents deployments stop {id}")));
    }
}

#[test]
fn a_signal_after_the_deployment_create_reports_it_running() {
    for (signal, number) in SIGNALS {
        let sim = Sim::start(long());
        let name = format!("after-{signal}");
        let child = sim.spawn(&run_args(&name));
        until("the deployment is waited for", || {
            count(&sim, "readAgentDeployment") >= 1
        });
        support::signal(&child, signal);
        let ended = finish(child);
        assert_eq!(ended.code, Some(128 + number), "{}", ended.stderr);
        assert_eq!(ended.json["outcome"], "interrupted");
        let (_, id) = reported_is_held(&sim, &name, &ended);
        let id = id.unwrap();
        assert_eq!(ended.json["deployment"]["status"], "Running");
        let deployment = sim
            .block_on(sim.client().read_agent_deployment(&id))
            .unwrap();
        assert_eq!(deployment.status, Some(DeploymentStatus::Running));
        assert!(ended
            .stderr
            .contains(&format!("qc-agents deployments wait {id}")));
    }
}

#[test]
fn a_second_signal_exits_at_once_saying_what_is_unknown() {
    let sim = Sim::start(long());
    sim.sim
        .inject(Fault::new(FaultKind::Latency(Duration::from_secs(20))).on("createAgentTask"));
    let mut child = sim.spawn(&run_args("twice"));
    until("the task create is in flight", || {
        count(&sim, "createAgentTask") == 1
    });
    support::signal(&child, "TERM");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.contains("waiting for the task create"), "{first}");
    support::signal(&child, "INT");
    let status = wait_exit(&mut child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(130));
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["outcome"], "interrupted");
    assert_eq!(v["task"], Value::Null);
    assert!(
        v["unresolved"]
            .as_str()
            .unwrap()
            .contains("qc-agents tasks list"),
        "{v}"
    );
}

#[test]
fn a_task_create_whose_answer_is_lost_is_found_by_name() {
    let sim = Sim::start(long());
    // An older task of the same name, which is not this run's.
    let older = sim.new_task("lost", "p");
    sim.block_on(sim.client().create_agent_deployment(older))
        .unwrap();
    sim.sim.inject(
        Fault::new(FaultKind::DropConnectionAfterEffect)
            .on("createAgentTask")
            .times(1),
    );
    let ended = finish(sim.spawn(&run_args("lost")));
    assert_eq!(ended.code, Some(1), "{}", ended.stderr);
    assert_eq!(ended.json["outcome"], "error");
    // Both tasks are dated since the run started (the simulator's clock is this one): the
    // CLI cannot tell which is its own, says so and lists both, and deploys neither.
    let ids: Vec<i64> = held(&sim, "lost").iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 2);
    let mut possible: Vec<i64> = ended.json["possibleTasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    possible.sort();
    assert_eq!(possible, ids, "{}", ended.stderr);
    assert_eq!(
        count(&sim, "createAgentTask"),
        2,
        "the test's and the CLI's"
    );
    assert_eq!(count(&sim, "createAgentDeployment"), 1, "the test's");
    assert!(
        !ended.stderr.contains("deployments create"),
        "{}",
        ended.stderr
    );

    // Alone under its name, the task is found and reported as this run's.
    let sim = Sim::start(long());
    sim.sim.inject(
        Fault::new(FaultKind::DropConnectionAfterEffect)
            .on("createAgentTask")
            .times(1),
    );
    let ended = finish(sim.spawn(&run_args("alone")));
    assert_eq!(ended.code, Some(1), "{}", ended.stderr);
    let (task, _) = reported_is_held(&sim, "alone", &ended);
    assert!(task.is_some(), "{}", ended.stderr);
    assert!(ended.stderr.contains("it took effect"), "{}", ended.stderr);
}

#[test]
fn a_deployment_create_that_fails_or_loses_its_answer_reports_the_task() {
    // HTTP 500: nothing was deployed; the task is left, and said to be.
    let sim = Sim::start(long());
    sim.sim
        .inject(Fault::new(FaultKind::Status(500)).on("createAgentDeployment"));
    let ended = finish(sim.spawn(&run_args("five-hundred")));
    assert_eq!(ended.code, Some(1), "{}", ended.stderr);
    let (task, deployment) = reported_is_held(&sim, "five-hundred", &ended);
    let task = task.unwrap();
    assert_eq!(deployment, None);
    assert!(ended
        .stderr
        .contains(&format!("left: task {task}, not deployed")));
    assert!(ended
        .stderr
        .contains(&format!("qc-agents tasks delete {task}")));

    // The answer lost after it took effect: the deployment is found and reported.
    let sim = Sim::start(long());
    sim.sim.inject(
        Fault::new(FaultKind::DropConnectionAfterEffect)
            .on("createAgentDeployment")
            .times(1),
    );
    let ended = finish(sim.spawn(&run_args("lost-deployment")));
    assert_eq!(ended.code, Some(1), "{}", ended.stderr);
    let (_, deployment) = reported_is_held(&sim, "lost-deployment", &ended);
    let id = deployment.expect("the deployment found");
    assert!(
        !ended.stderr.contains("deployments create"),
        "{}",
        ended.stderr
    );
    assert!(ended
        .stderr
        .contains(&format!("qc-agents deployments wait {id}")));
}

#[test]
fn a_failed_run_keeps_its_evidence() {
    let sim = Sim::start(Schedule {
        in_queue: Duration::from_millis(50),
        running: Duration::from_millis(200),
        failure: Some("The backtest ended with a runtime error.".into()),
    });
    let ended = finish(sim.spawn(&run_args("fails")));
    assert_eq!(ended.code, Some(3), "{}", ended.stderr);
    assert_eq!(ended.json["outcome"], "failed");
    assert!(ended.json["conversation"]["messages"].is_array());
    let (task, id) = reported_is_held(&sim, "fails", &ended);
    let (task, id) = (task.unwrap(), id.unwrap());
    assert!(ended.stderr.contains("runtime error"), "{}", ended.stderr);
    assert!(ended.stderr.contains(&format!(
        "qc-agents deployments delete {id} && qc-agents tasks delete {task}"
    )));
    assert!(ended
        .stderr
        .contains(&format!("qc-agents conversation {id}")));
}

#[test]
fn a_signal_while_following_a_conversation_says_how_to_resume_or_stop() {
    for (signal, number) in SIGNALS {
        let sim = Sim::start(long());
        let task = sim.new_task("followed", "Keep going");
        let id = sim.new_deployment(task);
        let mut child = sim.spawn(&["conversation", &id, "--follow"]);
        until("the conversation is read", || {
            count(&sim, "readAgentConversation") >= 1
        });
        support::signal(&child, signal);
        let Ran {
            code,
            stdout,
            stderr,
        } = finished(&mut child, Duration::from_secs(60));
        assert_eq!(code, Some(128 + number), "{stderr}");
        assert!(
            stdout.contains("  Keep going"),
            "the prompt shows at once: {stdout}"
        );
        assert!(
            stderr.contains(&format!("deployment {id} (Running) goes on")),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!(
                "resume following: qc-agents conversation {id} --follow"
            )),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!("qc-agents deployments stop {id}")),
            "{stderr}"
        );
        let deployment = sim
            .block_on(sim.client().read_agent_deployment(&id))
            .unwrap();
        assert_eq!(
            deployment.status,
            Some(DeploymentStatus::Running),
            "nothing stopped"
        );
    }
}
