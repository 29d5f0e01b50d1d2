//! Why a command did not succeed, the exit status that follows, and the one line that says
//! so on stderr.

use quantconnect_agents::{wait::WaitError, Error};

use crate::signals::Signal;

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
    /// A stop signal; what to do next has been printed (exit 128 + the signal: 130 for
    /// Ctrl-C, 143 SIGTERM, 129 SIGHUP).
    Interrupted(Signal),
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
            Failure::Interrupted(signal) => 128 + signal.number(),
        }
    }

    /// The one line that explains it on stderr, or nothing when that has been said.
    pub fn message(&self) -> Option<String> {
        let text = match self {
            Failure::Api(e) => describe(e),
            Failure::Wait(e) => e.to_string(),
            Failure::Usage(m) | Failure::Local(m) => m.clone(),
            Failure::Interrupted(_) => return None,
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
        // QuantConnect's answer to an id it does not know, or one of another organization.
        Error::Api { errors, .. } if errors.iter().any(|m| m.trim() == "Invalid argument") => {
            format!(
                "{e} (the id may not exist, or may belong to another organization than \
                 --organization / QC_ORGANIZATION_ID)"
            )
        }
        _ => e.to_string(),
    }
}

/// The message on one line, its control characters made visible: it quotes the server.
fn one_line(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    crate::text::line(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line() {
        let failure = Failure::Local("first\nsecond  third".into());
        assert_eq!(
            failure.message().as_deref(),
            Some("error: first second third")
        );
        let hostile = Failure::Local("a\u{1b}]52;c;eA==\u{7}\r\u{1b}[2Kb\0".into());
        assert_eq!(
            hostile.message().as_deref(),
            Some("error: a^[]52;c;eA==^G ^[[2Kb^@")
        );
        let interrupted = Failure::Interrupted(Signal::Interrupt);
        assert_eq!(interrupted.message(), None);
        assert_eq!(interrupted.exit_code(), 130);
        assert_eq!(Failure::Interrupted(Signal::Terminate).exit_code(), 143);
        assert_eq!(Failure::Interrupted(Signal::Hangup).exit_code(), 129);
    }
}
