//! The API token, and the hash that stands for it, never reach logs, error messages or
//! `Debug` output, whatever goes wrong.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::Captured;
use quantconnect_agents::{
    simulator::{Fault, FaultKind, Simulator},
    Client, Credentials, ProjectPreference,
};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn no_token_or_hash_in_logs_errors_or_debug_output() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let started = now();
    let sim = Simulator::start().await.unwrap();
    let token = sim.credentials().expose_api_token().to_owned();
    let good = common::client_of(&sim)
        .request_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let mut seen = vec![
        format!("{good:?}"),
        format!("{:?}", sim.credentials()),
        format!("{sim:?}"),
    ];
    let mut record = |result: Result<String, quantconnect_agents::Error>| match result {
        Ok(text) => seen.push(text),
        Err(e) => {
            seen.push(format!("{e} {e:?} {e:#}"));
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                seen.push(format!("{s} {s:?}"));
                source = s.source();
            }
        }
    };

    // A wrong token (401), and the right one.
    let wrong = Client::new(
        &sim.base_url(),
        Credentials::new(sim.credentials().user_id(), "wrong"),
    )
    .unwrap();
    record(wrong.authenticate().await.map(|()| String::new()));
    record(good.authenticate().await.map(|()| String::new()));
    // Refusals and broken answers.
    record(good.read_agent_task(1).await.map(|t| format!("{t:?}")));
    for fault in [
        FaultKind::HtmlPage(502),
        FaultKind::Status(500),
        FaultKind::DropConnection,
        FaultKind::ResetMidBody,
        FaultKind::Drip,
        FaultKind::TooManyRequests { retry_after: 0 },
    ] {
        sim.inject(Fault::new(fault).on("listAgentTasks").on("createAgentTask"));
        record(good.list_agent_tasks().await.map(|t| format!("{t:?}")));
        record(
            good.create_agent_task(47, "n", "p", ProjectPreference::ProjectForTask)
                .await
                .map(|t| format!("{t:?}")),
        );
        sim.clear_faults();
    }
    let finished = now();

    let logs = captured.text();
    assert!(
        logs.contains("quantconnect_agents::request"),
        "the operations were traced"
    );
    assert!(logs.contains("readAgentTask"), "with their operation ids");
    let mut secrets = vec![token.clone()];
    for timestamp in started.saturating_sub(10)..=finished + 10 {
        let signature = sim.credentials().sign(timestamp);
        let basic = signature.authorization.to_str().unwrap().to_owned();
        secrets.push(basic.trim_start_matches("Basic ").to_owned());
        let hash = {
            use sha2::Digest;
            sha2::Sha256::digest(format!("{token}:{timestamp}"))
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        secrets.push(hash);
    }
    for text in seen.iter().chain(std::iter::once(&logs)) {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked into: {text}"
            );
        }
    }
}
