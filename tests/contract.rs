//! Contract tests: for every operation, the exact request the client sends (method, path,
//! JSON body, `Content-Type`, `Accept`, a signature the mock recomputes) and how every kind of answer
//! decodes. The success bodies are the recordings in `tests/recordings/`; every recording at
//! HTTP 200, and every answer of the simulator, survives a round trip through the generated
//! response type.

use std::{
    future::Future,
    pin::Pin,
    time::{SystemTime, UNIX_EPOCH},
};

use base64::Engine as _;
use httpmock::prelude::*;
use quantconnect_agents::{
    retry::{OperationKind, RetryPolicy},
    types,
    wait::Backoff,
    Client, Credentials, DeploymentStatus, Error, Operation, ProjectPreference,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const USER_ID: &str = "123456";
const API_TOKEN: &str = "contract-test-token-0f1e2d3c";
const ORG: &str = "5cad178b20a1d52567b534553413b691";
const DEPLOYMENT: &str = "A-a5d782221843ac9aa99211e3b1949c01";

type Call = for<'a> fn(&'a Client) -> Pin<Box<dyn Future<Output = Result<Value, Error>> + 'a>>;

/// One operation: its id, where its payload sits in the response, and a call of the client
/// that must produce the request recorded in `tests/recordings/<id>.success.json`.
struct Op {
    id: &'static str,
    payload: Option<&'static str>,
    call: Call,
}

fn to_json<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).expect("payloads serialize")
}

fn ops() -> Vec<Op> {
    vec![
        Op {
            id: "authenticate",
            payload: None,
            call: |c| Box::pin(async move { c.authenticate().await.map(to_json) }),
        },
        Op {
            id: "createAgent",
            payload: Some("agent"),
            call: |c| {
                Box::pin(async move {
                    c.create_agent(|a| {
                        a.name("Creative Fluorescent Orange Parrot")
                            .system_prompt(
                                "You are a quantitative researcher. Write, backtest and \
                                 explain LEAN algorithms."
                                    .to_owned(),
                            )
                            .reasoning_effort(quantconnect_agents::ReasoningEffort::High)
                            .max_turns(100)
                            .tool_choice("auto".to_owned())
                            .public(false)
                            .model("claude-opus-4-7".to_owned())
                            .use_qcc(true)
                    })
                    .await
                    .map(to_json)
                })
            },
        },
        Op {
            id: "readAgent",
            payload: Some("agent"),
            call: |c| Box::pin(async move { c.read_agent(105).await.map(to_json) }),
        },
        Op {
            id: "updateAgent",
            payload: None,
            call: |c| {
                Box::pin(async move {
                    c.update_agent(105, |a| {
                        a.name("Momentum Researcher".to_owned()).max_turns(50)
                    })
                    .await
                    .map(to_json)
                })
            },
        },
        Op {
            id: "deleteAgent",
            payload: None,
            call: |c| Box::pin(async move { c.delete_agent(105).await.map(to_json) }),
        },
        Op {
            id: "listAgents",
            payload: Some("agents"),
            call: |c| Box::pin(async move { c.list_agents().await.map(to_json) }),
        },
        Op {
            id: "createAgentTask",
            payload: Some("task"),
            call: |c| {
                Box::pin(async move {
                    c.create_agent_task(
                        47,
                        "Print Hello World Message",
                        "Write an algorithm that buys and holds SPY and prints Hello World.",
                        ProjectPreference::ProjectForTask,
                    )
                    .await
                    .map(to_json)
                })
            },
        },
        Op {
            id: "readAgentTask",
            payload: Some("task"),
            call: |c| Box::pin(async move { c.read_agent_task(332).await.map(to_json) }),
        },
        Op {
            id: "updateAgentTask",
            payload: None,
            call: |c| {
                Box::pin(async move {
                    c.update_agent_task(332, |t| {
                        t.name("Test - Print Hello World Message".to_owned())
                    })
                    .await
                    .map(to_json)
                })
            },
        },
        Op {
            id: "deleteAgentTask",
            payload: None,
            call: |c| Box::pin(async move { c.delete_agent_task(332).await.map(to_json) }),
        },
        Op {
            id: "listAgentTasks",
            payload: Some("tasks"),
            call: |c| Box::pin(async move { c.list_agent_tasks().await.map(to_json) }),
        },
        Op {
            id: "createAgentDeployment",
            payload: Some("deployment"),
            call: |c| Box::pin(async move { c.create_agent_deployment(332).await.map(to_json) }),
        },
        Op {
            id: "readAgentDeployment",
            payload: Some("deployment"),
            call: |c| {
                Box::pin(async move { c.read_agent_deployment(DEPLOYMENT).await.map(to_json) })
            },
        },
        Op {
            id: "updateAgentDeployment",
            payload: Some("message"),
            call: |c| {
                Box::pin(async move {
                    c.prompt_agent_deployment(DEPLOYMENT, "Replace SPY for QQQ")
                        .await
                        .map(to_json)
                })
            },
        },
        Op {
            id: "listAgentDeployments",
            payload: Some("deployments"),
            call: |c| Box::pin(async move { c.list_agent_deployments(332).await.map(to_json) }),
        },
        Op {
            id: "stopAgentDeployment",
            payload: None,
            call: |c| {
                Box::pin(async move { c.stop_agent_deployment(DEPLOYMENT).await.map(to_json) })
            },
        },
        Op {
            id: "deleteAgentDeployment",
            payload: None,
            call: |c| {
                Box::pin(async move { c.delete_agent_deployment(DEPLOYMENT).await.map(to_json) })
            },
        },
        Op {
            id: "readAgentConversation",
            payload: Some("conversation"),
            call: |c| {
                Box::pin(async move { c.read_agent_conversation(DEPLOYMENT).await.map(to_json) })
            },
        },
    ]
}

