//! Waiting for a deployment to end ([`DeploymentWaiter`]), and following its conversation
//! as it grows ([`ConversationFollower`]).
//!
//! Both read the deployment (the follower its conversation too) on a capped exponential schedule, [`Backoff`]: with the
//! defaults the reads happen at about 0, 1, 3, 7, 15, 25, 35, … seconds, so a short
//! deployment is noticed within a second or two of ending and a long one costs a read per
//! 10 s, like QuantConnect's own 10 s loop. The last delay is cut short so that one final
//! read happens at the deadline ([`DEFAULT_MAX_WAIT`] unless set).
//!
//! Network errors and HTTP 429/502/503/504 ([`Error::is_transient`]) do not end the wait:
//! the next read follows the schedule. Any other error ends it. Dropping the future (or the
//! stream) stops polling at once. Each read is one call of the client, within its request
//! timeout, and the maximum wait also cuts off a read still in flight.

use std::{future::Future, time::Duration};

use tokio::time::Instant;

pub use crate::backoff::Backoff;
use crate::{types::AgentDeployment, Client, DeploymentStatus, Error};

mod events;
pub(crate) mod follower;
pub(crate) mod waiter;

pub use events::ConversationEvent;
pub use follower::ConversationFollower;
pub use waiter::DeploymentWaiter;
use waiter::Target;

/// How long a waiter waits by default before giving up: two hours.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(2 * 60 * 60);

/// Why a wait did not end with a `Completed` deployment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// The deployment ended `Failed`. Its `runtime_error` usually says why.
    #[error(
        "deployment {} failed: {}",
        id_of(deployment),
        deployment.runtime_error.as_deref().unwrap_or("no runtime error given")
    )]
    Failed {
        /// The deployment as last read.
        deployment: Box<AgentDeployment>,
    },

    /// The deployment ended `Stopped`.
    #[error("deployment {} was stopped", id_of(deployment))]
    Stopped {
        /// The deployment as last read.
        deployment: Box<AgentDeployment>,
    },

    /// The deployment had not ended when the maximum wait ran out.
    #[error(
        "deployment {deployment_id} had not ended after {} (max wait {}, {polls} reads); \
         last status: {}",
        crate::duration::for_people(*elapsed),
        crate::duration::for_people(*max_wait),
        last.as_ref().and_then(|d| d.status.as_ref()).map_or("unknown", |s| s.as_str())
    )]
    ExceededMaxWait {
        /// The deployment waited for.
        deployment_id: String,
        /// The maximum wait that ran out.
        max_wait: Duration,
        /// How long the wait took.
        elapsed: Duration,
        /// How many times the deployment was read.
        polls: u32,
        /// The deployment as last read, if any read succeeded.
        last: Option<Box<AgentDeployment>>,
        /// The error of the last read, if it failed (transiently).
        last_error: Option<Box<Error>>,
    },

    /// A request failed in a way that waiting longer will not fix (`success: false`,
    /// authentication, an undecodable body), or creating the deployment failed.
    #[error(transparent)]
    Request(#[from] Error),
}

impl WaitError {
    /// The deployment as last read, when the wait got that far.
    pub fn deployment(&self) -> Option<&AgentDeployment> {
        match self {
            WaitError::Failed { deployment } | WaitError::Stopped { deployment } => {
                Some(deployment)
            }
            WaitError::ExceededMaxWait { last, .. } => last.as_deref(),
            WaitError::Request(_) => None,
        }
    }
}

/// What a wait returns for a deployment that has ended: the deployment when it
/// `Completed`, [`WaitError::Failed`] or [`WaitError::Stopped`] otherwise. For the deployment
/// a follower's [`ConversationEvent::DeploymentEnded`] carries, say. A deployment that has
/// not ended ([`DeploymentStatus::is_terminal`]) comes back as `Ok` too.
///
/// ```
/// use quantconnect_agents::{types::AgentDeployment, wait, DeploymentStatus};
///
/// let failed = AgentDeployment { status: Some(DeploymentStatus::Failed), ..Default::default() };
/// assert!(matches!(wait::outcome(failed), Err(wait::WaitError::Failed { .. })));
/// ```
pub fn outcome(deployment: AgentDeployment) -> Result<AgentDeployment, WaitError> {
    let deployment = Box::new(deployment);
    match deployment.status {
        Some(DeploymentStatus::Failed) => Err(WaitError::Failed { deployment }),
        Some(DeploymentStatus::Stopped) => Err(WaitError::Stopped { deployment }),
        _ => Ok(*deployment),
    }
}

fn id_of(deployment: &AgentDeployment) -> &str {
    deployment.deployment_id.as_deref().unwrap_or("(no id)")
}

/// The error of a wait whose maximum ran out, for the waiter and the follower alike.
fn exceeded_max_wait(
    deployment_id: &str,
    max_wait: Duration,
    elapsed: Duration,
    polls: u32,
    last: Option<AgentDeployment>,
    last_error: Option<Error>,
) -> WaitError {
    WaitError::ExceededMaxWait {
        deployment_id: deployment_id.to_owned(),
        max_wait,
        elapsed,
        polls,
        last: last.map(Box::new),
        last_error: last_error.map(Box::new),
    }
}

/// `read`, unless `deadline` comes first (`None`).
async fn before<T>(deadline: Option<Instant>, read: impl Future<Output = T>) -> Option<T> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, read).await.ok(),
        None => Some(read.await),
    }
}

