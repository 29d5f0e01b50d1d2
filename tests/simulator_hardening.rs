//! The simulator holds up against clients that misbehave: other methods than POST, signatures
//! dated in the future, oversized bodies, connections that never finish a request head, and
//! schedules too long for the clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use quantconnect_agents::{
    simulator::{Schedule, Simulator, HEADER_READ_TIMEOUT, MAX_BODY_BYTES},
    Error,
};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A request to `path` of `sim` with `method`, signed with `timestamp`.
fn signed(
    sim: &Simulator,
    method: reqwest::Method,
    path: &str,
    timestamp: u64,
) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, format!("{}{path}", sim.base_url()))
        .header(
            "authorization",
            sim.credentials().sign(timestamp).authorization,
        )
        .header("timestamp", timestamp.to_string())
}

/// The tasks of the simulated organization.
async fn tasks(sim: &Simulator) -> usize {
    sim.client().list_agent_tasks().await.unwrap().len()
}

/// Sends `head` on a new connection to `sim` and reads until the server closes it.
async fn raw(sim: &Simulator, head: &str) -> String {
    let addr = sim.base_url();
    let addr = addr
        .trim_start_matches("http://")
        .trim_end_matches("/api/v2");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn other_methods_than_post_get_405_and_do_nothing() {
    let sim = Simulator::start().await.unwrap();
    let body = serde_json::json!({
        "organizationId": sim.organization_id(),
        "agentId": 47,
        "name": "Hello",
        "prompt": "Print Hello World",
        "projectPreference": "project-for-task",
    });
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let response = signed(&sim, method.clone(), "/agents/tasks/create", now())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method}");
        assert_eq!(response.headers()["allow"], "POST");
        let text = response.text().await.unwrap();
        assert!(text.contains("only POST"), "{text}");
    }
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
    assert_eq!(tasks(&sim).await, 0);

    // The same request as a POST creates the task.
    let response = signed(&sim, reqwest::Method::POST, "/agents/tasks/create", now())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(tasks(&sim).await, 1);
}

#[tokio::test]
async fn a_timestamp_ahead_of_the_clock_past_the_tolerance_gets_401() {
    let sim = Simulator::start().await.unwrap();
    // A correct signature, dated an hour ahead: it would stay valid for three hours.
    let response = signed(&sim, reqwest::Method::POST, "/authenticate", now() + 3600)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("in the future"), "{challenge}");

    // Within the tolerance (60 s) it is accepted, as a slightly fast clock must be.
    let response = signed(&sim, reqwest::Method::POST, "/authenticate", now() + 30)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_announced_or_chunked() {
    let sim = Simulator::start().await.unwrap();
    // Valid JSON padded to exactly the limit is read and answered.
    let mut at_limit = br#"{"agentId": 47}"#.to_vec();
    at_limit.resize(MAX_BODY_BYTES, b' ');
    let response = signed(&sim, reqwest::Method::POST, "/agents/read", now())
        .header("content-type", "application/json")
        .body(at_limit)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["success"], true, "{answer}");

    let too_large = vec![b' '; 2 * MAX_BODY_BYTES];
    let response = signed(&sim, reqwest::Method::POST, "/agents/read", now())
        .body(too_large.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);

    // Chunked, so the length is not announced: refused once it passes the limit.
    let chunks = futures_util::stream::iter(
        too_large
            .chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let response = signed(&sim, reqwest::Method::POST, "/agents/read", now())
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(
        sim.requests(),
        ["readAgent", "readAgent", "readAgent"],
        "both large bodies reached the server"
    );
}

/// Paused time: were the body waited for, the clock would run to the timeout and fail.
#[tokio::test(start_paused = true)]
async fn an_announced_length_over_the_limit_gets_413_before_the_body_is_read() {
    let sim = Simulator::start().await.unwrap();
    let timestamp = now();
    let signature = sim.credentials().sign(timestamp);
    // 100 MiB announced, 2 bytes sent: the answer comes without the rest.
    let head = format!(
        "POST /api/v2/agents/read HTTP/1.1\r\nHost: sim\r\nAuthorization: {}\r\n\
         Timestamp: {timestamp}\r\nContent-Type: application/json\r\n\
         Content-Length: 104857600\r\n\r\n{{}}",
        signature.authorization.to_str().unwrap()
    );
    let answer = tokio::time::timeout(Duration::from_secs(60), raw(&sim, &head))
        .await
        .expect("answered without waiting for the announced body");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("over 1048576 bytes"), "{answer}");
}

#[tokio::test(start_paused = true)]
async fn a_connection_without_a_complete_head_is_closed_after_the_timeout() {
    let sim = Simulator::start().await.unwrap();
    for head in ["", "POST /api/v2/authenticate HTTP/1.1\r\nHost: sim\r\n"] {
        let start = tokio::time::Instant::now();
        let mut closed = Box::pin(raw(&sim, head));
        // Still open just before the timeout...
        let early = HEADER_READ_TIMEOUT - Duration::from_secs(1);
        assert!(
            tokio::time::timeout(early, &mut closed).await.is_err(),
            "closed before {early:?}: {head:?}"
        );
        // ...and closed at it, without a response to a request never completed.
        let answer = closed.await;
        assert!(
            start.elapsed() >= HEADER_READ_TIMEOUT,
            "{:?}",
            start.elapsed()
        );
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn a_schedule_too_long_for_the_clock_is_refused_without_a_panic() {
    let longest = Schedule {
        in_queue: Schedule::LONGEST,
        running: Schedule::LONGEST,
        failure: None,
    };
    let sim = Simulator::builder()
        .schedule(longest)
        .start()
        .await
        .unwrap();
    // A deployment that stays in the queue for a century is created and read.
    let client = sim.client();
    let task = client
        .create_agent_task(
            47,
            "Long",
            "Wait",
            quantconnect_agents::ProjectPreference::ProjectForTask,
        )
        .await
        .unwrap();
    let deployment = client
        .create_agent_deployment(task.id.unwrap())
        .await
        .unwrap();
    assert_eq!(
        deployment.status,
        Some(quantconnect_agents::DeploymentStatus::InQueue)
    );

    for (in_queue, running) in [
        (
            Duration::ZERO,
            Duration::from_secs(10_000_000_000_000_000_000),
        ),
        (Duration::MAX, Duration::ZERO),
        (Schedule::LONGEST + Duration::from_nanos(1), Duration::ZERO),
    ] {
        let schedule = Schedule {
            in_queue,
            running,
            failure: None,
        };
        match Simulator::builder().schedule(schedule).start().await {
            Err(Error::Configuration { detail }) => {
                assert!(detail.contains("100 years"), "{detail}")
            }
            other => panic!("{in_queue:?} + {running:?}: {other:?}"),
        }
    }
}
