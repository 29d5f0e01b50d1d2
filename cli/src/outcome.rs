//! What `run` made and leaves, and the report of it that ends every run: one JSON object on
//! stdout with --json, and for people, on stderr, what is left and the commands to wait
//! for, stop, read or delete it. No command it suggests can start a second deployment.

use std::time::{Duration, SystemTime};

use quantconnect_agents::{
    types::{AgentConversation, AgentDeployment, AgentTask},
    wait::WaitError,
    DeploymentStatus,
};
use serde_json::json;

use crate::{
    failure::Failure,
    output::{self, status_text, Ui},
    text::{line, shell_quote},
};

/// What a run made, as far as it knows.
#[derive(Default)]
pub struct Made {
    /// The task it made (or found after a create whose answer was lost).
    pub task: Option<AgentTask>,
    /// Tasks that may be the one it made, when that cannot be told.
    pub possible_tasks: Vec<i64>,
    /// The deployment, as last read.
    pub deployment: Option<AgentDeployment>,
    /// Deployments of the task, when a lost create left more than one.
    pub possible_deployments: Vec<String>,
    /// What could not be found out, and how to check it.
    pub unresolved: Option<String>,
    /// What a lookup after a lost answer found.
    pub notes: Vec<String>,
    /// The conversation, when it was read.
    pub conversation: Option<AgentConversation>,
    /// Whether the deployment and the task were deleted (a completed run).
    pub deleted_deployment: bool,
    /// See `deleted_deployment`.
    pub deleted_task: bool,
}

/// A task created this long before the run started may still be its own: the server's
/// clock and this machine's differ.
const CLOCK_MARGIN: Duration = Duration::from_secs(300);

impl Made {
    /// After a task create whose answer was lost: the organization's `tasks` named `name`,
    /// and among them those created since the run `started` (QuantConnect's timestamps, read
    /// as UTC). Exactly one is taken as the run's; else their ids are reported.
    pub fn found_tasks(&mut self, tasks: Vec<AgentTask>, name: &str, started: SystemTime) {
        let named: Vec<AgentTask> = tasks
            .into_iter()
            .filter(|t| t.name.as_deref() == Some(name))
            .collect();
        let since = started - CLOCK_MARGIN;
        let recent = |t: &&AgentTask| {
            t.created
                .as_deref()
                .and_then(|c| humantime::parse_rfc3339_weak(c).ok())
                .is_some_and(|c| c >= since)
        };
        let new: Vec<&AgentTask> = named.iter().filter(recent).collect();
        let name = line(name);
        match (new.as_slice(), named.len()) {
            (_, 0) => self.notes.push(format!(
                "no task named {name} exists: the task create did not take effect"
            )),
            ([task], _) => {
                self.notes.push(format!(
                    "the task create's answer was lost, but it took effect: task {} named \
                     {name} was created since this run started",
                    task.id.unwrap_or_default()
                ));
                self.task = Some((*task).clone());
            }
            ([], _) => {
                self.possible_tasks = named.iter().filter_map(|t| t.id).collect();
                self.notes.push(format!(
                    "the task create's answer was lost; tasks named {name} exist, none dated \
                     since this run started (the server's time zone may differ): this run's \
                     may be one of them"
                ));
            }
            (new, _) => {
                self.possible_tasks = new.iter().filter_map(|t| t.id).collect();
                self.notes.push(format!(
                    "the task create's answer was lost; {} tasks named {name} were created \
                     since this run started: this run's is one of them",
                    new.len()
                ));
            }
        }
    }

    /// After a deployment create whose answer was lost: the task's `deployments` (the task
    /// is this run's own, so any is this run's).
    pub fn found_deployments(&mut self, mut deployments: Vec<AgentDeployment>) {
        match deployments.len() {
            0 => self
                .notes
                .push("no deployment exists: the deployment create did not take effect".into()),
            1 => {
                self.notes
                    .push("the deployment create's answer was lost, but it took effect".into());
                self.deployment = deployments.pop();
            }
            _ => {
                self.possible_deployments = deployments
                    .into_iter()
                    .filter_map(|d| d.deployment_id)
                    .collect();
            }
        }
    }
}

