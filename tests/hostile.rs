//! Hostile and broken responses, each from a real HTTP server on 127.0.0.1 (the embedded
//! simulator with an injected fault): no panic, a typed error, a bounded read, no request
//! that may have taken effect sent twice.

mod common;

use std::time::{Duration, Instant};

use quantconnect_agents::{
    simulator::{Fault, FaultKind, Simulator},
    Client, Error, DEFAULT_MAX_RESPONSE_BYTES,
};

async fn server() -> Simulator {
    Simulator::start().await.unwrap()
}

fn client(sim: &Simulator, timeout: Duration) -> Client {
    common::client_of(sim)
        .request_timeout(timeout)
        .build()
        .unwrap()
}

fn respond(status: u16, content_type: &str, body: impl Into<String>) -> FaultKind {
    FaultKind::Respond {
        status,
        content_type: content_type.into(),
        body: body.into(),
    }
}

fn count(sim: &Simulator, operation: &str) -> usize {
    sim.requests().iter().filter(|op| *op == operation).count()
}

async fn create_task(client: &Client) -> Result<i64, Error> {
    common::create_task(client, "hostile").await
}

/// Injects `fault` on readAgentTask and returns what a read gets, and how many reads the
/// server saw.
async fn read_with(fault: FaultKind) -> (Error, usize) {
    let sim = server().await;
    let client = client(&sim, Duration::from_secs(2));
    let task = create_task(&client).await.unwrap();
    sim.inject(Fault::new(fault).on("readAgentTask"));
    let err = client.read_agent_task(task).await.unwrap_err();
    (err, count(&sim, "readAgentTask"))
}

#[tokio::test]
async fn an_html_502_page_is_retried_then_reported_with_an_excerpt() {
    let (err, reads) = read_with(FaultKind::HtmlPage(502)).await;
    assert!(
        matches!(&err, Error::UnexpectedStatus { status: 502, excerpt, .. } if excerpt.contains("502 Bad Gateway")),
        "{err:?}"
    );
    assert_eq!(reads, 3);
}

#[tokio::test]
async fn an_empty_500_is_not_retried() {
    let (err, reads) = read_with(FaultKind::Status(500)).await;
    assert!(
        matches!(&err, Error::UnexpectedStatus { status: 500, excerpt, .. } if excerpt == "(empty body)"),
        "{err:?}"
    );
    assert_eq!(reads, 1);
}