fn recording(name: &str) -> Value {
    let path = format!(
        "{}/tests/recordings/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn client(server: &MockServer) -> Client {
    client_with(server, RetryPolicy::disabled())
}

fn client_with(server: &MockServer, retry: RetryPolicy) -> Client {
    Client::builder(Credentials::new(USER_ID, API_TOKEN))
        .base_url(server.url("/api/v2"))
        .organization_id(ORG)
        .retry_policy(retry)
        .build()
        .unwrap()
}

/// Recomputes the signature from the request's own `Timestamp` header, independently of
/// the crate's code, and checks that the timestamp is current.
fn signed(req: &HttpMockRequest) -> bool {
    signed_for_clock(req, 0)
}

/// As [`signed`], for a server whose clock is `offset` seconds ahead of this machine's.
fn signed_for_clock(req: &HttpMockRequest, offset: i64) -> bool {
    let headers = req.headers();
    let Some(timestamp) = headers
        .get("timestamp")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return false;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now.saturating_add_signed(offset).abs_diff(timestamp) > 60 {
        return false;
    }
    let hash: String = Sha256::digest(format!("{API_TOKEN}:{timestamp}"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER_ID}:{hash}"))
    );
    headers.get("authorization").map(|v| v.as_bytes()) == Some(expected.as_bytes())
}

/// What the generated types write back: documented fields only, and no `null`, `[]` or
/// `{}` (they are skipped on encoding because they mean the same as an absent field).
fn normalized(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !is_empty(v))
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[tokio::test]
async fn every_operation_sends_its_exact_signed_request_and_decodes_its_recording() {
    let ops = ops();
    // Every operation the spec has (the generated table), each pinned here once.
    let pinned: Vec<&str> = ops.iter().map(|op| op.id).collect();
    let spec: Vec<&str> = quantconnect_agents::operation::OPERATIONS
        .iter()
        .map(|op| op.id)
        .collect();
    assert_eq!(
        pinned, spec,
        "a contract case for each operation of openapi.yaml, in its order"
    );
    for op in &ops {
        let server = MockServer::start_async().await;
        let recorded = recording(&format!("{}.success", op.id));
        assert_eq!(recorded["operation"], op.id);
        let info = quantconnect_agents::operation::find(op.id).unwrap();
        assert_eq!(
            recorded["path"], info.path,
            "{}: the recording's path",
            op.id
        );
        let path = format!("/api/v2{}", recorded["path"].as_str().unwrap());
        let request = recorded["request"].clone();
        let response = recorded["response"]["body"].clone();
        let mock = server
            .mock_async(|when, then| {
                when.method(POST)
                    .path(path.clone())
                    .is_true(signed)
                    .header("content-type", "application/json")
                    .header("accept", "application/json")
                    // progenitor's own send() adds this header; the API does not document it.
                    .header_missing("api-version")
                    .json_body(request.clone());
                then.status(200)
                    .header("content-type", "application/json")
                    .json_body(response.clone());
            })
            .await;

        let payload = (op.call)(&client(&server))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", op.id));
        mock.assert_calls_async(1).await;

        let expected = match op.payload {
            Some(key) => normalized(&response[key]),
            None => Value::Null,
        };
        assert_eq!(normalized(&payload), expected, "{}: decoded payload", op.id);
    }
}

/// `body` decoded into `O`'s response type and encoded again.
fn through<O: Operation>(body: &Value) -> Result<Value, String> {
    let decoded: O::Response = serde_json::from_value(body.clone()).map_err(|e| e.to_string())?;
    Ok(to_json(decoded))
}

/// `body` through the response type of the operation `id` (`None`: no such operation).
fn round_trip(id: &str, body: &Value) -> Option<Result<Value, String>> {
    macro_rules! by_request_type {
        ($($request:ident),+ $(,)?) => {
            $(if id == <types::$request as Operation>::ID {
                return Some(through::<types::$request>(body));
            })+
        };
    }
    by_request_type!(
        AuthenticateRequest,
        CreateAgentRequest,
        ReadAgentRequest,
        UpdateAgentRequest,
        DeleteAgentRequest,
        ListAgentsRequest,
        CreateAgentTaskRequest,
        ReadAgentTaskRequest,
        UpdateAgentTaskRequest,
        DeleteAgentTaskRequest,
        ListAgentTasksRequest,
        CreateAgentDeploymentRequest,
        ReadAgentDeploymentRequest,
        UpdateAgentDeploymentRequest,
        ListAgentDeploymentsRequest,
        StopAgentDeploymentRequest,
        DeleteAgentDeploymentRequest,
        ReadAgentConversationRequest,
    );
    None
}

/// Panics unless `body` survives the round trip through `id`'s response type unchanged
/// (up to what `normalized` ignores): nothing undocumented, dropped or of another type.
fn assert_round_trips(what: &str, id: &str, body: &Value) {
    let back = round_trip(id, body)
        .unwrap_or_else(|| panic!("{what}: `{id}` is not an operation: add it to round_trip"))
        .unwrap_or_else(|e| panic!("{what}: the generated type rejects it: {e}"));
    assert_eq!(normalized(&back), normalized(body), "{what}: round trip");
}

#[test]
fn every_recording_at_200_round_trips_through_its_response_type() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/recordings");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str()?.strip_suffix(".json"))
        else {
            continue;
        };
        let doc = recording(name);
        if doc["response"]["status"] == 200 {
            let id = doc["operation"].as_str().unwrap_or_default();
            assert_round_trips(name, id, &doc["response"]["body"]);
            checked += 1;
        }
    }
    // One success per operation, and the failures QuantConnect answers at 200.
    assert!(
        checked > quantconnect_agents::operation::OPERATIONS.len(),
        "{checked}"
    );
}

