//! `qc-agents run`: create a task, deploy it, wait for it (following the conversation with
//! --follow), print the conversation, then delete the deployment and the task, unless
//! --keep or the run did not complete. A signal meanwhile lets the request in flight
//! answer, so that the report ([`outcome`](crate::outcome)) says exactly what exists.

use std::{collections::HashMap, path::PathBuf, time::Duration};

use quantconnect_agents::{
    types::{AgentConversation, AgentConversationMessage},
    Error, ProjectPreference,
};

use crate::{
    context::{parse_duration, prompt_text, Context, Global, Organization},
    deployments::id_of_deployment,
    failure::Failure,
    messages,
    outcome::{self, Made},
    output::{self, Ui},
    progress::{self, StatusLine},
    signals::{Signal, Signals},
    tasks::{self, create_task, id_of_task},
    text::{line, shell_quote},
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
    #[arg(
        long,
        required_unless_present = "prompt_file",
        conflicts_with = "prompt_file"
    )]
    pub prompt: Option<String>,
    /// Read the prompt from this file (`-` for stdin), for prompts too long for the
    /// command line
    #[arg(long, value_name = "PATH")]
    pub prompt_file: Option<PathBuf>,
    /// Which project the task's deployments work in
    #[arg(long, value_parser = tasks::project_preference(),
          default_value_t = ProjectPreference::ProjectForTask)]
    pub project_preference: ProjectPreference,
    /// How long to wait for the deployment at most: 30m, 90s, 2h (a bare number is seconds)
    #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = parse_duration)]
    pub max_wait: Duration,
    /// Show the agent's work live: each part of the conversation as it settles (with
    /// --json: NDJSON events, then the outcome object on one line)
    #[arg(long)]
    pub follow: bool,
    /// Keep the task and the deployment instead of deleting them at the end
    #[arg(long)]
    pub keep: bool,
    #[command(flatten)]
    pub organization: Organization,
    #[command(flatten)]
    pub global: Global,
}

/// `run`: the flow, then the report of what it leaves, on every path.
pub async fn run(ctx: &Context, args: Args) -> Result<(), Failure> {
    // Caught before anything is sent, so that no signal can cut a create off unreported.
    let mut signals = Signals::listen();
    let mut made = Made::default();
    let result = flow(ctx, &args, &mut signals, &mut made).await;
    // With --follow --json stdout is NDJSON: the events, then the outcome on one line.
    outcome::report(ctx.ui, &made, &result, args.follow);
    result
}

/// Runs requests to their answer: the first signal is noted and the request in flight
/// finishes (its answer says what exists); a second one abandons it.
struct Stop<'a> {
    signals: &'a mut Signals,
    first: Option<Signal>,
}

impl Stop<'_> {
    async fn settle<T>(
        &mut self,
        what: &str,
        request: impl std::future::Future<Output = T>,
    ) -> Result<T, Signal> {
        let mut request = std::pin::pin!(request);
        loop {
            tokio::select! {
                answer = &mut request => return Ok(answer),
                signal = self.signals.next() => {
                    if self.first.is_some() {
                        return Err(signal);
                    }
                    self.first = Some(signal);
                    output::err(format!(
                        "{}: waiting for {what} to answer, to tell what exists ({} again \
                         exits at once)",
                        signal.name(),
                        signal.name()
                    ));
                }
            }
        }
    }

    /// Ends the run here if a signal came.
    fn check(&self) -> Result<(), Failure> {
        self.first.map_or(Ok(()), |s| Err(Failure::Interrupted(s)))
    }
}

/// What a second signal leaves: the request in flight cut off, `what` said about it.
fn abandoned(made: &mut Made, what: String) -> impl FnOnce(Signal) -> Failure + '_ {
    move |signal| {
        made.unresolved = Some(what);
        Failure::Interrupted(signal)
    }
}

/// Whether a failed request may still have done what it asked: anything but a refusal or
/// a request that was never sent.
fn may_have_acted(e: &Error) -> bool {
    !matches!(
        e,
        Error::Api { .. }
            | Error::Authentication { .. }
            | Error::InvalidRequest { .. }
            | Error::MissingOrganization { .. }
            | Error::MissingCredentials { .. }
            | Error::CredentialsFile { .. }
            | Error::Configuration { .. }
    )
}

