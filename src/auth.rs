//! Credentials and request signing.
//!
//! QuantConnect authenticates every request with HTTP Basic auth: the user name is the
//! numeric user id, the password the lowercase hex SHA-256 of `"{api_token}:{timestamp}"`,
//! where the timestamp is the current Unix time in seconds, also sent in a `Timestamp`
//! header. The server rejects timestamps older than 7200 s, so the client signs each request
//! afresh just before sending it (the transport's last step before sending).

use std::{
    fmt,
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use base64::Engine as _;
use reqwest::header::{HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Environment variable holding the QuantConnect user id.
pub const USER_ID_VAR: &str = "QC_USER_ID";
/// Environment variable holding the QuantConnect API token.
pub const API_TOKEN_VAR: &str = "QC_API_TOKEN";

/// The largest credentials file [`Credentials::from_lean_file`] reads: 64 KiB (lean-cli's
/// is a few hundred bytes).
pub const MAX_CREDENTIALS_FILE_BYTES: u64 = 64 * 1024;

/// The name of the header that carries the signing timestamp.
pub const TIMESTAMP_HEADER: HeaderName = HeaderName::from_static("timestamp");

/// A QuantConnect user id and API token.
///
/// Find both at <https://www.quantconnect.com/account>. The token never appears in this
/// type's `Debug` output, in logs or in error messages.
///
/// ```
/// use quantconnect_agents::Credentials;
///
/// let credentials = Credentials::new("123456", "secret-token");
/// assert_eq!(credentials.user_id(), "123456");
/// assert!(!format!("{credentials:?}").contains("secret-token"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    user_id: String,
    api_token: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user_id", &self.user_id)
            .field("api_token", &"<redacted>")
            .finish()
    }
}

/// The two headers that authenticate one request, for one timestamp.
#[derive(Clone)]
pub struct Signature {
    /// `Basic base64("{user_id}:{sha256_hex("{token}:{timestamp}")}")`, marked sensitive.
    pub authorization: HeaderValue,
    /// The Unix time in seconds that was hashed; goes in the `Timestamp` header.
    pub timestamp: u64,
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signature")
            .field("authorization", &"<redacted>")
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

impl Credentials {
    /// Credentials from a user id and an API token, as given.
    pub fn new(user_id: impl Into<String>, api_token: impl Into<String>) -> Self {
        Credentials {
            user_id: user_id.into(),
            api_token: api_token.into(),
        }
    }

    /// The user id, the user name of the Basic authentication.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// The API token itself, for a tool that must hand it on or redact it. Never log it.
    pub fn expose_api_token(&self) -> &str {
        &self.api_token
    }

    /// Credentials from the environment, as lean-cli finds them.
    ///
    /// `QC_USER_ID` and `QC_API_TOKEN` when both are set; otherwise the file lean-cli's
    /// `lean login` writes, `~/.lean/credentials` (JSON with the keys `user-id` and
    /// `api-token`).
    ///
    /// # Errors
    /// [`Error::MissingCredentials`] when neither is there (the message names both),
    /// when only one of the two variables is set, or when a value is empty;
    /// [`Error::CredentialsFile`] when the file exists but cannot be read or parsed.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_sources(|name| std::env::var(name).ok(), lean_credentials_path())
    }