/// The whole lifecycle against the simulator, each answer sent as raw JSON and checked as
/// the recordings are: the simulator's answers decode losslessly into the generated types.
#[tokio::test]
async fn every_simulator_answer_round_trips_through_its_response_type() {
    use quantconnect_agents::simulator::{Schedule, Simulator};
    let sim = Simulator::builder()
        .schedule(Schedule {
            in_queue: std::time::Duration::from_millis(20),
            running: std::time::Duration::from_millis(50),
            failure: None,
        })
        .start()
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let mut exercised = std::collections::BTreeSet::new();
    // Sends operation `id` with `request` and checks its answer, which it returns.
    let mut call = async |id: &'static str, request: Value| -> Value {
        let path = quantconnect_agents::operation::find(id).unwrap().path;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        let signature = sim.credentials().sign(now.unwrap().as_secs());
        let response = http
            .post(format!("{}{path}", sim.base_url()))
            .header("authorization", signature.authorization)
            .header("timestamp", signature.timestamp.to_string())
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{id}");
        let body: Value = response.json().await.unwrap();
        assert_round_trips(&format!("the simulator's {id}"), id, &body);
        exercised.insert(id);
        body
    };
    let org = sim.organization_id().to_owned();

    call("authenticate", json!({})).await;
    call("listAgents", json!({"organizationId": org})).await;
    let agent = call(
        "createAgent",
        json!({"organizationId": org, "name": "round trip", "maxTurns": 5, "public": false}),
    )
    .await["agent"]["id"]
        .clone();
    call("readAgent", json!({"agentId": agent})).await;
    call("updateAgent", json!({"agentId": agent, "name": "renamed"})).await;
    let task = call(
        "createAgentTask",
        json!({"organizationId": org, "agentId": agent, "name": "Hello",
               "prompt": "Print Hello World.", "projectPreference": "project-for-task"}),
    )
    .await["task"]["id"]
        .clone();
    call("readAgentTask", json!({"taskId": task})).await;
    call(
        "updateAgentTask",
        json!({"taskId": task, "name": "Hello again"}),
    )
    .await;
    call("listAgentTasks", json!({"organizationId": org})).await;
    let deployment = call("createAgentDeployment", json!({"taskId": task})).await["deployment"]
        ["deploymentId"]
        .clone();
    let read = json!({"deploymentId": deployment});
    let mut status = Value::Null;
    for _ in 0..200 {
        status = call("readAgentDeployment", read.clone()).await["deployment"]["status"].clone();
        if status == "Completed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(status, "Completed");
    call("listAgentDeployments", json!({"taskId": task})).await;
    call(
        "updateAgentDeployment",
        json!({"deploymentId": deployment, "prompt": "Now QQQ."}),
    )
    .await;
    call("readAgentConversation", read.clone()).await;
    call("stopAgentDeployment", read.clone()).await;
    call("deleteAgentDeployment", read).await;
    call("deleteAgentTask", json!({"taskId": task})).await;
    call("deleteAgent", json!({"agentId": agent})).await;
    let gone = call("readAgentTask", json!({"taskId": task})).await;
    assert_eq!(
        gone,
        json!({"success": false, "errors": ["Invalid argument"]})
    );

    let all: std::collections::BTreeSet<_> = quantconnect_agents::operation::OPERATIONS
        .iter()
        .map(|op| op.id)
        .collect();
    assert_eq!(exercised, all, "every operation exercised");
}

