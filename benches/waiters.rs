//! What waiting costs.
//!
//! 1. In virtual time (paused tokio clock, a fake server): deployment reads issued and the
//!    delay between completion and notice, for deployments of about 3 s, 45 s (5 s in
//!    queue, then running) and 30 min, beside QuantConnect's fixed 10 s loop.
//! 2. In virtual time: the follower's requests (deployment and conversation reads) per
//!    round, in the first minute and in any minute after, for a 30 min deployment.
//! 3. For real: 1,000 deployments waited on concurrently in one process against the
//!    embedded simulator: wall time, peak memory, TCP connections opened.
//!
//! Prints `RESULT {json}` lines for `cargo xtask bench`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::{
    cell::Cell,
    hash::{BuildHasher, RandomState},
    rc::Rc,
    time::{Duration, Instant},
};

use quantconnect_agents::{
    fuzzing::{follow_conversation, poll_until_ended},
    simulator::{Schedule, Simulator},
    types::AgentDeployment,
    wait::{Backoff, DEFAULT_MAX_WAIT},
    DeploymentStatus,
};

/// Reads and notice delay of the waiter for a deployment that ends after `in_queue +
/// running`, with jitter draws from `unit`.
fn waiter(in_queue: Duration, running: Duration, mut unit: impl FnMut() -> f64) -> (u32, Duration) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async move {
        let start = tokio::time::Instant::now();
        let end = start + in_queue + running;
        let reads = Rc::new(Cell::new(0u32));
        let count = reads.clone();
        let read = move || {
            count.set(count.get() + 1);
            let now = tokio::time::Instant::now();
            let status = if now >= end {
                "Completed"
            } else if now >= start + in_queue {
                "Running"
            } else {
                "InQueue"
            };
            std::future::ready(Ok(AgentDeployment {
                status: Some(status.into()),
                ..Default::default()
            }))
        };
        poll_until_ended(
            "A-bench",
            read,
            None,
            DEFAULT_MAX_WAIT,
            Backoff::default(),
            &mut unit,
            |_| {},
        )
        .await
        .unwrap();
        (reads.get(), tokio::time::Instant::now() - end)
    })
}

/// What following a deployment of `total` costs, with jitter draws from `unit`: the most
/// requests in one round, the rounds in the first minute, and the most rounds in any
/// minute after it.
fn follower(total: Duration, unit: impl FnMut() -> f64) -> (usize, usize, usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async move {
        use futures_util::StreamExt as _;
        let start = tokio::time::Instant::now();
        // Each request: when, and whether it read the deployment (a round's first).
        let requests = Rc::new(std::cell::RefCell::new(Vec::<(f64, bool)>::new()));
        let log = requests.clone();
        let read_deployment = move || {
            let at = start.elapsed();
            log.borrow_mut().push((at.as_secs_f64(), true));
            let status = if at >= total { "Completed" } else { "Running" };
            std::future::ready(Ok(AgentDeployment {
                status: Some(status.into()),
                ..Default::default()
            }))
        };
        let log = requests.clone();
        let read_conversation = move || {
            log.borrow_mut()
                .push((start.elapsed().as_secs_f64(), false));
            std::future::ready(Ok(Vec::new()))
        };
        let events = follow_conversation(
            "A-bench".into(),
            read_deployment,
            read_conversation,
            DEFAULT_MAX_WAIT,
            Backoff::default(),
            unit,
        );
        events.for_each(|_| std::future::ready(())).await;
        let requests = requests.borrow();
        let rounds: Vec<f64> = requests.iter().filter(|r| r.1).map(|r| r.0).collect();
        let per_round = requests
            .split(|r| r.1)
            .map(|rest| rest.len() + 1)
            .max()
            .unwrap_or(0);
        let first_minute = rounds.iter().filter(|&&t| t < 60.0).count();
        let most_after = rounds
            .iter()
            .filter(|&&t| t >= 60.0)
            .map(|&from| {
                rounds
                    .iter()
                    .filter(|&&t| t >= from && t < from + 60.0)
                    .count()
            })
            .max()
            .unwrap_or(0);
        (per_round, first_minute, most_after)
    })
}

/// QuantConnect's example: read at once, then every 10 s.
fn fixed_loop(total: Duration) -> (u32, Duration) {
    let reads = (total.as_secs_f64() / 10.0).ceil() as u32 + 1;
    let noticed = Duration::from_secs(10 * u64::from(reads - 1));
    (reads, noticed - total)
}

