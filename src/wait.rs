//! Waiting for a deployment to end, and following its conversation as it grows.
//!
//! # The polling schedule
//!
//! Both helpers read the deployment on a capped exponential schedule: the `n`-th delay
//! (from 0) is
//!
//! ```text
//! delay(n) = min(initial · 2ⁿ, max) · f,   f drawn uniformly from [1 − jitter, 1]
//! ```
//!
//! With the defaults (`initial` 1 s, `max` 10 s, `jitter` 0.09) the reads happen at about
//! 0, 1, 3, 7, 15, 25, 35, … seconds: a short deployment is noticed within about a second or
//! two of ending, and a long one costs one read per 10 s, like QuantConnect's own example
//! loop (which reads every 10 s), plus four reads in the first 15 s. The jitter only ever
//! shortens a delay, so completion is noticed at most `max` after it happens and polls from
//! many waiters do not fall into step. The jitter is 0.09 rather than a round 0.1 so that
//! even the unluckiest draws (every delay 9.1 s) stay within 10% of a fixed 10 s loop's read
//! count. The last delay is cut short so that one final read
//! happens exactly at the deadline ([`DEFAULT_MAX_WAIT`] unless set).
//!
//! Network errors and HTTP 429/502/503/504 ([`Error::is_transient`]) do not end the wait:
//! the next read follows the schedule. Any other error ends it. Dropping the future (or the
//! stream) stops polling at once.
//!
//! Each read is one call of the client, bounded by its request timeout
//! ([`ClientBuilder::request_timeout`](crate::ClientBuilder::request_timeout)); the maximum
//! wait also cuts off a read still in flight when it runs out, so a waiter never outlives
//! its `max_wait` by more than a moment.

use std::{
    collections::{HashSet, VecDeque},
    future::{Future, IntoFuture},
    pin::Pin,
    time::Duration,
};

use futures_util::Stream;
use tokio::time::{sleep, Instant};

pub use crate::backoff::Backoff;
use crate::{
    backoff::random_unit,
    types::{AgentConversationMessage, AgentDeployment},
    Client, DeploymentStatus, Error,
};

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
        "deployment {deployment_id} had not ended after {elapsed:?} (max wait {max_wait:?}, \
         {polls} reads); last status: {}",
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

fn id_of(deployment: &AgentDeployment) -> &str {
    deployment.deployment_id.as_deref().unwrap_or("(no id)")
}

type StatusCallback<'a> = Box<dyn FnMut(&AgentDeployment) + Send + 'a>;

enum Target {
    Deployment(String),
    Deploy(i64),
}

/// Waits for a deployment to end. Made by [`Client::wait_for_deployment`] and
/// [`Client::deploy_and_wait`]; `.await` it (or call [`wait`](Self::wait)).
///
/// Resolves to the deployment once it is `Completed`; `Failed`, `Stopped`, a maximum wait
/// that runs out and errors that waiting will not fix are [`WaitError`]s.
#[must_use = "a waiter does nothing until awaited"]
pub struct DeploymentWaiter<'a> {
    client: &'a Client,
    target: Target,
    max_wait: Duration,
    backoff: Backoff,
    on_status_change: Option<StatusCallback<'a>>,
    on_read: Option<ReadCallback<'a>>,
}

/// What [`DeploymentWaiter::on_read`] calls.
type ReadCallback<'a> = Box<dyn FnMut() + Send + 'a>;

