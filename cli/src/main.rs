//! `qc-agents`: QuantConnect's Agents API from a shell, built on the `quantconnect-agents`
//! crate. `qc-agents --help` lists the commands; the README's "Command line: qc-agents"
//! section shows examples.
//!
//! Exit status: 0 success; 1 an API, network or configuration error; 2 a usage error; for
//! `run` and `deployments wait`: 3 the deployment failed, 4 it was stopped, 5 the maximum
//! wait ran out; 130 interrupted (Ctrl-C).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod commands;
mod output;
mod progress;

use std::{process::ExitCode, time::Duration};

use clap::{Args, CommandFactory as _, Parser, Subcommand, ValueEnum};
use quantconnect_agents::{wait::WaitError, Error, ProjectPreference, ReasoningEffort};

use crate::output::Ui;

/// QuantConnect's Agents API from a shell: agents, tasks, deployments and conversations.
///
/// Credentials come from QC_USER_ID and QC_API_TOKEN, else from lean-cli's
/// ~/.lean/credentials (which `qc-agents login` writes). Exit status: 0 success, 1 API or
/// network error, 2 usage error; for `run` and `deployments wait`, 3 the deployment failed,
/// 4 it was stopped, 5 the maximum wait ran out; 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "qc-agents", version, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// The API's base URL, /api/v2 included [default: https://www.quantconnect.com/api/v2]
    #[arg(long, global = true, env = "QC_API_URL", value_name = "URL")]
    pub api_url: Option<String>,

    /// The organization for listing and creating agents and tasks
    #[arg(long, global = true, env = "QC_ORGANIZATION_ID", value_name = "ID")]
    pub organization: Option<String>,

    /// How long one request may take: 90s, 2m (a bare number is seconds) [default: 60s]
    #[arg(long, global = true, env = "QC_REQUEST_TIMEOUT", value_name = "DURATION",
          value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Print exactly the payload as JSON on stdout (an array for lists), nothing else; an
    /// agent's own LLM token shows as "(redacted)"
    #[arg(long, global = true)]
    pub json: bool,

    /// Log each request (operation, status, duration) on stderr
    #[arg(long, short, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a task, deploy it, wait for it with a live status line, print the
    /// conversation, then delete the deployment and the task (unless --keep)
    Run(RunArgs),
    /// Agents: list, read, create, update, delete
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// Tasks: list, read, create, rename, delete
    #[command(subcommand)]
    Tasks(TasksCommand),
    /// Deployments (runs of a task): list, read, create, prompt, stop, delete, wait
    #[command(subcommand)]
    Deployments(DeploymentsCommand),
    /// Print a deployment's conversation, or follow it as it grows
    Conversation(ConversationArgs),
    /// Check the credentials (and this machine's clock) against the API
    Auth,
    /// Save credentials in lean-cli's ~/.lean/credentials (mode 600), shared with lean-cli
    Login(LoginArgs),
    /// Serve the embedded simulator of the Agents API until Ctrl-C, for trying things out
    Simulate(SimulateArgs),
}

/// `qc-agents run`.
#[derive(Debug, Args)]
pub struct RunArgs {
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
    #[arg(long, value_enum, default_value_t = Preference::ProjectForTask)]
    pub project_preference: Preference,
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

/// A task's project preference, as QuantConnect spells it.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Preference {
    /// One project for the task, reused by every deployment
    ProjectForTask,
    /// A new project for each deployment
    ProjectEachTaskDeployment,
}

impl From<Preference> for ProjectPreference {
    fn from(p: Preference) -> Self {
        match p {
            Preference::ProjectForTask => ProjectPreference::ProjectForTask,
            Preference::ProjectEachTaskDeployment => ProjectPreference::ProjectEachTaskDeployment,
        }
    }
}

/// An agent's reasoning effort.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Effort {
    /// Low effort
    Low,
    /// Medium effort
    Medium,
    /// High effort
    High,
}

impl From<Effort> for ReasoningEffort {
    fn from(e: Effort) -> Self {
        match e {
            Effort::Low => ReasoningEffort::Low,
            Effort::Medium => ReasoningEffort::Medium,
            Effort::High => ReasoningEffort::High,
        }
    }
}

#[derive(Debug, Subcommand)]
enum AgentsCommand {
    /// List the organization's agents
    List,
    /// Show one agent
    Read {
        /// The agent's id
        id: i64,
    },
    /// Create an agent (--name required)
    Create(AgentFields),
    /// Change an agent's settings; the others keep their value
    Update {
        /// The agent's id
        id: i64,
        #[command(flatten)]
        fields: AgentFields,
    },
    /// Delete an agent
    Delete {
        /// The agent's id
        id: i64,
    },
}

