//! An in-memory simulator of QuantConnect's Agents API, for examples and for testing code
//! that drives agents without spending real agent runs (QuantConnect has no sandbox).
//!
//! Behind the `simulator` cargo feature. [`Simulator::start`] serves the API on 127.0.0.1 at
//! a port the OS picks; [`Simulator::client`] is a [`Client`] already pointed at it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), quantconnect_agents::Error> {
//! use quantconnect_agents::{simulator::Simulator, ProjectPreference};
//!
//! let simulator = Simulator::start().await?;
//! let client = simulator.client();
//! let task = client
//!     .create_agent_task(|t| {
//!         t.agent_id(47)
//!             .name("Hello")
//!             .prompt("Print Hello World")
//!             .project_preference(ProjectPreference::ProjectForTask)
//!     })
//!     .await?;
//! let done = client.deploy_and_wait(task.id.unwrap()).await.expect("completes");
//! assert_eq!(done.status, Some(quantconnect_agents::DeploymentStatus::Completed));
//! # Ok(()) }
//! ```
//!
//! # What it does
//!
//! - State in memory: agents (agent 47 exists from the start), tasks and deployments, with
//!   ids shaped like QuantConnect's: integer agent and task ids, deployment ids `A-` and 32
//!   hex digits.
//! - A deployment is `InQueue`, then `Running`, then `Completed` on a [`Schedule`], or `Failed`
//!   with a `runtimeError` when the schedule says so; stopping it makes it `Stopped`. Time is
//!   tokio's, so tests with paused time run the schedule instantly.
//! - The conversation holds the task's prompt as a user message and, once a run ends, the
//!   agent's answer; a follow-up prompt appends a user message and starts another run.
//! - Unknown ids and invalid or missing arguments answer HTTP 200 with
//!   `{"success": false, "errors": ["Invalid argument"]}`, the wording on record for
//!   QuantConnect (lean-cli issue #464).
//! - The signature is checked as QuantConnect checks it: a wrong user id or hash, a missing
//!   `Timestamp`, or a timestamp older than 7200 s gets HTTP 401 with `WWW-Authenticate`.
//! - [`Fault`]s make chosen operations slow, fail with a status, answer 429 with
//!   `Retry-After`, return an HTML error page, or drop the connection, for resilience tests.
//! - [`Simulator::requests`] lists the operations it received, in order.
//!
//! Every response is built from the generated models, so it matches `openapi.yaml`; a test
//! checks each against the spec.

use std::{
    collections::BTreeMap,
    fmt,
    hash::{BuildHasher, RandomState},
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::{body::Incoming, header, Request, Response, StatusCode};
use serde_json::{json, Value};
use tokio::{net::TcpListener, task::JoinHandle, time::Instant};

use crate::{
    types::{self, AgentConversationMessage, AgentConversationMessagePart},
    Client, Credentials, DeploymentStatus, Error, ProjectPreference,
};

/// The agent that exists from the start, as in QuantConnect's examples.
pub const DEFAULT_AGENT_ID: i64 = 47;
/// How old a signature's timestamp may be, in seconds, as QuantConnect enforces it.
pub const MAX_TIMESTAMP_AGE: u64 = 7200;
/// The error QuantConnect answers invalid arguments with.
pub const INVALID_ARGUMENT: &str = "Invalid argument";

/// How deployments move through their statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// How long a new deployment is `InQueue`.
    pub in_queue: Duration,
    /// How long each run is `Running` (the first after the queue; a follow-up prompt
    /// starts another).
    pub running: Duration,
    /// `Some(error)` makes the first run end `Failed` with that `runtimeError`.
    pub failure: Option<String>,
}

impl Default for Schedule {
    /// 1 s in queue, 3 s running, then `Completed`.
    fn default() -> Self {
        Schedule {
            in_queue: Duration::from_secs(1),
            running: Duration::from_secs(3),
            failure: None,
        }
    }
}