fn log_status(deployment_id: &str, deployment: &AgentDeployment) {
    match &deployment.status {
        Some(status @ DeploymentStatus::Unknown(_)) => tracing::warn!(
            deployment_id,
            status = status.as_str(),
            "deployment status unknown to this version of quantconnect-agents; waiting on"
        ),
        Some(status) => {
            tracing::debug!(deployment_id, status = status.as_str(), "deployment status")
        }
        None => tracing::debug!(deployment_id, "deployment read without a status"),
    }
}

impl Client {
    /// Waits for a deployment to end, polling `/agents/deployments/read` on a capped
    /// exponential schedule (see the [`wait`](crate::wait) module docs).
    ///
    /// ```no_run
    /// # async fn run(client: quantconnect_agents::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use quantconnect_agents::wait::WaitError;
    ///
    /// let outcome = client
    ///     .wait_for_deployment("A-a5d782221843ac9aa99211e3b1949c01")
    ///     .max_wait(Duration::from_secs(30 * 60))
    ///     .on_status_change(|d| println!("status: {:?}", d.status))
    ///     .await;
    /// match outcome {
    ///     Ok(done) => println!("completed at {:?}", done.ended),
    ///     Err(WaitError::Failed { deployment }) => println!("failed: {:?}", deployment.runtime_error),
    ///     Err(WaitError::Stopped { .. }) => println!("stopped"),
    ///     Err(other) => return Err(other.into()),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn wait_for_deployment(
        &self,
        deployment_id: impl Into<String>,
    ) -> DeploymentWaiter<'static> {
        DeploymentWaiter::new(self.clone(), Target::Deployment(deployment_id.into()))
    }

    /// Deploys a task and waits for the deployment to end: `createAgentDeployment`, then
    /// [`Client::wait_for_deployment`]. The create response counts as the first reading, so
    /// the first read goes out after the first delay. The create is sent once, never
    /// repeated.
    pub fn deploy_and_wait(&self, task_id: i64) -> DeploymentWaiter<'static> {
        DeploymentWaiter::new(self.clone(), Target::Deploy(task_id))
    }

    /// Follows a deployment's conversation: its events part by part
    /// ([`ConversationFollower::events`]) or its messages, each once complete
    /// ([`ConversationFollower::stream`]), ending after the deployment ends.
    ///
    /// ```no_run
    /// # async fn run(client: quantconnect_agents::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use futures_util::StreamExt;
    ///
    /// let messages = client.follow_conversation("A-a5d782221843ac9aa99211e3b1949c01").stream();
    /// let mut messages = std::pin::pin!(messages);
    /// while let Some(message) = messages.next().await {
    ///     let message = message?;
    ///     for part in &message.parts {
    ///         if let Some(text) = &part.text {
    ///             println!("{}: {text}", message.role.as_ref().map_or("?", |r| r.as_str()));
    ///         }
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn follow_conversation(&self, deployment_id: impl Into<String>) -> ConversationFollower {
        ConversationFollower::new(self.clone(), deployment_id.into())
    }
}

/// A fake deployment read in virtual time, for the waiter's and the follower's tests.
#[cfg(test)]
mod fakes {
    use std::{cell::RefCell, rc::Rc};

    use tokio::time::Instant;

    use crate::{types::AgentDeployment, Error};

    pub(crate) const ID: &str = "A-a5d782221843ac9aa99211e3b1949c01";

    pub(crate) fn deployment(status: &str) -> AgentDeployment {
        AgentDeployment {
            deployment_id: Some(ID.to_owned()),
            status: Some(status.into()),
            runtime_error: (status == "Failed")
                .then(|| "The backtest ended with a runtime error.".to_owned()),
            ..Default::default()
        }
    }

    /// What the fake server answers from a given virtual second on.
    #[derive(Clone, Copy)]
    pub(crate) enum Answer {
        Status(&'static str),
        Http(u16),
        Refused,
    }

    /// The virtual second of every read a fake answered.
    pub(crate) type ReadLog = Rc<RefCell<Vec<f64>>>;

    /// A fake `readAgentDeployment` following `timeline` in virtual time; records the
    /// virtual second of every read.
    pub(crate) fn fake(
        timeline: &[(f64, Answer)],
    ) -> (
        impl FnMut() -> std::future::Ready<Result<AgentDeployment, Error>>,
        ReadLog,
    ) {
        let start = Instant::now();
        let timeline = timeline.to_vec();
        let reads = Rc::new(RefCell::new(Vec::new()));
        let log = reads.clone();
        let read = move || {
            let at = start.elapsed().as_secs_f64();
            log.borrow_mut().push(at);
            let answer = timeline
                .iter()
                .rev()
                .find(|(from, _)| *from <= at)
                .map(|(_, a)| *a)
                .expect("timeline starts at 0");
            std::future::ready(match answer {
                Answer::Status(status) => Ok(deployment(status)),
                Answer::Http(status) => Err(Error::UnexpectedStatus {
                    operation: "readAgentDeployment",
                    status,
                    excerpt: String::new(),
                    retry_after: None,
                }),
                Answer::Refused => Err(Error::Api {
                    operation: "readAgentDeployment",
                    status: 200,
                    errors: vec!["Invalid argument".into()],
                }),
            })
        };
        (read, reads)
    }
}
