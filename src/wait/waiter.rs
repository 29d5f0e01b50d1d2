//! [`DeploymentWaiter`]: reads a deployment on the schedule until it ends.

use std::{
    future::{Future, IntoFuture},
    pin::Pin,
    time::Duration,
};

use tokio::time::{sleep, Instant};

use super::{before, exceeded_max_wait, log_status, Backoff, WaitError, DEFAULT_MAX_WAIT};
use crate::{backoff::random_unit, types::AgentDeployment, Client, DeploymentStatus, Error};

type StatusCallback<'a> = Box<dyn FnMut(&AgentDeployment) + Send + 'a>;

pub(super) enum Target {
    Deployment(String),
    Deploy(i64),
}

/// Waits for a deployment to end. Made by [`Client::wait_for_deployment`] and
/// [`Client::deploy_and_wait`]; `.await` it (or call [`wait`](Self::wait)).
///
/// Resolves to the deployment once it is `Completed`; `Failed`, `Stopped`, a maximum wait
/// that runs out and errors that waiting will not fix are [`WaitError`]s.
///
/// The waiter holds its own clone of the client (a [`Client`] is an `Arc` inside), so
/// neither it nor its future borrows the client: `tokio::spawn(client.wait_for_deployment(id).wait())`
/// works, as does `futures::future::join_all` over several. The lifetime `'a` is only that
/// of the callbacks ([`on_status_change`](Self::on_status_change), [`on_read`](Self::on_read)):
/// a waiter without callbacks, or with `'static` ones, is `DeploymentWaiter<'static>`
/// and its future is `Send + 'static`; callbacks that borrow locals make it borrow them too.
#[must_use = "a waiter does nothing until awaited"]
pub struct DeploymentWaiter<'a> {
    client: Client,
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

impl DeploymentWaiter<'static> {
    pub(super) fn new(client: Client, target: Target) -> Self {
        DeploymentWaiter {
            client,
            target,
            max_wait: DEFAULT_MAX_WAIT,
            backoff: Backoff::default(),
            on_status_change: None,
            on_read: None,
        }
    }
}

impl<'a> DeploymentWaiter<'a> {
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
    ///
    /// The waiter then lives no longer than the callback: a `'static` one (that owns what
    /// it uses, an `Arc` say) keeps the waiter's future spawnable.
    pub fn on_status_change<'b>(
        self,
        callback: impl FnMut(&AgentDeployment) + Send + 'b,
    ) -> DeploymentWaiter<'b>
    where
        'a: 'b,
    {
        // A waiter is covariant in `'a`: its callbacks may be seen as living shorter.
        let waiter: DeploymentWaiter<'b> = self;
        DeploymentWaiter {
            on_status_change: Some(Box::new(callback)),
            ..waiter
        }
    }

    /// Calls `callback` each time a read of the deployment is sent, so a program can show
    /// how many reads the wait took (the deployment a creation returned is not a read).
    /// As with [`on_status_change`](Self::on_status_change), the waiter then lives no
    /// longer than the callback.
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
    pub fn on_read<'b>(self, callback: impl FnMut() + Send + 'b) -> DeploymentWaiter<'b>
    where
        'a: 'b,
    {
        let waiter: DeploymentWaiter<'b> = self;
        DeploymentWaiter {
            on_read: Some(Box::new(callback)),
            ..waiter
        }
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
            let client = client.clone();
            let id = deployment_id.clone();
            async move { client.read_agent_deployment(&id).await }
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
/// (`unit`, uniform in [0, 1]) and status callback passed in, so that the waiter bench can
/// run it in paused tokio time against a fake (as `quantconnect_agents::fuzzing::poll_until_ended`).
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
                if deployment
                    .status
                    .as_ref()
                    .is_some_and(DeploymentStatus::is_terminal)
                {
                    return super::outcome(deployment);
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

#[cfg(test)]
mod tests {

    use super::*;

    use crate::wait::fakes::{deployment, fake, Answer, ID};

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
}