/// What a [`Fault`] does to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Answers normally, after this delay.
    Latency(Duration),
    /// Answers this HTTP status with an empty body, without doing anything.
    Status(u16),
    /// Answers 429 with a `Retry-After` of this many seconds, without doing anything.
    TooManyRequests {
        /// The `Retry-After` value, in seconds.
        retry_after: u64,
    },
    /// Answers this status with an HTML page, as a proxy or load balancer does.
    HtmlPage(u16),
    /// Closes the connection without answering and without doing anything.
    DropConnection,
    /// Does what the request asks, then closes the connection without answering: the
    /// caller cannot know that its request took effect.
    DropConnectionAfterEffect,
    /// Answers exactly this, without doing anything: a truncated JSON document, a body of
    /// the wrong content type, numbers out of range, whatever a test needs.
    Respond {
        /// The HTTP status.
        status: u16,
        /// The `Content-Type` header.
        content_type: String,
        /// The body, as sent.
        body: String,
    },
    /// Answers 200 with a JSON content type, then sends the body one byte a second.
    Drip,
    /// Answers 200 with a body of `bytes` bytes, announced in `Content-Length` or not.
    LargeBody {
        /// How long the body is.
        bytes: u64,
        /// Whether `Content-Length` says so up front (else the body is chunked).
        declare_length: bool,
    },
    /// Answers 200, announces a body, sends half of it and breaks the connection.
    ResetMidBody,
}

/// A fault injected into chosen operations: [`Simulator::inject`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    kind: FaultKind,
    operations: Vec<String>,
    times: Option<u32>,
}

impl Fault {
    /// A fault on every operation, every time, until [`Simulator::clear_faults`].
    pub fn new(kind: FaultKind) -> Self {
        Fault {
            kind,
            operations: Vec::new(),
            times: None,
        }
    }

    /// Only for this operation (QuantConnect's id, e.g. `readAgentDeployment`); call again
    /// to add more.
    pub fn on(mut self, operation_id: &str) -> Self {
        self.operations.push(operation_id.to_owned());
        self
    }

    /// Only for the next `times` matching requests.
    pub fn times(mut self, times: u32) -> Self {
        self.times = Some(times);
        self
    }

    fn matches(&self, operation: &str) -> bool {
        self.times != Some(0)
            && (self.operations.is_empty() || self.operations.iter().any(|o| o == operation))
    }
}

/// Configures a [`Simulator`]: `Simulator::builder().schedule(..).start().await`.
#[derive(Debug, Clone, Default)]
pub struct SimulatorBuilder {
    schedule: Schedule,
    credentials: Option<Credentials>,
    organization_id: Option<String>,
}

impl SimulatorBuilder {
    /// How deployments progress ([`Schedule::default`] unless set).
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// The credentials the simulator accepts (random ones unless set).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The organization id the simulated account belongs to (random unless set).
    pub fn organization_id(mut self, organization_id: impl Into<String>) -> Self {
        self.organization_id = Some(organization_id.into());
        self
    }

    /// Binds 127.0.0.1 on a port the OS picks and starts serving.
    ///
    /// # Errors
    /// [`Error::Configuration`] when the port cannot be bound.
    pub async fn start(self) -> Result<Simulator, Error> {
        let listener =
            TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| Error::Configuration {
                    detail: format!("the simulator cannot bind 127.0.0.1: {e}"),
                })?;
        let addr = listener.local_addr().map_err(|e| Error::Configuration {
            detail: format!("the simulator has no local address: {e}"),
        })?;
        let credentials = self
            .credentials
            .unwrap_or_else(|| Credentials::new("123456", format!("simulator-{}", random_hex(16))));
        let organization_id = self.organization_id.unwrap_or_else(|| random_hex(32));
        let shared = Arc::new(Shared {
            connections: std::sync::atomic::AtomicUsize::new(0),
            credentials: credentials.clone(),
            organization_id: organization_id.clone(),
            schedule: self.schedule,
            state: Mutex::new(State::new(&organization_id)),
        });
        let server = tokio::spawn(serve(listener, shared.clone()));
        Ok(Simulator {
            addr,
            shared,
            server,
        })
    }
}

/// A running simulator. Dropping it stops the server.
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("base_url", &self.base_url())
            .field("organization_id", &self.shared.organization_id)
            .finish_non_exhaustive()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Simulator {
    /// A simulator with the default [`Schedule`] and random credentials.
    ///
    /// # Errors
    /// [`Error::Configuration`] when the port cannot be bound.
    pub async fn start() -> Result<Simulator, Error> {
        Self::builder().start().await
    }

    /// A builder for a simulator with another schedule or fixed credentials.
    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder::default()
    }

    /// The base URL, `/api/v2` included: `http://127.0.0.1:<port>/api/v2`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v2", self.addr)
    }

    /// The credentials it accepts.
    pub fn credentials(&self) -> &Credentials {
        &self.shared.credentials
    }

    /// The organization of the simulated account.
    pub fn organization_id(&self) -> &str {
        &self.shared.organization_id
    }

    /// A client pointed at the simulator, with its credentials and organization.
    pub fn client(&self) -> Client {
        Client::builder(self.shared.credentials.clone())
            .base_url(self.base_url())
            .organization_id(self.shared.organization_id.clone())
            .build()
            .expect("the simulator's base URL is valid")
    }

    /// Injects a fault; faults apply in the order injected, the first that matches wins.
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// The operation ids of the requests received so far, in order (faulted ones included).
    pub fn requests(&self) -> Vec<String> {
        self.shared.lock().requests.clone()
    }

    /// How many TCP connections it has accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.shared
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

