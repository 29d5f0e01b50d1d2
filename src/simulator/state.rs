//! The simulator's state: what it knows (agents, tasks, deployments), what it was told
//! (faults to inject, requests received), and how a deployment's status, model and
//! conversation follow from its runs and the [`Schedule`] at a given moment.
//!
//! Nothing here speaks HTTP: [`super::server`] does, and [`super::handlers`] turns a
//! request into changes of [`State`] and an answer.

use std::{
    collections::BTreeMap,
    hash::{BuildHasher, RandomState},
    sync::{atomic::AtomicUsize, Mutex, MutexGuard},
    time::{Duration, SystemTime},
};

use tokio::time::Instant;

use super::{agent, Fault, Schedule, DEFAULT_AGENT_ID};
use crate::{
    types::{self, AgentConversationMessage, AgentConversationMessagePart},
    Credentials, DeploymentStatus, PartKind, Role,
};

/// What the server, its connections and the [`Simulator`](super::Simulator) handle share.
pub(super) struct Shared {
    /// How many TCP connections the server has accepted.
    pub(super) connections: AtomicUsize,
    /// The credentials requests must be signed with.
    pub(super) credentials: Credentials,
    /// The organization of the simulated account.
    pub(super) organization_id: String,
    /// How deployments progress.
    pub(super) schedule: Schedule,
    state: Mutex<State>,
}

