//! An in-memory simulator of QuantConnect's Agents API, for examples and for testing code
//! that drives agents without spending real agent runs (QuantConnect has no sandbox).
//!
//! Behind the `simulator` cargo feature. [`Simulator::start`] serves the API on 127.0.0.1 at
//! a port the OS picks (or a chosen one: [`SimulatorBuilder::port`]); [`Simulator::client`] is a [`Client`] already pointed at it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), quantconnect_agents::Error> {
//! use quantconnect_agents::{simulator::Simulator, ProjectPreference};
//!
//! let simulator = Simulator::start().await?;
//! let client = simulator.client();
//! let task = client
//!     .create_agent_task(47, "Hello", "Print Hello World", ProjectPreference::ProjectForTask)
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
//! - The conversation holds the task's prompt as a user message and, while a run is
//!   `Running`, the agent's answer growing part by part: two steps, each a `step-start`,
//!   its `reasoning` and a `dynamic-tool` call whose `state` moves from `input-available`
//!   to `output-available`, then the `text`. Its nine changes are spread evenly over the
//!   schedule's `running` time (the `k`-th at `k/9` of it), so the pace is the schedule's
//!   and paused-time tests see every step. A follow-up prompt appends a user message at
//!   once and starts another run whose answer grows the same way. Stopping freezes the
//!   answer as it was (a tool call may stay `input-available`); a failing run's backtest
//!   call ends `output-error` and its text gives the error.
//! - Unknown ids and invalid or missing arguments answer HTTP 200 with
//!   `{"success": false, "errors": ["Invalid argument"]}`, the wording on record for
//!   QuantConnect (lean-cli issue #464).
//! - Requests are routed by path through [`crate::operation`]: a path that is not in
//!   `openapi.yaml` gets HTTP 404, and a method other than POST on one that is gets HTTP 405
//!   with `Allow: POST` (and does nothing). An operation of the spec the simulator does not
//!   simulate (an endpoint just added to the spec) answers HTTP 200 with `success: false` and
//!   an error naming the operation and its path.
//! - The signature is checked as QuantConnect checks it: a wrong user id or hash, a missing
//!   `Timestamp`, or a timestamp older than 7200 s ([`MAX_TIMESTAMP_AGE`]) gets HTTP 401 with
//!   `WWW-Authenticate`; so does a timestamp more than 60 s ahead of the clock (the client's
//!   clock tolerance), which would otherwise make a signature that never expires.
//! - A request body over 1 MiB ([`MAX_BODY_BYTES`]) gets HTTP 413 and is not kept: a larger
//!   `Content-Length` is refused before the body is read, a chunked body once it passes the
//!   limit. A connection that sends no complete request head within 10 s
//!   ([`HEADER_READ_TIMEOUT`]) of the server waiting for one, new or idle between requests,
//!   is closed.
//! - A [`Schedule`] whose `in_queue` or `running` is over [`Schedule::LONGEST`] (100 years)
//!   is refused by [`SimulatorBuilder::start`]: past it the clock arithmetic could overflow.
//! - [`Fault`]s make chosen operations slow, fail with a status, answer 429 with
//!   `Retry-After`, return an HTML error page, or drop the connection, for resilience tests.
//! - [`Simulator::requests`] lists the operations it received, in order.
//! - Each request answered (refusals and faults included) is logged as a `tracing` event at
//!   INFO level with its `method`, `path`, `operation` (QuantConnect's id), `status` (or
//!   `dropped`), `latency` (until the response head; a fault's delay included) and the
//!   `fault` applied, if any: a subscriber showing INFO shows one line per request.
//!
//! Every response is built from the generated models, so it matches `openapi.yaml`; a test
//! checks each against the spec.

// The files: `state.rs` holds what the simulator knows (agents, tasks, deployments and
// how a deployment's status and conversation follow from the schedule); `agent.rs` the
// script of a run's growing answer; `server.rs` the HTTP side (routing
// by path through `crate::operation`, the signature check, the body limit); `reply.rs` the
// replies; `faults.rs` the injected faults and how one is carried out; `handlers.rs` one
// function per operation, listed in `HANDLERS`. This file holds the public API. The files
// import one way: server -> faults -> reply, server -> handlers -> state -> agent
// (`tests/layering.rs` checks it).

mod agent;
mod faults;
mod handlers;
mod reply;
mod server;
mod state;