    /// Credentials from a lean-cli credentials file (JSON with `user-id` and `api-token`).
    ///
    /// Only a regular file (or a link to one) of at most [`MAX_CREDENTIALS_FILE_BYTES`] is
    /// read: a FIFO, a device such as `/dev/zero` or a directory is refused before it is
    /// opened, so the read can neither block nor grow without bound.
    ///
    /// # Errors
    /// [`Error::CredentialsFile`], naming the path, when the file is not a regular file, is
    /// too large, cannot be read or lacks either key.
    pub fn from_lean_file(path: &Path) -> Result<Self, Error> {
        use std::io::Read as _;
        let bad = |reason: String| Error::CredentialsFile {
            path: path.to_owned(),
            reason,
        };
        let too_large = || bad(format!("larger than {MAX_CREDENTIALS_FILE_BYTES} bytes"));
        let metadata = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
        if !metadata.is_file() {
            return Err(bad("not a regular file".into()));
        }
        if metadata.len() > MAX_CREDENTIALS_FILE_BYTES {
            return Err(too_large());
        }
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|file| {
                // The file may have grown since: read one byte past the limit at most.
                file.take(MAX_CREDENTIALS_FILE_BYTES + 1)
                    .read_to_string(&mut text)
            })
            .map_err(|e| bad(e.to_string()))?;
        if text.len() as u64 > MAX_CREDENTIALS_FILE_BYTES {
            return Err(too_large());
        }
        Self::parse_lean_file(path, &text)
    }

    fn parse_lean_file(path: &Path, text: &str) -> Result<Self, Error> {
        #[derive(serde::Deserialize)]
        struct LeanCredentials {
            #[serde(rename = "user-id")]
            user_id: Option<serde_json::Value>,
            #[serde(rename = "api-token")]
            api_token: Option<String>,
        }
        let bad = |reason: String| Error::CredentialsFile {
            path: path.to_owned(),
            reason,
        };
        // serde_json's message names a position, never the file's content.
        let file: LeanCredentials = serde_json::from_str(text)
            .map_err(|e| bad(format!("not the JSON lean-cli writes: {e}")))?;
        let user_id = match file.user_id {
            Some(serde_json::Value::String(s)) => s,
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(_) => return Err(bad("`user-id` is neither a string nor a number".into())),
            None => return Err(bad("no `user-id` key".into())),
        };
        let api_token = file
            .api_token
            .ok_or_else(|| bad("no `api-token` key".into()))?;
        let credentials = Credentials::new(user_id.trim(), api_token.trim());
        if credentials.user_id.is_empty() || credentials.api_token.is_empty() {
            return Err(bad("`user-id` or `api-token` is empty".into()));
        }
        Ok(credentials)
    }

    /// The lookup behind [`from_env`](Self::from_env), with its sources passed in.
    pub(crate) fn from_sources(
        var: impl Fn(&str) -> Option<String>,
        lean_file: Option<PathBuf>,
    ) -> Result<Self, Error> {
        let user_id = var(USER_ID_VAR).map(|v| v.trim().to_owned());
        let api_token = var(API_TOKEN_VAR).map(|v| v.trim().to_owned());
        let missing = |detail: String| Error::MissingCredentials { detail };
        match (user_id, api_token) {
            (Some(user_id), Some(api_token)) => {
                if user_id.is_empty() || api_token.is_empty() {
                    return Err(missing(format!(
                        "{USER_ID_VAR} and {API_TOKEN_VAR} are set but one of them is empty"
                    )));
                }
                Ok(Credentials::new(user_id, api_token))
            }
            (Some(_), None) => Err(missing(format!(
                "{USER_ID_VAR} is set but {API_TOKEN_VAR} is not"
            ))),
            (None, Some(_)) => Err(missing(format!(
                "{API_TOKEN_VAR} is set but {USER_ID_VAR} is not"
            ))),
            (None, None) => match lean_file {
                // `symlink_metadata`: a link to nowhere is there, and an error to report.
                Some(path) if path.symlink_metadata().is_ok() => Self::from_lean_file(&path),
                Some(path) => Err(missing(format!(
                    "set {USER_ID_VAR} and {API_TOKEN_VAR}, or log in with lean-cli \
                     (`lean login`) to create {}",
                    path.display()
                ))),
                None => Err(missing(format!(
                    "set {USER_ID_VAR} and {API_TOKEN_VAR} (no home directory to look for \
                     lean-cli's ~/.lean/credentials)"
                ))),
            },
        }
    }

    /// The signature of a request made at `timestamp` (Unix seconds).
    ///
    /// Pure: the same credentials and timestamp always give the same headers.
    ///
    /// ```
    /// use quantconnect_agents::Credentials;
    ///
    /// let signature = Credentials::new("1", "token").sign(1_700_000_000);
    /// assert_eq!(signature.timestamp, 1_700_000_000);
    /// assert!(signature.authorization.is_sensitive());
    /// ```
    pub fn sign(&self, timestamp: u64) -> Signature {
        let hash = Sha256::digest(format!("{}:{timestamp}", self.api_token));
        let password = hex_lower(&hash);
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{password}", self.user_id));
        let mut authorization = HeaderValue::from_str(&format!("Basic {basic}"))
            .expect("base64 output is a valid header value");
        authorization.set_sensitive(true);
        Signature {
            authorization,
            timestamp,
        }
    }
}

