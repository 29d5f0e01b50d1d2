//! Per-call overhead: the same `readAgentTask` through the client as users get it
//! (`Client::builder(..).build()`, its own HTTP client) and through a minimal hand-written
//! call on a fresh, plain `reqwest::Client::new()` (signed, decoded into the same type): the
//! floor shares nothing with the client under test. Both run on one thread against a
//! loopback server on another thread that answers instantly, in interleaved batches so that
//! drift hits both. Each batch is timed in wall time and in the calling thread's CPU time
//! (which then holds the client's work and its connections', not the server's).
//! Prints `RESULT {json}` for `cargo xtask bench`.

use std::{
    convert::Infallible,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use quantconnect_agents::{types, Client, Credentials};
use tokio::net::TcpListener;

const BODY: &str = include_str!("../tests/recordings/readAgentTask.success.json");

async fn serve(listener: TcpListener, body: Bytes) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let body = body.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_: Request<hyper::body::Incoming>| {
                let body = body.clone();
                async move {
                    let mut response = Response::new(Full::new(body));
                    response
                        .headers_mut()
                        .insert("content-type", "application/json".parse().unwrap());
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to fill in.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // One thread for server and callers alike: no scheduling noise between the two.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let recording: serde_json::Value = serde_json::from_str(BODY).unwrap();
    let body = Bytes::from(recording["response"]["body"].to_string());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/api/v2", listener.local_addr().unwrap());
    // The server on a thread of its own, like a server process: its work is in neither
    // arm's CPU time.
    std::thread::spawn(move || {
        let server = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        server.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            serve(TcpListener::from_std(listener).unwrap(), body).await
        });
    });
    runtime.block_on(async {
        let credentials = Credentials::new("123456", "9b4c6e1a0f3d2b8e7c5a4f1e0d9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3928170");
        // The client as users build it; the floor on an HTTP client of its own.
        let client = Client::builder(credentials.clone())
            .base_url(&base)
            .build()
            .unwrap();
        let raw = reqwest::Client::new();
        let url = format!("{base}/agents/tasks/read");
        let via_client = || async {
            let task = client.read_agent_task(332).await.unwrap();
            assert_eq!(task.id, Some(332));
        };
        let via_raw = || async {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
            let signature = credentials.sign(now.as_secs());
            let response: types::AgentTaskResponse = raw
                .post(&url)
                .header("authorization", signature.authorization)
                .header("timestamp", signature.timestamp)
                .json(&serde_json::json!({"taskId": 332}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(response.success, Some(true));
            assert_eq!(response.task.unwrap().id, Some(332));
        };

        // `--only client|raw N`: just N calls one way, for a profiler (callgrind counts).
        let args: Vec<String> = std::env::args().collect();
        if let Some(i) = args.iter().position(|a| a == "--only") {
            let n: usize = args[i + 2].parse().unwrap();
            for _ in 0..n {
                if args[i + 1] == "client" {
                    via_client().await;
                } else {
                    via_raw().await;
                }
            }
            return;
        }
        let (rounds, batch) = if quick { (401, 50) } else { (1001, 50) };
        for _ in 0..300 {
            via_client().await;
            via_raw().await;
        }
        let (mut ratios, mut cpu_ratios) = (Vec::new(), Vec::new());
        let (mut client_us, mut raw_us, mut client_cpu_us, mut raw_cpu_us) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            // (wall, cpu) of each arm in this round.
            let mut measure_client = (Duration::ZERO, Duration::ZERO);
            let mut measure_raw = (Duration::ZERO, Duration::ZERO);
            for turn in 0..2 {
                // Alternate which goes first, round by round.
                let client_turn = (round + turn) % 2 == 0;
                let (started, cpu) = (Instant::now(), thread_cpu());
                for _ in 0..batch {
                    if client_turn {
                        via_client().await;
                    } else {
                        via_raw().await;
                    }
                }
                let spent = (started.elapsed(), thread_cpu() - cpu);
                let arm = if client_turn {
                    &mut measure_client
                } else {
                    &mut measure_raw
                };
                arm.0 += spent.0;
                arm.1 += spent.1;
            }
            let per_call = |d: Duration| d.as_secs_f64() * 1e6 / batch as f64;
            let (c, r) = (per_call(measure_client.0), per_call(measure_raw.0));
            let (c_cpu, r_cpu) = (per_call(measure_client.1), per_call(measure_raw.1));
            client_us.push(c);
            raw_us.push(r);
            client_cpu_us.push(c_cpu);
            raw_cpu_us.push(r_cpu);
            ratios.push(c / r);
            cpu_ratios.push(c_cpu / r_cpu);
        }
        let ratio = median(ratios);
        let cpu_ratio = median(cpu_ratios);
        let (client_us, raw_us) = (median(client_us), median(raw_us));
        let (client_cpu_us, raw_cpu_us) = (median(client_cpu_us), median(raw_cpu_us));
        println!("per call, wall: client {client_us:.1} µs, plain reqwest {raw_us:.1} µs; CPU: {client_cpu_us:.1} µs / {raw_cpu_us:.1} µs ({rounds} rounds of {batch} calls each, interleaved)");
        println!("overhead ratio: {ratio:.2} wall, {cpu_ratio:.2} CPU");
        println!(
            "RESULT {}",
            serde_json::json!({
                "overhead_ratio": ratio, "cpu_ratio": cpu_ratio,
                "client_us": client_us, "raw_us": raw_us,
                "client_cpu_us": client_cpu_us, "raw_cpu_us": raw_cpu_us,
                "rounds": rounds, "batch": batch
            })
        );
    });
}
