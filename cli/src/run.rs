//! `qc-agents run`: create a task, deploy it, wait for it (following the conversation with
//! --follow), print the conversation, then delete the deployment and the task unless --keep.

use std::{collections::HashSet, sync::Mutex, time::Duration};

use futures_util::StreamExt as _;
use quantconnect_agents::{
    types::{AgentConversation, AgentConversationMessage, AgentTask},
    Client, DeploymentStatus, ProjectPreference,
};
use serde_json::json;

use crate::{
    context::{ctrl_c, parse_duration, Context},
    deployments::id_of_deployment,
    failure::Failure,
    output::{self, Ui},
    progress::{self, StatusLine},
    tasks::{self, create_task, id_of_task},
    text::line,
};

/// `qc-agents run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The agent that works on the task (QuantConnect's examples use 47)
    #[arg(long, value_name = "ID")]
    pub agent: i64,
    /// The task's name
    #[arg(long)]
    pub name: String,
    /// What the agent is asked to do
    #[arg(long)]
    pub prompt: String,
    /// Which project the task's deployments work in
    #[arg(long, value_parser = tasks::project_preference(),
          default_value_t = ProjectPreference::ProjectForTask)]
    pub project_preference: ProjectPreference,
    /// How long to wait for the deployment at most: 30m, 90s, 2h (a bare number is seconds)
    #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = parse_duration)]
    pub max_wait: Duration,
    /// Print each message of the conversation as it settles, instead of all at the end
    #[arg(long)]
    pub follow: bool,
    /// Keep the task and the deployment instead of deleting them at the end
    #[arg(long)]
    pub keep: bool,
}

/// The key a message is known by, as the library's follower keys it.
fn message_key(index: usize, message: &AgentConversationMessage) -> String {
    message.id.clone().unwrap_or_else(|| format!("#{index}"))
}

/// What `run` got as far as, for the JSON object and for cleaning up.
#[derive(Default)]
struct Progress {
    task: Option<AgentTask>,
    deployment_id: Option<String>,
}

/// `run`: create the task, deploy it, wait, print the conversation, clean up.
pub async fn run(ctx: &Context, args: Args) -> Result<(), Failure> {
    let ui = ctx.ui;
    let client = ctx.client()?;
    let state = Mutex::new(Progress::default());
    let flow = run_flow(&client, ui, &args, &state);
    tokio::select! {
        result = flow => return result,
        // Handled below, once the flow (and its status line) has been dropped.
        () = ctrl_c() => {}
    }
    let state = state.lock().unwrap_or_else(|p| p.into_inner());
    let task_id = state.task.as_ref().and_then(|t| t.id);
    output::err("interrupted: stopped waiting; nothing was stopped or deleted");
    match (&state.deployment_id, task_id) {
        (Some(id), task_id) => progress::resume_hint(task_id, id),
        (None, Some(task_id)) => {
            output::err(format!("task {task_id} was created but not deployed:"));
            output::err(format!(
                "  deploy it:  qc-agents deployments create {task_id}"
            ));
            output::err(format!("  delete it:  qc-agents tasks delete {task_id}"));
        }
        (None, None) => output::err("no task was created"),
    }
    Err(Failure::Interrupted)
}

async fn run_flow(
    client: &Client,
    ui: Ui,
    args: &Args,
    state: &Mutex<Progress>,
) -> Result<(), Failure> {
    let lock = || state.lock().unwrap_or_else(|p| p.into_inner());
    let task = create_task(
        client,
        args.agent,
        args.name.clone(),
        args.prompt.clone(),
        args.project_preference.clone(),
    )
    .await?;
    let task_id = id_of_task(&task)?;
    lock().task = Some(task.clone());
    ui.line(format!(
        "created task {task_id} ({})",
        task.name.as_deref().map_or_else(|| "unnamed".into(), line)
    ));

    let created = client.create_agent_deployment(task_id).await?;
    let id = id_of_deployment(&created)?;
    lock().deployment_id = Some(id.clone());
    ui.line(format!("created deployment {}", line(&id)));

    let line = StatusLine::new(ui, &id);
    let printed = Mutex::new(HashSet::new());
    let follow = async {
        if !args.follow {
            return;
        }
        let stream = client
            .follow_conversation(id.as_str())
            .max_wait(args.max_wait)
            .stream();
        let mut stream = std::pin::pin!(stream);
        let mut index = 0;
        while let Some(message) = stream.next().await {
            match message {
                Ok(message) => {
                    line.print(output::message_view(&message, ui.color_out));
                    printed
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(message_key(index, &message));
                    index += 1;
                }
                // The waiter reports how the deployment ended; the messages still to come
                // are printed after it from one last read.
                Err(_) => break,
            }
        }
    };
    let (waited, ()) = tokio::join!(
        progress::wait_for(client, &id, args.max_wait, &line),
        follow
    );
    line.finish();

    let last = match &waited.outcome {
        Ok(d) => Some(d.clone()),
        Err(e) => e.deployment().cloned(),
    };
    ui.line(progress::summary(ui, &id, last.as_ref(), &waited));

    // The whole conversation, once: printed where --follow did not already, and in the JSON.
    let conversation = client.read_agent_conversation(&id).await;
    if let Ok(conversation) = &conversation {
        if !ui.json {
            print_rest(
                ui,
                conversation,
                &printed.lock().unwrap_or_else(|p| p.into_inner()),
            );
        }
    }
    if ui.json {
        let conversation = conversation.as_ref().ok();
        ui.json(&json!({"task": task, "deployment": last, "conversation": conversation}));
    }

    let ended = last
        .as_ref()
        .and_then(|d| d.status.as_ref())
        .is_some_and(DeploymentStatus::is_terminal);
    let outcome = waited.outcome.map(drop).map_err(Failure::from);
    if !ended {
        // Still running (or unknown): leave it for the user, and say how to pick it up.
        progress::resume_hint(Some(task_id), &id);
        return outcome;
    }
    let cleaned = if args.keep {
        ui.line(format!(
            "kept task {task_id} and deployment {id} (--keep); delete them with: \
             qc-agents deployments delete {id} && qc-agents tasks delete {task_id}"
        ));
        Ok(())
    } else {
        match client.delete_agent_deployment(&id).await {
            Ok(()) => client.delete_agent_task(task_id).await,
            Err(e) => Err(e),
        }
        .inspect(|()| ui.line(format!("deleted deployment {id} and task {task_id}")))
    };
    // How the deployment ended decides the exit status; then a conversation that could
    // not be read; then a cleanup that failed.
    // Any cleanup failure that will not be the error reported is said here.
    if let Err(e) = &cleaned {
        if outcome.is_err() || conversation.is_err() {
            output::err(format!("error: cleaning up: {e}"));
        }
    }
    outcome?;
    conversation?;
    Ok(cleaned?)
}

/// Prints the messages of `conversation` not already printed, then its footer.
fn print_rest(ui: Ui, conversation: &AgentConversation, printed: &HashSet<String>) {
    for (index, message) in conversation.messages.iter().enumerate() {
        if !printed.contains(&message_key(index, message)) {
            output::out(output::message_view(message, ui.color_out));
        }
    }
    output::out(output::conversation_footer(conversation));
}