/// The `outcome` field of the JSON object, from how the run ended.
fn outcome_name(result: &Result<(), Failure>) -> &'static str {
    match result {
        Ok(()) => "completed",
        Err(Failure::Wait(WaitError::Failed { .. })) => "failed",
        Err(Failure::Wait(WaitError::Stopped { .. })) => "stopped",
        Err(Failure::Wait(WaitError::ExceededMaxWait { .. })) => "max-wait",
        Err(Failure::Interrupted(_)) => "interrupted",
        Err(_) => "error",
    }
}

/// Prints the run's outcome: the JSON object with --json (on one line when `one_line`), and
/// for people what is left.
pub fn report(ui: Ui, made: &Made, result: &Result<(), Failure>, one_line: bool) {
    if ui.json {
        let error = result.as_ref().err().and_then(Failure::message);
        let signal = match result {
            Err(Failure::Interrupted(signal)) => Some(signal.name()),
            _ => None,
        };
        let outcome = json!({
            "outcome": outcome_name(result),
            "signal": signal,
            "error": error.as_deref().map(|e| e.trim_start_matches("error: ")),
            "task": made.task,
            "deployment": made.deployment,
            "conversation": made.conversation,
            "deleted": made.deleted_deployment && made.deleted_task,
            "possibleTasks": made.possible_tasks,
            "possibleDeployments": made.possible_deployments,
            "unresolved": made.unresolved,
        });
        if one_line {
            output::out(output::JsonLine(&outcome));
        } else {
            ui.json(&outcome);
        }
    }
    if result.is_err() {
        for text in leftovers(made, result) {
            output::err(text);
        }
    }
}

/// The lines that say what a run that did not succeed leaves, and what to do with it.
fn leftovers(made: &Made, result: &Result<(), Failure>) -> Vec<String> {
    let mut lines = Vec::new();
    if let Err(Failure::Interrupted(signal)) = result {
        lines.push(format!(
            "interrupted ({}): nothing was stopped or deleted",
            signal.name()
        ));
    }
    lines.extend(made.notes.iter().cloned());
    let task = made.task.as_ref().and_then(|t| t.id);
    let deployment = made.deployment.as_ref();
    let deployment_id = deployment.and_then(|d| d.deployment_id.as_deref());
    match (task, deployment_id) {
        (Some(task), Some(id)) if !made.deleted_deployment => {
            let d = deployment.expect("an id comes from a deployment");
            let mut status = status_text(d);
            if let Some(error) = &d.runtime_error {
                status = format!("{status}: {}", line(error));
            }
            lines.push(format!(
                "left: task {task} and its deployment {} ({status})",
                line(id)
            ));
            let q = shell_quote(id);
            if !d.status.as_ref().is_some_and(DeploymentStatus::is_terminal) {
                lines.push(format!("  resume waiting: qc-agents deployments wait {q}"));
                lines.push(format!("  stop it:        qc-agents deployments stop {q}"));
            }
            lines.push(format!("  read it:        qc-agents conversation {q}"));
            lines.push(format!(
                "  delete both:    qc-agents deployments delete {q} && qc-agents tasks delete {task}"
            ));
        }
        (Some(task), _) if !made.deleted_task => {
            if !made.possible_deployments.is_empty() {
                let ids: Vec<String> = made.possible_deployments.iter().map(|d| line(d)).collect();
                lines.push(format!(
                    "left: task {task}, with deployments {}: check with: qc-agents deployments list {task}",
                    ids.join(", ")
                ));
            } else if let Some(unresolved) = &made.unresolved {
                lines.push(format!("left: task {task}; {unresolved}"));
            } else if made.deleted_deployment {
                lines.push(format!("left: task {task} (its deployment was deleted)"));
                lines.push(format!("  delete it:  qc-agents tasks delete {task}"));
            } else {
                // This run sent no deployment create that could have taken effect.
                lines.push(format!("left: task {task}, not deployed"));
                lines.push(format!("  deploy it:  qc-agents deployments create {task}"));
                lines.push(format!("  delete it:  qc-agents tasks delete {task}"));
            }
        }
        (Some(_), _) => {}
        (None, _) => {
            if !made.possible_tasks.is_empty() {
                let ids: Vec<String> = made.possible_tasks.iter().map(i64::to_string).collect();
                lines.push(format!(
                    "  the tasks: {}; see them with: qc-agents tasks list",
                    ids.join(", ")
                ));
            } else if let Some(unresolved) = &made.unresolved {
                lines.push(unresolved.clone());
            } else if made.notes.is_empty() {
                lines.push("no task was created".into());
            }
        }
    }
    lines
}
