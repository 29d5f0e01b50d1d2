//! What every command shares: the global options, the output settings, the client they
//! describe, the parsing of durations, and prompts read from files.

use std::{io::Read as _, path::Path, time::Duration};

use clap::Args;
use quantconnect_agents::{Client, Credentials};

use crate::{failure::Failure, output::Ui};

/// The options of the commands that call the API, listed after each command's own.
/// Given after the command (`qc-agents tasks list --json`); `global` so that a group's
/// leaves (`agents list`) take them too.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// The API's base URL, /api/v2 included [default: https://www.quantconnect.com/api/v2]
    #[arg(long, global = true, env = "QC_API_URL", value_name = "URL")]
    pub api_url: Option<String>,

    /// How long one request may take: 90s, 2m (a bare number is seconds) [default: 60s]
    #[arg(long, global = true, env = "QC_REQUEST_TIMEOUT", value_name = "DURATION",
          value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Print exactly the payload as JSON on stdout (an array for lists, {} when there is
    /// none), nothing else; an agent's own LLM token shows as "(redacted)"
    #[arg(long, global = true)]
    pub json: bool,

    /// Log each request (operation, status, attempts, duration) on stderr; -vv adds the
    /// library's debug events (retries, statuses while waiting). RUST_LOG, when set, decides
    /// instead (e.g. RUST_LOG=quantconnect_agents=debug,reqwest=debug)
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// `--organization`, on the commands that list or create agents and tasks.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Organization {
    /// The organization whose agents and tasks to list, or to create them in
    #[arg(long, env = "QC_ORGANIZATION_ID", value_name = "ID")]
    pub organization: Option<String>,
}

/// What a command runs with: the global options and how output looks.
pub struct Context {
    /// The global options.
    pub global: Global,
    /// How output looks.
    pub ui: Ui,
}

impl Context {
    /// The client the global options describe, with the credentials from the environment or
    /// lean-cli's file. Never a simulator: without credentials this is an error.
    pub fn client(&self) -> Result<Client, Failure> {
        self.client_with(Credentials::from_env()?)
    }

    /// The same, in `organization`: for listing and creating agents and tasks.
    pub fn client_in(&self, organization: &Organization) -> Result<Client, Failure> {
        let client = self.client()?;
        Ok(match organization.organization.as_deref().map(str::trim) {
            Some(org) if !org.is_empty() => client.with_organization_id(org),
            _ => client,
        })
    }

    /// The client the global options describe, with these credentials.
    pub fn client_with(&self, credentials: Credentials) -> Result<Client, Failure> {
        let g = &self.global;
        let mut builder = Client::builder(credentials);
        if let Some(url) = g.api_url.as_deref().filter(|u| !u.trim().is_empty()) {
            builder = builder.base_url(url);
        }
        if let Some(timeout) = g.timeout {
            builder = builder.request_timeout(timeout);
        }
        Ok(builder.build()?)
    }
}

/// A duration in the crate's one syntax (`90`, `90s`, `2m`, `1h30m`; zero and more than a
/// century refused): [`quantconnect_agents::duration::parse`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    quantconnect_agents::duration::parse(text)
}

/// Where a prompt comes from: `--prompt TEXT` or `--prompt-file PATH` (`-` for stdin).
pub fn prompt_text(
    text: Option<String>,
    file: Option<&Path>,
    flag: &str,
) -> Result<String, Failure> {
    match (text, file) {
        (Some(text), None) if text == "-" => Err(Failure::Usage(format!(
            "--{flag} - would send a lone `-`: to read stdin, use --{flag}-file -"
        ))),
        (Some(text), None) => Ok(text),
        (None, Some(path)) => read_text_file(path, flag),
        // clap makes them exclusive, and one required where it must be.
        _ => Err(Failure::Usage(format!(
            "give --{flag} TEXT or --{flag}-file PATH"
        ))),
    }
}

/// The most a prompt file may hold: far more than any prompt, far less than memory.
const MAX_PROMPT_BYTES: u64 = 64 << 20;

fn read_text_file(path: &Path, flag: &str) -> Result<String, Failure> {
    let mut bytes = Vec::new();
    let stdin = path == Path::new("-");
    let read = if stdin {
        std::io::stdin()
            .lock()
            .take(MAX_PROMPT_BYTES + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_PROMPT_BYTES + 1).read_to_end(&mut bytes))
    };
    let source = if stdin {
        "stdin".into()
    } else {
        path.display().to_string()
    };
    read.map_err(|e| Failure::Local(format!("--{flag}-file: cannot read {source}: {e}")))?;
    if bytes.len() as u64 > MAX_PROMPT_BYTES {
        return Err(Failure::Usage(format!(
            "--{flag}-file: {source} holds more than {} MiB",
            MAX_PROMPT_BYTES >> 20
        )));
    }
    String::from_utf8(bytes)
        .map_err(|e| Failure::Usage(format!("--{flag}-file: {source} is not UTF-8 text: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_or_bare_seconds_never_zero() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        for bad in ["", "soon", "-3", "0", "0s", "NaN", "1e19", "101y"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