#[tokio::test]
async fn truncated_json_is_an_invalid_response() {
    let (err, reads) = read_with(respond(
        200,
        "application/json",
        r#"{"success": true, "task": {"id": 3"#,
    ))
    .await;
    assert!(
        matches!(&err, Error::InvalidResponse { status: 200, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("EOF"), "{err}");
    assert_eq!(reads, 1);
}

#[tokio::test]
async fn a_100_mb_body_is_not_read_past_the_limit() {
    for declare_length in [true, false] {
        let started = Instant::now();
        let (err, reads) = read_with(FaultKind::LargeBody {
            bytes: 100 * 1024 * 1024,
            declare_length,
        })
        .await;
        assert!(
            matches!(
                err,
                Error::ResponseTooLarge {
                    limit: DEFAULT_MAX_RESPONSE_BYTES,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(reads, 1, "a body too large is not fetched again");
        assert!(err.to_string().contains("larger than"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}

#[tokio::test]
async fn a_write_whose_answer_is_too_large_has_an_unknown_outcome() {
    let sim = server().await;
    sim.inject(
        Fault::new(FaultKind::LargeBody {
            bytes: 100 * 1024 * 1024,
            declare_length: true,
        })
        .on("createAgentTask"),
    );
    let err = create_task(&client(&sim, Duration::from_secs(2)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
}

#[tokio::test]
async fn the_content_type_is_not_trusted_either_way() {
    let task = r#"{"success": true, "task": {"id": 332}}"#;
    let sim = server().await;
    let client = client(&sim, Duration::from_secs(2));
    sim.inject(
        Fault::new(respond(200, "text/plain", task))
            .on("readAgentTask")
            .times(1),
    );
    assert_eq!(
        client.read_agent_task(332).await.unwrap().id,
        Some(332),
        "JSON under text/plain decodes"
    );
    sim.inject(
        Fault::new(respond(
            200,
            "application/json",
            "<html><body>Maintenance</body></html>",
        ))
        .on("readAgentTask"),
    );
    let err = client.read_agent_task(332).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidResponse { excerpt, .. } if excerpt.contains("Maintenance")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_server_that_drips_cannot_hold_a_call_past_its_deadline() {
    let sim = server().await;
    let client = client(&sim, Duration::from_secs(1));
    let task = create_task(&client).await.unwrap();
    sim.inject(
        Fault::new(FaultKind::Drip)
            .on("readAgentTask")
            .on("updateAgentTask"),
    );

    let started = Instant::now();
    let err = client.read_agent_task(task).await.unwrap_err();
    assert!(
        matches!(err, Error::Timeout { limit, attempts: 1, .. } if limit == Duration::from_secs(1)),
        "{err:?}"
    );
    assert!(err.is_transient());
    // The timeout bounds the whole call: the drip holds the one attempt until it runs out,
    // and no retry starts that it would cut off.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(count(&sim, "readAgentTask"), 1);

    let started = Instant::now();
    let err = client
        .update_agent_task(task, |t| t.name("renamed".to_owned()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::OutcomeUnknown { source, .. } if matches!(**source, Error::Timeout { .. })),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(count(&sim, "updateAgentTask"), 1, "a write is never resent");
}

#[tokio::test]
async fn a_connection_reset_mid_body_is_retried_for_reads_and_unknown_for_writes() {
    let (err, reads) = read_with(FaultKind::ResetMidBody).await;
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(reads, 3);

    let sim = server().await;
    sim.inject(Fault::new(FaultKind::ResetMidBody).on("createAgentTask"));
    let err = create_task(&client(&sim, Duration::from_secs(2)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(count(&sim, "createAgentTask"), 1);
}

#[tokio::test]
async fn a_connection_dropped_after_a_create_was_received_sends_it_once() {
    let sim = server().await;
    let client = client(&sim, Duration::from_secs(2));
    sim.inject(Fault::new(FaultKind::DropConnectionAfterEffect).on("createAgentTask"));
    let err = create_task(&client).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::OutcomeUnknown {
                operation: "createAgentTask",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("outcome is unknown"), "{err}");
    assert_eq!(count(&sim, "createAgentTask"), 1);
    assert_eq!(
        client.list_agent_tasks().await.unwrap().len(),
        1,
        "it did take effect"
    );
}

#[tokio::test]
async fn success_false_without_errors_is_still_a_failure() {
    let (err, _) = read_with(respond(200, "application/json", r#"{"success": false}"#)).await;
    assert!(
        matches!(&err, Error::Api { errors, .. } if errors.is_empty()),
        "{err:?}"
    );
    assert!(err.to_string().contains("no reason given"), "{err}");
}

#[tokio::test]
async fn numbers_out_of_range_are_invalid_responses() {
    for body in [
        r#"{"success": true, "task": {"id": 18446744073709551616}}"#,
        r#"{"success": true, "task": {"id": 1e400}}"#,
        r#"{"success": true, "task": {"id": 1.5}}"#,
    ] {
        let (err, _) = read_with(respond(200, "application/json", body)).await;
        assert!(
            matches!(err, Error::InvalidResponse { .. }),
            "{body}: {err:?}"
        );
    }
}

#[tokio::test]
async fn json_nested_10000_deep_is_an_invalid_response_not_a_stack_overflow() {
    let deep = format!(
        r#"{{"success": true, "task": {{"notifications": [{{"deep": {}{}}}]}}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let (err, _) = read_with(respond(200, "application/json", deep)).await;
    assert!(
        matches!(&err, Error::InvalidResponse { source, .. } if source.to_string().contains("recursion limit")),
        "{err:?}"
    );
    assert!(err.to_string().len() < 1000, "the message stays short");
}

#[tokio::test]
async fn a_429_is_retried_after_retry_after() {
    let sim = server().await;
    let client = client(&sim, Duration::from_secs(2));
    sim.inject(
        Fault::new(FaultKind::TooManyRequests { retry_after: 1 })
            .on("listAgents")
            .times(1),
    );
    let started = Instant::now();
    let agents = client.list_agents().await.unwrap();
    assert_eq!(agents.len(), 1);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(count(&sim, "listAgents"), 2);
}
