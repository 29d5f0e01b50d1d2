//! `qc-agents conversation ID`: print a deployment's conversation (or a callable
//! sub-agent's), or follow it as it grows.

use std::time::Duration;

use futures_util::StreamExt as _;

use crate::{
    context::{parse_duration, Context},
    failure::Failure,
    output,
};

/// `qc-agents conversation`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The deployment's id (A-…)
    pub id: String,
    /// Print each message as it settles until the deployment ends (with --json: one JSON
    /// object per line)
    #[arg(long, conflicts_with = "callable")]
    pub follow: bool,
    /// Read the conversation of this callable sub-agent instead
    #[arg(long, value_name = "ID")]
    pub callable: Option<String>,
    /// With --follow: how long to follow at most
    #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = parse_duration)]
    pub max_wait: Duration,
}

/// `conversation ID [--follow] [--callable ID]`.
pub async fn run(ctx: &Context, args: Args) -> Result<(), Failure> {
    let ui = ctx.ui;
    let client = ctx.client()?;
    if args.follow {
        let stream = client
            .follow_conversation(args.id.as_str())
            .max_wait(args.max_wait)
            .stream();
        let mut stream = std::pin::pin!(stream);
        loop {
            // Ends at once when the reader goes (`| head -1`), even between messages.
            let message = tokio::select! {
                message = stream.next() => message,
                () = output::reader_gone() => break,
            };
            let Some(message) = message else { break };
            let message = message?;
            if ui.json {
                match serde_json::to_string(&message) {
                    Ok(line) => output::out(line),
                    Err(e) => return Err(Failure::Local(format!("cannot encode a message: {e}"))),
                }
            } else {
                output::out(output::message_view(&message, ui.color_out));
            }
            if output::stdout_closed() {
                break;
            }
        }
        return Ok(());
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
            output::out(output::message_view(message, ui.color_out));
        }
        output::out(output::conversation_footer(&conversation));
    }
    Ok(())
}
