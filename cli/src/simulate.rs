//! `qc-agents simulate`: serve the embedded simulator of the Agents API in the foreground
//! until Ctrl-C, and print the environment that points qc-agents (or the crate) at it.

use std::time::Duration;

use quantconnect_agents::simulator::{Schedule, Simulator};
use serde_json::json;

use crate::{
    context::{parse_duration, Context},
    failure::Failure,
    output,
};

/// A duration as [`parse_duration`] takes it, or `0`: a deployment may skip the queue.
fn queue_time(text: &str) -> Result<Duration, String> {
    match text.trim() {
        "0" | "0s" => Ok(Duration::ZERO),
        _ => parse_duration(text),
    }
}

/// `qc-agents simulate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long each new deployment stays InQueue (0 for not at all)
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = queue_time)]
    pub in_queue: Duration,
    /// How long each run stays Running
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    pub running: Duration,
    /// Make each deployment's first run end Failed with this runtime error
    #[arg(long, value_name = "MESSAGE")]
    pub fail: Option<String>,
}

/// `simulate`: serves the embedded simulator in the foreground until Ctrl-C.
pub async fn run(ctx: &Context, args: Args) -> Result<(), Failure> {
    let ui = ctx.ui;
    let simulator = Simulator::builder()
        .schedule(Schedule {
            in_queue: args.in_queue,
            running: args.running,
            failure: args.fail,
        })
        .start()
        .await?;
    // Listen for Ctrl-C before saying that it stops the simulator: until the first poll the
    // default handler would end the process instead.
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    if let Some(result) = futures_util::FutureExt::now_or_never(&mut ctrl_c) {
        result.map_err(|e| Failure::Local(format!("cannot listen for Ctrl-C: {e}")))?;
        return Ok(());
    }
    let url = simulator.base_url();
    let credentials = simulator.credentials();
    if ui.json {
        ui.json(&json!({
            "QC_API_URL": url,
            "QC_USER_ID": credentials.user_id(),
            "QC_API_TOKEN": credentials.expose_api_token(),
            "QC_ORGANIZATION_ID": simulator.organization_id(),
        }));
    } else {
        output::out("# A simulator of QuantConnect's Agents API (not QuantConnect) is serving until Ctrl-C.");
        output::out(
            "# The credentials below are its own throwaway ones, valid only for this process.",
        );
        output::out(
            "# Paste these lines into another shell to point qc-agents (or the crate) at it:",
        );
        output::out(format!("export QC_API_URL={url}"));
        output::out(format!("export QC_USER_ID={}", credentials.user_id()));
        output::out(format!(
            "export QC_API_TOKEN={}",
            credentials.expose_api_token()
        ));
        output::out(format!(
            "export QC_ORGANIZATION_ID={}",
            simulator.organization_id()
        ));
    }
    ctrl_c
        .await
        .map_err(|e| Failure::Local(format!("cannot listen for Ctrl-C: {e}")))?;
    output::err(format!(
        "simulator stopped after {} requests",
        simulator.requests().len()
    ));
    Ok(())
}