struct Shared {
    connections: std::sync::atomic::AtomicUsize,
    credentials: Credentials,
    organization_id: String,
    schedule: Schedule,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A handler that panicked cannot leave the maps half-updated in a way that matters
        // for a simulator: keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A moment: tokio's clock for the schedule, the wall clock for the timestamps shown.
#[derive(Clone, Copy)]
struct Moment {
    instant: Instant,
    wall: SystemTime,
}

impl Moment {
    fn now() -> Self {
        Moment {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    fn plus(self, d: Duration) -> Self {
        Moment {
            instant: self.instant + d,
            wall: self.wall + d,
        }
    }

    fn text(self) -> String {
        timestamp(self.wall)
    }
}

struct TaskRecord {
    task: types::AgentTask,
}

struct Run {
    prompt: String,
    start: Moment,
    queued: bool,
    failure: Option<String>,
}

struct DeploymentRecord {
    id: String,
    task_id: i64,
    agent_id: i64,
    project_id: i64,
    created: Moment,
    runs: Vec<Run>,
    stopped: Option<Moment>,
}

struct State {
    agents: BTreeMap<i64, types::Agent>,
    tasks: BTreeMap<i64, TaskRecord>,
    deployments: Vec<DeploymentRecord>,
    faults: Vec<Fault>,
    requests: Vec<String>,
    next_agent_id: i64,
    next_task_id: i64,
    next_deployment_number: i64,
    next_project_id: i64,
}

impl State {
    fn new(organization_id: &str) -> Self {
        let mut agents = BTreeMap::new();
        let created = Moment::now().text();
        agents.insert(
            DEFAULT_AGENT_ID,
            types::Agent {
                id: Some(DEFAULT_AGENT_ID),
                name: Some("Mia".into()),
                description: Some("QuantConnect's research assistant (simulated).".into()),
                system_prompt: Some("You write, backtest and explain LEAN algorithms.".into()),
                reasoning_effort: Some(crate::ReasoningEffort::High),
                max_turns: Some(100),
                tool_choice: Some("auto".into()),
                tools: vec![
                    "create_file".into(),
                    "edit_file".into(),
                    "create_backtest".into(),
                ],
                public: Some(true),
                model: Some("claude-opus-4-7".into()),
                created: Some(created.clone()),
                updated: Some(created),
                organization: Some(types::AgentOrganization {
                    id: Some(organization_id.to_owned()),
                    name: Some("Simulated Organization".into()),
                    profile: None,
                }),
                use_qcc: Some(true),
                node: Some(types::AgentNode {
                    id: Some(0),
                    sku: Some("A-8".into()),
                }),
                ..Default::default()
            },
        );
        State {
            agents,
            tasks: BTreeMap::new(),
            deployments: Vec::new(),
            faults: Vec::new(),
            requests: Vec::new(),
            next_agent_id: 105,
            next_task_id: 332,
            next_deployment_number: 1187,
            next_project_id: 23_456_789,
        }
    }

    fn deployment(&self, id: &str) -> Option<&DeploymentRecord> {
        self.deployments.iter().find(|d| d.id == id)
    }
}

impl DeploymentRecord {
    /// The status at `now`, and when the current run ended if it has.
    fn status(&self, schedule: &Schedule, now: Instant) -> (DeploymentStatus, Option<Moment>) {
        if let Some(stopped) = self.stopped {
            return (DeploymentStatus::Stopped, Some(stopped));
        }
        let run = self.runs.last().expect("a deployment has a run");
        let queue = if run.queued {
            schedule.in_queue
        } else {
            Duration::ZERO
        };
        let end = run.start.plus(queue + schedule.running);
        if now < run.start.instant + queue {
            (DeploymentStatus::InQueue, None)
        } else if now < end.instant {
            (DeploymentStatus::Running, None)
        } else if run.failure.is_some() {
            (DeploymentStatus::Failed, Some(end))
        } else {
            (DeploymentStatus::Completed, Some(end))
        }
    }

    fn model(&self, schedule: &Schedule, now: Instant) -> types::AgentDeployment {
        let (status, ended) = self.status(schedule, now);
        let started = match status {
            DeploymentStatus::InQueue => None,
            _ => Some(self.created.plus(schedule.in_queue).text()),
        };
        let running = matches!(status, DeploymentStatus::Running);
        types::AgentDeployment {
            deployment_id: Some(self.id.clone()),
            agent_id: Some(self.agent_id),
            status: Some(status.clone()),
            task_id: Some(self.task_id),
            model: Some("claude-opus-4-7".into()),
            created: Some(self.created.text()),
            started,
            ended: ended.map(Moment::text),
            machine: running.then(|| "A-8".into()),
            mcp_tools: vec![
                "create_file".into(),
                "edit_file".into(),
                "create_backtest".into(),
            ],
            host_name: running.then(|| "simulated-agent-node".into()),
            prompt: self.runs.last().map(|r| r.prompt.clone()),
            project_id: Some(self.project_id),
            version_id: Some(17283),
            runtime_error: match status {
                DeploymentStatus::Failed => self.runs.last().and_then(|r| r.failure.clone()),
                _ => None,
            },
        }
    }

    fn messages(&self, schedule: &Schedule, now: Instant) -> Vec<AgentConversationMessage> {
        let text_part = |kind: &str, text: String| AgentConversationMessagePart {
            type_: Some(kind.into()),
            text: Some(text),
            ..Default::default()
        };
        let mut messages = Vec::new();
        for (i, run) in self.runs.iter().enumerate() {
            messages.push(AgentConversationMessage {
                id: Some(format!("msg-{}-{:03}", &self.id[2..10], 2 * i)),
                role: Some("user".into()),
                parts: vec![text_part("text", run.prompt.clone())],
                time: Some(run.start.text()),
            });
            let queue = if run.queued {
                schedule.in_queue
            } else {
                Duration::ZERO
            };
            let end = run.start.plus(queue + schedule.running);
            let stopped_first = self.stopped.is_some_and(|s| s.instant < end.instant);
            if now < end.instant || stopped_first {
                continue;
            }
            let mut parts = vec![
                AgentConversationMessagePart {
                    type_: Some("step-start".into()),
                    ..Default::default()
                },
                text_part("reasoning", format!("The user asks: {}", run.prompt)),
            ];
            match &run.failure {
                Some(error) => parts.push(text_part("text", format!("The run failed: {error}"))),
                None => {
                    let mut input = serde_json::Map::new();
                    input.insert("filePath".into(), json!("main.py"));
                    input.insert(
                        "content".into(),
                        json!("# simulated\nclass Algorithm(QCAlgorithm):\n    pass\n"),
                    );
                    let mut output = serde_json::Map::new();
                    output.insert(
                        "structuredContent".into(),
                        json!({"success": true, "errors": [], "warnings": []}),
                    );
                    parts.push(AgentConversationMessagePart {
                        type_: Some("dynamic-tool".into()),
                        tool_name: Some("create_file".into()),
                        state: Some("output-available".into()),
                        input,
                        output,
                        ..Default::default()
                    });
                    parts.push(text_part(
                        "text",
                        format!("Done (simulated): {}", run.prompt),
                    ));
                }
            }
            messages.push(AgentConversationMessage {
                id: Some(format!("msg-{}-{:03}", &self.id[2..10], 2 * i + 1)),
                role: Some("assistant".into()),
                parts,
                time: Some(end.text()),
            });
        }
        messages
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        shared
            .connections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { handle(&shared, request).await }
            });
            // An error here is a dropped connection, injected or the client's: nothing to do.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

type BodyError = Box<dyn std::error::Error + Send + Sync>;
type Reply = Response<BoxBody<Bytes, BodyError>>;

/// A reply whose body is `chunks`, sent as they come.
fn streamed<S>(status: StatusCode, length: Option<u64>, chunks: S) -> Reply
where
    S: futures_util::Stream<Item = Result<Bytes, BodyError>> + Send + Sync + 'static,
{
    let body = StreamBody::new(chunks.map(|chunk| chunk.map(hyper::body::Frame::data)));
    let mut reply = Response::new(BodyExt::boxed(body));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    if let Some(length) = length {
        reply
            .headers_mut()
            .insert(header::CONTENT_LENGTH, length.into());
    }
    reply
}

/// Why the connection is closed without an answer (an injected drop).
#[derive(Debug)]
struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

async fn handle(shared: &Shared, request: Request<Incoming>) -> Result<Reply, Dropped> {
    let path = request.uri().path().to_owned();
    let operation = path
        .strip_prefix("/api/v2")
        .and_then(crate::operation::at_path)
        .map(|op| op.id);
    let Some(operation) = operation else {
        return Ok(plain(
            StatusCode::NOT_FOUND,
            "text/plain",
            format!("No route for {path}"),
        ));
    };
    let fault = {
        let mut state = shared.lock();
        state.requests.push(operation.to_owned());
        let fault = state.faults.iter_mut().find(|f| f.matches(operation));
        fault.map(|f| {
            if let Some(times) = f.times.as_mut() {
                *times -= 1;
            }
            f.kind.clone()
        })
    };
    match fault {
        Some(FaultKind::Latency(delay)) => tokio::time::sleep(delay).await,
        Some(FaultKind::Status(status)) => {
            return Ok(plain(status_code(status), "text/plain", String::new()))
        }
        Some(FaultKind::TooManyRequests { retry_after }) => {
            let mut reply = plain(StatusCode::TOO_MANY_REQUESTS, "text/plain", String::new());
            reply
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after.into());
            return Ok(reply);
        }
        Some(FaultKind::HtmlPage(status)) => {
            let code = status_code(status);
            let reason = code.canonical_reason().unwrap_or("Error");
            let page = format!(
                "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            );
            return Ok(plain(code, "text/html", page));
        }
        Some(FaultKind::DropConnection) => return Err(Dropped),
        Some(FaultKind::Respond {
            status,
            content_type,
            body,
        }) => return Ok(plain(status_code(status), &content_type, body)),
        Some(FaultKind::Drip) => {
            let drip = futures_util::stream::unfold(0u32, |sent| async move {
                if sent > 0 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                (sent < 3600).then(|| (Ok(Bytes::from_static(b" ")), sent + 1))
            });
            return Ok(streamed(StatusCode::OK, None, drip));
        }
        Some(FaultKind::LargeBody {
            bytes,
            declare_length,
        }) => {
            const CHUNK: u64 = 64 * 1024;
            let zeros = Bytes::from(vec![b'0'; CHUNK as usize]);
            let chunks = futures_util::stream::unfold(0u64, move |sent| {
                let zeros = zeros.clone();
                async move {
                    (sent < bytes).then(|| {
                        let n = CHUNK.min(bytes - sent);
                        (Ok(zeros.slice(..n as usize)), sent + n)
                    })
                }
            });
            return Ok(streamed(
                StatusCode::OK,
                declare_length.then_some(bytes),
                chunks,
            ));
        }
        Some(FaultKind::ResetMidBody) => {
            let half = futures_util::stream::iter([
                Ok(Bytes::from_static(
                    br#"{"success": true, "task": {"id": 33"#,
                )),
                Err(BodyError::from("connection reset by an injected fault")),
            ]);
            return Ok(streamed(StatusCode::OK, Some(200), half));
        }
        Some(FaultKind::DropConnectionAfterEffect) | None => {}
    }

    if let Err(reason) = check_signature(shared, request.headers()) {
        let mut reply = plain(StatusCode::UNAUTHORIZED, "text/plain", String::new());
        let challenge = format!("Basic realm=\"QuantConnect\", error=\"{reason}\"");
        reply.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_str(&challenge).expect("ASCII challenge"),
        );
        return Ok(reply);
    }

    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(Dropped),
    };
    let answer = {
        let mut state = shared.lock();
        answer(shared, &mut state, operation, &body)
    };
    if fault == Some(FaultKind::DropConnectionAfterEffect) {
        return Err(Dropped);
    }
    Ok(plain(
        StatusCode::OK,
        "application/json",
        answer.to_string(),
    ))
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn plain(status: StatusCode, content_type: &str, body: String) -> Reply {
    let full = Full::new(Bytes::from(body)).map_err(|never| match never {});
    let mut reply = Response::new(BodyExt::boxed(full));
    *reply.status_mut() = status;
    let content_type = header::HeaderValue::from_str(content_type)
        .unwrap_or(header::HeaderValue::from_static("application/octet-stream"));
    reply
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    reply
}

fn check_signature(shared: &Shared, headers: &header::HeaderMap) -> Result<(), &'static str> {
    let timestamp: u64 = headers
        .get("timestamp")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or("missing or invalid Timestamp header")?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if now.saturating_sub(timestamp) > MAX_TIMESTAMP_AGE {
        return Err("timestamp is too old for hash");
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or("missing Authorization header")?;
    let expected = shared.credentials.sign(timestamp).authorization;
    if given.as_bytes() != expected.as_bytes() {
        // Tell a wrong user apart from a wrong hash, as the real API does.
        let user = given
            .strip_prefix("Basic ")
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|d| String::from_utf8(d).ok())
            .and_then(|d| d.split_once(':').map(|(u, _)| u.to_owned()));
        return Err(if user.as_deref() == Some(shared.credentials.user_id()) {
            "Hash doesn't match."
        } else {
            "UserID not valid"
        });
    }
    Ok(())
}

fn refuse() -> Value {
    json!({"success": false, "errors": [INVALID_ARGUMENT]})
}

fn ok(mut payload: Value) -> Value {
    payload["success"] = json!(true);
    payload["errors"] = json!([]);
    payload
}

/// Decodes the request as the operation's generated request type.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_json::from_slice(body).ok()
}