impl std::fmt::Debug for DeploymentWaiter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match &self.target {
            Target::Deployment(id) => format!("deployment {id}"),
            Target::Deploy(task) => format!("new deployment of task {task}"),
        };
        f.debug_struct("DeploymentWaiter")
            .field("target", &target)
            .field("max_wait", &self.max_wait)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl<'a> DeploymentWaiter<'a> {
    fn new(client: &'a Client, target: Target) -> Self {
        DeploymentWaiter {
            client,
            target,
            max_wait: DEFAULT_MAX_WAIT,
            backoff: Backoff::default(),
            on_status_change: None,
            on_read: None,
        }
    }

    /// How long to wait at most ([`DEFAULT_MAX_WAIT`] unless set). The last read happens at
    /// this deadline.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// The polling schedule ([`Backoff::default`] unless set).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Calls `callback` with the deployment each time its status changes, the first
    /// reading included, so a program can show progress.
    pub fn on_status_change(mut self, callback: impl FnMut(&AgentDeployment) + Send + 'a) -> Self {
        self.on_status_change = Some(Box::new(callback));
        self
    }

    /// Calls `callback` each time a read of the deployment is sent, so a program can show
    /// how many reads the wait took (the deployment a creation returned is not a read).
    ///
    /// ```no_run
    /// # async fn run(client: quantconnect_agents::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::atomic::{AtomicU32, Ordering};
    ///
    /// let reads = AtomicU32::new(0);
    /// let done = client
    ///     .wait_for_deployment("A-a5d782221843ac9aa99211e3b1949c01")
    ///     .on_read(|| {
    ///         reads.fetch_add(1, Ordering::Relaxed);
    ///     })
    ///     .await?;
    /// println!("{:?} after {} reads", done.status, reads.load(Ordering::Relaxed));
    /// # Ok(()) }
    /// ```
    pub fn on_read(mut self, callback: impl FnMut() + Send + 'a) -> Self {
        self.on_read = Some(Box::new(callback));
        self
    }

    /// Waits; the same as `.await`ing the waiter.
    ///
    /// # Errors
    /// [`WaitError::Failed`] and [`WaitError::Stopped`] for those end states,
    /// [`WaitError::ExceededMaxWait`] when the maximum wait runs out,
    /// [`WaitError::Request`] when a request fails for good (or creating the deployment
    /// fails, for [`Client::deploy_and_wait`]).
    pub async fn wait(self) -> Result<AgentDeployment, WaitError> {
        let DeploymentWaiter {
            client,
            target,
            max_wait,
            backoff,
            on_status_change,
            mut on_read,
        } = self;
        let mut on_status_change = on_status_change;
        let notify = |d: &AgentDeployment| {
            if let Some(callback) = on_status_change.as_mut() {
                callback(d)
            }
        };
        let (deployment_id, first) = match target {
            Target::Deployment(id) => (id, None),
            Target::Deploy(task_id) => {
                let created = client.create_agent_deployment(task_id).await?;
                let id = created.deployment_id.clone().ok_or(Error::MissingPayload {
                    operation: "createAgentDeployment",
                    field: "deployment.deploymentId",
                })?;
                (id, Some(created))
            }
        };
        let read = || {
            if let Some(callback) = on_read.as_mut() {
                callback();
            }
            client.read_agent_deployment(&deployment_id)
        };
        poll_until_ended(
            &deployment_id,
            read,
            first,
            max_wait,
            backoff,
            random_unit,
            notify,
        )
        .await
    }
}

impl<'a> IntoFuture for DeploymentWaiter<'a> {
    type Output = Result<AgentDeployment, WaitError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.wait())
    }
}

