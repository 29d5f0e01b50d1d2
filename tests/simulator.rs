//! The embedded simulator behaves as the README says QuantConnect does.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use quantconnect_agents::{
    retry::RetryPolicy,
    simulator::{Fault, FaultKind, Schedule, Simulator},
    wait::{Backoff, WaitError},
    Client, Credentials, DeploymentStatus, Error, ProjectPreference, Role,
};

/// A client of `sim` that sends every request once.
fn once(sim: &Simulator) -> Client {
    common::client_of(sim)
        .retry_policy(RetryPolicy::disabled())
        .build()
        .unwrap()
}

fn quick(failure: Option<&str>) -> Schedule {
    Schedule {
        in_queue: Duration::from_millis(30),
        running: Duration::from_millis(60),
        failure: failure.map(str::to_owned),
    }
}

fn fast() -> Backoff {
    Backoff::new(Duration::from_millis(10), Duration::from_millis(20))
}

async fn simulator(failure: Option<&str>) -> Simulator {
    Simulator::builder()
        .schedule(quick(failure))
        .start()
        .await
        .unwrap()
}

async fn new_task(client: &Client) -> i64 {
    common::create_task(client, "Print Hello World Message")
        .await
        .unwrap()
}

#[tokio::test]
async fn a_deployment_goes_in_queue_running_completed() {
    let sim = simulator(None).await;
    let client = sim.client();
    let task_id = new_task(&client).await;
    let created = client.create_agent_deployment(task_id).await.unwrap();
    let id = created.deployment_id.clone().unwrap();
    assert_eq!(created.status, Some(DeploymentStatus::InQueue));
    assert!(id.starts_with("A-") && id.len() == 34, "{id}");
    assert!(id[2..].chars().all(|c| c.is_ascii_hexdigit()));

    let mut seen = Vec::new();
    let done = client
        .wait_for_deployment(&id)
        .backoff(fast())
        .on_status_change(|d| seen.push(d.status.clone().unwrap()))
        .await
        .unwrap();
    assert_eq!(done.status, Some(DeploymentStatus::Completed));
    assert!(done.started.is_some() && done.ended.is_some());
    assert_eq!(seen.last(), Some(&DeploymentStatus::Completed));
    assert!(sim.connections_accepted() >= 1);
    assert!(seen.contains(&DeploymentStatus::InQueue) || seen.contains(&DeploymentStatus::Running));

    let task = client.read_agent_task(task_id).await.unwrap();
    assert_eq!(task.deployments, Some(1));
    assert!(
        task.project_id.is_some(),
        "project-for-task binds a project"
    );
    assert!(task.status.is_empty(), "no active deployment any more");
}

