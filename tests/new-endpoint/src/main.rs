//! Calls `readAgentDeploymentLogs`, an operation that exists only in the spec of the crate
//! copy it builds against (see `Cargo.toml`): with `Client::send` against a one-shot HTTP
//! server on 127.0.0.1, and against the simulator, which has no handler for it.

use quantconnect_agents::{
    operation::OperationKind, simulator::Simulator, types, Client, Credentials, Error, Operation,
};
use tokio::net::TcpListener;

const LOGS: &str =
    r#"{"success":true,"logs":["2026-11-30 14:00:00 Launching analysis","Algorithm completed"]}"#;

/// Answers one request with the logs and returns the request as received.
async fn serve_once(listener: TcpListener) -> String {
    let (mut stream, _) = listener.accept().await.expect("accept");
    one_shot::answer(&mut stream, LOGS).await
}

#[tokio::main]
async fn main() {
    let request = types::ReadAgentDeploymentLogsRequest {
        deployment_id: "A-1".into(),
    };
    // What the spec says about it came with the build: not marked x-idempotent, a write.
    assert_eq!(
        types::ReadAgentDeploymentLogsRequest::ID,
        "readAgentDeploymentLogs"
    );
    assert_eq!(
        types::ReadAgentDeploymentLogsRequest::PATH,
        "/agents/deployments/logs/read"
    );
    assert_eq!(
        types::ReadAgentDeploymentLogsRequest::KIND,
        OperationKind::Write
    );

    // A local server: the typed logs come back.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/api/v2", listener.local_addr().unwrap());
    let server = tokio::spawn(serve_once(listener));
    let client = Client::new(&url, Credentials::new("1", "token")).expect("client");
    let logs = client.send(&request).await.expect("send").logs;
    assert_eq!(
        logs,
        [
            "2026-11-30 14:00:00 Launching analysis",
            "Algorithm completed"
        ]
    );
    let received = server.await.unwrap();
    assert!(
        received.starts_with("POST /api/v2/agents/deployments/logs/read HTTP/1.1\r\n"),
        "{received}"
    );
    let lower = received.to_ascii_lowercase();
    assert!(
        lower.contains("\r\nauthorization: basic "),
        "unsigned: {received}"
    );
    assert!(lower.contains("\r\ntimestamp: "), "unsigned: {received}");
    assert!(
        received.ends_with(r#"{"deploymentId":"A-1"}"#),
        "{received}"
    );

    // The simulator routes by the same table and says it does not simulate it.
    let simulator = Simulator::start().await.expect("simulator");
    match simulator.client().send(&request).await {
        Err(Error::Api {
            operation, errors, ..
        }) => {
            assert_eq!(operation, "readAgentDeploymentLogs");
            assert!(
                errors.iter().any(|e| e.contains("readAgentDeploymentLogs")),
                "{errors:?}"
            );
            println!(
                "new-endpoint: readAgentDeploymentLogs, added to the spec only, sent with \
                 Client::send: {} log lines; the simulator says: {}",
                logs.len(),
                errors.join("; ")
            );
        }
        other => panic!("the simulator should refuse an operation it does not simulate: {other:?}"),
    }
}