/// The waiting loop behind [`Client::wait_for_deployment`], with its reads, jitter draws
/// (`unit`, uniform in [0, 1]) and status callback passed in: for another transport, or to
/// simulate a schedule (the benchmarks run it in paused tokio time against a fake).
///
/// `first` is a deployment already in hand (the one `createAgentDeployment` returned): it
/// stands for the first read, so the first request goes out after the first delay.
///
/// # Errors
/// As [`DeploymentWaiter::wait`].
pub async fn poll_until_ended<R, F>(
    deployment_id: &str,
    mut read: R,
    first: Option<AgentDeployment>,
    max_wait: Duration,
    backoff: Backoff,
    mut unit: impl FnMut() -> f64,
    mut on_status_change: impl FnMut(&AgentDeployment),
) -> Result<AgentDeployment, WaitError>
where
    R: FnMut() -> F,
    F: Future<Output = Result<AgentDeployment, Error>>,
{
    let start = Instant::now();
    let deadline = start.checked_add(max_wait);
    let mut polls = 0u32;
    let mut delays = 0u32;
    let mut pending = first;
    let mut last: Option<AgentDeployment> = None;
    let mut last_error: Option<Error> = None;
    let exceeded = |polls, last, last_error| {
        exceeded_max_wait(
            deployment_id,
            max_wait,
            start.elapsed(),
            polls,
            last,
            last_error,
        )
    };
    loop {
        let observed = match pending.take() {
            Some(deployment) => Ok(deployment),
            None => {
                polls += 1;
                // The maximum wait bounds the read in flight too.
                match before(deadline, read()).await {
                    Some(result) => result,
                    None => return Err(exceeded(polls, last, last_error)),
                }
            }
        };
        match observed {
            Ok(deployment) => {
                last_error = None;
                let previous = last.as_ref().and_then(|d| d.status.as_ref());
                if last.is_none() || deployment.status.as_ref() != previous {
                    log_status(deployment_id, &deployment);
                    on_status_change(&deployment);
                }
                match &deployment.status {
                    Some(DeploymentStatus::Completed) => return Ok(deployment),
                    Some(DeploymentStatus::Failed) => {
                        return Err(WaitError::Failed {
                            deployment: Box::new(deployment),
                        })
                    }
                    Some(DeploymentStatus::Stopped) => {
                        return Err(WaitError::Stopped {
                            deployment: Box::new(deployment),
                        })
                    }
                    Some(DeploymentStatus::InQueue)
                    | Some(DeploymentStatus::Running)
                    | Some(DeploymentStatus::Unknown(_))
                    | None => {}
                }
                last = Some(deployment);
            }
            Err(error) if error.is_transient() => {
                tracing::debug!(deployment_id, %error, "transient error while waiting; polling on");
                last_error = Some(error);
            }
            Err(error) => return Err(WaitError::Request(error)),
        }
        let now = Instant::now();
        let remaining = match deadline {
            Some(deadline) if now >= deadline => return Err(exceeded(polls, last, last_error)),
            Some(deadline) => deadline - now,
            None => Duration::MAX,
        };
        let delay = backoff.delay(delays, unit()).min(remaining);
        delays = delays.saturating_add(1);
        sleep(delay).await;
    }
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

/// Follows a deployment's conversation. Made by [`Client::follow_conversation`]; turn it
/// into a stream with [`stream`](Self::stream).
#[must_use = "a follower does nothing until streamed"]
#[derive(Debug)]
pub struct ConversationFollower<'a> {
    client: &'a Client,
    deployment_id: String,
    max_wait: Duration,
    backoff: Backoff,
}

impl<'a> ConversationFollower<'a> {
    /// How long to follow at most ([`DEFAULT_MAX_WAIT`] unless set); past it the stream
    /// yields [`WaitError::ExceededMaxWait`] and ends.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// The polling schedule ([`Backoff::default`] unless set).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The conversation's messages, each once, in order, as they appear.
    ///
    /// Each round reads the deployment, then its conversation
    /// (`/agents/deployments/conversation/read`), and yields the messages whose ids it has
    /// not yielded yet. While the deployment is active the newest message is held back,
    /// because the agent may still be writing it; once a round finds the deployment ended,
    /// its conversation read is the final one: the rest is yielded and the stream ends.
    /// A request that fails for good is yielded as an error and ends the stream; transient
    /// failures are retried on the schedule.
    pub fn stream(
        self,
    ) -> impl Stream<Item = Result<AgentConversationMessage, WaitError>> + Send + 'a {
        let ConversationFollower {
            client,
            deployment_id,
            max_wait,
            backoff,
        } = self;
        let id = deployment_id.clone();
        let read_deployment = move || {
            let id = id.clone();
            async move { client.read_agent_deployment(&id).await }
        };
        let id = deployment_id.clone();
        let read_conversation = move || {
            let id = id.clone();
            async move {
                client
                    .read_agent_conversation(&id)
                    .await
                    .map(|c| c.messages)
            }
        };
        follow(
            deployment_id,
            read_deployment,
            read_conversation,
            max_wait,
            backoff,
            random_unit,
        )
    }
}