#[tokio::test]
async fn a_failing_schedule_ends_failed_with_a_runtime_error() {
    let sim = simulator(Some("The backtest ended with a runtime error.")).await;
    let client = sim.client();
    let task_id = new_task(&client).await;
    let err = client
        .deploy_and_wait(task_id)
        .backoff(fast())
        .await
        .unwrap_err();
    match err {
        WaitError::Failed { deployment } => assert_eq!(
            deployment.runtime_error.as_deref(),
            Some("The backtest ended with a runtime error.")
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn stop_gives_stopped_and_prompts_extend_the_conversation() {
    let sim = Simulator::builder()
        .schedule(Schedule {
            in_queue: Duration::ZERO,
            running: Duration::from_secs(3600),
            failure: None,
        })
        .start()
        .await
        .unwrap();
    let client = sim.client();
    let task_id = new_task(&client).await;
    let deployment = client.create_agent_deployment(task_id).await.unwrap();
    let id = deployment.deployment_id.unwrap();
    assert_eq!(
        client.read_agent_deployment(&id).await.unwrap().status,
        Some(DeploymentStatus::Running)
    );
    let task = client.read_agent_task(task_id).await.unwrap();
    assert_eq!(task.status.len(), 1);
    assert_eq!(task.status[0].status.as_deref(), Some("Running"));

    client.stop_agent_deployment(&id).await.unwrap();
    let stopped = client.read_agent_deployment(&id).await.unwrap();
    assert_eq!(stopped.status, Some(DeploymentStatus::Stopped));

    let message = client
        .prompt_agent_deployment(&id, "Replace SPY for QQQ")
        .await
        .unwrap();
    assert_eq!(message.as_deref(), Some("Prompt run started."));
    let conversation = client.read_agent_conversation(&id).await.unwrap();
    let roles: Vec<_> = conversation
        .messages
        .iter()
        .map(|m| m.role.clone().unwrap())
        .collect();
    assert_eq!(
        roles,
        [Role::User, Role::User],
        "the first run was stopped before it answered"
    );
    let texts: Vec<_> = conversation
        .messages
        .iter()
        .map(|m| m.parts[0].text.clone().unwrap())
        .collect();
    assert_eq!(texts, ["Print Hello World", "Replace SPY for QQQ"]);
}

#[tokio::test]
async fn a_finished_run_answers_in_the_conversation() {
    let sim = simulator(None).await;
    let client = sim.client();
    let task_id = new_task(&client).await;
    let done = client
        .deploy_and_wait(task_id)
        .backoff(fast())
        .await
        .unwrap();
    let conversation = client
        .read_agent_conversation(done.deployment_id.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(conversation.messages.len(), 2);
    let answer = &conversation.messages[1];
    assert_eq!(answer.role, Some(Role::Assistant));
    assert!(answer
        .parts
        .iter()
        .any(|p| p.tool_name.as_deref() == Some("create_file")));
    assert_eq!(conversation.aggregate_status.as_deref(), Some("Completed"));
}

#[tokio::test]
async fn unknown_ids_and_invalid_arguments_are_refused_as_quantconnect_words_them() {
    let sim = simulator(None).await;
    let client = sim.client();
    let invalid = |e: Error| assert_eq!(e.api_errors(), ["Invalid argument"], "{e:?}");
    invalid(client.read_agent_task(999).await.unwrap_err());
    invalid(
        client
            .read_agent_deployment("A-00000000000000000000000000000000")
            .await
            .unwrap_err(),
    );
    invalid(client.delete_agent(999).await.unwrap_err());
    invalid(
        client
            // No such agent.
            .create_agent_task(999, "x", "y", ProjectPreference::ProjectForTask)
            .await
            .unwrap_err(),
    );
    invalid(
        client
            .create_agent_task(
                47,
                "x",
                "y",
                ProjectPreference::Unknown("project-existing".into()),
            )
            .await
            .unwrap_err(),
    );
    invalid(
        client
            .with_organization_id("not-my-organization")
            .list_agent_tasks()
            .await
            .unwrap_err(),
    );
}

#[tokio::test]
async fn agents_can_be_created_read_updated_listed_and_deleted() {
    let sim = simulator(None).await;
    let client = sim.client();
    let agent = client
        .create_agent(|a| a.name("Researcher").max_turns(10))
        .await
        .unwrap();
    let id = agent.id.unwrap();
    client
        .update_agent(id, |a| a.name("Senior researcher".to_owned()))
        .await
        .unwrap();
    assert_eq!(
        client.read_agent(id).await.unwrap().name.as_deref(),
        Some("Senior researcher")
    );
    assert_eq!(
        client.list_agents().await.unwrap().len(),
        2,
        "47 and the new one"
    );
    client.delete_agent(id).await.unwrap();
    assert!(client.read_agent(id).await.is_err());
}

#[tokio::test]
async fn wrong_credentials_and_old_timestamps_get_401_with_www_authenticate() {
    let sim = simulator(None).await;
    let wrong = Client::new(
        &sim.base_url(),
        Credentials::new(sim.credentials().user_id(), "wrong-token"),
    )
    .unwrap();
    let err = wrong.authenticate().await.unwrap_err();
    match &err {
        Error::Authentication {
            status: 401,
            detail,
            ..
        } => {
            assert!(detail.contains("WWW-Authenticate"), "{detail}");
            assert!(detail.contains("Hash doesn't match"), "{detail}");
        }
        other => panic!("{other:?}"),
    }

    // A correct signature, but 7201 s old.
    let old = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 7201;
    let signature = sim.credentials().sign(old);
    let response = reqwest::Client::new()
        .post(format!("{}/authenticate", sim.base_url()))
        .header("authorization", signature.authorization.clone())
        .header("timestamp", old.to_string())
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("too old"), "{challenge}");

    // 7199 s old is still accepted.
    let recent = old + 2;
    let response = reqwest::Client::new()
        .post(format!("{}/authenticate", sim.base_url()))
        .header(
            "authorization",
            sim.credentials().sign(recent).authorization,
        )
        .header("timestamp", recent.to_string())
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn faults_hit_only_the_chosen_operations_for_the_chosen_times() {
    let sim = simulator(None).await;
    let client = once(&sim);
    sim.inject(
        Fault::new(FaultKind::Status(503))
            .on("readAgentTask")
            .times(1),
    );
    let task_id = new_task(&client).await;
    let err = client.read_agent_task(task_id).await.unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedStatus { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.is_transient());
    client.read_agent_task(task_id).await.unwrap();

    // The default client retries the read through one 503.
    sim.inject(
        Fault::new(FaultKind::Status(503))
            .on("readAgentTask")
            .times(1),
    );
    let before = sim.requests().len();
    sim.client().read_agent_task(task_id).await.unwrap();
    assert_eq!(sim.requests().len() - before, 2);

    sim.inject(Fault::new(FaultKind::HtmlPage(502)).on("listAgentTasks"));
    match client.list_agent_tasks().await.unwrap_err() {
        Error::UnexpectedStatus {
            status: 502,
            excerpt,
            ..
        } => assert!(excerpt.contains("502 Bad Gateway"), "{excerpt}"),
        other => panic!("{other:?}"),
    }
    sim.clear_faults();
    client.list_agent_tasks().await.unwrap();

    sim.inject(
        Fault::new(FaultKind::TooManyRequests { retry_after: 7 })
            .on("authenticate")
            .times(1),
    );
    let response = reqwest::Client::new()
        .post(format!("{}/authenticate", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
}

#[tokio::test]
async fn a_dropped_connection_is_a_transport_error_and_may_hide_an_effect() {
    let sim = simulator(None).await;
    let client = once(&sim);
    sim.inject(
        Fault::new(FaultKind::DropConnection)
            .on("readAgent")
            .times(1),
    );
    let err = client.read_agent(47).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    // A read is retried through a dropped connection.
    sim.inject(
        Fault::new(FaultKind::DropConnection)
            .on("readAgent")
            .times(1),
    );
    sim.client().read_agent(47).await.unwrap();
    let client = sim.client();

    sim.inject(
        Fault::new(FaultKind::DropConnectionAfterEffect)
            .on("createAgentTask")
            .times(1),
    );
    let err = client
        .create_agent_task(
            47,
            "dropped",
            "p",
            ProjectPreference::ProjectEachTaskDeployment,
        )
        .await
        .unwrap_err();
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
    assert!(
        err.to_string().contains("may or may not have taken effect"),
        "{err}"
    );
    // The create took effect and was sent exactly once.
    let tasks = client.list_agent_tasks().await.unwrap();
    assert_eq!(tasks.len(), 1);
    let creates = sim
        .requests()
        .iter()
        .filter(|op| *op == "createAgentTask")
        .count();
    assert_eq!(creates, 1);
}

#[tokio::test(start_paused = true)]
async fn latency_follows_tokio_time() {
    let sim = simulator(None).await;
    sim.inject(Fault::new(FaultKind::Latency(Duration::from_secs(5))).on("authenticate"));
    let start = tokio::time::Instant::now();
    sim.client().authenticate().await.unwrap();
    assert!(start.elapsed() >= Duration::from_secs(5));
}

#[tokio::test]
async fn a_waiter_tells_each_read_it_sends() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let sim = simulator(None).await;
    let client = sim.client();
    let task_id = new_task(&client).await;
    let reads = AtomicUsize::new(0);
    let done = client
        .deploy_and_wait(task_id)
        .backoff(fast())
        .on_read(|| {
            reads.fetch_add(1, Ordering::Relaxed);
        })
        .await
        .unwrap();
    assert_eq!(done.status, Some(DeploymentStatus::Completed));
    let sent = sim
        .requests()
        .iter()
        .filter(|op| *op == "readAgentDeployment")
        .count();
    assert!(
        sent >= 2,
        "InQueue, Running and Completed take reads: {sent}"
    );
    assert_eq!(reads.load(Ordering::Relaxed), sent);
}

#[tokio::test]
async fn waiters_and_followers_own_their_client_so_they_can_be_spawned() {
    use futures_util::StreamExt;
    let sim = simulator(None).await;
    let client = sim.client();
    let mut waiters = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let task_id = new_task(&client).await;
        let created = client.create_agent_deployment(task_id).await.unwrap();
        let id = created.deployment_id.unwrap();
        waiters.push(tokio::spawn(
            client.wait_for_deployment(&id).backoff(fast()).wait(),
        ));
        ids.push(id);
    }
    let follower = tokio::spawn(
        client
            .follow_conversation(&ids[0])
            .backoff(fast())
            .stream()
            .collect::<Vec<_>>(),
    );
    // Nothing borrows the client: the tasks hold their own clones.
    drop(client);
    let outcomes = futures_util::future::join_all(waiters).await;
    for (outcome, id) in outcomes.into_iter().zip(&ids) {
        let done = outcome.expect("the task ran").expect("completed");
        assert_eq!(done.status, Some(DeploymentStatus::Completed));
        assert_eq!(done.deployment_id.as_ref(), Some(id));
    }
    let messages = follower.await.expect("the task ran");
    let roles: Vec<_> = messages
        .iter()
        .map(|m| m.as_ref().expect("no error").role.clone())
        .collect();
    assert_eq!(roles.len(), 2, "the prompt and the answer: {roles:?}");
}

#[tokio::test]
async fn a_chosen_port_is_served_and_one_in_use_is_a_configuration_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sim = Simulator::builder().port(port).start().await.unwrap();
    assert_eq!(sim.base_url(), format!("http://127.0.0.1:{port}/api/v2"));
    sim.client().authenticate().await.unwrap();
    match Simulator::builder().port(port).start().await {
        Err(Error::Configuration { detail }) => {
            assert!(
                detail.starts_with(&format!("the simulator cannot bind 127.0.0.1:{port}: ")),
                "{detail}"
            )
        }
        other => panic!("a second simulator on port {port}: {other:?}"),
    }
}
