//! The simulator logs each request it answers as one `tracing` event at INFO. Alone in its
//! binary: run beside the other simulator tests, the thread's own subscriber saw none of the
//! events (tracing caches each callsite's interest process-wide).

mod common;

use quantconnect_agents::{
    retry::RetryPolicy,
    simulator::{Fault, FaultKind, Simulator},
};

#[tokio::test(flavor = "current_thread")]
async fn each_request_answered_is_one_info_event_with_its_fields() {
    let (logs, _guard) = common::capture_logs(tracing::Level::INFO);
    let sim = Simulator::start().await.unwrap();
    sim.inject(Fault::new(FaultKind::Status(500)).on("listAgents").times(1));
    let client = common::client_of(&sim)
        .retry_policy(RetryPolicy::disabled())
        .build()
        .unwrap();
    client.authenticate().await.unwrap();
    client.list_agents().await.unwrap_err();
    let lines: Vec<String> = logs
        .text()
        .lines()
        .filter(|l| l.contains("simulator request"))
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 2, "{}", logs.text());
    for (line, fields) in lines.iter().zip([
        &[
            "INFO",
            "method=POST",
            "path=/api/v2/authenticate",
            "operation=authenticate",
            "status=200",
            "latency=",
        ][..],
        &["operation=listAgents", "status=500", "fault=Status(500)"],
    ]) {
        for field in fields {
            assert!(line.contains(field), "{field} not in {line}");
        }
    }
}
