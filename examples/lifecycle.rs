//! QuantConnect's documented agent-management flow, in Rust: authenticate; create a task;
//! read it; rename it; list tasks; deploy it and wait for it, printing each status change;
//! list its deployments; send a follow-up prompt; read the conversation; stop; delete the
//! deployment; delete the task.
//!
//! ```sh
//! cargo run --example lifecycle                  # no credentials: against the embedded simulator
//! QC_USER_ID=… QC_API_TOKEN=… QC_ORGANIZATION_ID=… cargo run --example lifecycle
//! ```
//!
//! With credentials (`QC_USER_ID`/`QC_API_TOKEN` or lean-cli's `~/.lean/credentials`) it talks
//! to `QC_API_URL` or QuantConnect, in `QC_ORGANIZATION_ID`, with agent `QC_AGENT_ID` (47 by
//! default). One line per step; on failure, one line on stderr and exit status 1.

use std::{process::ExitCode, time::Duration};

use quantconnect_agents::{
    simulator::Simulator, wait::WaitError, Client, Credentials, Error, ProjectPreference,
};

/// Deployments on QuantConnect can take a while; the simulator's take seconds.
const MAX_WAIT: Duration = Duration::from_secs(60 * 60);

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Which server to talk to: the real one when credentials are configured, else the
/// simulator (kept alive for the whole run).
async fn connect() -> Result<(Client, Option<Simulator>), String> {
    match Credentials::from_env() {
        Ok(_) => {
            let client = Client::from_env().map_err(|e| e.to_string())?;
            println!(
                "using {} (credentials from the environment)",
                client.base_url()
            );
            if client.organization_id().is_none() {
                return Err(
                    "set QC_ORGANIZATION_ID to the organization the task belongs to".into(),
                );
            }
            Ok((client, None))
        }
        Err(Error::MissingCredentials { .. }) => {
            let simulator = Simulator::start().await.map_err(|e| e.to_string())?;
            println!(
                "no QuantConnect credentials (QC_USER_ID, QC_API_TOKEN): using the embedded simulator at {}",
                simulator.base_url()
            );
            Ok((simulator.client(), Some(simulator)))
        }
        Err(other) => Err(other.to_string()),
    }
}

async fn run() -> Result<(), String> {
    let (client, _simulator) = connect().await?;
    let agent_id: i64 = match std::env::var("QC_AGENT_ID") {
        Ok(value) => value
            .trim()
            .parse()
            .map_err(|_| format!("QC_AGENT_ID `{value}` is not a number"))?,
        Err(_) => 47,
    };
    let e = |e: Error| e.to_string();

    client.authenticate().await.map_err(e)?;
    println!("authenticated");

    let name = "Print Hello World Message";
    let task = client
        .create_agent_task(
            agent_id,
            name,
            "Write an algorithm that buys and holds SPY and prints Hello World.",
            ProjectPreference::ProjectForTask,
        )
        .await
        .map_err(e)?;
    let task_id = task.id.ok_or("the created task has no id")?;
    println!("created task {task_id}");

    let task = client.read_agent_task(task_id).await.map_err(e)?;
    let name = task.name.unwrap_or_else(|| name.to_owned());
    println!("read task {task_id}: {name}");

    let new_name = format!("Test - {name}");
    client
        .update_agent_task(task_id, |t| t.name(new_name.clone()))
        .await
        .map_err(e)?;
    println!("renamed task {task_id} to {new_name}");

    let tasks = client.list_agent_tasks().await.map_err(e)?;
    println!("listed {} tasks", tasks.len());

    let outcome = client
        .deploy_and_wait(task_id)
        .max_wait(MAX_WAIT)
        .on_status_change(|d| {
            println!(
                "deployment {}: {}",
                d.deployment_id.as_deref().unwrap_or("?"),
                d.status.as_ref().map_or("(no status)", |s| s.as_str())
            )
        })
        .await;
    let deployment = match outcome {
        Ok(deployment) => deployment,
        Err(WaitError::Failed { deployment }) | Err(WaitError::Stopped { deployment }) => {
            *deployment
        }
        Err(other) => return Err(other.to_string()),
    };
    let deployment_id = deployment
        .deployment_id
        .clone()
        .ok_or("the deployment has no id")?;
    println!(
        "deployment {deployment_id} ended {}{}",
        deployment.status.as_ref().map_or("?", |s| s.as_str()),
        deployment
            .runtime_error
            .as_deref()
            .map(|error| format!(": {error}"))
            .unwrap_or_default()
    );

    let deployments = client.list_agent_deployments(task_id).await.map_err(e)?;
    println!("listed {} deployments of task {task_id}", deployments.len());

    let message = client
        .prompt_agent_deployment(&deployment_id, "Replace SPY for QQQ")
        .await
        .map_err(e)?;
    println!(
        "sent follow-up prompt: {}",
        message.as_deref().unwrap_or("(no message)")
    );

    let conversation = client
        .read_agent_conversation(&deployment_id)
        .await
        .map_err(e)?;
    println!(
        "read conversation: {} messages, {} input and {} output tokens",
        conversation.messages.len(),
        conversation.input_tokens.unwrap_or(0),
        conversation.output_tokens.unwrap_or(0)
    );

    client
        .stop_agent_deployment(&deployment_id)
        .await
        .map_err(e)?;
    println!("stopped deployment {deployment_id}");

    client
        .delete_agent_deployment(&deployment_id)
        .await
        .map_err(e)?;
    println!("deleted deployment {deployment_id}");

    client.delete_agent_task(task_id).await.map_err(e)?;
    println!("deleted task {task_id}");
    Ok(())
}