/// The settings of an agent that `agents create` and `agents update` set.
#[derive(Debug, Args)]
pub struct AgentFields {
    /// The agent's name
    #[arg(long)]
    pub name: Option<String>,
    /// What the agent is for
    #[arg(long)]
    pub description: Option<String>,
    /// The system prompt
    #[arg(long)]
    pub system_prompt: Option<String>,
    /// The LLM model, e.g. claude-opus-4-7 (the organization's default when not set)
    #[arg(long)]
    pub model: Option<String>,
    /// How hard the model reasons
    #[arg(long, value_enum)]
    pub reasoning_effort: Option<Effort>,
    /// The most turns a deployment may take
    #[arg(long, value_name = "N")]
    pub max_turns: Option<i64>,
    /// How the model picks tools, e.g. auto
    #[arg(long, value_name = "CHOICE")]
    pub tool_choice: Option<String>,
    /// A tool the agent may use (repeat for more)
    #[arg(long = "tool", value_name = "TOOL")]
    pub tools: Vec<String>,
    /// Whether other users can see the agent
    #[arg(long, value_name = "BOOL")]
    pub public: Option<bool>,
}

#[derive(Debug, Subcommand)]
enum TasksCommand {
    /// List the organization's tasks
    List,
    /// Show one task
    Read {
        /// The task's id
        id: i64,
    },
    /// Create a task (this runs nothing: `deployments create` does)
    Create {
        /// The agent that works on the task
        #[arg(long, value_name = "ID")]
        agent: i64,
        /// The task's name
        #[arg(long)]
        name: String,
        /// What the agent is asked to do
        #[arg(long)]
        prompt: String,
        /// Which project the task's deployments work in
        #[arg(long, value_enum, default_value_t = Preference::ProjectForTask)]
        project_preference: Preference,
    },
    /// Rename a task
    Rename {
        /// The task's id
        id: i64,
        /// The new name
        name: String,
    },
    /// Delete a task
    Delete {
        /// The task's id
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
enum DeploymentsCommand {
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
        text: String,
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

/// `qc-agents conversation`.
#[derive(Debug, Args)]
pub struct ConversationArgs {
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

/// `qc-agents login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Your QuantConnect user id (https://www.quantconnect.com/account)
    #[arg(long, value_name = "ID")]
    pub user_id: String,
    /// Your API token; when left out it is read from stdin, so it stays out of the shell's
    /// history and the process list
    #[arg(long, value_name = "TOKEN")]
    pub api_token: Option<String>,
}

/// `qc-agents simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// How long each new deployment stays InQueue
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub in_queue: Duration,
    /// How long each run stays Running
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    pub running: Duration,
    /// Make each deployment's first run end Failed with this runtime error
    #[arg(long, value_name = "MESSAGE")]
    pub fail: Option<String>,
}

/// Parses `30m`, `90s`, `2h`, `1h 30m` (humantime's syntax) or a bare number of seconds, up
/// to 100 years: a longer duration could overflow the clock it is added to (the simulator's
/// `Schedule::LONGEST` is the same).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const LONGEST: Duration = Duration::from_secs(3_155_760_000); // 100 years of 365.25 days
    let text = text.trim();
    let duration = if let Ok(seconds) = text.parse::<f64>() {
        Duration::try_from_secs_f64(seconds)
            .map_err(|_| format!("`{text}` is not a duration (a number of seconds from 0)"))?
    } else {
        humantime::parse_duration(text)
            .map_err(|e| format!("`{text}` is not a duration like 90s, 30m or 2h: {e}"))?
    };
    if duration > LONGEST {
        return Err(format!(
            "`{text}` is too long: a duration is at most 100 years ({} s)",
            LONGEST.as_secs()
        ));
    }
    Ok(duration)
}

/// Why a command did not succeed, and so its exit status.
#[derive(Debug)]
pub enum Failure {
    /// The library said no: the API, the network or the configuration (exit 1).
    Api(Error),
    /// A wait ended otherwise than `Completed` (exit 3, 4, 5, or 1 for a request error).
    Wait(WaitError),
    /// The command cannot run as given (exit 2).
    Usage(String),
    /// Anything else that went wrong here (exit 1).
    Local(String),
    /// Ctrl-C; what to do next has been printed (exit 130).
    Interrupted,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Api(e)
    }
}

impl From<WaitError> for Failure {
    fn from(e: WaitError) -> Self {
        match e {
            WaitError::Request(e) => Failure::Api(e),
            other => Failure::Wait(other),
        }
    }
}

impl Failure {
    /// The process's exit status for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Api(Error::MissingOrganization { .. }) => 2,
            Failure::Api(_) | Failure::Local(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Wait(WaitError::Failed { .. }) => 3,
            Failure::Wait(WaitError::Stopped { .. }) => 4,
            Failure::Wait(WaitError::ExceededMaxWait { .. }) => 5,
            Failure::Wait(_) => 1,
            Failure::Interrupted => 130,
        }
    }

    /// The one line that explains it on stderr, or nothing when that has been said.
    pub fn message(&self) -> Option<String> {
        let text = match self {
            Failure::Api(e) => describe(e),
            Failure::Wait(e) => e.to_string(),
            Failure::Usage(m) | Failure::Local(m) => m.clone(),
            Failure::Interrupted => return None,
        };
        Some(format!("error: {}", one_line(&text)))
    }
}