#[tokio::test]
async fn reads_are_retried_on_overload_and_writes_are_not() {
    let retry = RetryPolicy::default().backoff(Backoff::new(
        std::time::Duration::from_millis(1),
        std::time::Duration::from_millis(2),
    ));
    for op in ops() {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                when.method(POST).path_prefix("/api/v2/");
                then.status(503)
                    .header("content-type", "text/html")
                    .body(HTML_502);
            })
            .await;
        let err = (op.call)(&client_with(&server, retry)).await.unwrap_err();
        let expected = match quantconnect_agents::operation::find(op.id).unwrap().kind {
            OperationKind::Read => 3,
            OperationKind::Write => 1,
        };
        mock.assert_calls_async(expected).await;
        assert!(
            matches!(err, Error::UnexpectedStatus { status: 503, .. }),
            "{}: {err:?}",
            op.id
        );
    }
}

/// Answers every request with `status` and `body` and returns the error each operation
/// gets, checking that each sent exactly one request.
async fn each_operation_fails_with(
    status: u16,
    content_type: &str,
    body: &str,
) -> Vec<(&'static str, Error)> {
    let mut errors = Vec::new();
    for op in ops() {
        let server = MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                when.method(POST).path_prefix("/api/v2/");
                then.status(status)
                    .header("content-type", content_type)
                    .header("www-authenticate", "Basic realm=\"QuantConnect\"")
                    .body(body);
            })
            .await;
        let result = (op.call)(&client(&server)).await;
        mock.assert_calls_async(1).await;
        match result {
            Ok(payload) => panic!("{}: a failure came back as Ok({payload})", op.id),
            Err(e) => {
                assert_eq!(e.operation(), Some(op.id));
                let text = format!("{e} {e:?}");
                assert!(!text.contains(API_TOKEN), "{}: token in {text}", op.id);
                errors.push((op.id, e));
            }
        }
    }
    errors
}