fn random() -> f64 {
    let bits = RandomState::new().hash_one(Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let s = Duration::from_secs;
    // A deployment never lasts exactly 45 s: each case is spread evenly over durations around
    // its nominal one (± half the fixed loop's period, or ± half the duration when shorter),
    // so that neither the waiter nor the fixed loop wins by the accident of its phase.
    for (name, in_queue, nominal) in [
        ("3 s", s(0), s(3)),
        ("45 s", s(5), s(45)),
        ("30 min", s(0), s(1800)),
    ] {
        let samples = if quick { 2000 } else { 10000 };
        let spread = (nominal / 2).min(s(5));
        let (mut reads, mut fixed_reads) = (0u64, 0u64);
        let (mut noticed, mut fixed_noticed) = (Duration::ZERO, Duration::ZERO);
        let (mut worst_reads, mut worst_notice) = (0, Duration::ZERO);
        // How far the most reads ever come under the budget (1.1 × the fixed loop's + 4).
        let mut least_headroom = f64::INFINITY;
        for k in 0..samples {
            let total = nominal - spread + (spread * 2).mul_f64((k as f64 + 0.5) / samples as f64);
            let running = total.saturating_sub(in_queue);
            let (r, n) = waiter(in_queue, running, random);
            // Every draw at the short end of the jitter: the most reads possible.
            let (most, _) = waiter(in_queue, running, || 0.0);
            let (fr, fnoticed) = fixed_loop(in_queue + running);
            reads += u64::from(r);
            noticed += n;
            fixed_reads += u64::from(fr);
            fixed_noticed += fnoticed;
            worst_reads = worst_reads.max(r.max(most));
            worst_notice = worst_notice.max(n);
            least_headroom = least_headroom.min(f64::from(fr) * 1.1 + 4.0 - f64::from(r.max(most)));
        }
        let mean = |total: f64| total / samples as f64;
        let mean_reads = mean(reads as f64);
        let mean_notice = mean(noticed.as_secs_f64());
        let fixed_mean_reads = mean(fixed_reads as f64);
        let fixed_mean_notice = mean(fixed_noticed.as_secs_f64());
        println!(
            "waiter, {name} (± {spread:?}): {mean_reads:.1} reads (at most {worst_reads}), noticed after {mean_notice:.2} s (at most {:.2} s); fixed 10 s loop: {fixed_mean_reads:.1} reads, noticed after {fixed_mean_notice:.2} s",
            worst_notice.as_secs_f64(),
        );
        println!(
            "RESULT {}",
            serde_json::json!({
                "waiter": name,
                "spread_s": spread.as_secs_f64(),
                "reads_mean": mean_reads,
                "reads_max": worst_reads,
                "reads_headroom_min": least_headroom,
                "notice_mean_s": mean_notice,
                "notice_max_s": worst_notice.as_secs_f64(),
                "fixed_reads_mean": fixed_mean_reads,
                "fixed_notice_mean_s": fixed_mean_notice,
            })
        );
    }

    // The follower of a 30 min deployment: on random draws, and with every draw at the
    // short end of the jitter (the most reads possible).
    let samples = if quick { 200 } else { 1000 };
    let (mut per_round, mut first_minute, mut per_minute) = (0, 0, 0);
    let (mut first_sum, mut after_sum) = (0, 0);
    for k in 0..=samples {
        let (r, f, a) = if k == samples {
            follower(s(1800), || 0.0)
        } else {
            follower(s(1800), random)
        };
        (per_round, first_minute, per_minute) =
            (per_round.max(r), first_minute.max(f), per_minute.max(a));
        if k < samples {
            (first_sum, after_sum) = (first_sum + f, after_sum + a);
        }
    }
    println!(
        "follower, 30 min: at most {per_round} requests a round; rounds in the first minute: {:.1} mean, {first_minute} most; in any minute after: {:.1} mean of the most, {per_minute} most",
        first_sum as f64 / samples as f64,
        after_sum as f64 / samples as f64,
    );
    println!(
        "RESULT {}",
        serde_json::json!({
            "follower": "30 min",
            "requests_per_round_max": per_round,
            "rounds_first_minute_max": first_minute,
            "rounds_first_minute_mean": first_sum as f64 / samples as f64,
            "rounds_per_minute_after_max": per_minute,
        })
    );

    let waiters = 1000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let simulator = Simulator::builder()
            .schedule(Schedule {
                in_queue: s(1),
                running: s(2),
                failure: None,
            })
            .start()
            .await
            .unwrap();
        let client = simulator.client();
        let task = common::create_task(&client, "bench").await.unwrap();
        let mut ids = Vec::with_capacity(waiters);
        for _ in 0..waiters {
            let deployment = client.create_agent_deployment(task).await.unwrap();
            ids.push(deployment.deployment_id.unwrap());
        }
        let reads_before = simulator.requests().len();
        let connections_before = simulator.connections_accepted();
        let started = Instant::now();
        let all = ids.iter().map(|id| {
            let client = client.clone();
            async move { client.wait_for_deployment(id.as_str()).await }
        });
        let outcomes = futures_util::future::join_all(all).await;
        let wall = started.elapsed();
        assert!(outcomes.iter().all(|o| matches!(o, Ok(d) if d.status == Some(DeploymentStatus::Completed))));
        let reads = simulator.requests().len() - reads_before;
        let connections = simulator.connections_accepted() - connections_before;
        let connections_in_all = simulator.connections_accepted();
        let peak = peak_rss_bytes().unwrap_or(0);
        println!(
            "{waiters} concurrent waiters: {:.1} s wall, {reads} reads, peak memory {:.1} MB, {connections} TCP connections opened while waiting, {connections_in_all} in all (pool: {})",
            wall.as_secs_f64(),
            peak as f64 / 1e6,
            quantconnect_agents::DEFAULT_MAX_CONCURRENT_REQUESTS
        );
        println!(
            "RESULT {}",
            serde_json::json!({
                "concurrent_waiters": waiters,
                "wall_s": wall.as_secs_f64(),
                "reads": reads,
                "peak_rss_bytes": peak,
                "connections": connections,
                "connections_in_all": connections_in_all,
                "pool": quantconnect_agents::DEFAULT_MAX_CONCURRENT_REQUESTS,
            })
        );
    });
}
