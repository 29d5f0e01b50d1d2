//! `cargo xtask record`: the lifecycle of calls against a live endpoint, each exchange saved
//! as a recording with the secrets redacted.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// What replaces the organization id in recordings: 32 hex digits, like the real thing.
pub const ORGANIZATION_PLACEHOLDER: &str = "00000000000000000000000000000000";
/// What replaces the user id (a number in bodies, a string where it appears in text).
pub const USER_ID_PLACEHOLDER: i64 = 0;
/// What replaces tokens.
pub const TOKEN_PLACEHOLDER: &str = "REDACTED";

/// The values that must not reach a recording.
struct Secrets {
    pub user_id: String,
    pub organization_id: String,
    pub api_token: String,
}

impl Secrets {
    /// `value` with every secret replaced: strings that contain one, numbers equal to a
    /// numeric user id, and `llmApiTokenUser` values.
    fn redact(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => {
                let mut s = s.replace(&self.api_token, TOKEN_PLACEHOLDER);
                if !self.organization_id.is_empty() {
                    s = s.replace(&self.organization_id, ORGANIZATION_PLACEHOLDER);
                }
                if s == self.user_id {
                    s = USER_ID_PLACEHOLDER.to_string();
                }
                Value::String(s)
            }
            Value::Number(n) if n.to_string() == self.user_id => json!(USER_ID_PLACEHOLDER),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.redact(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let v = if k == "llmApiTokenUser" && v.is_string() {
                            json!(TOKEN_PLACEHOLDER)
                        } else {
                            self.redact(v)
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// The recorder's own signing, independent of the crate on purpose: recordings are
/// refreshed exactly when a spec change may have broken the crate's generated layer, and a
/// second implementation of QuantConnect's scheme cross-checks the first.
fn authorization(user_id: &str, api_token: &str, timestamp: u64) -> String {
    let hash: String = Sha256::digest(format!("{api_token}:{timestamp}"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user_id}:{hash}"));
    format!("Basic {basic}")
}

struct Recorder {
    http: reqwest::Client,
    pub base_url: String,
    secrets: Secrets,
    out: PathBuf,
    host: String,
    written: Vec<PathBuf>,
}

impl Recorder {
    /// Sends one signed request and returns the status and the body (JSON, or the text).
    async fn send(&self, path: &str, request: &Value) -> Result<(u16, Value), String> {
        let url = format!("{}{path}", self.base_url);
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let response = self
            .http
            .post(&url)
            .header(
                "Authorization",
                authorization(&self.secrets.user_id, &self.secrets.api_token, timestamp),
            )
            .header("Timestamp", timestamp.to_string())
            .json(request)
            .send()
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| format!("{path}: {e}"))?;
        let body = serde_json::from_slice::<Value>(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok((status, body))
    }

    /// Sends a request without recording it.
    async fn peek(&self, path: &str, request: Value) -> Result<Value, String> {
        self.send(path, &request).await.map(|(_, body)| body)
    }

    /// Sends one signed request, saves the exchange as `<name>.json`, returns the body.
    async fn call(
        &mut self,
        name: &str,
        operation: &str,
        path: &str,
        request: Value,
    ) -> Result<Value, String> {
        let (status, body) = self
            .send(path, &request)
            .await
            .map_err(|e| format!("{operation}: {e}"))?;
        let recording = json!({
            "operation": operation,
            "method": "POST",
            "path": path,
            "source": format!(
                "Recorded from {} on {} by `cargo xtask record`; user id, organization id and \
                 tokens redacted, request headers (Authorization, Timestamp) not kept.",
                self.host,
                today()
            ),
            "request": self.secrets.redact(&request),
            "response": {"status": status, "body": self.secrets.redact(&body)},
        });
        let file = self.out.join(format!("{name}.json"));
        let text = serde_json::to_string_pretty(&recording).expect("recordings serialize") + "\n";
        std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
        println!("{operation:<24} HTTP {status} -> {}", file.display());
        self.written.push(file);
        Ok(body)
    }
}

fn field<'a>(body: &'a Value, pointer: &str, operation: &str) -> Result<&'a Value, String> {
    body.pointer(pointer)
        .filter(|v| !v.is_null())
        .ok_or_else(|| format!("{operation}: the response has no {pointer}: {body}"))
}

pub fn run(out: &Path, max_wait: Duration) -> Result<ExitCode, String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let written = runtime.block_on(record(out, max_wait))?;
    println!(
        "{} recordings written; run `cargo xtask validate`",
        written.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Where and as whom to record: the client's environment variables, or lean-cli's
/// credentials file for the user id and token.
pub struct Target {
    pub base_url: String,
    pub user_id: String,
    pub api_token: String,
    pub organization_id: String,
    pub agent_id: i64,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn target() -> Result<Target, String> {
    let (user_id, api_token) = match (var("QC_USER_ID"), var("QC_API_TOKEN")) {
        (Some(user), Some(token)) => (user, token),
        _ => {
            let home = std::env::var_os("HOME").ok_or("set QC_USER_ID and QC_API_TOKEN")?;
            let path = Path::new(&home).join(".lean/credentials");
            let text = std::fs::read_to_string(&path).map_err(|_| {
                format!(
                    "set QC_USER_ID and QC_API_TOKEN, or log in with lean-cli to create {}",
                    path.display()
                )
            })?;
            let file: Value =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let get = |key: &str| match &file[key] {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            (
                get("user-id").ok_or(format!("{}: no user-id", path.display()))?,
                get("api-token").ok_or(format!("{}: no api-token", path.display()))?,
            )
        }
    };
    let agent_id = match var("QC_AGENT_ID") {
        Some(v) => v
            .parse()
            .map_err(|_| format!("QC_AGENT_ID `{v}` is not a number"))?,
        None => 47,
    };
    Ok(Target {
        base_url: var("QC_API_URL")
            .unwrap_or_else(|| "https://www.quantconnect.com/api/v2".into())
            .trim_end_matches('/')
            .to_owned(),
        user_id,
        api_token,
        organization_id: var("QC_ORGANIZATION_ID")
            .ok_or("set QC_ORGANIZATION_ID: tasks and agents are listed and created in it")?,
        agent_id,
    })
}

/// Runs the lifecycle against the endpoint the environment names and writes one recording
/// per exchange into `out`.
pub async fn record(out: &Path, max_wait: Duration) -> Result<Vec<PathBuf>, String> {
    record_with(target()?, out, max_wait).await
}

/// [`record`] for an explicit target.
pub async fn record_with(
    target: Target,
    out: &Path,
    max_wait: Duration,
) -> Result<Vec<PathBuf>, String> {
    let Target {
        base_url,
        user_id,
        api_token,
        organization_id,
        agent_id,
    } = target;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let host = reqwest::Url::parse(&base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| base_url.clone());
    let mut r = Recorder {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?,
        base_url,
        secrets: Secrets {
            user_id,
            organization_id: organization_id.clone(),
            api_token,
        },
        out: out.to_owned(),
        host,
        written: Vec::new(),
    };
    let org = json!(organization_id);

    r.call(
        "authenticate.recorded",
        "authenticate",
        "/authenticate",
        json!({}),
    )
    .await?;

    r.call(
        "listAgents.recorded",
        "listAgents",
        "/agents/list",
        json!({"organizationId": org}),
    )
    .await?;
    r.call(
        "readAgent.recorded",
        "readAgent",
        "/agents/read",
        json!({"agentId": agent_id}),
    )
    .await?;
    let created = r
        .call(
            "createAgent.recorded",
            "createAgent",
            "/agents/create",
            json!({"organizationId": org, "name": "quantconnect-agents recording", "maxTurns": 5, "public": false}),
        )
        .await?;
    let new_agent = field(&created, "/agent/id", "createAgent")?.clone();
    r.call(
        "updateAgent.recorded",
        "updateAgent",
        "/agents/update",
        json!({"agentId": new_agent, "name": "quantconnect-agents recording (renamed)"}),
    )
    .await?;
    r.call(
        "deleteAgent.recorded",
        "deleteAgent",
        "/agents/delete",
        json!({"agentId": new_agent}),
    )
    .await?;

    let name = "Print Hello World Message";
    let task = r
        .call(
            "createAgentTask.recorded",
            "createAgentTask",
            "/agents/tasks/create",
            json!({
                "organizationId": org,
                "agentId": agent_id,
                "name": name,
                "prompt": "Write an algorithm that buys and holds SPY and prints Hello World.",
                "projectPreference": "project-for-task"
            }),
        )
        .await?;
    let task_id = field(&task, "/task/id", "createAgentTask")?.clone();
    r.call(
        "readAgentTask.recorded",
        "readAgentTask",
        "/agents/tasks/read",
        json!({"taskId": task_id}),
    )
    .await?;
    r.call(
        "updateAgentTask.recorded",
        "updateAgentTask",
        "/agents/tasks/update",
        json!({"taskId": task_id, "name": format!("Test - {name}")}),
    )
    .await?;
    r.call(
        "listAgentTasks.recorded",
        "listAgentTasks",
        "/agents/tasks/list",
        json!({"organizationId": org}),
    )
    .await?;

    let deployment = r
        .call(
            "createAgentDeployment.recorded",
            "createAgentDeployment",
            "/agents/deployments/create",
            json!({"taskId": task_id}),
        )
        .await?;
    let deployment_id = field(
        &deployment,
        "/deployment/deploymentId",
        "createAgentDeployment",
    )?
    .clone();
    // Poll (unrecorded) until the deployment ends: 1 s doubling to 10 s, then record the
    // final read.
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_secs(1);
    loop {
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
        let body = r
            .peek(
                "/agents/deployments/read",
                json!({"deploymentId": deployment_id}),
            )
            .await?;
        let status = body
            .pointer("/deployment/status")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if matches!(status, "Completed" | "Stopped" | "Failed") || started.elapsed() >= max_wait {
            break;
        }
    }
    r.call(
        "readAgentDeployment.recorded",
        "readAgentDeployment",
        "/agents/deployments/read",
        json!({"deploymentId": deployment_id}),
    )
    .await?;
    r.call(
        "listAgentDeployments.recorded",
        "listAgentDeployments",
        "/agents/deployments/list",
        json!({"taskId": task_id}),
    )
    .await?;
    r.call(
        "updateAgentDeployment.recorded",
        "updateAgentDeployment",
        "/agents/deployments/prompt",
        json!({"deploymentId": deployment_id, "prompt": "Replace SPY for QQQ"}),
    )
    .await?;
    r.call(
        "readAgentConversation.recorded",
        "readAgentConversation",
        "/agents/deployments/conversation/read",
        json!({"deploymentId": deployment_id}),
    )
    .await?;
    r.call(
        "stopAgentDeployment.recorded",
        "stopAgentDeployment",
        "/agents/deployments/stop",
        json!({"deploymentId": deployment_id}),
    )
    .await?;
    r.call(
        "deleteAgentDeployment.recorded",
        "deleteAgentDeployment",
        "/agents/deployments/delete",
        json!({"deploymentId": deployment_id}),
    )
    .await?;
    r.call(
        "deleteAgentTask.recorded",
        "deleteAgentTask",
        "/agents/tasks/delete",
        json!({"taskId": task_id}),
    )
    .await?;
    // A failure, as the server words it: the task is gone.
    r.call(
        "readAgentTask.recorded-failure",
        "readAgentTask",
        "/agents/tasks/read",
        json!({"taskId": task_id}),
    )
    .await?;
    Ok(r.written)
}

/// Today's date (UTC) as `YYYY-MM-DD`: the date part of RFC 3339.
fn today() -> String {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    now.split('T').next().unwrap_or_default().to_owned()
}