#[tokio::test]
async fn success_false_is_an_api_error_with_the_servers_errors() {
    let body = recording("readAgentTask.invalid-argument")["response"]["body"].to_string();
    for (id, err) in each_operation_fails_with(200, "application/json", &body).await {
        match &err {
            Error::Api {
                status: 200,
                errors,
                ..
            } => assert_eq!(errors, &["Invalid argument"], "{id}"),
            other => panic!("{id}: {other:?}"),
        }
        assert!(err.to_string().contains("Invalid argument"), "{id}: {err}");
    }
}

#[tokio::test]
async fn http_401_is_an_authentication_error_that_mentions_the_clock() {
    for (id, err) in each_operation_fails_with(401, "text/plain", "").await {
        assert!(
            matches!(err, Error::Authentication { status: 401, .. }),
            "{id}: {err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("clock") && text.contains("QC_API_TOKEN"),
            "{id}: {text}"
        );
        assert!(text.contains("WWW-Authenticate"), "{id}: {text}");
    }
}

#[tokio::test]
async fn hash_mismatch_at_http_200_is_an_authentication_error() {
    let body = recording("authenticate.hash-mismatch")["response"]["body"].to_string();
    for (id, err) in each_operation_fails_with(200, "application/json", &body).await {
        match &err {
            Error::Authentication {
                status: 200,
                detail,
                ..
            } => {
                assert!(detail.contains("Hash doesn't match"), "{id}: {detail}")
            }
            other => panic!("{id}: {other:?}"),
        }
    }
}

const HTML_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n";

#[tokio::test]
async fn an_html_502_page_keeps_its_status_and_a_short_excerpt() {
    for (id, err) in each_operation_fails_with(502, "text/html", HTML_502).await {
        match &err {
            Error::UnexpectedStatus {
                status: 502,
                excerpt,
                ..
            } => {
                assert!(excerpt.contains("502 Bad Gateway"), "{id}: {excerpt}");
                assert!(
                    !excerpt.contains('\n') && excerpt.len() < 300,
                    "{id}: {excerpt}"
                );
            }
            other => panic!("{id}: {other:?}"),
        }
        assert_eq!(err.status(), Some(502));
    }
}

