//! The request timeout bounds the whole call (every attempt, backoff and `Retry-After` wait)
//! and a waiter's maximum wait bounds the read in flight, in paused tokio time against the
//! simulator: each case ends within its limit and its error says so.

mod common;

use std::time::Duration;

use quantconnect_agents::{
    retry::RetryPolicy,
    simulator::{Fault, FaultKind, Simulator},
    wait::WaitError,
    Client, Error,
};
use tokio::time::Instant;

const HOUR: Duration = Duration::from_secs(3600);

async fn setup(timeout: Duration) -> (Simulator, Client, i64) {
    let sim = Simulator::start().await.unwrap();
    let client = common::client_of(&sim)
        .request_timeout(timeout)
        .build()
        .unwrap();
    let task = common::create_task(&client, "deadline").await.unwrap();
    (sim, client, task)
}

fn count(sim: &Simulator, operation: &str) -> usize {
    sim.requests().iter().filter(|op| *op == operation).count()
}

/// The call took at least `limit` and at most a moment more.
fn ended_at(elapsed: Duration, limit: Duration) {
    assert!(
        elapsed >= limit && elapsed <= limit + Duration::from_millis(100),
        "took {elapsed:?}, limit {limit:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dripping_read_ends_at_the_timeout_in_one_attempt() {
    let limit = Duration::from_secs(60);
    let (sim, client, task) = setup(limit).await;
    sim.inject(Fault::new(FaultKind::Drip).on("readAgentTask"));

    let started = Instant::now();
    let err = client.read_agent_task(task).await.unwrap_err();
    ended_at(started.elapsed(), limit);
    match &err {
        Error::Timeout {
            operation,
            limit: l,
            elapsed,
            attempts,
        } => {
            assert_eq!((*operation, *l, *attempts), ("readAgentTask", limit, 1));
            ended_at(*elapsed, limit);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "readAgentTask: no answer within the 60 s request timeout (1 attempt, 60.0 s)"
    );
    assert_eq!(count(&sim, "readAgentTask"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_read_that_fails_twice_then_hangs_ends_at_the_timeout_with_three_attempts() {
    let limit = Duration::from_secs(60);
    let (sim, client, task) = setup(limit).await;
    sim.inject(
        Fault::new(FaultKind::Status(503))
            .on("readAgentTask")
            .times(2),
    );
    sim.inject(Fault::new(FaultKind::Latency(HOUR)).on("readAgentTask"));

    let started = Instant::now();
    let err = client.read_agent_task(task).await.unwrap_err();
    ended_at(started.elapsed(), limit);
    assert!(matches!(err, Error::Timeout { attempts: 3, .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "readAgentTask: no answer within the 60 s request timeout (3 attempts, 60.0 s)"
    );
    assert_eq!(count(&sim, "readAgentTask"), 3);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_longer_than_what_remains_ends_the_call_at_once() {
    let limit = Duration::from_secs(10);
    let (sim, client, task) = setup(limit).await;
    sim.inject(Fault::new(FaultKind::TooManyRequests { retry_after: 20 }).on("readAgentTask"));

    let started = Instant::now();
    let err = client.read_agent_task(task).await.unwrap_err();
    // No sleep of 20 s that the deadline would cut off: the 429 comes back at once.
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, Error::UnexpectedStatus { status: 429, .. }),
        "{err:?}"
    );
    assert_eq!(count(&sim, "readAgentTask"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_that_fits_is_honoured_until_the_next_would_not() {
    let limit = Duration::from_secs(10);
    let (sim, client, task) = setup(limit).await;
    sim.inject(Fault::new(FaultKind::TooManyRequests { retry_after: 4 }).on("readAgentTask"));

    let started = Instant::now();
    let err = client.read_agent_task(task).await.unwrap_err();
    // Sent at 0 s and 4 s; a third at 8 s would be the last of three attempts, sent at
    // 8 s < 10 s, so it goes too; then the attempts are spent.
    assert!(
        matches!(err, Error::UnexpectedStatus { status: 429, .. }),
        "{err:?}"
    );
    assert_eq!(count(&sim, "readAgentTask"), 3);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(8) && elapsed < limit,
        "{elapsed:?}"
    );

    // With 3 s left after the second attempt, a third 4 s later is not made.
    let limit = Duration::from_secs(7);
    let (sim, client, task) = setup(limit).await;
    sim.inject(Fault::new(FaultKind::TooManyRequests { retry_after: 4 }).on("readAgentTask"));
    let started = Instant::now();
    client.read_agent_task(task).await.unwrap_err();
    assert_eq!(count(&sim, "readAgentTask"), 2);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(4) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_write_that_times_out_is_of_unknown_outcome_with_the_same_facts() {
    let limit = Duration::from_secs(30);
    let (sim, client, task) = setup(limit).await;
    sim.inject(Fault::new(FaultKind::Latency(HOUR)).on("createAgentDeployment"));

    let started = Instant::now();
    let err = client.create_agent_deployment(task).await.unwrap_err();
    ended_at(started.elapsed(), limit);
    match &err {
        Error::OutcomeUnknown { source, .. } => assert!(
            matches!(**source, Error::Timeout { attempts: 1, limit: l, .. } if l == limit),
            "{source:?}"
        ),
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.starts_with("createAgentDeployment: the outcome is unknown")
            && text.ends_with("no answer within the 30 s request timeout (1 attempt, 30.0 s)"),
        "{text}"
    );
    assert_eq!(count(&sim, "createAgentDeployment"), 1, "never resent");
}

#[tokio::test(start_paused = true)]
async fn a_waiters_max_wait_bounds_the_read_in_flight() {
    // The request timeout (60 s) is longer than the wait (30 s): the read must be cut off
    // by the wait, not by its own timeout.
    let (sim, client, task) = setup(Duration::from_secs(60)).await;
    let deployment = client.create_agent_deployment(task).await.unwrap();
    let id = deployment.deployment_id.unwrap();
    sim.inject(Fault::new(FaultKind::Latency(HOUR)).on("readAgentDeployment"));

    let max_wait = Duration::from_secs(30);
    let started = Instant::now();
    let err = client
        .wait_for_deployment(id.clone())
        .max_wait(max_wait)
        .await
        .unwrap_err();
    ended_at(started.elapsed(), max_wait);
    assert!(
        matches!(&err, WaitError::ExceededMaxWait { polls: 1, max_wait: m, .. } if *m == max_wait),
        "{err:?}"
    );

    // The conversation follower too.
    use futures_util::StreamExt as _;
    let started = Instant::now();
    let items: Vec<_> = client
        .follow_conversation(id)
        .max_wait(max_wait)
        .stream()
        .collect()
        .await;
    ended_at(started.elapsed(), max_wait);
    assert!(
        matches!(items.as_slice(), [Err(WaitError::ExceededMaxWait { .. })]),
        "{items:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_too_long_for_the_clock_is_none_and_a_huge_retry_after_ends_the_call() {
    let sim = Simulator::start().await.unwrap();
    let client = common::client_of(&sim)
        .request_timeout(Duration::MAX)
        .retry_policy(RetryPolicy::default().max_retry_after(Duration::MAX))
        .build()
        .unwrap();
    let task = common::create_task(&client, "no deadline").await.unwrap();
    client.read_agent_task(task).await.unwrap();

    // A server asking for a wait longer than the clock can count: answered at once.
    sim.inject(
        Fault::new(FaultKind::TooManyRequests {
            retry_after: u64::MAX,
        })
        .on("readAgentTask"),
    );
    let started = Instant::now();
    let err = client.read_agent_task(task).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(100));
    assert!(
        matches!(err, Error::UnexpectedStatus { status: 429, .. }),
        "{err:?}"
    );
}
