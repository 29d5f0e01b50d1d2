//! `qc-agents deployments …`: list, read, create, prompt, stop, delete and wait for the runs
//! of a task.

use std::time::Duration;

use clap::Subcommand;
use quantconnect_agents::types::AgentDeployment;
use serde_json::json;

use crate::{
    context::{parse_duration, prompt_text, Context},
    failure::Failure,
    output,
    progress::{self, StatusLine},
    signals::Signals,
    text::{self, line, shell_quote},
};

/// `qc-agents deployments`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List a task's deployments
    List {
        /// The task's id
        task_id: i64,
    },
    /// Show one deployment
    Read {
        /// The deployment's id (A-…)
        id: String,
    },
    /// Deploy a task: start a run of it
    Create {
        /// The task's id
        task_id: i64,
    },
    /// Send a follow-up prompt to a deployment
    Prompt {
        /// The deployment's id (A-…)
        id: String,
        /// The prompt
        #[arg(
            required_unless_present = "prompt_file",
            conflicts_with = "prompt_file"
        )]
        text: Option<String>,
        /// Read the prompt from this file (`-` for stdin)
        #[arg(long, value_name = "PATH")]
        prompt_file: Option<std::path::PathBuf>,
    },
    /// Stop a running deployment
    Stop {
        /// The deployment's id (A-…)
        id: String,
    },
    /// Delete a deployment
    Delete {
        /// The deployment's id (A-…)
        id: String,
    },
    /// Wait for a deployment to end, with a live status line (exit 3 failed, 4 stopped, 5
    /// the maximum wait ran out)
    Wait {
        /// The deployment's id (A-…)
        id: String,
        /// How long to wait at most: 30m, 90s, 2h (a bare number is seconds)
        #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = parse_duration)]
        max_wait: Duration,
    },
}

/// Runs one `deployments` command.
pub async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::List { task_id } => list(ctx, task_id).await,
        Command::Read { id } => read(ctx, &id).await,
        Command::Create { task_id } => create(ctx, task_id).await,
        Command::Prompt {
            id,
            text,
            prompt_file,
        } => {
            let text = prompt_text(text, prompt_file.as_deref(), "prompt")?;
            prompt(ctx, &id, text).await
        }
        Command::Stop { id } => stop(ctx, &id).await,
        Command::Delete { id } => delete(ctx, &id).await,
        Command::Wait { id, max_wait } => wait(ctx, &id, max_wait).await,
    }
}

/// The id of a deployment just created.
pub fn id_of_deployment(deployment: &AgentDeployment) -> Result<String, Failure> {
    deployment.deployment_id.clone().ok_or_else(|| {
        Failure::Local(
            "createAgentDeployment: the response says success but has no deployment id".into(),
        )
    })
}

/// `deployments list TASK_ID`.
async fn list(ctx: &Context, task_id: i64) -> Result<(), Failure> {
    let deployments = ctx.client()?.list_agent_deployments(task_id).await?;
    ctx.ui
        .show(&deployments, || output::deployments_table(&deployments));
    Ok(())
}

/// `deployments read ID`.
async fn read(ctx: &Context, id: &str) -> Result<(), Failure> {
    let ui = ctx.ui;
    let deployment = ctx.client()?.read_agent_deployment(id).await?;
    ui.show(&deployment, || {
        output::deployment_view(&deployment, ui.color_out)
    });
    Ok(())
}

/// `deployments create TASK_ID`.
async fn create(ctx: &Context, task_id: i64) -> Result<(), Failure> {
    let ui = ctx.ui;
    let deployment = ctx.client()?.create_agent_deployment(task_id).await?;
    if ui.json {
        ui.json(&deployment);
    } else {
        let id = id_of_deployment(&deployment)?;
        output::out(format!(
            "created deployment {} of task {task_id}",
            line(&id)
        ));
        output::out(output::deployment_view(&deployment, ui.color_out));
        output::out(format!(
            "wait for it: qc-agents deployments wait {}",
            shell_quote(&id)
        ));
    }
    Ok(())
}

/// `deployments prompt ID TEXT`.
async fn prompt(ctx: &Context, id: &str, text: String) -> Result<(), Failure> {
    let ui = ctx.ui;
    let message = ctx.client()?.prompt_agent_deployment(id, text).await?;
    if ui.json {
        ui.json(&message.map_or_else(|| json!({}), |m| json!({ "message": m })));
    } else {
        output::out(format!(
            "prompted deployment {}: {}",
            line(id),
            message.as_deref().map_or_else(|| "accepted".into(), line)
        ));
    }
    Ok(())
}

/// `deployments stop ID`.
async fn stop(ctx: &Context, id: &str) -> Result<(), Failure> {
    ctx.client()?.stop_agent_deployment(id).await?;
    ctx.ui.done(format!("stopped deployment {}", line(id)));
    Ok(())
}

/// `deployments delete ID`.
async fn delete(ctx: &Context, id: &str) -> Result<(), Failure> {
    ctx.client()?.delete_agent_deployment(id).await?;
    ctx.ui.done(format!("deleted deployment {}", line(id)));
    Ok(())
}

/// `deployments wait ID`: exit 0 when it completes, 3 failed, 4 stopped, 5 still running
/// when the maximum wait runs out.
async fn wait(ctx: &Context, id: &str, max_wait: Duration) -> Result<(), Failure> {
    let ui = ctx.ui;
    let client = ctx.client()?;
    let mut signals = Signals::listen();
    let line = StatusLine::new(ui, id);
    let waited = tokio::select! {
        waited = progress::wait_for(&client, id, max_wait, &line) => waited,
        signal = signals.next() => {
            line.finish();
            output::err(format!(
                "interrupted: stopped waiting; deployment {} goes on",
                text::line(id)
            ));
            progress::resume_hint(id, false);
            return Err(Failure::Interrupted(signal));
        }
    };
    line.finish();
    if let Some(d) = waited.last() {
        if ui.json {
            ui.json(d);
        } else {
            output::out(waited.summary(ui, id).unwrap_or_default());
            output::out(output::deployment_view(d, ui.color_out));
        }
    }
    waited.outcome.map(drop).map_err(Failure::from)
}
