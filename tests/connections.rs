//! The client opens no more connections than it keeps: concurrent requests beyond the pool
//! wait for a pooled connection instead of opening another, and connections the server
//! closes are replaced, whether it says so (`Connection: close`) or not.

mod common;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use common::capture_logs;
use quantconnect_agents::{retry::RetryPolicy, simulator::Simulator, Client, Credentials, Error};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

const BODY: &str = r#"{"success":true,"errors":[]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_open_no_more_connections_than_the_pool_keeps() {
    // Without the cap, about half the rounds open a few more (measured); with it, none may.
    for round in 0..3 {
        let cap = 16;
        let sim = Simulator::start().await.unwrap();
        let client = common::client_of(&sim)
            .max_concurrent_requests(cap)
            .build()
            .unwrap();
        let task = common::create_task(&client, "connections").await.unwrap();
        // Like many waiters: each task reads a few times, a few milliseconds apart, so that
        // requests start while others finish.
        let tasks = (0..1000u64).map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                for read in 0..6u64 {
                    client.read_agent_task(task).await?;
                    tokio::time::sleep(Duration::from_millis((i * 7 + read * 3) % 5)).await;
                }
                Ok::<_, quantconnect_agents::Error>(())
            })
        });
        for outcome in futures_util::future::join_all(tasks).await {
            outcome.unwrap().unwrap();
        }
        let opened = sim.connections_accepted();
        assert!(
            opened <= cap,
            "round {round}: {opened} connections for a pool of {cap}"
        );
    }
}

/// A server that answers every request with `BODY` and closes the connection after it:
/// saying so with `Connection: close`, or silently. Counts the connections it accepts.
async fn closing_server(say_so: bool) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v2", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                // Small requests arrive whole; read until the blank line and the body.
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.ends_with(b"{}") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let connection = if say_so { "close" } else { "keep-alive" };
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: {connection}\r\ncontent-length: {}\r\n\r\n{BODY}",
                    BODY.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (base, accepted)
}

/// Runs `calls` authentications `apart` from one another against a server that closes
/// every connection, with a pool of one; returns the client's debug log.
async fn authenticate_in_turn(say_so: bool, calls: usize, apart: Duration) -> String {
    let (captured, _guard) = capture_logs(tracing::Level::DEBUG);
    let (base, accepted) = closing_server(say_so).await;
    let client = Client::builder(Credentials::new("1", "token"))
        .base_url(&base)
        .max_concurrent_requests(1)
        .build()
        .unwrap();
    for call in 0..calls {
        client
            .authenticate()
            .await
            .unwrap_or_else(|e| panic!("call {call}: {e}"));
        tokio::time::sleep(apart).await;
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        calls,
        "one connection a call"
    );
    captured.text()
}

#[tokio::test]
async fn connections_the_server_closes_with_connection_close_are_replaced_at_once() {
    let log = authenticate_in_turn(true, 5, Duration::from_millis(20)).await;
    assert!(!log.contains("replacing a closed one"), "{log}");
}

#[tokio::test]
async fn connections_closed_silently_long_ago_are_replaced_at_once() {
    // Nothing can be on its way back to the pool a second after the last request.
    let log = authenticate_in_turn(false, 3, Duration::from_millis(1100)).await;
    assert!(!log.contains("replacing a closed one"), "{log}");
}

#[tokio::test]
async fn connections_the_server_closes_silently_are_replaced_after_a_wait() {
    // Right after a request, its connection may be on its way back: worth a wait.
    let log = authenticate_in_turn(false, 3, Duration::from_millis(20)).await;
    assert_eq!(log.matches("replacing a closed one").count(), 2, "{log}");
}

#[tokio::test]
async fn connections_dropped_by_timeouts_are_forgotten_after_one_wait() {
    let (captured, _guard) = capture_logs(tracing::Level::DEBUG);

    // The first two requests get no answer in time; the rest at once.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v2", listener.local_addr().unwrap());
    let answered = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let answered = answered.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_| {
                    let answered = answered.clone();
                    async move {
                        if answered.fetch_add(1, Ordering::SeqCst) < 2 {
                            tokio::time::sleep(Duration::from_secs(2)).await;
                        }
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(
                            http_body_util::Full::new(bytes::Bytes::from_static(BODY.as_bytes())),
                        ))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let client = Client::builder(Credentials::new("1", "token"))
        .base_url(&base)
        .max_concurrent_requests(2)
        .request_timeout(Duration::from_millis(500))
        .retry_policy(RetryPolicy::disabled())
        .build()
        .unwrap();

    // Both connections are dropped with their timed-out requests, unseen by the count.
    let (a, b) = tokio::join!(client.authenticate(), client.authenticate());
    assert!(matches!(a, Err(Error::Timeout { .. })), "{a:?}");
    assert!(matches!(b, Err(Error::Timeout { .. })), "{b:?}");
    // Right after them, a request waits once for a connection that does not come back...
    client.authenticate().await.unwrap();
    // ... and then the count is right again: two requests at once get two connections, the
    // second one opened at once rather than after the first request is done with its own.
    let (a, b) = tokio::join!(client.authenticate(), client.authenticate());
    a.unwrap();
    b.unwrap();
    let log = captured.text();
    assert_eq!(log.matches("replacing a closed one").count(), 1, "{log}");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        4,
        "2 timed out, 1 replaced, 1 added"
    );
}