/// Answers one authenticated request; the state changes it asks for happen here.
fn answer(shared: &Shared, state: &mut State, operation: &str, body: &[u8]) -> Value {
    let schedule = &shared.schedule;
    let now = Moment::now();
    let org_ok = |id: &str| id == shared.organization_id;
    match operation {
        "authenticate" => ok(json!({})),
        "createAgent" => {
            let Some(req) = parse::<types::CreateAgentRequest>(body) else {
                return refuse();
            };
            if !org_ok(&req.organization_id) || req.name.trim().is_empty() {
                return refuse();
            }
            let id = state.next_agent_id;
            state.next_agent_id += 1;
            let agent = types::Agent {
                id: Some(id),
                name: Some(req.name),
                description: req.description,
                profile_image: req.profile_image,
                system_prompt: req.system_prompt,
                reasoning_effort: req.reasoning_effort,
                max_turns: req.max_turns,
                tool_choice: req.tool_choice,
                tools: req.tools,
                public: req.public,
                model: req.model,
                pipeline: req.pipeline,
                created: Some(now.text()),
                updated: Some(now.text()),
                author: req.author,
                organization: Some(types::AgentOrganization {
                    id: Some(shared.organization_id.clone()),
                    name: Some("Simulated Organization".into()),
                    profile: None,
                }),
                chained_agents: req.chained_agents,
                sub_agents: req.sub_agents,
                token: req.token,
                use_qcc: req.use_qcc,
                node: req.node,
                ..Default::default()
            };
            state.agents.insert(id, agent.clone());
            ok(json!({ "agent": agent }))
        }
        "readAgent" => {
            let Some(req) = parse::<types::ReadAgentRequest>(body) else {
                return refuse();
            };
            match state.agents.get(&req.agent_id) {
                Some(agent) => ok(json!({ "agent": agent })),
                None => refuse(),
            }
        }
        "updateAgent" => {
            let Some(req) = parse::<types::UpdateAgentRequest>(body) else {
                return refuse();
            };
            let Some(agent) = state.agents.get_mut(&req.agent_id) else {
                return refuse();
            };
            macro_rules! set {
                ($($field:ident),+) => {$(
                    if let Some(value) = req.$field { agent.$field = Some(value); }
                )+};
            }
            set!(
                name,
                description,
                profile_image,
                system_prompt,
                reasoning_effort,
                max_turns,
                tool_choice,
                public,
                model,
                pipeline,
                token,
                use_qcc,
                node,
                author
            );
            if !req.tools.is_empty() {
                agent.tools = req.tools;
            }
            agent.updated = Some(now.text());
            ok(json!({}))
        }
        "deleteAgent" => {
            let Some(req) = parse::<types::DeleteAgentRequest>(body) else {
                return refuse();
            };
            match state.agents.remove(&req.agent_id) {
                Some(_) => ok(json!({})),
                None => refuse(),
            }
        }
        "listAgents" => {
            let Some(req) = parse::<types::ListAgentsRequest>(body) else {
                return refuse();
            };
            if !org_ok(&req.organization_id) {
                return refuse();
            }
            let agents: Vec<_> = state.agents.values().collect();
            ok(json!({ "agents": agents }))
        }
        "createAgentTask" => {
            let Some(req) = parse::<types::CreateAgentTaskRequest>(body) else {
                return refuse();
            };
            let known_preference = !req.project_preference.is_unknown();
            if !org_ok(&req.organization_id)
                || !state.agents.contains_key(&req.agent_id)
                || req.name.trim().is_empty()
                || req.prompt.trim().is_empty()
                || !known_preference
            {
                return refuse();
            }
            let id = state.next_task_id;
            state.next_task_id += 1;
            let task = types::AgentTask {
                id: Some(id),
                name: Some(req.name.trim().to_owned()),
                organization_id: Some(req.organization_id),
                agent_id: Some(req.agent_id),
                prompt: Some(req.prompt),
                deployments: Some(0),
                created: Some(now.text()),
                updated: Some(now.text()),
                owner: Some(types::AgentTaskOwner {
                    public_id: Some("simulated_user".into()),
                    name: Some("Simulated User".into()),
                    image: None,
                }),
                project_preference: Some(req.project_preference),
                ..Default::default()
            };
            state.tasks.insert(id, TaskRecord { task: task.clone() });
            ok(json!({ "task": task_view(state, schedule, id, now.instant) }))
        }
        "readAgentTask" => {
            let Some(req) = parse::<types::ReadAgentTaskRequest>(body) else {
                return refuse();
            };
            if !state.tasks.contains_key(&req.task_id) {
                return refuse();
            }
            ok(json!({ "task": task_view(state, schedule, req.task_id, now.instant) }))
        }
        "updateAgentTask" => {
            let Some(req) = parse::<types::UpdateAgentTaskRequest>(body) else {
                return refuse();
            };
            let Some(record) = state.tasks.get_mut(&req.task_id) else {
                return refuse();
            };
            if let Some(name) = req.name {
                if name.trim().is_empty() {
                    return refuse();
                }
                record.task.name = Some(name);
            }
            record.task.updated = Some(now.text());
            ok(json!({}))
        }
        "deleteAgentTask" => {
            let Some(req) = parse::<types::DeleteAgentTaskRequest>(body) else {
                return refuse();
            };
            match state.tasks.remove(&req.task_id) {
                Some(_) => ok(json!({})),
                None => refuse(),
            }
        }
        "listAgentTasks" => {
            let Some(req) = parse::<types::ListAgentTasksRequest>(body) else {
                return refuse();
            };
            if !org_ok(&req.organization_id) {
                return refuse();
            }
            let ids: Vec<i64> = state.tasks.keys().copied().collect();
            let tasks: Vec<_> = ids
                .into_iter()
                .map(|id| task_view(state, schedule, id, now.instant))
                .collect();
            ok(json!({ "tasks": tasks }))
        }
        "createAgentDeployment" => {
            let Some(req) = parse::<types::CreateAgentDeploymentRequest>(body) else {
                return refuse();
            };
            let Some(record) = state.tasks.get(&req.task_id) else {
                return refuse();
            };
            let task = record.task.clone();
            let project_id = match (&task.project_preference, task.project_id) {
                (Some(ProjectPreference::ProjectForTask), Some(project)) => project,
                _ => {
                    let project = state.next_project_id;
                    state.next_project_id += 1;
                    project
                }
            };
            let number = state.next_deployment_number;
            state.next_deployment_number += 1;
            let deployment = DeploymentRecord {
                id: format!("A-{}", random_hex(32)),
                task_id: req.task_id,
                agent_id: task.agent_id.unwrap_or(DEFAULT_AGENT_ID),
                project_id,
                created: now,
                runs: vec![Run {
                    prompt: task.prompt.clone().unwrap_or_default(),
                    start: now,
                    queued: true,
                    failure: schedule.failure.clone(),
                }],
                stopped: None,
            };
            let model = deployment.model(schedule, now.instant);
            let debug =
                json!({"id": deployment.id, "agent": deployment.agent_id, "version": 17283});
            state.deployments.push(deployment);
            if let Some(record) = state.tasks.get_mut(&req.task_id) {
                let task = &mut record.task;
                task.deployments = Some(task.deployments.unwrap_or(0) + 1);
                task.last_deployment_id = Some(number);
                task.last_deployment_time = Some(now.text());
                if matches!(
                    task.project_preference,
                    Some(ProjectPreference::ProjectForTask)
                ) {
                    task.project_id = Some(project_id);
                }
            }
            ok(json!({ "deployment": model, "debug": debug }))
        }
        "readAgentDeployment" => {
            let Some(req) = parse::<types::ReadAgentDeploymentRequest>(body) else {
                return refuse();
            };
            match state.deployment(&req.deployment_id) {
                Some(d) => ok(json!({ "deployment": d.model(schedule, now.instant) })),
                None => refuse(),
            }
        }
        "updateAgentDeployment" => {
            let Some(req) = parse::<types::UpdateAgentDeploymentRequest>(body) else {
                return refuse();
            };
            if req.prompt.trim().is_empty() {
                return refuse();
            }
            let Some(d) = state
                .deployments
                .iter_mut()
                .find(|d| d.id == req.deployment_id)
            else {
                return refuse();
            };
            d.stopped = None;
            d.runs.push(Run {
                prompt: req.prompt,
                start: now,
                queued: false,
                failure: None,
            });
            ok(json!({ "message": "Prompt run started." }))
        }
        "listAgentDeployments" => {
            let Some(req) = parse::<types::ListAgentDeploymentsRequest>(body) else {
                return refuse();
            };
            if !state.tasks.contains_key(&req.task_id) {
                return refuse();
            }
            let deployments: Vec<_> = state
                .deployments
                .iter()
                .filter(|d| d.task_id == req.task_id)
                .map(|d| d.model(schedule, now.instant))
                .collect();
            ok(json!({ "deployments": deployments }))
        }
        "stopAgentDeployment" => {
            let Some(req) = parse::<types::StopAgentDeploymentRequest>(body) else {
                return refuse();
            };
            let Some(d) = state
                .deployments
                .iter_mut()
                .find(|d| d.id == req.deployment_id)
            else {
                return refuse();
            };
            let (status, _) = d.status(schedule, now.instant);
            if !status.is_terminal() {
                d.stopped = Some(now);
            }
            ok(json!({}))
        }
        "deleteAgentDeployment" => {
            let Some(req) = parse::<types::DeleteAgentDeploymentRequest>(body) else {
                return refuse();
            };
            let before = state.deployments.len();
            state.deployments.retain(|d| d.id != req.deployment_id);
            if state.deployments.len() == before {
                return refuse();
            }
            ok(json!({}))
        }
        "readAgentConversation" => {
            let Some(req) = parse::<types::ReadAgentConversationRequest>(body) else {
                return refuse();
            };
            if req.callable_id.is_some() {
                // The simulated agents have no callable sub-agents.
                return refuse();
            }
            let Some(d) = state.deployment(&req.deployment_id) else {
                return refuse();
            };
            let messages = d.messages(schedule, now.instant);
            let (status, _) = d.status(schedule, now.instant);
            let words: i64 = messages
                .iter()
                .flat_map(|m| &m.parts)
                .filter_map(|p| p.text.as_ref())
                .map(|t| t.split_whitespace().count() as i64)
                .sum();
            let conversation = types::AgentConversation {
                id: Some(d.id.clone()),
                user_id: shared.credentials.user_id().parse().ok(),
                organization_id: Some(shared.organization_id.clone()),
                channel: Some(format!("agent-deployment-{}", &d.id[2..])),
                project_id: Some(d.project_id),
                prompt: d.runs.first().map(|r| r.prompt.clone()),
                messages,
                input_tokens: Some(1000 + 40 * words),
                output_tokens: Some(25 * words),
                aggregate_status: Some(status.to_string()),
                ..Default::default()
            };
            ok(json!({ "conversation": conversation }))
        }
        _ => refuse(),
    }
}