struct Follow<D, C, U> {
    deployment_id: String,
    read_deployment: D,
    read_conversation: C,
    unit: U,
    backoff: Backoff,
    max_wait: Duration,
    start: Option<Instant>,
    delays: u32,
    polls: u32,
    seen: HashSet<String>,
    ready: VecDeque<AgentConversationMessage>,
    done: bool,
}

/// The follower's loop, with its reads and clock draws passed in.
pub(crate) fn follow<D, DF, C, CF, U>(
    deployment_id: String,
    read_deployment: D,
    read_conversation: C,
    max_wait: Duration,
    backoff: Backoff,
    unit: U,
) -> impl Stream<Item = Result<AgentConversationMessage, WaitError>>
where
    D: FnMut() -> DF,
    DF: Future<Output = Result<AgentDeployment, Error>>,
    C: FnMut() -> CF,
    CF: Future<Output = Result<Vec<AgentConversationMessage>, Error>>,
    U: FnMut() -> f64,
{
    let state = Follow {
        deployment_id,
        read_deployment,
        read_conversation,
        unit,
        backoff,
        max_wait,
        start: None,
        delays: 0,
        polls: 0,
        seen: HashSet::new(),
        ready: VecDeque::new(),
        done: false,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(message) = st.ready.pop_front() {
                return Some((Ok(message), st));
            }
            if st.done {
                return None;
            }
            let start = *st.start.get_or_insert_with(Instant::now);
            if st.polls > 0 {
                let now = Instant::now();
                let deadline = start.checked_add(st.max_wait);
                if deadline.is_some_and(|d| now >= d) {
                    st.done = true;
                    let error = exceeded_max_wait(
                        &st.deployment_id,
                        st.max_wait,
                        now - start,
                        st.polls,
                        None,
                        None,
                    );
                    return Some((Err(error), st));
                }
                let remaining = deadline.map_or(Duration::MAX, |d| d - now);
                let delay = st.backoff.delay(st.delays, (st.unit)()).min(remaining);
                st.delays = st.delays.saturating_add(1);
                sleep(delay).await;
            }
            st.polls += 1;
            // The maximum wait bounds the reads in flight too: one cut off by it ends the
            // stream at the check above.
            let deadline = start.checked_add(st.max_wait);
            let Some(read) = before(deadline, (st.read_deployment)()).await else {
                continue;
            };
            let ended = match read {
                Ok(deployment) => deployment
                    .status
                    .as_ref()
                    .is_some_and(DeploymentStatus::is_terminal),
                Err(error) if error.is_transient() => continue,
                Err(error) => {
                    st.done = true;
                    return Some((Err(error.into()), st));
                }
            };
            let Some(read) = before(deadline, (st.read_conversation)()).await else {
                continue;
            };
            let messages = match read {
                Ok(messages) => messages,
                Err(error) if error.is_transient() => continue,
                Err(error) => {
                    st.done = true;
                    return Some((Err(error.into()), st));
                }
            };
            let settled = if ended {
                messages.len()
            } else {
                messages.len().saturating_sub(1)
            };
            for (index, message) in messages.into_iter().enumerate().take(settled) {
                let key = message.id.clone().unwrap_or_else(|| format!("#{index}"));
                if st.seen.insert(key) {
                    st.ready.push_back(message);
                }
            }
            st.done = ended;
        }
    })
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
    pub fn wait_for_deployment(&self, deployment_id: impl Into<String>) -> DeploymentWaiter<'_> {
        DeploymentWaiter::new(self, Target::Deployment(deployment_id.into()))
    }

    /// Deploys a task and waits for the deployment to end: `createAgentDeployment`, then
    /// [`Client::wait_for_deployment`]. The create response counts as the first reading, so
    /// the first read goes out after the first delay. The create is sent once, never
    /// repeated.
    pub fn deploy_and_wait(&self, task_id: i64) -> DeploymentWaiter<'_> {
        DeploymentWaiter::new(self, Target::Deploy(task_id))
    }

    /// Follows a deployment's conversation: a stream of its messages as they appear, each
    /// once, ending after the deployment ends. See [`ConversationFollower::stream`].
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
    ///             println!("{}: {text}", message.role.as_deref().unwrap_or("?"));
    ///         }
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn follow_conversation(
        &self,
        deployment_id: impl Into<String>,
    ) -> ConversationFollower<'_> {
        ConversationFollower {
            client: self,
            deployment_id: deployment_id.into(),
            max_wait: DEFAULT_MAX_WAIT,
            backoff: Backoff::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{cell::RefCell, rc::Rc};

    use futures_util::StreamExt;

    use super::*;

    const ID: &str = "A-a5d782221843ac9aa99211e3b1949c01";

    fn deployment(status: &str) -> AgentDeployment {
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
    enum Answer {
        Status(&'static str),
        Http(u16),
        Refused,
    }

    /// The virtual second of every read a fake answered.
    type ReadLog = Rc<RefCell<Vec<f64>>>;

    /// A fake `readAgentDeployment` following `timeline` in virtual time; records the
    /// virtual second of every read.
    fn fake(
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

    struct Run {
        result: Result<AgentDeployment, WaitError>,
        reads: Vec<f64>,
        /// Virtual seconds from the start of the wait to its end.
        ended_at: f64,
        statuses: Vec<String>,
    }

    async fn run(timeline: &[(f64, Answer)], max_wait: Duration, unit: f64) -> Run {
        let (read, reads) = fake(timeline);
        let start = Instant::now();
        let mut statuses = Vec::new();
        let result = poll_until_ended(
            ID,
            read,
            None,
            max_wait,
            Backoff::default(),
            || unit,
            |d| statuses.push(d.status.as_ref().map_or("-".into(), |s| s.to_string())),
        )
        .await;
        let ended_at = start.elapsed().as_secs_f64();
        let reads = reads.borrow().clone();
        Run {
            result,
            reads,
            ended_at,
            statuses,
        }
    }

    /// The jitter draws to try: both ends of the range and a few in between.
    const UNITS: [f64; 4] = [0.0, 0.37, 0.81, 1.0];

    #[test]
    fn backoff_doubles_from_one_second_to_a_ten_second_cap_and_jitter_only_shortens() {
        let b = Backoff::default();
        let nominal: Vec<f64> = (0..7).map(|n| b.nominal_delay(n).as_secs_f64()).collect();
        assert_eq!(nominal, [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]);
        for n in 0..40 {
            assert_eq!(b.delay(n, 1.0), b.nominal_delay(n));
            let shortest = b.delay(n, 0.0).as_secs_f64();
            let expected = b.nominal_delay(n).as_secs_f64() * 0.91;
            assert!((shortest - expected).abs() < 1e-9, "{n}: {shortest}");
            assert!(b.delay(n, 0.5) <= Duration::from_secs(10));
        }
        assert_eq!(b.nominal_delay(u32::MAX), Duration::from_secs(10));
        let exact =
            Backoff::new(Duration::from_millis(10), Duration::from_millis(5)).with_jitter(0.0);
        assert_eq!(
            exact.delay(3, 0.0),
            Duration::from_millis(10),
            "max is at least initial"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn in_queue_5s_then_running_40s_costs_at_most_9_reads_and_is_noticed_within_10_5s() {
        let timeline = [
            (0.0, Answer::Status("InQueue")),
            (5.0, Answer::Status("Running")),
            (45.0, Answer::Status("Completed")),
        ];
        for unit in UNITS {
            let run = run(&timeline, DEFAULT_MAX_WAIT, unit).await;
            let done = run.result.expect("completed");
            assert_eq!(done.status, Some(DeploymentStatus::Completed));
            assert!(
                run.reads.len() <= 9,
                "unit {unit}: {} reads {:?}",
                run.reads.len(),
                run.reads
            );
            assert!(
                run.ended_at >= 45.0 && run.ended_at - 45.0 <= 10.5,
                "unit {unit}: {}",
                run.ended_at
            );
            assert_eq!(run.statuses, ["InQueue", "Running", "Completed"]);
        }
        // A fixed 10 s loop (QuantConnect's example) reads at 0, 10, 20, 30, 40, 50:
        // 6 reads, and notices at 50 s. The exact schedule: 0, 1, 3, 7, 15, 25, 35, 45.
        let run = run(&timeline, DEFAULT_MAX_WAIT, 1.0).await;
        assert_eq!(run.reads, [0.0, 1.0, 3.0, 7.0, 15.0, 25.0, 35.0, 45.0]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_3s_deployment_is_noticed_within_4s() {
        let timeline = [
            (0.0, Answer::Status("Running")),
            (3.0, Answer::Status("Completed")),
        ];
        for unit in UNITS {
            let run = run(&timeline, DEFAULT_MAX_WAIT, unit).await;
            assert!(run.result.is_ok());
            assert!(
                run.ended_at - 3.0 <= 4.0,
                "unit {unit}: noticed at {}",
                run.ended_at
            );
            assert!(run.reads.len() <= 4, "unit {unit}: {:?}", run.reads);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_30_minute_deployment_costs_at_most_10_percent_over_a_fixed_10s_loop_plus_4() {
        let timeline = [
            (0.0, Answer::Status("Running")),
            (1800.0, Answer::Status("Completed")),
        ];
        for unit in UNITS {
            let run = run(&timeline, DEFAULT_MAX_WAIT, unit).await;
            assert!(run.result.is_ok());
            // A fixed 10 s loop reads at 0, 10, …, 1800: 181 reads.
            assert!(
                run.reads.len() as f64 <= 181.0 * 1.1 + 4.0,
                "unit {unit}: {}",
                run.reads.len()
            );
            assert!(
                run.ended_at - 1800.0 <= 10.0,
                "unit {unit}: {}",
                run.ended_at
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failed_is_its_own_outcome_carrying_the_runtime_error() {
        let timeline = [
            (0.0, Answer::Status("Running")),
            (12.0, Answer::Status("Failed")),
        ];
        let run = run(&timeline, DEFAULT_MAX_WAIT, 1.0).await;
        match run.result {
            Err(ref e @ WaitError::Failed { ref deployment }) => {
                assert_eq!(
                    deployment.runtime_error.as_deref(),
                    Some("The backtest ended with a runtime error.")
                );
                assert!(e.to_string().contains("runtime error"), "{e}");
                assert!(e.deployment().is_some());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(run.ended_at, 15.0);
    }

    #[tokio::test(start_paused = true)]
    async fn stopped_is_its_own_outcome() {
        let timeline = [
            (0.0, Answer::Status("InQueue")),
            (2.0, Answer::Status("Stopped")),
        ];
        let run = run(&timeline, DEFAULT_MAX_WAIT, 1.0).await;
        assert!(
            matches!(run.result, Err(WaitError::Stopped { .. })),
            "{:?}",
            run.result
        );
        assert_eq!(run.reads, [0.0, 1.0, 3.0]);
    }

    #[tokio::test(start_paused = true)]
    async fn exceeding_the_max_wait_reports_elapsed_polls_and_the_last_deployment() {
        let timeline = [(0.0, Answer::Status("Running"))];
        let run = run(&timeline, Duration::from_secs(60), 1.0).await;
        match run.result {
            Err(WaitError::ExceededMaxWait {
                elapsed,
                polls,
                ref last,
                max_wait,
                ..
            }) => {
                assert_eq!(max_wait, Duration::from_secs(60));
                assert_eq!(elapsed, Duration::from_secs(60));
                assert_eq!(polls as usize, run.reads.len());
                assert_eq!(
                    last.as_ref().unwrap().status,
                    Some(DeploymentStatus::Running)
                );
            }
            ref other => panic!("{other:?}"),
        }
        // 0, 1, 3, 7, 15, 25, 35, 45, 55, and one final read at the deadline.
        assert_eq!(
            run.reads,
            [0.0, 1.0, 3.0, 7.0, 15.0, 25.0, 35.0, 45.0, 55.0, 60.0]
        );
        assert_eq!(run.ended_at, 60.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_503_in_the_middle_is_retried_on_schedule() {
        let timeline = [
            (0.0, Answer::Status("Running")),
            (2.0, Answer::Http(503)),
            (8.0, Answer::Status("Running")),
            (20.0, Answer::Status("Completed")),
        ];
        let run = run(&timeline, DEFAULT_MAX_WAIT, 1.0).await;
        assert!(run.result.is_ok(), "{:?}", run.result);
        assert_eq!(run.reads, [0.0, 1.0, 3.0, 7.0, 15.0, 25.0]);
        assert_eq!(run.statuses, ["Running", "Completed"]);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_until_the_deadline_keep_the_last_error() {
        let timeline = [(0.0, Answer::Status("Running")), (2.0, Answer::Http(502))];
        let run = run(&timeline, Duration::from_secs(20), 1.0).await;
        match run.result {
            Err(WaitError::ExceededMaxWait {
                last, last_error, ..
            }) => {
                assert!(last.is_some());
                assert_eq!(last_error.unwrap().status(), Some(502));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn success_false_ends_the_wait_at_once() {
        let timeline = [(0.0, Answer::Status("Running")), (2.0, Answer::Refused)];
        let run = run(&timeline, DEFAULT_MAX_WAIT, 1.0).await;
        match run.result {
            Err(WaitError::Request(e)) => assert_eq!(e.api_errors(), ["Invalid argument"]),
            other => panic!("{other:?}"),
        }
        assert_eq!(run.reads, [0.0, 1.0, 3.0]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_status_keeps_polling() {
        let timeline = [
            (0.0, Answer::Status("Provisioning")),
            (4.0, Answer::Status("Running")),
            (9.0, Answer::Status("Completed")),
        ];
        let run = run(&timeline, DEFAULT_MAX_WAIT, 1.0).await;
        assert!(run.result.is_ok());
        assert_eq!(run.statuses, ["Provisioning", "Running", "Completed"]);
        assert_eq!(run.ended_at, 15.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_deployment_in_hand_stands_for_the_first_read() {
        let (read, reads) = fake(&[
            (0.0, Answer::Status("Running")),
            (3.0, Answer::Status("Completed")),
        ]);
        let result = poll_until_ended(
            ID,
            read,
            Some(deployment("InQueue")),
            DEFAULT_MAX_WAIT,
            Backoff::default(),
            || 1.0,
            |_| {},
        )
        .await;
        assert!(result.is_ok());
        assert_eq!(*reads.borrow(), [1.0, 3.0]);
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_wait_stops_polling() {
        let (read, reads) = fake(&[(0.0, Answer::Status("Running"))]);
        let wait = poll_until_ended(
            ID,
            read,
            None,
            DEFAULT_MAX_WAIT,
            Backoff::default(),
            || 1.0,
            |_| {},
        );
        let timed_out = tokio::time::timeout(Duration::from_secs(20), wait).await;
        assert!(timed_out.is_err());
        let before = reads.borrow().len();
        assert_eq!(before, 5, "{:?}", reads.borrow());
        sleep(Duration::from_secs(600)).await;
        assert_eq!(
            reads.borrow().len(),
            before,
            "no read after the future was dropped"
        );
    }

    fn message(id: &str, text: &str) -> AgentConversationMessage {
        AgentConversationMessage {
            id: Some(id.to_owned()),
            role: Some("assistant".to_owned()),
            parts: vec![crate::types::AgentConversationMessagePart {
                type_: Some("text".to_owned()),
                text: Some(text.to_owned()),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_follower_yields_each_message_once_and_ends_after_the_deployment() {
        let (read_deployment, reads) = fake(&[
            (0.0, Answer::Status("Running")),
            (5.0, Answer::Http(503)),
            (6.0, Answer::Status("Running")),
            (20.0, Answer::Status("Completed")),
        ]);
        let start = Instant::now();
        // The conversation grows: one message at 0 s, two at 2 s, the second one still
        // being written until 8 s, three at 12 s.
        let read_conversation = move || {
            let at = start.elapsed().as_secs_f64();
            let mut messages = vec![message("m1", "Hello")];
            if at >= 2.0 {
                messages.push(message(
                    "m2",
                    if at >= 8.0 {
                        "Working on it, done."
                    } else {
                        "Working on"
                    },
                ));
            }
            if at >= 12.0 {
                messages.push(message("m3", "Backtest complete."));
            }
            std::future::ready(Ok(messages))
        };
        let stream = follow(
            ID.to_owned(),
            read_deployment,
            read_conversation,
            DEFAULT_MAX_WAIT,
            Backoff::default(),
            || 1.0,
        );
        let mut stream = std::pin::pin!(stream);
        let mut got = Vec::new();
        while let Some(item) = stream.next().await {
            let m = item.expect("no error");
            got.push((
                m.id.clone().unwrap(),
                m.parts[0].text.clone().unwrap(),
                start.elapsed().as_secs(),
            ));
        }
        let texts: Vec<_> = got
            .iter()
            .map(|(id, text, _)| (id.as_str(), text.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                ("m1", "Hello"),
                ("m2", "Working on it, done."),
                ("m3", "Backtest complete.")
            ],
            "each once, the one being written held back until it is settled"
        );
        // Reads at 0, 1, 3, 7 (503: no conversation read), 15, 25 (Completed: final).
        assert_eq!(*reads.borrow(), [0.0, 1.0, 3.0, 7.0, 15.0, 25.0]);
        assert_eq!(got.last().unwrap().2, 25);
    }

    #[tokio::test(start_paused = true)]
    async fn the_follower_ends_with_an_error_when_a_read_fails_for_good() {
        let (read_deployment, _) =
            fake(&[(0.0, Answer::Status("Running")), (2.0, Answer::Refused)]);
        let read_conversation =
            || std::future::ready(Ok(vec![message("m1", "a"), message("m2", "b")]));
        let stream = follow(
            ID.to_owned(),
            read_deployment,
            read_conversation,
            DEFAULT_MAX_WAIT,
            Backoff::default(),
            || 1.0,
        );
        let items: Vec<_> = stream.collect().await;
        assert_eq!(items.len(), 2, "m1, then the error");
        assert_eq!(items[0].as_ref().unwrap().id.as_deref(), Some("m1"));
        assert!(matches!(items[1], Err(WaitError::Request(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn the_follower_gives_up_at_its_max_wait() {
        let (read_deployment, _) = fake(&[(0.0, Answer::Status("Running"))]);
        let read_conversation = || std::future::ready(Ok(Vec::new()));
        let stream = follow(
            ID.to_owned(),
            read_deployment,
            read_conversation,
            Duration::from_secs(30),
            Backoff::default(),
            || 1.0,
        );
        let items: Vec<_> = stream.collect().await;
        assert_eq!(items.len(), 1);
        assert!(matches!(items[0], Err(WaitError::ExceededMaxWait { .. })));
    }
}