#[tokio::test]
async fn an_html_page_at_http_200_is_an_invalid_response() {
    for (id, err) in each_operation_fails_with(200, "text/html", HTML_502).await {
        match &err {
            Error::InvalidResponse {
                status: 200,
                excerpt,
                ..
            } => {
                assert!(excerpt.starts_with("<html>"), "{id}: {excerpt}")
            }
            other => panic!("{id}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_json_error_envelope_with_a_5xx_status_keeps_the_servers_errors() {
    let body = r#"{"success":false,"errors":["Internal Error 21"]}"#;
    for (id, err) in each_operation_fails_with(500, "application/json", body).await {
        assert!(
            matches!(&err, Error::Api { status: 500, errors, .. } if errors == &["Internal Error 21"]),
            "{id}: {err:?}"
        );
    }
}

#[tokio::test]
async fn an_empty_500_is_an_unexpected_status() {
    for (id, err) in each_operation_fails_with(500, "text/plain", "").await {
        assert!(
            matches!(&err, Error::UnexpectedStatus { status: 500, excerpt, .. } if excerpt == "(empty body)"),
            "{id}: {err:?}"
        );
    }
}

async fn answer_read_deployment(body: Value) -> Result<types::AgentDeployment, Error> {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path("/api/v2/agents/deployments/read");
            then.status(200).json_body(body);
        })
        .await;
    client(&server).read_agent_deployment(DEPLOYMENT).await
}

#[tokio::test]
async fn an_unknown_status_and_unknown_fields_still_decode() {
    let deployment = answer_read_deployment(json!({
        "success": true,
        "errors": [],
        "newEnvelopeField": {"anything": 1},
        "deployment": {
            "deploymentId": DEPLOYMENT,
            "status": "Paused",
            "someFutureField": [1, 2, 3],
            "runtimeError": null
        }
    }))
    .await
    .unwrap();
    assert_eq!(
        deployment.status,
        Some(DeploymentStatus::Unknown("Paused".into()))
    );
    assert_eq!(deployment.deployment_id.as_deref(), Some(DEPLOYMENT));
}

#[tokio::test]
async fn success_true_without_the_payload_is_a_missing_payload_error() {
    let err = answer_read_deployment(json!({"success": true}))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::MissingPayload {
                operation: "readAgentDeployment",
                field: "deployment"
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_missing_success_flag_counts_as_failure() {
    let err = answer_read_deployment(json!({"errors": ["Deployment not found"]}))
        .await
        .unwrap_err();
    assert_eq!(err.api_errors(), ["Deployment not found"]);
    let err = answer_read_deployment(json!({"deployment": {"status": "Running"}}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Api { .. }), "{err:?}");
}

#[tokio::test]
async fn a_field_of_the_wrong_type_is_an_invalid_response_naming_it() {
    let err = answer_read_deployment(json!({"success": true, "deployment": {"taskId": "332"}}))
        .await
        .unwrap_err();
    match err {
        Error::InvalidResponse {
            status: 200,
            ref source,
            ..
        } => {
            assert!(source.to_string().contains("invalid type"), "{source}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn calls_that_need_an_organization_say_so_without_sending_anything() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(200).json_body(json!({"success": true}));
        })
        .await;
    let client = Client::builder(Credentials::new(USER_ID, API_TOKEN))
        .base_url(server.url("/api/v2"))
        .build()
        .unwrap();
    let err = client.list_agent_tasks().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::MissingOrganization {
                operation: "listAgentTasks"
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("QC_ORGANIZATION_ID"));
    let err = client
        .create_agent_task(47, "x", "y", ProjectPreference::ProjectForTask)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::MissingOrganization {
                operation: "createAgentTask"
            }
        ),
        "{err:?}"
    );
    let err = client.list_agents().await.unwrap_err();
    assert!(matches!(err, Error::MissingOrganization { .. }), "{err:?}");
    mock.assert_calls_async(0).await;

    // Another organization for one call, through the same connections.
    let err = client.with_organization_id(ORG).list_agent_tasks().await;
    assert!(err.is_ok());
    mock.assert_calls_async(1).await;
}

#[tokio::test]
async fn a_request_missing_a_required_field_is_refused_before_sending() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(200);
        })
        .await;
    let err = client(&server)
        .create_agent(|a| a.description(Some("no name".to_owned())))
        .await
        .unwrap_err();
    match &err {
        Error::InvalidRequest {
            operation: "createAgent",
            detail,
        } => {
            assert!(detail.contains("no value supplied for"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    mock.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    // Bind a port, then free it, so nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::builder(Credentials::new(USER_ID, API_TOKEN))
        .base_url(format!("http://127.0.0.1:{port}/api/v2"))
        .build()
        .unwrap();
    let err = client.read_agent_task(332).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                operation: "readAgentTask",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains(API_TOKEN));
}

#[tokio::test]
async fn each_request_is_signed_with_a_fresh_timestamp_and_sensitive_header() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v2/authenticate")
                .header_exists("timestamp")
                .header_exists("authorization")
                .is_true(signed);
            then.status(200).json_body(json!({"success": true}));
        })
        .await;
    let client = client(&server);
    client.authenticate().await.unwrap();
    client.authenticate().await.unwrap();
    mock.assert_calls_async(2).await;
}