impl Shared {
    pub(super) fn new(
        credentials: Credentials,
        organization_id: String,
        schedule: Schedule,
    ) -> Self {
        Shared {
            connections: AtomicUsize::new(0),
            state: Mutex::new(State::new(&organization_id)),
            credentials,
            organization_id,
            schedule,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A handler that panicked cannot leave the maps half-updated in a way that matters
        // for a simulator: keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A moment: tokio's clock for the schedule, the wall clock for the timestamps shown.
#[derive(Clone, Copy)]
pub(super) struct Moment {
    pub(super) instant: Instant,
    wall: SystemTime,
}

impl Moment {
    pub(super) fn now() -> Self {
        Moment {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// `d` later; `d` is at most two phases of the schedule, each at most
    /// [`Schedule::LONGEST`] (checked at start), so the clocks cannot overflow.
    fn plus(self, d: Duration) -> Self {
        Moment {
            instant: self.instant + d,
            wall: self.wall + d,
        }
    }

    pub(super) fn text(self) -> String {
        timestamp(self.wall)
    }
}

/// A task as stored; its `status` is computed when read ([`task_view`]).
pub(super) struct TaskRecord {
    pub(super) task: types::AgentTask,
}

/// One run of a deployment: the first, from the task's prompt, or a follow-up prompt's.
pub(super) struct Run {
    pub(super) prompt: String,
    pub(super) start: Moment,
    /// Whether it waits in the queue first (only the first run does).
    pub(super) queued: bool,
    /// `Some(error)` makes it end `Failed` with that `runtimeError`.
    pub(super) failure: Option<String>,
    /// When it was stopped, once a later run has cleared the deployment's stop.
    pub(super) stopped: Option<Instant>,
}

/// A deployment as stored; its status follows from its runs and the schedule.
pub(super) struct DeploymentRecord {
    pub(super) id: String,
    pub(super) task_id: i64,
    pub(super) agent_id: i64,
    pub(super) project_id: i64,
    pub(super) created: Moment,
    pub(super) runs: Vec<Run>,
    pub(super) stopped: Option<Moment>,
}

/// Everything the simulator knows and was told, behind [`Shared::lock`].
pub(super) struct State {
    pub(super) agents: BTreeMap<i64, types::Agent>,
    pub(super) tasks: BTreeMap<i64, TaskRecord>,
    pub(super) deployments: Vec<DeploymentRecord>,
    /// The injected faults, in the order injected.
    pub(super) faults: Vec<Fault>,
    /// The operation ids received, in order.
    pub(super) requests: Vec<String>,
    pub(super) next_agent_id: i64,
    pub(super) next_task_id: i64,
    pub(super) next_deployment_number: i64,
    pub(super) next_project_id: i64,
}

impl State {
    fn new(organization_id: &str) -> Self {
        let mut agents = BTreeMap::new();
        let created = Moment::now().text();
        agents.insert(
            DEFAULT_AGENT_ID,
            types::Agent {
                id: Some(DEFAULT_AGENT_ID),
                name: Some("Mia".into()),
                description: Some("QuantConnect's research assistant (simulated).".into()),
                system_prompt: Some("You write, backtest and explain LEAN algorithms.".into()),
                reasoning_effort: Some(crate::ReasoningEffort::High),
                max_turns: Some(100),
                tool_choice: Some("auto".into()),
                tools: vec![
                    "create_file".into(),
                    "edit_file".into(),
                    "create_backtest".into(),
                ],
                public: Some(true),
                model: Some("claude-opus-4-7".into()),
                created: Some(created.clone()),
                updated: Some(created),
                organization: Some(types::AgentOrganization {
                    id: Some(organization_id.to_owned()),
                    name: Some("Simulated Organization".into()),
                    profile: None,
                }),
                use_qcc: Some(true),
                node: Some(types::AgentNode {
                    id: Some(0),
                    sku: Some("A-8".into()),
                }),
                ..Default::default()
            },
        );
        State {
            agents,
            tasks: BTreeMap::new(),
            deployments: Vec::new(),
            faults: Vec::new(),
            requests: Vec::new(),
            next_agent_id: 105,
            next_task_id: 332,
            next_deployment_number: 1187,
            next_project_id: 23_456_789,
        }
    }

    pub(super) fn deployment(&self, id: &str) -> Option<&DeploymentRecord> {
        self.deployments.iter().find(|d| d.id == id)
    }
}

impl DeploymentRecord {
    /// Starts a run of a follow-up prompt at `now`; a stop ends with the run it stopped.
    pub(super) fn follow_up(&mut self, prompt: String, now: Moment) {
        if let (Some(stopped), Some(last)) = (self.stopped.take(), self.runs.last_mut()) {
            last.stopped = Some(stopped.instant);
        }
        self.runs.push(Run {
            prompt,
            start: now,
            queued: false,
            failure: None,
            stopped: None,
        });
    }

    /// The status at `now`, and when the current run ended if it has.
    pub(super) fn status(
        &self,
        schedule: &Schedule,
        now: Instant,
    ) -> (DeploymentStatus, Option<Moment>) {
        if let Some(stopped) = self.stopped {
            return (DeploymentStatus::Stopped, Some(stopped));
        }
        let run = self.runs.last().expect("a deployment has a run");
        let queue = if run.queued {
            schedule.in_queue
        } else {
            Duration::ZERO
        };
        let end = run.start.plus(queue + schedule.running);
        if now < run.start.instant + queue {
            (DeploymentStatus::InQueue, None)
        } else if now < end.instant {
            (DeploymentStatus::Running, None)
        } else if run.failure.is_some() {
            (DeploymentStatus::Failed, Some(end))
        } else {
            (DeploymentStatus::Completed, Some(end))
        }
    }

    pub(super) fn model(&self, schedule: &Schedule, now: Instant) -> types::AgentDeployment {
        let (status, ended) = self.status(schedule, now);
        let started = match status {
            DeploymentStatus::InQueue => None,
            _ => Some(self.created.plus(schedule.in_queue).text()),
        };
        let running = matches!(status, DeploymentStatus::Running);
        types::AgentDeployment {
            deployment_id: Some(self.id.clone()),
            agent_id: Some(self.agent_id),
            status: Some(status.clone()),
            task_id: Some(self.task_id),
            model: Some("claude-opus-4-7".into()),
            created: Some(self.created.text()),
            started,
            ended: ended.map(Moment::text),
            machine: running.then(|| "A-8".into()),
            mcp_tools: vec![
                "create_file".into(),
                "edit_file".into(),
                "create_backtest".into(),
            ],
            host_name: running.then(|| "simulated-agent-node".into()),
            prompt: self.runs.last().map(|r| r.prompt.clone()),
            project_id: Some(self.project_id),
            version_id: Some(17283),
            runtime_error: match status {
                DeploymentStatus::Failed => self.runs.last().and_then(|r| r.failure.clone()),
                _ => None,
            },
        }
    }

    /// The conversation at `now`: each run's prompt as a user message at once and, once
    /// the run is `Running`, the agent's answer as it grows ([`agent::answer`]): the
    /// `k`-th of [`agent::TICKS`] changes lands at `k / TICKS` of the running time. A stop
    /// freezes the answer as it was.
    pub(super) fn messages(
        &self,
        schedule: &Schedule,
        now: Instant,
    ) -> Vec<AgentConversationMessage> {
        let mut messages = Vec::new();
        let id = |n: usize| format!("msg-{}-{:03}", &self.id[2..10], n);
        for (i, run) in self.runs.iter().enumerate() {
            messages.push(AgentConversationMessage {
                id: Some(id(2 * i)),
                role: Some(Role::User),
                parts: vec![AgentConversationMessagePart {
                    type_: Some(PartKind::Text),
                    text: Some(run.prompt.clone()),
                    ..Default::default()
                }],
                time: Some(run.start.text()),
            });
            let queue = if run.queued {
                schedule.in_queue
            } else {
                Duration::ZERO
            };
            let running_from = run.start.plus(queue);
            // A stop, or the next prompt, freezes the answer where it was.
            let next = self.runs.get(i + 1).map(|r| r.start.instant);
            let stop = match self.runs.get(i + 1) {
                Some(_) => run.stopped,
                None => self.stopped.map(|s| s.instant),
            };
            let seen_at = [Some(now), next, stop]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(now);
            let Some(elapsed) = seen_at.checked_duration_since(running_from.instant) else {
                continue;
            };
            let ticks = ticks_after(elapsed, schedule.running);
            if ticks == 0 {
                continue;
            }
            let first = schedule.running.as_nanos() / u128::from(agent::TICKS);
            messages.push(AgentConversationMessage {
                id: Some(id(2 * i + 1)),
                role: Some(Role::Assistant),
                parts: agent::answer(&run.prompt, run.failure.as_deref(), ticks),
                time: Some(running_from.plus(Duration::from_nanos(first as u64)).text()),
            });
        }
        messages
    }
}

/// How many of a run's [`agent::TICKS`] changes have landed `elapsed` into its `running`
/// time: all of them at its end (at once when it is zero).
fn ticks_after(elapsed: Duration, running: Duration) -> u32 {
    if elapsed >= running {
        return agent::TICKS;
    }
    // elapsed < running <= 100 years, in nanoseconds times 9: far within u128.
    let ticks = elapsed.as_nanos() * u128::from(agent::TICKS) / running.as_nanos();
    u32::try_from(ticks).unwrap_or(agent::TICKS)
}

/// A task as read: its stored fields plus the statuses of its active deployments.
pub(super) fn task_view(
    state: &State,
    schedule: &Schedule,
    id: i64,
    now: Instant,
) -> types::AgentTask {
    let mut task = state.tasks[&id].task.clone();
    task.status = state
        .deployments
        .iter()
        .filter(|d| d.task_id == id)
        .filter_map(|d| {
            let (status, _) = d.status(schedule, now);
            (!status.is_terminal()).then(|| types::AgentTaskStatusEntry {
                deployment_id: Some(d.id.clone()),
                status: Some(status.to_string()),
            })
        })
        .collect();
    task
}

/// `count` random lowercase hex digits.
pub(super) fn random_hex(count: usize) -> String {
    let mut out = String::with_capacity(count);
    let state = RandomState::new();
    let mut i = 0u64;
    while out.len() < count {
        let word = state.hash_one((i, Instant::now()));
        out.push_str(&format!("{word:016x}"));
        i += 1;
    }
    out.truncate(count);
    out
}

/// QuantConnect's timestamp format, `YYYY-MM-DD HH:MM:SS` (UTC).
fn timestamp(at: SystemTime) -> String {
    // RFC 3339 (`2026-05-06T19:09:52Z`) is QuantConnect's format with a `T` and a `Z`.
    let rfc3339 = humantime::format_rfc3339_seconds(at).to_string();
    rfc3339.trim_end_matches('Z').replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn timestamps_are_quantconnects_format() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01 00:00:00");
        assert_eq!(
            timestamp(UNIX_EPOCH + Duration::from_secs(1_778_094_592)),
            "2026-05-06 19:09:52"
        );
    }

    #[test]
    fn deployment_ids_are_a_dash_and_32_hex() {
        let id = format!("A-{}", random_hex(32));
        assert_eq!(id.len(), 34);
        assert!(id[2..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(random_hex(32), random_hex(32));
    }
}