/// The library's message, with the CLI's way out where the library names its own API.
fn describe(e: &Error) -> String {
    match e {
        Error::MissingOrganization { .. } => format!(
            "{}: no organization id: pass --organization ID or set QC_ORGANIZATION_ID",
            e.operation().unwrap_or("request")
        ),
        Error::MissingCredentials { .. } => {
            format!("{e}; or save them with `qc-agents login --user-id ID --api-token TOKEN`")
        }
        _ => e.to_string(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Run(run) = &cli.command {
        if run.follow && cli.global.json {
            Cli::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    "`run --follow` prints messages as they come; with --json, stdout holds \
                     only the final {task, deployment, conversation} object: use one or the \
                     other",
                )
                .exit();
        }
    }
    let ui = Ui::detect(cli.global.json);
    init_logging(cli.global.verbose, ui.color_err);
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
    match runtime.block_on(dispatch(cli, ui)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if let Some(message) = failure.message() {
                output::err(message);
            }
            ExitCode::from(failure.exit_code())
        }
    }
}

/// The library logs warnings (a clock it had to correct, a status it does not know) through
/// `tracing`; show them on stderr, and each request with --verbose.
fn init_logging(verbose: bool, color: bool) {
    let level = if verbose {
        tracing_subscriber::filter::LevelFilter::DEBUG
    } else {
        tracing_subscriber::filter::LevelFilter::WARN
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .without_time()
        .with_target(false)
        .try_init();
}

async fn dispatch(cli: Cli, ui: Ui) -> Result<(), Failure> {
    let g = &cli.global;
    match cli.command {
        Command::Run(args) => commands::run(g, ui, args).await,
        Command::Agents(c) => match c {
            AgentsCommand::List => commands::agents_list(g, ui).await,
            AgentsCommand::Read { id } => commands::agents_read(g, ui, id).await,
            AgentsCommand::Create(fields) => commands::agents_create(g, ui, fields).await,
            AgentsCommand::Update { id, fields } => {
                commands::agents_update(g, ui, id, fields).await
            }
            AgentsCommand::Delete { id } => commands::agents_delete(g, ui, id).await,
        },
        Command::Tasks(c) => match c {
            TasksCommand::List => commands::tasks_list(g, ui).await,
            TasksCommand::Read { id } => commands::tasks_read(g, ui, id).await,
            TasksCommand::Create {
                agent,
                name,
                prompt,
                project_preference,
            } => commands::tasks_create(g, ui, agent, name, prompt, project_preference).await,
            TasksCommand::Rename { id, name } => commands::tasks_rename(g, ui, id, name).await,
            TasksCommand::Delete { id } => commands::tasks_delete(g, ui, id).await,
        },
        Command::Deployments(c) => match c {
            DeploymentsCommand::List { task_id } => {
                commands::deployments_list(g, ui, task_id).await
            }
            DeploymentsCommand::Read { id } => commands::deployments_read(g, ui, &id).await,
            DeploymentsCommand::Create { task_id } => {
                commands::deployments_create(g, ui, task_id).await
            }
            DeploymentsCommand::Prompt { id, text } => {
                commands::deployments_prompt(g, ui, &id, text).await
            }
            DeploymentsCommand::Stop { id } => commands::deployments_stop(g, ui, &id).await,
            DeploymentsCommand::Delete { id } => commands::deployments_delete(g, ui, &id).await,
            DeploymentsCommand::Wait { id, max_wait } => {
                commands::deployments_wait(g, ui, &id, max_wait).await
            }
        },
        Command::Conversation(args) => commands::conversation(g, ui, args).await,
        Command::Auth => commands::auth(g, ui).await,
        Command::Login(args) => commands::login(ui, args),
        Command::Simulate(args) => commands::simulate(ui, args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_or_bare_seconds() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        for bad in ["", "soon", "-3", "3 parsecs", "NaN", "inf", "1e20"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        // Durations that fit but would overflow the clock they are added to.
        assert_eq!(
            parse_duration("100y"),
            Ok(Duration::from_secs(3_155_760_000))
        );
        for long in ["1e19", "101y", "18446744073709551615s"] {
            let refused = parse_duration(long).unwrap_err();
            assert!(refused.contains("at most 100 years"), "{long}: {refused}");
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn messages_are_one_line() {
        let failure = Failure::Local("first\nsecond  third".into());
        assert_eq!(
            failure.message().as_deref(),
            Some("error: first second third")
        );
        assert_eq!(Failure::Interrupted.message(), None);
        assert_eq!(Failure::Interrupted.exit_code(), 130);
    }
}