#[tokio::test]
async fn a_clock_an_hour_slow_is_corrected_from_the_servers_date_and_remembered() {
    let server = MockServer::start_async().await;
    let server_now = SystemTime::now() + std::time::Duration::from_secs(3600);
    let date = httpdate::fmt_http_date(server_now);
    // The server, an hour ahead, refuses signatures with this machine's time...
    let refused = server
        .mock_async(|when, then| {
            when.method(POST).is_true(|req| signed_for_clock(req, 0));
            then.status(401)
                .header("date", date.as_str())
                .header("www-authenticate", "Basic realm=\"QuantConnect\"");
        })
        .await;
    // ...and accepts them with its own.
    let accepted = server
        .mock_async(|when, then| {
            when.method(POST).is_true(|req| signed_for_clock(req, 3600));
            then.status(200).json_body(json!({"success": true}));
        })
        .await;
    let client = client(&server);
    client.authenticate().await.unwrap();
    refused.assert_calls_async(1).await;
    accepted.assert_calls_async(1).await;
    // The offset is kept: the next call is signed right the first time.
    client.read_agent_task(332).await.unwrap_err(); // {"success": true} without a task
    refused.assert_calls_async(1).await;
    accepted.assert_calls_async(2).await;
}

#[tokio::test]
async fn a_corrected_clock_is_not_corrected_again_by_a_later_refusal() {
    let server = MockServer::start_async().await;
    let date = httpdate::fmt_http_date(SystemTime::now() + std::time::Duration::from_secs(3600));
    let refused_clock = server
        .mock_async(|when, then| {
            when.method(POST).is_true(|req| signed_for_clock(req, 0));
            then.status(401).header("date", date.as_str());
        })
        .await;
    let accepted = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v2/authenticate")
                .is_true(|req| signed_for_clock(req, 3600));
            then.status(200).json_body(json!({"success": true}));
        })
        .await;
    // Signed with the right clock, refused all the same (the token is wrong for this one).
    let refused_token = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/api/v2/agents/read")
                .is_true(|req| signed_for_clock(req, 3600));
            then.status(401).header("date", date.as_str());
        })
        .await;
    let client = client(&server);
    client.authenticate().await.unwrap();
    let err = client.read_agent(105).await.unwrap_err();
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    // The server's Date says the same hour the client already corrects for: no second
    // correction, no resend.
    refused_token.assert_calls_async(1).await;
    refused_clock.assert_calls_async(1).await;
    // And the next call is still signed an hour ahead, not two.
    client.authenticate().await.unwrap();
    accepted.assert_calls_async(2).await;
}

#[tokio::test]
async fn a_date_beyond_a_day_off_is_not_trusted_to_sign_with() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST);
            then.status(401)
                .header("date", "Fri, 31 Dec 9999 23:59:59 GMT");
        })
        .await;
    let err = client(&server).authenticate().await.unwrap_err();
    // One request, signed with this machine's clock; no second one with the server's.
    mock.assert_calls_async(1).await;
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("could not be used"), "{text}");
}

#[tokio::test]
async fn a_right_clock_and_a_401_mean_wrong_credentials_and_say_so() {
    let server = MockServer::start_async().await;
    let date = httpdate::fmt_http_date(SystemTime::now());
    let mock = server
        .mock_async(|when, then| {
            when.method(POST);
            then.status(401).header("date", date.as_str());
        })
        .await;
    let err = client(&server).authenticate().await.unwrap_err();
    mock.assert_calls_async(1).await;
    let text = err.to_string();
    assert!(
        text.contains("agrees with the server's") && text.contains("QC_API_TOKEN"),
        "{text}"
    );
}

#[tokio::test]
async fn a_hash_mismatch_at_200_with_a_skewed_date_is_corrected_too() {
    let server = MockServer::start_async().await;
    let date = httpdate::fmt_http_date(SystemTime::now() - std::time::Duration::from_secs(7300));
    let refused = server
        .mock_async(|when, then| {
            when.method(POST).is_true(|req| signed_for_clock(req, 0));
            then.status(200)
                .header("date", date.as_str())
                .json_body(json!({"success": false, "errors": ["Hash doesn't match."]}));
        })
        .await;
    let accepted = server
        .mock_async(|when, then| {
            when.method(POST)
                .is_true(|req| signed_for_clock(req, -7300));
            then.status(200).json_body(json!({"success": true}));
        })
        .await;
    client(&server).authenticate().await.unwrap();
    refused.assert_calls_async(1).await;
    accepted.assert_calls_async(1).await;
}
