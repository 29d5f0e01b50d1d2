//! `qc-agents conversation ID`: print a deployment's conversation (or a callable
//! sub-agent's), or follow it as it grows.

use std::time::Duration;

use quantconnect_agents::Client;

use crate::{
    context::{parse_duration, Context, Global},
    failure::Failure,
    messages, output,
    progress::{self, StatusLine},
    signals::Signals,
    text,
};

/// `qc-agents conversation`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The deployment's id (A-…)
    pub id: String,
    /// Show the agent's work live until the deployment ends: each part as it settles, with
    /// a status line (with --json: NDJSON events)
    #[arg(long, conflicts_with = "callable")]
    pub follow: bool,
    /// Read the conversation of this callable sub-agent instead
    #[arg(long, value_name = "ID")]
    pub callable: Option<String>,
    /// With --follow: how long to follow at most
    #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = parse_duration)]
    pub max_wait: Duration,
    #[command(flatten)]
    pub global: Global,
}

/// `conversation ID [--follow] [--callable ID]`.
pub async fn run(ctx: &Context, args: Args) -> Result<(), Failure> {
    let ui = ctx.ui;
    let client = ctx.client()?;
    if args.follow {
        return follow(ctx, &client, &args).await;
    }
    let conversation = match &args.callable {
        Some(callable) => {
            client
                .read_callable_conversation(&args.id, callable)
                .await?
        }
        None => client.read_agent_conversation(&args.id).await?,
    };
    if ui.json {
        ui.json(&conversation);
    } else {
        for message in &conversation.messages {
            output::out(messages::message_view(message, ui.color_out));
        }
        output::out(messages::conversation_footer(&conversation));
    }
    Ok(())
}

/// `conversation ID --follow`: the live view until the deployment ends, the reader of
/// stdout goes, or a signal (which leaves the deployment running, and says so).
async fn follow(ctx: &Context, client: &Client, args: &Args) -> Result<(), Failure> {
    let ui = ctx.ui;
    let mut signals = Signals::listen();
    let status = StatusLine::following(ui, &args.id);
    let followed = tokio::select! {
        followed = messages::follow(client, ui, &args.id, args.max_wait, &status) => followed,
        // Ends at once when the reader goes (`| head -1`), even between events.
        () = output::reader_gone() => return Ok(()),
        signal = signals.next() => {
            status.finish();
            let last = status.last_seen();
            let state = last.as_ref().map_or_else(|| "?".into(), output::status_text);
            output::err(format!(
                "interrupted: stopped following; deployment {} ({state}) goes on",
                text::line(&args.id)
            ));
            if !last.as_ref().and_then(|d| d.status.as_ref()).is_some_and(|s| s.is_terminal()) {
                progress::resume_hint(&args.id, true);
            }
            return Err(Failure::Interrupted(signal));
        }
    };
    status.finish();
    let waited = followed.waited;
    if let Some(summary) = waited.summary(ui, &args.id) {
        ui.line(summary);
    }
    waited.outcome.map(drop).map_err(Failure::from)
}
