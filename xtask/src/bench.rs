//! `cargo xtask bench`: runs the benchmarks in `benches/` in a short mode and prints one
//! summary table, with the `overhead ratio` line.

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use serde_json::Value;

/// Runs `cargo bench --bench <name> -- <args>` in `root`, echoing its lines, and returns
/// its stdout.
fn cargo_bench(root: &Path, name: &str, args: &[&str]) -> Result<String, String> {
    eprintln!("running benches/{name}.rs ...");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(root)
        .args(["bench", "--quiet", "--bench", name, "--"])
        .args(args)
        .output()
        .map_err(|e| format!("cannot run cargo bench: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "benches/{name}.rs failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(stdout)
}

/// The `RESULT {json}` lines of a bench's output.
fn results(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .filter_map(|json| serde_json::from_str(json).ok())
        .collect()
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {cpu}")
}

pub fn run(root: &Path) -> Result<ExitCode, String> {
    // 1. Signing (criterion, short).
    cargo_bench(
        root,
        "signing",
        &["--warm-up-time", "1", "--measurement-time", "3", "--noplot"],
    )?;
    let estimates = target_dir(root).join("criterion/signing/new/estimates.json");
    let estimates: Value = std::fs::read_to_string(&estimates)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| format!("no criterion estimates at {}", estimates.display()))?;
    let signing_ns = estimates["mean"]["point_estimate"]
        .as_f64()
        .unwrap_or(f64::NAN);

    // 2. Per-call overhead; 3. and 4. waiters.
    let overhead = results(&cargo_bench(root, "overhead", &["--quick"])?);
    let waiters = results(&cargo_bench(root, "waiters", &["--quick"])?);
    let overhead = overhead
        .first()
        .ok_or("benches/overhead.rs printed no result")?;

    let ratio = overhead["overhead_ratio"].as_f64().unwrap_or(f64::NAN);
    let cpu_ratio = overhead["cpu_ratio"].as_f64().unwrap_or(f64::NAN);
    let mut rows = vec![
        format!(
            "| signing, per request | {:.2} µs | < 2 µs | {} |",
            signing_ns / 1000.0,
            verdict(signing_ns < 2000.0)
        ),
        format!(
            "| readAgentTask on loopback, wall time: client / a fresh plain reqwest::Client, median of {} interleaved rounds | ratio {ratio:.3} (per call, medians: {:.1} µs / {:.1} µs) | ratio ≤ 1.05 | {} |",
            overhead["rounds"],
            overhead["client_us"].as_f64().unwrap_or(f64::NAN),
            overhead["raw_us"].as_f64().unwrap_or(f64::NAN),
            verdict(ratio <= 1.05)
        ),
        format!(
            "| the same, CPU time of the calling thread | ratio {cpu_ratio:.3} (per call, medians: {:.1} µs / {:.1} µs) | ratio ≤ 1.05 | {} |",
            overhead["client_cpu_us"].as_f64().unwrap_or(f64::NAN),
            overhead["raw_cpu_us"].as_f64().unwrap_or(f64::NAN),
            verdict(cpu_ratio <= 1.05)
        ),
    ];
    for w in waiters.iter().filter(|w| w.get("waiter").is_some()) {
        let num = |key: &str| w[key].as_f64().unwrap_or(f64::NAN);
        let (notice, fixed_notice) = (num("notice_mean_s"), num("fixed_notice_mean_s"));
        rows.push(format!(
            "| waiter, deployments of {} ± {} s: reads, mean (most) / noticed after, mean | {:.1} ({}) / {notice:.1} s; fixed 10 s loop: {:.1} / {fixed_notice:.1} s | reads ≤ 1.1 × fixed + 4, noticed sooner | {} |",
            w["waiter"].as_str().unwrap_or("?"),
            num("spread_s"),
            num("reads_mean"),
            w["reads_max"],
            num("fixed_reads_mean"),
            verdict(num("reads_headroom_min") >= 0.0 && notice < fixed_notice)
        ));
    }
    if let Some(f) = waiters.iter().find(|w| w.get("follower").is_some()) {
        let count = |key: &str| f[key].as_u64().unwrap_or(u64::MAX);
        let (round, first, after) = (
            count("requests_per_round_max"),
            count("rounds_first_minute_max"),
            count("rounds_per_minute_after_max"),
        );
        rows.push(format!(
            "| follower, a 30 min deployment: requests a round / rounds in the first minute, mean (most) / rounds in any minute after, most | {round} / {:.1} ({first}) / {after} | ≤ 2 / ≤ 10 / ≤ 7 | {} |",
            f["rounds_first_minute_mean"].as_f64().unwrap_or(f64::NAN),
            verdict(round <= 2 && first <= 10 && after <= 7)
        ));
    }
    if let Some(c) = waiters
        .iter()
        .find(|w| w.get("concurrent_waiters").is_some())
    {
        let mb = c["peak_rss_bytes"].as_f64().unwrap_or(f64::NAN) / 1e6;
        // Every connection the client opened, the one that created the deployments included:
        // the requests in flight are capped at `pool`, the connections only by hyper's pool.
        let connections = c["connections_in_all"].as_u64().unwrap_or(u64::MAX);
        let pool = c["pool"].as_u64().unwrap_or(0);
        rows.push(format!(
            "| {} concurrent waiters (simulator, 3 s deployments) | {:.1} s, {} reads, {mb:.1} MB peak, {connections} connections in all ({pool} requests in flight at most) | < 64 MB | {} |",
            c["concurrent_waiters"],
            c["wall_s"].as_f64().unwrap_or(f64::NAN),
            c["reads"],
            verdict(mb < 64.0)
        ));
    }

    println!();
    println!("machine: {}", machine());
    println!();
    println!("| measure | result | goal | met |");
    println!("| --- | --- | --- | --- |");
    for row in rows {
        println!("{row}");
    }
    println!();
    println!("overhead ratio: {ratio:.2} wall, {cpu_ratio:.2} CPU");
    Ok(ExitCode::SUCCESS)
}

fn verdict(met: bool) -> &'static str {
    if met {
        "yes"
    } else {
        "no"
    }
}