use std::{
    fmt,
    net::SocketAddr,
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use tokio::{net::TcpListener, task::JoinHandle};

pub use faults::{Fault, FaultKind};
use state::{random_hex, Shared};

use crate::{Client, Credentials, Error};

/// The agent that exists from the start, as in QuantConnect's examples.
pub const DEFAULT_AGENT_ID: i64 = 47;
/// How old a signature's timestamp may be, in seconds, as QuantConnect enforces it.
pub const MAX_TIMESTAMP_AGE: u64 = 7200;
/// The error QuantConnect answers invalid arguments with.
pub const INVALID_ARGUMENT: &str = "Invalid argument";
/// The largest request body the simulator reads, in bytes (1 MiB); a larger one gets 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// How long a connection may take to send a complete request head, from when the server
/// starts waiting for one (a new connection, or an idle one between requests), before it is
/// closed: long enough for any client, short enough that half-open connections do not pile
/// up.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

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

impl Schedule {
    /// The longest `in_queue` or `running` the simulator accepts: 100 years (of 365.25 days).
    pub const LONGEST: Duration = Duration::from_secs(3_155_760_000);

    /// Refuses a phase over [`Schedule::LONGEST`], which the clock could not add.
    fn check(&self) -> Result<(), Error> {
        for (name, phase) in [("in_queue", self.in_queue), ("running", self.running)] {
            if phase > Self::LONGEST {
                return Err(Error::Configuration {
                    detail: format!(
                        "the simulator's schedule has {name} = {phase:?}, over the longest it \
                         accepts, {} s (100 years)",
                        Self::LONGEST.as_secs()
                    ),
                });
            }
        }
        Ok(())
    }
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

/// Configures a [`Simulator`]: `Simulator::builder().schedule(..).start().await`.
#[derive(Debug, Clone, Default)]
pub struct SimulatorBuilder {
    schedule: Schedule,
    credentials: Option<Credentials>,
    organization_id: Option<String>,
    port: u16,
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

    /// The port to listen on, on 127.0.0.1 (0, the default, lets the OS pick a free one):
    /// for a simulator other processes find at a known address. A port in use makes
    /// [`SimulatorBuilder::start`] fail.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Binds 127.0.0.1 on the [port](SimulatorBuilder::port) (by default one the OS picks)
    /// and starts serving. Once this returns, connections are accepted.
    ///
    /// # Errors
    /// [`Error::Configuration`] when the schedule has a phase over [`Schedule::LONGEST`] or
    /// the port cannot be bound (in use, or privileged).
    pub async fn start(self) -> Result<Simulator, Error> {
        self.schedule.check()?;
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .map_err(|e| Error::Configuration {
                detail: match self.port {
                    0 => format!("the simulator cannot bind 127.0.0.1: {e}"),
                    port => format!("the simulator cannot bind 127.0.0.1:{port}: {e}"),
                },
            })?;
        let addr = listener.local_addr().map_err(|e| Error::Configuration {
            detail: format!("the simulator has no local address: {e}"),
        })?;
        let credentials = self
            .credentials
            .unwrap_or_else(|| Credentials::new("123456", format!("simulator-{}", random_hex(16))));
        let organization_id = self.organization_id.unwrap_or_else(|| random_hex(32));
        let shared = Arc::new(Shared::new(credentials, organization_id, self.schedule));
        let server = Arc::new(Server(tokio::spawn(server::serve(
            listener,
            shared.clone(),
        ))));
        Ok(Simulator {
            addr,
            shared,
            server,
        })
    }
}

/// A running simulator. It serves until this handle and every client it made are dropped.
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Arc<Server>,
}

/// The server's task, stopped when the last of the handle and its clients lets go of it.
struct Server(JoinHandle<()>);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("base_url", &self.base_url())
            .field("organization_id", &self.shared.organization_id)
            .finish_non_exhaustive()
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

    /// A client pointed at the simulator, with its credentials and organization. It keeps
    /// the simulator serving (as do its clones) after this handle is dropped, so
    /// `Simulator::start().await?.client()` is a client that works.
    pub fn client(&self) -> Client {
        Client::builder(self.shared.credentials.clone())
            .base_url(self.base_url())
            .organization_id(self.shared.organization_id.clone())
            .keep_alive(self.server.clone())
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

    /// The operation ids of the requests received so far, in order (faulted ones included;
    /// not those refused for their path, 404, or their method, 405).
    pub fn requests(&self) -> Vec<String> {
        self.shared.lock().requests.clone()
    }

    /// How many TCP connections it has accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_keeps_its_simulator_serving_after_the_handle_is_dropped() {
        let client = Simulator::start().await.unwrap().client();
        let clone = client.clone();
        drop(client);
        clone
            .authenticate()
            .await
            .expect("the simulator still serves");
    }
}
