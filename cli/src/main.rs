//! `qc-agents`: QuantConnect's Agents API from a shell, built on the `quantconnect-agents`
//! crate. `qc-agents --help` lists the commands; the README's "Command line: qc-agents"
//! section shows examples.
//!
//! Exit status: 0 success; 1 an API, network or configuration error; 2 a usage error; for
//! `run`, `deployments wait` and `conversation --follow`: 3 the deployment failed, 4 it was
//! stopped, 5 the maximum wait ran out; 128 + the signal when a stop signal ended it (130
//! Ctrl-C, 143 SIGTERM, 129 SIGHUP), but for `simulate`, which a signal stops normally (0).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod account;
mod agents;
mod context;
mod conversation;
mod deployments;
mod failure;
mod faults;
mod messages;
mod outcome;
mod output;
mod progress;
mod run;
mod shell;
mod signals;
mod simulate;
mod tasks;
mod text;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

use crate::{
    context::{Context, Global},
    failure::Failure,
    output::Ui,
};

/// QuantConnect's Agents API from a shell: agents, tasks, deployments and conversations.
///
/// Credentials come from QC_USER_ID and QC_API_TOKEN, else from lean-cli's
/// ~/.lean/credentials (which `qc-agents login` writes). Exit status: 0 success, 1 API or
/// network error, 2 usage error; for `run`, `deployments wait` and `conversation --follow`,
/// 3 the deployment failed, 4 it was stopped, 5 the maximum wait ran out; 130 Ctrl-C (143
/// SIGTERM, 129 SIGHUP), except for `simulate` (0). Global options (--api-url, --timeout,
/// --json, -v) come after the command.
#[derive(Debug, Parser)]
#[command(name = "qc-agents", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// A command group (`agents`, `tasks`, `deployments`): its commands, and the global
/// options, which they all take.
#[derive(Debug, clap::Args)]
struct Group<C: Subcommand> {
    #[command(subcommand)]
    command: C,
    #[command(flatten)]
    global: Global,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a task, deploy it, wait for it with a live status line, print the
    /// conversation, then delete the deployment and the task (unless --keep, or it did not
    /// complete: then it says what it leaves)
    Run(run::Args),
    /// Agents: list, read, create, update, delete
    Agents(Group<agents::Command>),
    /// Tasks: list, read, create, rename, delete
    Tasks(Group<tasks::Command>),
    /// Deployments (runs of a task): list, read, create, prompt, stop, delete, wait
    Deployments(Group<deployments::Command>),
    /// Print a deployment's conversation, or follow it as it grows
    Conversation(conversation::Args),
    // `auth` and `login`, at the top level.
    #[command(flatten)]
    Account(account::Command),
    /// Serve the embedded simulator of the Agents API until stopped, for trying things out and CI
    Simulate(simulate::Args),
    // `completions` and `man`, at the top level.
    #[command(flatten)]
    Shell(shell::Command),
}

impl Command {
    /// The global options given, taken out of the command; `simulate`'s own `--json` and
    /// `-v` stand for them there, and `completions` and `man` take none.
    fn take_global(&mut self) -> Global {
        let take = std::mem::take;
        match self {
            Command::Run(args) => take(&mut args.global),
            Command::Agents(group) => take(&mut group.global),
            Command::Tasks(group) => take(&mut group.global),
            Command::Deployments(group) => take(&mut group.global),
            Command::Conversation(args) => take(&mut args.global),
            Command::Account(command) => take(command.global()),
            Command::Simulate(args) => Global {
                json: args.json,
                verbose: args.verbose,
                ..Global::default()
            },
            Command::Shell(_) => Global::default(),
        }
    }
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    let global = cli.command.take_global();
    let ui = Ui::detect(global.json);
    init_logging(global.verbose, ui.color_err);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            output::err(format!("error: cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(dispatch(cli.command, Context { global, ui }));
    // A read of stdin for a prompt may still block its thread: do not wait for it.
    runtime.shutdown_background();
    match result {
        // Output that could not be written is a failure (`> /dev/full`); a closed pipe is not.
        Ok(()) => match output::write_error() {
            Some(e) => {
                output::err(format!("error: cannot write to stdout: {e}"));
                ExitCode::FAILURE
            }
            None => ExitCode::SUCCESS,
        },
        Err(failure) => {
            if let Some(message) = failure.message() {
                output::err(message);
            }
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Logging on stderr: the library's and this program's warnings (a clock it had to correct,
/// a status it does not know); with -v one line per request (the library's
/// `quantconnect_agents::request` events) and its INFO events (the simulator's request log);
/// with -vv its DEBUG events. Dependencies stay silent. `RUST_LOG`, when set, is the filter
/// instead, and can reach them (`RUST_LOG=reqwest=debug`).
fn init_logging(verbose: u8, color: bool) {
    use tracing_subscriber::EnvFilter;
    let from_env = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => match EnvFilter::try_new(&directives) {
            Ok(filter) => Some(filter),
            Err(e) => {
                output::err(format!("warning: RUST_LOG ignored: {e}"));
                None
            }
        },
        _ => None,
    };
    // Targets name the crate or module a line comes from, which only matters once more than
    // the request lines show.
    let with_target = from_env.is_some() || verbose > 1;
    let filter = from_env.unwrap_or_else(|| {
        EnvFilter::new(match verbose {
            0 => "quantconnect_agents=warn,qc_agents=warn",
            1 => "quantconnect_agents=info,quantconnect_agents::request=debug,qc_agents=info",
            _ => "quantconnect_agents=debug,qc_agents=debug",
        })
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| progress::LogWriter)
        .with_ansi(color)
        .without_time()
        .with_target(with_target)
        .try_init();
}

async fn dispatch(command: Command, ctx: Context) -> Result<(), Failure> {
    let ctx = &ctx;
    match command {
        Command::Run(args) => run::run(ctx, args).await,
        Command::Agents(group) => agents::run(ctx, group.command).await,
        Command::Tasks(group) => tasks::run(ctx, group.command).await,
        Command::Deployments(group) => deployments::run(ctx, group.command).await,
        Command::Conversation(args) => conversation::run(ctx, args).await,
        Command::Account(c) => account::run(ctx, c).await,
        Command::Simulate(args) => simulate::run(ctx, args).await,
        Command::Shell(command) => shell::run(Cli::command(), command),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