/// Where lean-cli keeps its credentials: `~/.lean/credentials`.
pub fn lean_credentials_path() -> Option<PathBuf> {
    dirs::home_dir().map(|home| home.join(".lean").join("credentials"))
}

/// The local clock, in Unix seconds.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        // A clock before 1970 is broken; the server will say the hash is wrong, and the
        // authentication error tells the user to check the clock.
        .unwrap_or(0)
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answer: sha256("my-token:1700000000"), computed independently with
    /// `printf 'my-token:1700000000' | sha256sum`.
    const HASH: &str = "f6e18d9df9a79fcb5d6d09a26c1e0a116d9aea937168adcb1c07159198407961";

    #[test]
    fn signature_matches_the_known_answer() {
        let signature = Credentials::new("12345", "my-token").sign(1_700_000_000);
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("12345:{HASH}"))
        );
        assert_eq!(signature.authorization.to_str().unwrap(), expected);
        assert_eq!(signature.timestamp, 1_700_000_000);
        assert!(signature.authorization.is_sensitive());
    }

    #[test]
    fn signature_changes_with_the_timestamp() {
        let credentials = Credentials::new("1", "t");
        assert_ne!(
            credentials.sign(1).authorization,
            credentials.sign(2).authorization
        );
    }

    #[test]
    fn debug_output_never_shows_the_token_or_its_hash() {
        let credentials = Credentials::new("12345", "my-token");
        let signature = credentials.sign(1_700_000_000);
        for text in [format!("{credentials:?}"), format!("{signature:?}")] {
            assert!(!text.contains("my-token"), "{text}");
            assert!(!text.contains(HASH), "{text}");
            assert!(!text.contains("Basic"), "{text}");
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn environment_variables_win_over_the_lean_file() {
        let dir = std::env::temp_dir().join(format!("qca-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("credentials");
        std::fs::write(&file, r#"{"user-id": "999", "api-token": "file-token"}"#).unwrap();

        let from_env = Credentials::from_sources(
            vars(&[(USER_ID_VAR, "42"), (API_TOKEN_VAR, "env-token")]),
            Some(file.clone()),
        )
        .unwrap();
        assert_eq!(from_env, Credentials::new("42", "env-token"));

        let from_file = Credentials::from_sources(vars(&[]), Some(file.clone())).unwrap();
        assert_eq!(from_file, Credentials::new("999", "file-token"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lean_file_accepts_a_numeric_user_id() {
        let parsed =
            Credentials::parse_lean_file(Path::new("c"), r#"{"user-id": 7, "api-token": "t"}"#)
                .unwrap();
        assert_eq!(parsed, Credentials::new("7", "t"));
    }

    #[test]
    fn nothing_configured_is_one_error_naming_both_variables_and_the_file() {
        let err = Credentials::from_sources(
            vars(&[]),
            Some(PathBuf::from("/nonexistent/.lean/credentials")),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::MissingCredentials { .. }));
        assert!(
            text.contains(USER_ID_VAR) && text.contains(API_TOKEN_VAR),
            "{text}"
        );
        assert!(text.contains("/nonexistent/.lean/credentials"), "{text}");
    }

    #[test]
    fn half_configured_environment_names_the_missing_variable() {
        let err = Credentials::from_sources(vars(&[(USER_ID_VAR, "1")]), None).unwrap_err();
        assert!(err.to_string().contains(API_TOKEN_VAR));
        let err = Credentials::from_sources(vars(&[(API_TOKEN_VAR, "t")]), None).unwrap_err();
        assert!(err.to_string().contains(USER_ID_VAR));
        let err =
            Credentials::from_sources(vars(&[(USER_ID_VAR, " "), (API_TOKEN_VAR, "t")]), None)
                .unwrap_err();
        assert!(err.to_string().contains("empty"));
    }

    #[test]
    fn a_broken_lean_file_is_reported_without_its_content() {
        let err = Credentials::parse_lean_file(
            Path::new("/home/u/.lean/credentials"),
            r#"{"user-id": "1", "api-token": "super-secret""#,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::CredentialsFile { .. }));
        assert!(text.contains("/home/u/.lean/credentials"), "{text}");
        assert!(!text.contains("super-secret"), "{text}");
        let err = Credentials::parse_lean_file(Path::new("c"), r#"{"user-id": "1"}"#).unwrap_err();
        assert!(err.to_string().contains("api-token"));
    }
}