async fn flow(
    ctx: &Context,
    args: &Args,
    signals: &mut Signals,
    made: &mut Made,
) -> Result<(), Failure> {
    let ui = ctx.ui;
    let client = ctx.client_in(&args.organization)?;
    let started = std::time::SystemTime::now();
    // Read on a thread of its own (stdin may block), and given up at a signal.
    let (text, file) = (args.prompt.clone(), args.prompt_file.clone());
    let read = tokio::task::spawn_blocking(move || prompt_text(text, file.as_deref(), "prompt"));
    let prompt = tokio::select! {
        read = read => read.map_err(|e| Failure::Local(format!("cannot read the prompt: {e}")))??,
        signal = signals.next() => return Err(Failure::Interrupted(signal)),
    };
    let mut stop = Stop {
        signals,
        first: None,
    };

    let create = create_task(
        &client,
        args.agent,
        args.name.clone(),
        prompt,
        args.project_preference.clone(),
    );
    let check_tasks = format!(
        "the task create was cut off: whether it made a task is unknown; look for {} in: \
         qc-agents tasks list",
        line(&args.name)
    );
    let created = stop
        .settle("the task create", create)
        .await
        .map_err(abandoned(made, check_tasks.clone()))?;
    let task = match created {
        Ok(task) => task,
        Err(e) if may_have_acted(&e) => {
            let tasks = stop
                .settle("the task lookup", client.list_agent_tasks())
                .await
                .map_err(abandoned(made, check_tasks.clone()))?;
            match tasks {
                Ok(tasks) => made.found_tasks(tasks, &args.name, started),
                Err(lookup) => {
                    made.unresolved = Some(format!("{check_tasks} (listing them failed: {lookup})"))
                }
            }
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let task_id = id_of_task(&task)?;
    ui.line(format!(
        "created task {task_id} ({})",
        task.name.as_deref().map_or_else(|| "unnamed".into(), line)
    ));
    made.task = Some(task);
    stop.check()?;

    let check_deployments = format!(
        "the deployment create was cut off: whether task {task_id} was deployed is unknown; \
         check with: qc-agents deployments list {task_id}"
    );
    let created = stop
        .settle(
            "the deployment create",
            client.create_agent_deployment(task_id),
        )
        .await
        .map_err(abandoned(made, check_deployments.clone()))?;
    let deployment = match created {
        Ok(deployment) => deployment,
        Err(e) if may_have_acted(&e) => {
            let listed = stop
                .settle(
                    "the deployment lookup",
                    client.list_agent_deployments(task_id),
                )
                .await
                .map_err(abandoned(made, check_deployments.clone()))?;
            match listed {
                Ok(deployments) => made.found_deployments(deployments),
                Err(lookup) => {
                    made.unresolved =
                        Some(format!("{check_deployments} (listing failed: {lookup})"))
                }
            }
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let id = id_of_deployment(&deployment)?;
    ui.line(format!("created deployment {}", line(&id)));
    made.deployment = Some(deployment);
    stop.check()?;

    let mut last_seen = None;
    let waited = {
        let status = if args.follow {
            StatusLine::following(ui, &id)
        } else {
            StatusLine::new(ui, &id)
        };
        let wait = async {
            if args.follow {
                let followed = messages::follow(&client, ui, &id, args.max_wait, &status).await;
                (followed.waited, followed.shown)
            } else {
                let waited = progress::wait_for(&client, &id, args.max_wait, &status).await;
                (waited, HashMap::new())
            }
        };
        tokio::select! {
            waited = wait => {
                status.finish();
                Some(waited)
            }
            // The status line is dropped (cleared) before the report.
            signal = stop.signals.next() => {
                stop.first = Some(signal);
                last_seen = status.last_seen();
                None
            }
        }
    };
    let Some((waited, shown)) = waited else {
        // Its status now, for the report; a second signal leaves the last one known.
        let read = stop
            .settle("the deployment's status", client.read_agent_deployment(&id))
            .await;
        let first = stop.first.unwrap_or(Signal::Interrupt);
        return match read {
            Ok(read) => {
                // If the read failed, what the waiter saw last, else what the create said.
                made.deployment = read.ok().or(last_seen).or(made.deployment.take());
                Err(Failure::Interrupted(first))
            }
            Err(second) => {
                made.deployment = last_seen.or(made.deployment.take());
                Err(Failure::Interrupted(second))
            }
        };
    };

    if let Some(summary) = waited.summary(ui, &id) {
        ui.line(summary);
    }
    if let Some(last) = waited.last() {
        made.deployment = Some(last.clone());
    }
    // The whole conversation, once: printed where --follow did not already, and in the JSON.
    let conversation = stop
        .settle("the conversation", client.read_agent_conversation(&id))
        .await
        .map_err(Failure::Interrupted)?;
    if let Ok(conversation) = &conversation {
        if !ui.json {
            print_rest(ui, conversation, &shown);
        }
    }
    made.conversation = conversation.as_ref().ok().cloned();
    stop.check()?;
    // A run that did not complete, or whose conversation cannot be read, keeps it all.
    waited.outcome.map_err(Failure::from)?;
    conversation?;

    if args.keep {
        ui.line(format!(
            "kept task {task_id} and deployment {} (--keep); delete them with: \
             qc-agents deployments delete {} && qc-agents tasks delete {task_id}",
            line(&id),
            shell_quote(&id)
        ));
        return Ok(());
    }
    stop.settle("the deletion", client.delete_agent_deployment(&id))
        .await
        .map_err(Failure::Interrupted)??;
    made.deleted_deployment = true;
    stop.check()?;
    stop.settle("the deletion", client.delete_agent_task(task_id))
        .await
        .map_err(Failure::Interrupted)??;
    made.deleted_task = true;
    ui.line(format!(
        "deleted deployment {} and task {task_id}",
        line(&id)
    ));
    Ok(())
}

/// The key a message is known by, as the library's follower keys it.
fn message_key(index: usize, message: &AgentConversationMessage) -> String {
    message.id.clone().unwrap_or_else(|| format!("#{index}"))
}

/// Prints what `--follow` did not show of `conversation` (all of it without --follow): the
/// messages it did not start, the rest of those it showed in part; then the footer.
fn print_rest(ui: Ui, conversation: &AgentConversation, shown: &HashMap<String, usize>) {
    for (index, message) in conversation.messages.iter().enumerate() {
        match shown.get(&message_key(index, message)) {
            None => output::out(messages::message_view(message, ui.color_out)),
            Some(&parts) => {
                if let Some(rest) = messages::rest_of_message(message, parts, ui.color_out) {
                    output::out(rest);
                }
            }
        }
    }
    output::out(messages::conversation_footer(conversation));
}
