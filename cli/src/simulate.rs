//! `qc-agents simulate`: serve the embedded simulator of the Agents API in the foreground
//! until a stop signal, print the environment that points qc-agents (or the crate) at it,
//! and, for a CI step that starts it in the background, write that environment to a file.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    time::Duration,
};

use quantconnect_agents::{
    simulator::{Fault, Schedule, Simulator},
    Credentials, Error,
};
use serde_json::json;

use crate::{
    context::{parse_duration, Context},
    failure::Failure,
    faults, output,
    signals::Signals,
    text::shell_quote,
};

/// A duration as [`parse_duration`] takes it, or `0`: a deployment may skip the queue.
fn queue_time(text: &str) -> Result<Duration, String> {
    match text.trim() {
        "0" | "0s" => Ok(Duration::ZERO),
        _ => parse_duration(text),
    }
}

const AFTER_HELP: &str = "\
It listens on 127.0.0.1 only, and stops on Ctrl-C, SIGTERM or SIGHUP alike: it prints
`simulator stopped after N requests` on stderr, removes the --env-file, and exits 0.
With -v, each request it answers is logged on stderr (method, path, operation, status,
latency and the fault applied).

A fault spec is KIND[=VALUE][@OPERATION,...][xN]: the fault, the operations it applies to
(QuantConnect's operation ids, such as readAgentDeployment; every operation when left out)
and how many matching requests it applies to (every one when left out). The first fault
that matches a request applies. The kinds:
  latency=DURATION              answer normally, after this delay
  status=CODE                   answer this HTTP status with an empty body
  too-many-requests[=SECONDS]   answer 429 with this Retry-After (default 1)
  html-page[=CODE]              answer a proxy's HTML error page (default 502)
  drop-connection               close the connection without answering
  drop-connection-after-effect  do what the request asks, then close without answering
  respond=FILE                  answer 200 with FILE as the JSON body, as it is
  drip                          answer 200, then send the body one byte a second
  large-body=BYTES[,chunked]    answer 200 with a body this long (512KiB, 64MiB, 1GiB)
  reset-mid-body                announce a body, send half of it and break the connection

In CI:
  rm -f sim.env
  qc-agents simulate --port 8787 --env-file sim.env & sim=$!
  until [ -e sim.env ]; do kill -0 $sim || exit 1; sleep 0.1; done
  . ./sim.env
  qc-agents run --agent 47 --name ci --prompt 'Print Hello World'
  kill $sim; wait $sim";

/// `qc-agents simulate`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// The port on 127.0.0.1 to listen on (in use: an error) [default: a free one]
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Accept this user id, with --api-token, instead of throwaway credentials
    #[arg(long, value_name = "ID", requires = "api_token")]
    pub user_id: Option<String>,
    /// Accept this API token, with --user-id; it is not printed (it goes to --env-file only)
    #[arg(long, value_name = "TOKEN", requires = "user_id")]
    pub api_token: Option<String>,
    /// Accept the credentials in QC_USER_ID and QC_API_TOKEN (the token is not printed)
    #[arg(long, conflicts_with_all = ["user_id", "api_token"])]
    pub credentials_from_env: bool,
    /// Once it is listening, write the export lines to PATH (mode 600, renamed into place,
    /// so it is whole when it appears; removed when the simulator stops)
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// How long each new deployment stays InQueue (0 for not at all)
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = queue_time)]
    pub in_queue: Duration,
    /// How long each run stays Running
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    pub running: Duration,
    /// Make each deployment's first run end Failed with this runtime error
    #[arg(long, value_name = "MESSAGE")]
    pub fail: Option<String>,
    /// Inject a fault: KIND[=VALUE][@OPERATION,...][xN], such as status=503@readAgentTaskx2
    /// (repeatable; the kinds are in --help)
    #[arg(long, value_name = "SPEC", value_parser = faults::parse)]
    pub fault: Vec<Fault>,
    /// Print the environment as one JSON object on stdout instead of `export` lines
    #[arg(long)]
    pub json: bool,
    /// Log each request it answers on stderr (method, path, operation, status, latency);
    /// -vv adds the library's debug events. RUST_LOG, when set, decides instead
    #[arg(long, short, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// `simulate`: serves the embedded simulator in the foreground until a stop signal.
