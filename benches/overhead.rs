//! Per-call overhead: the same `readAgentTask` through the client and through a minimal
//! hand-written reqwest call (signed, decoded into the same type), against one in-process
//! loopback server that answers instantly, in interleaved batches so that drift hits both.
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
    runtime.block_on(async {
        let recording: serde_json::Value = serde_json::from_str(BODY).unwrap();
        let body = Bytes::from(recording["response"]["body"].to_string());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/api/v2", listener.local_addr().unwrap());
        tokio::spawn(serve(listener, body));

        let credentials = Credentials::new("123456", "9b4c6e1a0f3d2b8e7c5a4f1e0d9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3928170");
        // One HTTP client under both, so that only the layers above it differ.
        let raw = reqwest::Client::new();
        let client = Client::builder(credentials.clone())
            .base_url(&base)
            .http_client(raw.clone())
            .build()
            .unwrap();
        let url = format!("{base}/agents/tasks/read");

        let via_client = || async {
            let task = client.read_agent_task(332).await.unwrap();
            assert_eq!(task.id, Some(332));
        };
        let via_raw = || async {
            let signature = credentials.sign_now();
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
        let (mut ratios, mut client_us, mut raw_us) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let mut measure_client = Duration::ZERO;
            let mut measure_raw = Duration::ZERO;
            for turn in 0..2 {
                // Alternate which goes first, round by round.
                let client_turn = (round + turn) % 2 == 0;
                let started = Instant::now();
                for _ in 0..batch {
                    if client_turn {
                        via_client().await;
                    } else {
                        via_raw().await;
                    }
                }
                if client_turn {
                    measure_client += started.elapsed();
                } else {
                    measure_raw += started.elapsed();
                }
            }
            let c = measure_client.as_secs_f64() * 1e6 / batch as f64;
            let r = measure_raw.as_secs_f64() * 1e6 / batch as f64;
            client_us.push(c);
            raw_us.push(r);
            ratios.push(c / r);
        }
        let ratio = median(ratios);
        let client_us = median(client_us);
        let raw_us = median(raw_us);
        println!("per call: client {client_us:.1} µs, raw reqwest {raw_us:.1} µs ({rounds} rounds of {batch} calls each, interleaved)");
        println!("overhead ratio: {ratio:.2}");
        println!(
            "RESULT {}",
            serde_json::json!({"overhead_ratio": ratio, "client_us": client_us, "raw_us": raw_us, "rounds": rounds, "batch": batch})
        );
    });
}
