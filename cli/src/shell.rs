//! `qc-agents completions SHELL`, `qc-agents man` and `qc-agents version`: what a shell and
//! `man` need, made from the command's own definition, and the version.

use clap::{Subcommand, ValueEnum};
use clap_complete::Shell;

use crate::{failure::Failure, output};

/// The commands that describe `qc-agents` itself.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a completion script: `source <(qc-agents completions bash)`, or save it where
    /// your shell loads completions from
    Completions {
        /// The shell to complete in
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Print the manual page (roff): `qc-agents man > qc-agents.1; man ./qc-agents.1`
    Man,
    /// Print the version (as --version does)
    Version,
}

/// The shells completions are made for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompletionShell {
    /// GNU Bash
    Bash,
    /// Z shell
    Zsh,
    /// fish
    Fish,
    /// PowerShell
    Powershell,
}

impl From<CompletionShell> for Shell {
    fn from(shell: CompletionShell) -> Shell {
        match shell {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
            CompletionShell::Powershell => Shell::PowerShell,
        }
    }
}

/// Runs `command` for `cli`, the whole command's definition.
pub fn run(mut cli: clap::Command, command: Command) -> Result<(), Failure> {
    let mut text = Vec::new();
    match command {
        Command::Completions { shell } => {
            let name = cli.get_name().to_owned();
            clap_complete::generate(Shell::from(shell), &mut cli, name, &mut text);
        }
        Command::Man => clap_mangen::Man::new(cli)
            .render(&mut text)
            .map_err(|e| Failure::Local(format!("cannot render the manual page: {e}")))?,
        Command::Version => text.extend(cli.render_version().into_bytes()),
    }
    output::out(String::from_utf8_lossy(&text).trim_end());
    Ok(())
}
