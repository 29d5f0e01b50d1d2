//! `qc-agents auth` and `qc-agents login`: check the credentials against the API, and save
//! them in lean-cli's credentials file.

use std::{
    io::{IsTerminal as _, Read as _},
    path::{Path, PathBuf},
};

use clap::{Args, Subcommand};
use quantconnect_agents::auth::lean_credentials_path;
use serde_json::json;

use crate::{
    context::Context,
    failure::Failure,
    output::{self, Ui},
};

/// The account-level commands, listed at the top level of `qc-agents`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the credentials (and this machine's clock) against the API
    Auth,
    /// Save credentials in lean-cli's ~/.lean/credentials (mode 600), shared with lean-cli
    Login(LoginArgs),
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

/// Runs `auth` or `login`.
pub async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Auth => auth(ctx).await,
        Command::Login(args) => login(ctx.ui, args),
    }
}

/// `auth`: one signed request. A wrong user id or token, or a clock too far off, fails
/// with the library's advice; a clock the library had to correct is logged as a warning.
async fn auth(ctx: &Context) -> Result<(), Failure> {
    let ui = ctx.ui;
    let client = ctx.client()?;
    client.authenticate().await?;
    if ui.json {
        ui.json(&json!({"success": true}));
    } else {
        output::out(format!(
            "authenticated as user {} at {} (the server accepted this machine's clock)",
            client.credentials().user_id(),
            client.base_url()
        ));
        output::out(match client.organization_id() {
            Some(org) => format!("organization {org}"),
            None => "no organization set (--organization or QC_ORGANIZATION_ID): listing and creating agents and tasks need one".into(),
        });
    }
    Ok(())
}

/// `login`: writes lean-cli's credentials file, keys `user-id` and `api-token`, mode 600,
/// keeping any other keys the file has.
fn login(ui: Ui, args: LoginArgs) -> Result<(), Failure> {
    let user_id = args.user_id.trim().to_owned();
    if user_id.is_empty() {
        return Err(Failure::Usage("--user-id is empty".into()));
    }
    let token = match args.api_token {
        Some(token) => token,
        None => read_token()?,
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(Failure::Usage("the API token is empty".into()));
    }
    let path = lean_credentials_path()
        .ok_or_else(|| Failure::Local("no home directory to keep ~/.lean/credentials in".into()))?;
    write_credentials(&path, &user_id, &token)
        .map_err(|e| Failure::Local(format!("cannot write {}: {e}", path.display())))?;
    if ui.json {
        ui.json(&json!({"success": true, "path": path, "userId": user_id}));
    } else {
        output::out(format!(
            "saved the credentials of user {user_id} in {} (mode 600, shared with lean-cli); check them with: qc-agents auth",
            path.display()
        ));
    }
    Ok(())
}

fn read_token() -> Result<String, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        output::err("API token (input is shown; pipe it in to keep it off the screen):");
    }
    let mut token = String::new();
    stdin
        .lock()
        .take(64 * 1024)
        .read_to_string(&mut token)
        .map_err(|e| Failure::Local(format!("cannot read the API token from stdin: {e}")))?;
    Ok(token.lines().next().unwrap_or_default().to_owned())
}

/// Writes the file through a temporary file created with mode 600 and renamed into place, so
/// the token is never readable by others, not even for a moment.
fn write_credentials(path: &Path, user_id: &str, token: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut data = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text).ok()
        })
        .unwrap_or_default();
    data.insert("user-id".into(), user_id.into());
    data.insert("api-token".into(), token.into());
    let text = serde_json::to_string_pretty(&data).map_err(std::io::Error::other)?;
    let temp: PathBuf = dir.join(format!(".credentials.qc-agents.{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = (|| {
        use std::io::Write as _;
        let mut file = options.open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_file_keeps_other_keys_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lean").join("credentials");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, r#"{"user-id": "1", "api-token": "old", "other": 5}"#).unwrap();
        write_credentials(&path, "42", "new-token").unwrap();
        let data: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(data["user-id"], "42");
        assert_eq!(data["api-token"], "new-token");
        assert_eq!(data["other"], 5);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }
}
