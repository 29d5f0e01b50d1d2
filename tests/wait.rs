//! The waiters wired to the real client, against an httpmock server (the schedule itself is
//! tested in virtual time in `src/wait.rs`).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::StreamExt;
use httpmock::prelude::*;
use quantconnect_agents::{
    wait::{Backoff, WaitError},
    Client, Credentials, DeploymentStatus,
};
use serde_json::json;

const DEPLOYMENT: &str = "A-a5d782221843ac9aa99211e3b1949c01";

fn client(server: &MockServer) -> Client {
    Client::new(&server.url("/api/v2"), Credentials::new("1", "token")).unwrap()
}

fn fast() -> Backoff {
    Backoff::new(Duration::from_millis(5), Duration::from_millis(20))
}

fn deployment(status: &str) -> serde_json::Value {
    json!({"deploymentId": DEPLOYMENT, "taskId": 332, "status": status, "runtimeError": null})
}

#[tokio::test]
async fn deploy_and_wait_creates_once_then_reads_until_completed() {
    let server = MockServer::start_async().await;
    let create = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v2/agents/deployments/create")
                .json_body(json!({"taskId": 332}));
            then.status(200).json_body(
                json!({"success": true, "deployment": deployment("InQueue"), "debug": {}}),
            );
        })
        .await;
    let read = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v2/agents/deployments/read")
                .json_body(json!({"deploymentId": DEPLOYMENT}));
            then.status(200)
                .json_body(json!({"success": true, "deployment": deployment("Completed")}));
        })
        .await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let done = client(&server)
        .deploy_and_wait(332)
        .backoff(fast())
        .on_status_change(move |d| log.lock().unwrap().push(d.status.clone().unwrap()))
        .await
        .unwrap();
    assert_eq!(done.status, Some(DeploymentStatus::Completed));
    create.assert_calls_async(1).await;
    read.assert_calls_async(1).await;
    assert_eq!(
        *seen.lock().unwrap(),
        [DeploymentStatus::InQueue, DeploymentStatus::Completed]
    );
}

#[tokio::test]
async fn a_failed_create_is_not_repeated() {
    let server = MockServer::start_async().await;
    let create = server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v2/agents/deployments/create");
            then.status(503).body("busy");
        })
        .await;
    let err = client(&server)
        .deploy_and_wait(332)
        .backoff(fast())
        .await
        .unwrap_err();
    assert!(
        matches!(err, WaitError::Request(ref e) if e.status() == Some(503)),
        "{err:?}"
    );
    create.assert_calls_async(1).await;
}

#[tokio::test]
async fn waiting_on_a_failed_deployment_gives_its_runtime_error() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v2/agents/deployments/read");
            then.status(200).json_body(json!({
                "success": true,
                "deployment": {"deploymentId": DEPLOYMENT, "status": "Failed",
                               "runtimeError": "The backtest ended with a runtime error."}
            }));
        })
        .await;
    let err = client(&server)
        .wait_for_deployment(DEPLOYMENT)
        .backoff(fast())
        .wait()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("The backtest ended with a runtime error."),
        "{err}"
    );
    assert!(matches!(err, WaitError::Failed { .. }));
}

#[tokio::test]
async fn following_a_finished_deployment_yields_its_whole_conversation_and_ends() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v2/agents/deployments/read");
            then.status(200)
                .json_body(json!({"success": true, "deployment": deployment("Completed")}));
        })
        .await;
    let conversation = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v2/agents/deployments/conversation/read")
                .json_body(json!({"deploymentId": DEPLOYMENT}));
            then.status(200).json_body(json!({"success": true, "conversation": {
                "id": DEPLOYMENT,
                "messages": [
                    {"id": "m1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]},
                    {"id": "m2", "role": "assistant", "parts": [{"type": "text", "text": "Hello"}]},
                    {"id": "m1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}
                ]
            }}));
        })
        .await;
    let client = client(&server);
    let messages: Vec<_> = client
        .follow_conversation(DEPLOYMENT)
        .backoff(fast())
        .stream()
        .collect()
        .await;
    let ids: Vec<_> = messages
        .into_iter()
        .map(|m| m.unwrap().id.unwrap())
        .collect();
    assert_eq!(ids, ["m1", "m2"]);
    conversation.assert_calls_async(1).await;
}