/// A task as read: its stored fields plus the statuses of its active deployments.
fn task_view(state: &State, schedule: &Schedule, id: i64, now: Instant) -> types::AgentTask {
    let mut task = state.tasks[&id].task.clone();
    task.status = state
        .deployments
        .iter()
        .filter(|d| d.task_id == id)
        .filter_map(|d| {
            let (status, _) = d.status(schedule, now);
            (!status.is_terminal()).then(|| types::AgentTaskStatusEntry {
                deployment_id: Some(d.id.clone()),
                status: Some(status.to_string()),
            })
        })
        .collect();
    task
}

/// `count` random lowercase hex digits.
fn random_hex(count: usize) -> String {
    let mut out = String::with_capacity(count);
    let state = RandomState::new();
    let mut i = 0u64;
    while out.len() < count {
        let word = state.hash_one((i, Instant::now()));
        out.push_str(&format!("{word:016x}"));
        i += 1;
    }
    out.truncate(count);
    out
}

/// QuantConnect's timestamp format, `YYYY-MM-DD HH:MM:SS` (UTC).
fn timestamp(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_quantconnects_format() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01 00:00:00");
        assert_eq!(
            timestamp(UNIX_EPOCH + Duration::from_secs(1_778_094_592)),
            "2026-05-06 19:09:52"
        );
    }

    #[test]
    fn deployment_ids_are_a_dash_and_32_hex() {
        let id = format!("A-{}", random_hex(32));
        assert_eq!(id.len(), 34);
        assert!(id[2..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(random_hex(32), random_hex(32));
    }
}