pub async fn run(ctx: &Context, args: Args) -> Result<(), Failure> {
    let ui = ctx.ui;
    let given = given_credentials(&args)?;
    let mut builder = Simulator::builder()
        .schedule(Schedule {
            in_queue: args.in_queue,
            running: args.running,
            failure: args.fail,
        })
        .port(args.port.unwrap_or(0));
    let token_is_theirs = given.is_some();
    if let Some(credentials) = given {
        builder = builder.credentials(credentials);
    }
    // Caught before anything says that a signal stops the simulator: until then the default
    // action would end the process without a word.
    let mut signals = Signals::listen();
    // The CLI's own words: the port is the user's, no client is being configured.
    let simulator = builder.start().await.map_err(|e| match e {
        Error::Configuration { detail } => Failure::Local(detail),
        other => Failure::Api(other),
    })?;
    for fault in args.fault {
        simulator.inject(fault);
    }
    let exports = exports(&simulator);
    if let Some(path) = &args.env_file {
        write_env_file(path, &exports).map_err(|e| {
            Failure::Local(format!("--env-file: cannot write {}: {e}", path.display()))
        })?;
    }
    // The user's own token is not printed: they have it, and CI logs keep what is printed.
    let printed = exports
        .iter()
        .filter(|(name, _)| !(token_is_theirs && *name == "QC_API_TOKEN"));
    if ui.json {
        let object: serde_json::Map<_, _> =
            printed.map(|(k, v)| (k.to_string(), json!(v))).collect();
        ui.json(&object);
    } else {
        output::out("# A simulator of QuantConnect's Agents API (not QuantConnect) is serving until Ctrl-C or SIGTERM.");
        if token_is_theirs {
            output::out("# It accepts the credentials it was given; the token is not printed.");
        } else {
            output::out(
                "# The credentials below are its own throwaway ones, valid only for this process.",
            );
        }
        output::out(
            "# Paste these lines into another shell to point qc-agents (or the crate) at it:",
        );
        for (name, value) in printed {
            output::out(format!("export {name}={}", shell_quote(value)));
        }
    }
    // Any of the three stops it the same way: the simulator's only way to end is a signal.
    signals.next().await;
    if let Some(path) = &args.env_file {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                output::err(format!("warning: cannot remove {}: {e}", path.display()))
            }
            _ => {}
        }
    }
    output::err(format!(
        "simulator stopped after {} requests",
        simulator.requests().len()
    ));
    Ok(())
}

/// The credentials given with `--user-id`/`--api-token` or `--credentials-from-env`.
fn given_credentials(args: &Args) -> Result<Option<Credentials>, Failure> {
    let (user_id, token, source) = if args.credentials_from_env {
        let var = |name| {
            std::env::var(name).map_err(|_| {
                Failure::Usage(format!(
                    "--credentials-from-env: {name} is not set (or not UTF-8)"
                ))
            })
        };
        (var("QC_USER_ID")?, var("QC_API_TOKEN")?, "QC_USER_ID")
    } else {
        match (&args.user_id, &args.api_token) {
            (Some(user), Some(token)) => (user.clone(), token.clone(), "--user-id"),
            // clap requires each with the other.
            _ => return Ok(None),
        }
    };
    let user_id = user_id.trim();
    if user_id.is_empty() || user_id.chars().any(char::is_control) {
        return Err(Failure::Usage(format!(
            "{source}: the user id is empty or holds a control character"
        )));
    }
    if token.is_empty() || token.chars().any(char::is_control) {
        return Err(Failure::Usage(
            "the API token is empty or holds a control character".into(),
        ));
    }
    Ok(Some(Credentials::new(user_id, token)))
}

/// The variables that point qc-agents or the crate at `simulator`, in order.
fn exports(simulator: &Simulator) -> Vec<(&'static str, String)> {
    let credentials = simulator.credentials();
    vec![
        ("QC_API_URL", simulator.base_url()),
        ("QC_USER_ID", credentials.user_id().to_owned()),
        ("QC_API_TOKEN", credentials.expose_api_token().to_owned()),
        ("QC_ORGANIZATION_ID", simulator.organization_id().to_owned()),
    ]
}

/// Writes the `export` lines to an exclusive temporary file (mode 600) beside `path` and
/// renames it over `path`: a reader never sees it half written.
fn write_env_file(path: &Path, exports: &[(&str, String)]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".qc-agents-simulate.")
        .tempfile_in(dir)?;
    for (name, value) in exports {
        writeln!(temp, "export {name}={}", shell_quote(value))?;
    }
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
