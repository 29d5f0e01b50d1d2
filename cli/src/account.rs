//! `qc-agents auth` and `qc-agents login`: check the credentials against the API, and save
//! them in lean-cli's credentials file.

use std::{
    io::{IsTerminal as _, Read as _},
    path::Path,
};

use clap::{Args, Subcommand};
use quantconnect_agents::{auth::lean_credentials_path, Credentials, Error};
use serde_json::json;

use crate::{
    context::{Context, Global, Organization},
    failure::Failure,
    output,
};

/// The account-level commands, listed at the top level of `qc-agents`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the credentials (and this machine's clock) against the API
    Auth(AuthArgs),
    /// Check credentials against the API, then save them in lean-cli's ~/.lean/credentials
    /// (mode 600), shared with lean-cli; a symlinked file is written through to its target,
    /// one that does not parse is left alone
    Login(LoginArgs),
}

/// `qc-agents auth`.
#[derive(Debug, Args)]
pub struct AuthArgs {
    #[command(flatten)]
    pub organization: Organization,
    #[command(flatten)]
    pub global: Global,
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
    /// Save them without checking them first (offline, say); by default they are sent to
    /// the API's /authenticate and saved only if it accepts them
    #[arg(long)]
    pub no_verify: bool,
    #[command(flatten)]
    pub global: Global,
}

impl Command {
    /// The global options given to it.
    pub fn global(&mut self) -> &mut Global {
        match self {
            Command::Auth(args) => &mut args.global,
            Command::Login(args) => &mut args.global,
        }
    }
}

/// Runs `auth` or `login`.
pub async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Auth(args) => auth(ctx, &args.organization).await,
        Command::Login(args) => login(ctx, args).await,
    }
}

/// `auth`: one signed request. A wrong user id or token, or a clock too far off, fails
/// with the library's advice; a clock the library had to correct is logged as a warning.
async fn auth(ctx: &Context, organization: &Organization) -> Result<(), Failure> {
    let ui = ctx.ui;
    let client = ctx.client_in(organization)?;
    client.authenticate().await?;
    if ui.json {
        ui.json(&json!({}));
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

/// `login`: checks the credentials with `/authenticate` (unless --no-verify), then writes
/// lean-cli's credentials file, keys `user-id` and `api-token`, mode 600, keeping any other
/// keys the file has (see [`write_credentials`]).
async fn login(ctx: &Context, args: LoginArgs) -> Result<(), Failure> {
    let ui = ctx.ui;
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
    if !args.no_verify {
        let client = ctx.client_with(Credentials::new(user_id.as_str(), token.as_str()))?;
        client.authenticate().await.map_err(|e| {
            let why = match &e {
                // The client corrects a clock up to a day off: the credentials are wrong.
                Error::Authentication {
                    detail,
                    clock_offset: Some(offset),
                    ..
                } if offset.abs() < 24 * 60 * 60 => format!(
                    "the API refused user {} with this API token ({detail}); check both at \
                     https://www.quantconnect.com/account",
                    crate::text::line(&user_id)
                ),
                _ => e.to_string(),
            };
            Failure::Local(format!(
                "{why}; nothing was saved (to save the credentials unchecked: --no-verify)"
            ))
        })?;
    }
    let warnings = write_credentials(&path, &user_id, &token)
        .map_err(|e| Failure::Local(format!("cannot write {}: {e}", path.display())))?;
    for warning in warnings {
        output::err(warning);
    }
    if ui.json {
        ui.json(&json!({"path": path, "userId": user_id, "verified": !args.no_verify}));
    } else {
        let checked = if args.no_verify {
            "not checked (--no-verify); check them with: qc-agents auth"
        } else {
            "the API accepted them"
        };
        output::out(format!(
            "saved the credentials of user {} in {} (mode 600, shared with lean-cli); {checked}",
            crate::text::line(&user_id),
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

/// Writes lean-cli's credentials file at `path`, keeping its other keys: through an
/// exclusively created temporary file (mode 600, random name, in the same directory) renamed
/// over it, so the token is never readable by others and no planted file is used or
/// removed. A file that does not parse is left as it is (an error); a symlink is written
/// through, to its target, so the link and the file it names stay one. Returns warnings.
fn write_credentials(path: &Path, user_id: &str, token: &str) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    let target = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::canonicalize(path).map_err(|e| {
            format!("it is a symlink whose target cannot be resolved ({e}); left as it is")
        })?,
        _ => path.to_path_buf(),
    };
    let dir = target.parent().unwrap_or(Path::new("."));
    create_private_dir(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    warnings.extend(writable_by_others(dir));
    let mut data = match std::fs::read_to_string(&target) {
        Ok(text) => {
            warnings.extend(writable_by_others(&target));
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text).map_err(
                |e| {
                    format!(
                        "it is not a JSON object ({e}); left as it is: fix it, or move it away                          and log in again"
                    )
                },
            )?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Map::new(),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    data.insert("user-id".into(), user_id.into());
    data.insert("api-token".into(), token.into());
    let text = serde_json::to_string_pretty(&data).map_err(|e| e.to_string())?;
    // Mode 600 and O_EXCL with a random name; removed on failure (it is ours).
    let mut temp = tempfile::Builder::new()
        .prefix(".credentials.qc-agents.")
        .tempfile_in(dir)
        .map_err(|e| format!("cannot create a temporary file in {}: {e}", dir.display()))?;
    use std::io::Write as _;
    temp.write_all(text.as_bytes())
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| format!("cannot write the temporary file: {e}"))?;
    temp.persist(&target)
        .map_err(|e| format!("cannot rename the temporary file over it: {}", e.error))?;
    Ok(warnings)
}

/// Creates `dir` and its parents, those it creates private to the user (mode 700).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// A warning when `path` is writable by its group or by everyone: whoever can write it can
/// replace the credentials (and the API token with them).
fn writable_by_others(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o022 != 0).then(|| {
            format!(
                "warning: {} is writable by others (mode {mode:o}): they can replace your                  credentials; fix it with: chmod go-w {}",
                path.display(),
                crate::text::shell_quote(&path.display().to_string())
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
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
        assert_eq!(write_credentials(&path, "42", "new-token"), Ok(vec![]));
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
