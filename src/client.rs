//! [`Client`]: every agents endpoint as one method that returns the payload or an [`Error`].

use std::{fmt, net::IpAddr, sync::Arc, time::Duration};

use tokio::sync::Semaphore;
use tracing::Instrument as _;

use crate::{
    auth::Credentials,
    backoff::random_unit,
    error::{self, Error},
    operation::{Operation, OperationKind},
    retry::{Failure, RetryPolicy},
    transport::Transport,
    types::{self, builder},
};

/// QuantConnect's production API.
pub const DEFAULT_BASE_URL: &str = "https://www.quantconnect.com/api/v2";
/// QuantConnect's beta API.
pub const BETA_BASE_URL: &str = "https://beta.quantconnect.com/api/v2";
/// Environment variable that overrides the base URL.
pub const API_URL_VAR: &str = "QC_API_URL";
/// Environment variable that supplies the organization id.
pub const ORGANIZATION_ID_VAR: &str = "QC_ORGANIZATION_ID";
/// Environment variable that sets the request timeout, in seconds.
pub const REQUEST_TIMEOUT_VAR: &str = "QC_REQUEST_TIMEOUT";

/// How long the default HTTP client waits for a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one call may take in all, unless set with [`ClientBuilder::request_timeout`]:
/// every attempt (connection and whole response body included) and every wait between
/// attempts. A server that drips bytes cannot hold a call longer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// A deadline that never comes, for a request timeout too long to add to the clock: thirty
/// years, tokio's own "far future".
const NEVER: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

/// How many requests one client (and its clones) has in flight at most, unless set with
/// [`ClientBuilder::max_concurrent_requests`]; the default HTTP client opens and keeps at
/// most as many idle connections (README, "Performance": what that means for connections).
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 32;
/// How much of a response body the client reads at most, unless set with
/// [`ClientBuilder::max_response_bytes`]: 32 MiB, far above any documented response.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// A client of QuantConnect's Agents API.
///
/// Every method signs its request afresh, sends it, and returns the payload of the response
/// (the task, the deployments, ...). A response with `success: false`, an authentication
/// failure, an HTML error page or a body that does not decode is an [`Error`], never `Ok`.
///
/// Cheap to clone: clones share the connection pool.
///
/// ```no_run
/// # async fn run() -> Result<(), quantconnect_agents::Error> {
/// use quantconnect_agents::Client;
///
/// let client = Client::from_env()?;
/// let task = client.read_agent_task(332).await?;
/// println!("{:?}", task.name);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    transport: Arc<Transport>,
    organization_id: Option<String>,
    retry: RetryPolicy,
    request_timeout: Duration,
    in_flight: Arc<Semaphore>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url())
            .field("user_id", &self.credentials().user_id())
            .field("organization_id", &self.organization_id)
            .field("retry", &self.retry)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`] from explicit parts. Start with [`Client::builder`].
#[derive(Debug)]
pub struct ClientBuilder {
    credentials: Credentials,
    base_url: String,
    organization_id: Option<String>,
    http: Option<reqwest::Client>,
    retry: RetryPolicy,
    request_timeout: Duration,
    max_response_bytes: usize,
    max_concurrent_requests: usize,
    allow_insecure_http: bool,
    proxy_from_env: bool,
    root_certificates: Vec<reqwest::Certificate>,
}

impl ClientBuilder {
    /// The API's base URL, `/api/v2` included: [`DEFAULT_BASE_URL`] unless set, or
    /// [`BETA_BASE_URL`], or a local server such as `http://localhost:5612/api/v2`.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// The organization used by the calls that take one (listing agents and tasks,
    /// creating agents and tasks) when the request does not name it.
    pub fn organization_id(mut self, organization_id: impl Into<String>) -> Self {
        self.organization_id = Some(organization_id.into());
        self
    }

    /// The HTTP client to send requests with, for your own proxy, TLS or pool settings.
    /// By default: [`DEFAULT_CONNECT_TIMEOUT`], a `User-Agent` of
    /// `quantconnect-agents/<version>`, up to
    /// [`max_concurrent_requests`](Self::max_concurrent_requests) idle connections kept for
    /// reuse, no redirect ever followed, and the proxy of
    /// [`proxy_from_env`](Self::proxy_from_env). The request timeout, retries, concurrency
    /// limit and response bound apply whichever client sends.
    ///
    /// Build yours with `redirect(reqwest::redirect::Policy::none())`: a client that follows
    /// redirects sends the signed request wherever the server points it (another host,
    /// plain http) before this crate sees the answer. An answer that did not come from the
    /// request's own URL is refused unread ([`Error::Redirect`]), but by then it was sent.
    /// Its proxy settings (reqwest honours `HTTP_PROXY`, `HTTPS_PROXY` and `ALL_PROXY` unless
    /// built with `no_proxy()`) are yours too.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// How failed requests are retried ([`RetryPolicy::default`] unless set;
    /// [`RetryPolicy::disabled`] sends every request once). See [`crate::retry`].
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// How long one call may take in all ([`DEFAULT_TIMEOUT`] unless set), from the moment
    /// it is made: waiting for a turn among the
    /// [`max_concurrent_requests`](Self::max_concurrent_requests), every attempt
    /// (connection and whole response body included), and the backoff or `Retry-After`
    /// waits between attempts.
    ///
    /// Each attempt gets what remains of it. A retry whose wait would reach the deadline is
    /// not made: the call ends at once with the last error. When the time runs out during
    /// an attempt, the call ends with [`Error::Timeout`], which says the limit, how long
    /// the call took and how many attempts it made (a write's is wrapped in
    /// [`Error::OutcomeUnknown`]). The waiters' reads use this budget each, and the
    /// waiter's own `max_wait` cuts off a read still in flight when it runs out.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How many bytes of a response body are read at most ([`DEFAULT_MAX_RESPONSE_BYTES`]
    /// unless set); a longer body is [`Error::ResponseTooLarge`].
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// How many requests the client (and its clones) may have in flight at once
    /// ([`DEFAULT_MAX_CONCURRENT_REQUESTS`] unless set, at least 1); more wait their turn,
    /// so QuantConnect never sees more at once. The default HTTP client keeps as many idle
    /// connections for reuse.
    pub fn max_concurrent_requests(mut self, limit: usize) -> Self {
        self.max_concurrent_requests = limit.max(1);
        self
    }

    /// Allows a plain `http://` base URL on a host other than this machine. Off by default:
    /// over plain HTTP anyone on the path can read the signature and replay it for two
    /// hours.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Whether the default HTTP client uses a proxy from the environment (on unless set).
    ///
    /// Only for an `https` base URL on another machine, and then only `HTTPS_PROXY`
    /// (or `https_proxy`), else `ALL_PROXY` (or `all_proxy`): an `http://` or `https://`
    /// proxy URL, through which the client opens a `CONNECT` tunnel, so the proxy sees the
    /// host name but never the request. `NO_PROXY` (or `no_proxy`) lists hosts to reach
    /// directly. `HTTP_PROXY` never applies: a plain-http base is on this machine (or
    /// allowed by [`allow_insecure_http`](Self::allow_insecure_http)), and a signed request
    /// in plain http is never handed to a proxy. A loopback base never goes through one.
    pub fn proxy_from_env(mut self, use_it: bool) -> Self {
        self.proxy_from_env = use_it;
        self
    }

    /// Trusts `certificate` as a root, besides the system's, in the default HTTP client: for
    /// a private CA (a company's TLS proxy) or a test server.
    pub fn add_root_certificate(mut self, certificate: reqwest::Certificate) -> Self {
        self.root_certificates.push(certificate);
        self
    }

    /// The client.
    ///
    /// # Errors
    /// [`Error::Configuration`] when the base URL is not an absolute `http` or `https` URL
    /// (or carries credentials), the environment's proxy URL is not an `http` or `https`
    /// URL, or the default HTTP client cannot be built.
    pub fn build(self) -> Result<Client, Error> {
        let base_url = normalize_base_url(&self.base_url, self.allow_insecure_http)?;
        let in_flight = Arc::new(Semaphore::new(self.max_concurrent_requests));
        let http = match self.http {
            Some(http) => http,
            None => {
                let mut http = reqwest::Client::builder()
                    .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
                    .pool_max_idle_per_host(self.max_concurrent_requests)
                    .user_agent(concat!("quantconnect-agents/", env!("CARGO_PKG_VERSION")))
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy();
                for certificate in self.root_certificates {
                    http = http.add_root_certificate(certificate);
                }
                if self.proxy_from_env {
                    if let Some(proxy) = env_proxy(&base_url, |name| std::env::var(name).ok())? {
                        http = http.proxy(proxy);
                    }
                }
                http.build().map_err(|e| Error::Configuration {
                    detail: format!("cannot build the HTTP client: {}", e.without_url()),
                })?
            }
        };
        Ok(Client {
            transport: Transport::new(http, base_url, self.credentials, self.max_response_bytes),
            organization_id: self.organization_id.filter(|id| !id.trim().is_empty()),
            retry: self.retry,
            request_timeout: self.request_timeout,
            in_flight,
        })
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The proxy of [`ClientBuilder::proxy_from_env`] for `base_url`, read through `var`.
fn env_proxy(
    base_url: &str,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<reqwest::Proxy>, Error> {
    let Ok(base) = reqwest::Url::parse(base_url) else {
        return Ok(None);
    };
    if base.scheme() != "https" || is_loopback(base.host_str().unwrap_or_default()) {
        return Ok(None);
    }
    let Some((name, value)) = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        .into_iter()
        .find_map(|name| Some((name, var(name).filter(|v| !v.trim().is_empty())?)))
    else {
        return Ok(None);
    };
    let refused = || Error::Configuration {
        detail: format!(
            "{name} `{}` is not an http:// or https:// proxy URL (the only kinds used; unset \
             it, or turn environment proxies off)",
            crate::error::without_credentials(value.trim())
        ),
    };
    let url = reqwest::Url::parse(value.trim()).map_err(|_| refused())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(refused());
    }
    let no_proxy = ["NO_PROXY", "no_proxy"]
        .into_iter()
        .find_map(&var)
        .and_then(|list| reqwest::NoProxy::from_string(&list));
    let proxy = reqwest::Proxy::https(url).map_err(|_| refused())?;
    Ok(Some(proxy.no_proxy(no_proxy)))
}

fn normalize_base_url(base_url: &str, allow_insecure_http: bool) -> Result<String, Error> {
    let trimmed = base_url.trim().trim_end_matches('/');
    let shown = crate::error::without_credentials(trimmed);
    let url = reqwest::Url::parse(trimmed).map_err(|e| Error::Configuration {
        detail: format!("base URL `{shown}` is not a URL: {e}"),
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Configuration {
            detail: format!(
                "base URL `{shown}` carries credentials, which are never sent in a URL: set \
                 QC_USER_ID and QC_API_TOKEN (or ~/.lean/credentials) instead"
            ),
        });
    }
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Error::Configuration {
            detail: format!("base URL `{trimmed}` must be an http or https URL with a host"),
        });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Configuration {
            detail: format!("base URL `{trimmed}` must not have a query or fragment"),
        });
    }
    let host = url.host_str().unwrap_or_default();
    if url.scheme() == "http" && !allow_insecure_http && !is_loopback(host) {
        return Err(Error::Configuration {
            detail: format!(
                "base URL `{trimmed}` is plain http on another machine, where the signature can \
                 be read and replayed: use https, or ClientBuilder::allow_insecure_http(true)"
            ),
        });
    }
    // As the URL parser writes it (lowercase scheme and host, no default port), so that a
    // request's URL, the base plus a path, is the URL its response comes from.
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// The error a caller gets: a write that may have reached the server says that its outcome
/// is unknown.
fn finish(kind: OperationKind, failure: Failure, error: Error) -> Error {
    let maybe_sent = matches!(failure, Failure::TimedOut | Failure::Interrupted)
        || matches!(
            error,
            Error::ResponseTooLarge { .. }
                | Error::ResponseTooComplex { .. }
                | Error::Redirect { .. }
        );
    match (kind, error) {
        (OperationKind::Write, error) if maybe_sent => Error::OutcomeUnknown {
            operation: error.operation().unwrap_or("request"),
            source: Box::new(error),
        },
        (_, error) => error,
    }
}

fn required<T>(operation: &'static str, field: &'static str, value: Option<T>) -> Result<T, Error> {
    value.ok_or(Error::MissingPayload { operation, field })
}

impl Client {
    /// A client for `base_url` (including `/api/v2`) with `credentials` and the default HTTP
    /// client; see [`Client::builder`] for the other settings.
    ///
    /// # Errors
    /// [`Error::Configuration`] when `base_url` is not an absolute `http` or `https` URL.
    pub fn new(base_url: &str, credentials: Credentials) -> Result<Self, Error> {
        Self::builder(credentials).base_url(base_url).build()
    }

    /// A builder for a client with `credentials`, against [`DEFAULT_BASE_URL`] unless told
    /// otherwise.
    ///
    /// ```
    /// use quantconnect_agents::{Client, Credentials, BETA_BASE_URL};
    ///
    /// let client = Client::builder(Credentials::new("123456", "token"))
    ///     .base_url(BETA_BASE_URL)
    ///     .organization_id("5cad178b20a1d52567b534553413b691")
    ///     .build()?;
    /// assert_eq!(client.base_url(), BETA_BASE_URL);
    /// # Ok::<(), quantconnect_agents::Error>(())
    /// ```
    pub fn builder(credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            credentials,
            base_url: DEFAULT_BASE_URL.to_owned(),
            organization_id: None,
            http: None,
            retry: RetryPolicy::default(),
            request_timeout: DEFAULT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            allow_insecure_http: false,
            proxy_from_env: true,
            root_certificates: Vec::new(),
        }
    }

    /// A client configured from the environment.
    ///
    /// - credentials: `QC_USER_ID` and `QC_API_TOKEN`, else lean-cli's
    ///   `~/.lean/credentials` (see [`Credentials::from_env`]);
    /// - base URL: `QC_API_URL`, else [`DEFAULT_BASE_URL`];
    /// - organization: `QC_ORGANIZATION_ID`, if set;
    /// - request timeout: `QC_REQUEST_TIMEOUT` in seconds, else [`DEFAULT_TIMEOUT`].
    ///
    /// # Errors
    /// [`Error::MissingCredentials`] or [`Error::CredentialsFile`] when no credentials can be
    /// found; [`Error::Configuration`] for a malformed `QC_API_URL` or `QC_REQUEST_TIMEOUT`.
    pub fn from_env() -> Result<Self, Error> {
        let mut builder = Self::builder(Credentials::from_env()?);
        if let Some(url) = non_empty_var(API_URL_VAR) {
            builder = builder.base_url(url);
        }
        if let Some(organization_id) = non_empty_var(ORGANIZATION_ID_VAR) {
            builder = builder.organization_id(organization_id);
        }
        if let Some(timeout) = non_empty_var(REQUEST_TIMEOUT_VAR) {
            let seconds = timeout
                .parse::<f64>()
                .ok()
                .filter(|s| *s > 0.0)
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .ok_or_else(|| Error::Configuration {
                    detail: format!(
                        "{REQUEST_TIMEOUT_VAR} `{timeout}` is not a positive number of seconds"
                    ),
                })?;
            builder = builder.request_timeout(seconds);
        }
        builder.build()
    }

    /// The same client (sharing its connections) for another organization.
    pub fn with_organization_id(&self, organization_id: impl Into<String>) -> Self {
        Client {
            organization_id: Some(organization_id.into()),
            ..self.clone()
        }
    }

    /// The base URL requests go to, `/api/v2` included, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.transport.base_url()
    }

    /// The organization used by the calls that take one, if configured.
    pub fn organization_id(&self) -> Option<&str> {
        self.organization_id.as_deref()
    }

    /// The credentials requests are signed with.
    pub fn credentials(&self) -> &Credentials {
        self.transport.credentials()
    }

    /// Sends any operation of `openapi.yaml`, given its request type (see
    /// [`crate::operation`]), and returns its response once the envelope says success.
    ///
    /// The named methods ([`Client::read_agent_task`] and the others) are thin sugar over
    /// this: the same signing, retries by idempotency (reads are retried, a write is never
    /// resent once it may have arrived; see [`crate::retry`]), request timeout, response
    /// bound and `tracing` span. An endpoint added to `openapi.yaml` is callable here at the
    /// next build, before it has a named method (README, "Adding an endpoint").
    ///
    /// ```no_run
    /// # async fn run(client: quantconnect_agents::Client) -> Result<(), quantconnect_agents::Error> {
    /// use quantconnect_agents::types;
    ///
    /// let listed = client
    ///     .send(&types::ListAgentDeploymentsRequest { task_id: 332 })
    ///     .await?;
    /// for deployment in listed.deployments {
    ///     println!("{:?} {:?}", deployment.deployment_id, deployment.status);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// See [`Error`]. A response whose envelope says `success: false` is [`Error::Api`] (or
    /// [`Error::Authentication`]), never `Ok`.
    pub async fn send<O: Operation>(&self, request: &O) -> Result<O::Response, Error> {
        self.call(request).await.map(|response| *response)
    }

    /// Sends one operation: each attempt freshly signed, all of them within the request timeout,
    /// failures retried as the [`RetryPolicy`] says, a rejected signature retried once with
    /// the clock offset the server's `Date` reveals, all inside one `tracing` span.
    async fn call<O: Operation>(&self, body: &O) -> Result<Box<O::Response>, Error> {
        let span = tracing::debug_span!(
            "quantconnect_agents::request",
            operation = O::ID,
            attempts = tracing::field::Empty,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        // Entering and leaving a span on every poll costs; skip it when nobody listens.
        if span.is_disabled() {
            return self.attempts(body).await.0;
        }
        let started = tokio::time::Instant::now();
        let (result, attempt) = self.attempts(body).instrument(span.clone()).await;
        span.record("attempts", attempt);
        span.record("duration_ms", started.elapsed().as_millis() as u64);
        match &result {
            Ok(_) => span.record("status", 200u16),
            Err(e) => span.record("status", e.status().unwrap_or(0)),
        };
        result
    }

    /// The attempts of one operation, and how many there were, all within one deadline:
    /// the request timeout, counted from the call's start. Each attempt gets what remains
    /// of it; a retry whose delay would reach the deadline is not made (the call ends with
    /// the last error), and one that is running when the deadline comes is cut off
    /// ([`Error::Timeout`]).
    async fn attempts<O: Operation>(&self, body: &O) -> (Result<Box<O::Response>, Error>, u32) {
        let operation = O::ID;
        let kind = O::KIND;
        let started = tokio::time::Instant::now();
        // A timeout too long to add to the clock (`Duration::MAX` for "none") is a deadline
        // that never comes.
        let deadline = started
            .checked_add(self.request_timeout)
            .unwrap_or_else(|| started + NEVER);
        let timed_out = |attempts: u32| Error::Timeout {
            operation,
            limit: self.request_timeout,
            elapsed: started.elapsed(),
            attempts,
        };
        let mut attempt = 0u32;
        let mut clock_corrected = false;
        loop {
            attempt += 1;
            // A turn among the client's requests in flight; waiting for one counts.
            let permit = match self.in_flight.try_acquire() {
                Ok(permit) => permit,
                Err(_) => {
                    match tokio::time::timeout_at(deadline, self.in_flight.acquire()).await {
                        Ok(permit) => permit.expect("the semaphore is never closed"),
                        // Nothing was sent in this attempt.
                        Err(_) => return (Err(timed_out(attempt - 1)), attempt - 1),
                    }
                }
            };
            let outcome = match tokio::time::timeout_at(deadline, self.transport.send(body)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(timed_out(attempt)),
            };
            drop(permit);
            let error = match outcome {
                Ok(body) => return (Ok(body), attempt),
                Err(error) => error,
            };
            tracing::debug!(attempt, status = error.status(), error = %error, "attempt failed");
            let failure = Failure::of(&error);
            let delay = match &error {
                // The signature was refused, so nothing happened: safe to resend, once, with
                // the server's clock.
                Error::Authentication {
                    clock_offset: Some(offset),
                    ..
                } if (offset - self.transport.clock_offset()).abs() > error::CLOCK_TOLERANCE
                    && offset.abs() <= error::MAX_CLOCK_CORRECTION
                    && !clock_corrected =>
                {
                    tracing::warn!(
                        offset_seconds = offset,
                        "this machine's clock is off the server's; correcting signatures"
                    );
                    // The server's clock against this machine's own: the whole offset.
                    self.transport.set_clock_offset(*offset);
                    clock_corrected = true;
                    Some(std::time::Duration::ZERO)
                }
                _ => self.retry.delay(kind, failure, attempt, random_unit()),
            };
            match delay {
                // No retry that the deadline would cut off before it is even sent.
                Some(delay)
                    if delay < deadline.saturating_duration_since(tokio::time::Instant::now()) =>
                {
                    tokio::time::sleep(delay).await
                }
                Some(delay) => {
                    tracing::debug!(
                        delay_ms = delay.as_millis() as u64,
                        "no retry: the request timeout would run out first"
                    );
                    return (Err(finish(kind, failure, error)), attempt);
                }
                None => return (Err(finish(kind, failure, error)), attempt),
            }
        }
    }

    fn organization(&self, operation: &'static str) -> Result<String, Error> {
        self.organization_id
            .clone()
            .ok_or(Error::MissingOrganization { operation })
    }

    /// A builder whose organization is the client's, when it has one.
    fn with_default_organization<B>(&self, builder: B, set: fn(B, String) -> B) -> B {
        match &self.organization_id {
            Some(id) => set(builder, id.clone()),
            None => builder,
        }
    }

    /// The request a builder describes, or why it cannot be built: a missing organization
    /// id is [`Error::MissingOrganization`], another missing field [`Error::InvalidRequest`].
    fn request_body<T, B>(&self, operation: &'static str, builder: B) -> Result<T, Error>
    where
        T: TryFrom<B>,
        T::Error: fmt::Display,
    {
        T::try_from(builder).map_err(|e| {
            let detail = e.to_string();
            if self.organization_id.is_none() && detail.contains("organization_id") {
                Error::MissingOrganization { operation }
            } else {
                Error::InvalidRequest { operation, detail }
            }
        })
    }

    // --- authentication --------------------------------------------------------------

    /// Check that the API credentials are valid.
    ///
    /// `POST /authenticate` (operation `authenticate`) with the body `{}`, as QuantConnect's
    /// guide sends it. Verifies the user id, the token and this machine's clock in one cheap
    /// call.
    ///
    /// # Errors
    /// [`Error::Authentication`] when the server rejects the credentials or the timestamp;
    /// see [`Error`] for the rest.
    pub async fn authenticate(&self) -> Result<(), Error> {
        let body = types::AuthenticateRequest(serde_json::Map::new());
        self.call(&body).await.map(drop)
    }

    // --- agents ----------------------------------------------------------------------

    /// Create a new agent.
    ///
    /// `POST /agents/create` (operation `createAgent`). `build` fills in the request on a
    /// builder whose organization is the client's; set `name` at least.
    ///
    /// ```no_run
    /// # async fn run(client: quantconnect_agents::Client) -> Result<(), quantconnect_agents::Error> {
    /// use quantconnect_agents::ReasoningEffort;
    ///
    /// let agent = client
    ///     .create_agent(|agent| {
    ///         agent
    ///             .name("Momentum researcher")
    ///             .model("claude-opus-4-7".to_owned())
    ///             .reasoning_effort(ReasoningEffort::High)
    ///             .max_turns(100)
    ///     })
    ///     .await?;
    /// println!("agent {:?}", agent.id);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::MissingOrganization`] when neither the client nor `build` gives an
    /// organization; see [`Error`] for the rest.
    pub async fn create_agent(
        &self,
        build: impl FnOnce(builder::CreateAgentRequest) -> builder::CreateAgentRequest,
    ) -> Result<types::Agent, Error> {
        const OP: &str = types::CreateAgentRequest::ID;
        let body = build(self.with_default_organization(
            builder::CreateAgentRequest::default(),
            builder::CreateAgentRequest::organization_id,
        ));
        let body = self.request_body::<types::CreateAgentRequest, _>(OP, body)?;
        let response = self.call(&body).await?;
        required(OP, "agent", response.agent)
    }

    /// Read an agent by Id.
    ///
    /// `POST /agents/read` (operation `readAgent`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn read_agent(&self, agent_id: i64) -> Result<types::Agent, Error> {
        const OP: &str = types::ReadAgentRequest::ID;
        let body = types::ReadAgentRequest { agent_id };
        let response = self.call(&body).await?;
        required(OP, "agent", response.agent)
    }

    /// Update an existing agent.
    ///
    /// `POST /agents/update` (operation `updateAgent`). `build` sets the fields to change;
    /// the others keep their value. The response carries no agent: read it again to see it.
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn update_agent(
        &self,
        agent_id: i64,
        build: impl FnOnce(builder::UpdateAgentRequest) -> builder::UpdateAgentRequest,
    ) -> Result<(), Error> {
        const OP: &str = types::UpdateAgentRequest::ID;
        let body = build(builder::UpdateAgentRequest::default().agent_id(agent_id));
        let body = self.request_body::<types::UpdateAgentRequest, _>(OP, body)?;
        self.call(&body).await.map(drop)
    }

    /// Delete an agent.
    ///
    /// `POST /agents/delete` (operation `deleteAgent`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn delete_agent(&self, agent_id: i64) -> Result<(), Error> {
        let body = types::DeleteAgentRequest { agent_id };
        self.call(&body).await.map(drop)
    }

    /// List the agents of an organization.
    ///
    /// `POST /agents/list` (operation `listAgents`), for the client's organization (see
    /// [`Client::with_organization_id`]).
    ///
    /// # Errors
    /// [`Error::MissingOrganization`] when the client has no organization; see [`Error`].
    pub async fn list_agents(&self) -> Result<Vec<types::Agent>, Error> {
        const OP: &str = types::ListAgentsRequest::ID;
        let body = types::ListAgentsRequest {
            organization_id: self.organization(OP)?,
        };
        let response = self.call(&body).await?;
        Ok(response.agents)
    }

    // --- tasks -----------------------------------------------------------------------

    /// Create a new agent task.
    ///
    /// `POST /agents/tasks/create` (operation `createAgentTask`). `build` fills in the
    /// request on a builder whose organization is the client's; set the agent, name, prompt
    /// and project preference. Creating a task runs nothing: deploy it with
    /// [`Client::create_agent_deployment`].
    ///
    /// ```no_run
    /// # async fn run(client: quantconnect_agents::Client) -> Result<(), quantconnect_agents::Error> {
    /// use quantconnect_agents::ProjectPreference;
    ///
    /// let task = client
    ///     .create_agent_task(|task| {
    ///         task.agent_id(47)
    ///             .name("Print Hello World Message")
    ///             .prompt("Write an algorithm that prints Hello World")
    ///             .project_preference(ProjectPreference::ProjectForTask)
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::MissingOrganization`] when neither the client nor `build` gives an
    /// organization, [`Error::InvalidRequest`] when a required field is not set; see
    /// [`Error`] for the rest.
    pub async fn create_agent_task(
        &self,
        build: impl FnOnce(builder::CreateAgentTaskRequest) -> builder::CreateAgentTaskRequest,
    ) -> Result<types::AgentTask, Error> {
        const OP: &str = types::CreateAgentTaskRequest::ID;
        let body = build(self.with_default_organization(
            builder::CreateAgentTaskRequest::default(),
            builder::CreateAgentTaskRequest::organization_id,
        ));
        let body = self.request_body::<types::CreateAgentTaskRequest, _>(OP, body)?;
        let response = self.call(&body).await?;
        required(OP, "task", response.task)
    }

    /// Read an agent task by Id.
    ///
    /// `POST /agents/tasks/read` (operation `readAgentTask`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn read_agent_task(&self, task_id: i64) -> Result<types::AgentTask, Error> {
        const OP: &str = types::ReadAgentTaskRequest::ID;
        let body = types::ReadAgentTaskRequest { task_id };
        let response = self.call(&body).await?;
        required(OP, "task", response.task)
    }

    /// Update an agent task.
    ///
    /// `POST /agents/tasks/update` (operation `updateAgentTask`). The name is the only
    /// field QuantConnect documents as changeable:
    /// `client.update_agent_task(id, |t| t.name("New name".to_owned()))`.
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn update_agent_task(
        &self,
        task_id: i64,
        build: impl FnOnce(builder::UpdateAgentTaskRequest) -> builder::UpdateAgentTaskRequest,
    ) -> Result<(), Error> {
        const OP: &str = types::UpdateAgentTaskRequest::ID;
        let body = build(builder::UpdateAgentTaskRequest::default().task_id(task_id));
        let body = self.request_body::<types::UpdateAgentTaskRequest, _>(OP, body)?;
        self.call(&body).await.map(drop)
    }

    /// Delete an agent task.
    ///
    /// `POST /agents/tasks/delete` (operation `deleteAgentTask`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn delete_agent_task(&self, task_id: i64) -> Result<(), Error> {
        let body = types::DeleteAgentTaskRequest { task_id };
        self.call(&body).await.map(drop)
    }

    /// List the agent tasks of an organization.
    ///
    /// `POST /agents/tasks/list` (operation `listAgentTasks`), for the client's
    /// organization (see [`Client::with_organization_id`]).
    ///
    /// # Errors
    /// [`Error::MissingOrganization`] when the client has no organization; see [`Error`].
    pub async fn list_agent_tasks(&self) -> Result<Vec<types::AgentTask>, Error> {
        const OP: &str = types::ListAgentTasksRequest::ID;
        let body = types::ListAgentTasksRequest {
            organization_id: self.organization(OP)?,
        };
        let response = self.call(&body).await?;
        Ok(response.tasks)
    }

    // --- deployments -----------------------------------------------------------------

    /// Deploy an agent task.
    ///
    /// `POST /agents/deployments/create` (operation `createAgentDeployment`). Starts a run
    /// of the task and returns the new deployment, usually `InQueue`; read it again to
    /// follow its status. Each call starts another run, so a failed call is not retried
    /// blindly: on [`Error::Transport`] the deployment may or may not exist.
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn create_agent_deployment(
        &self,
        task_id: i64,
    ) -> Result<types::AgentDeployment, Error> {
        const OP: &str = types::CreateAgentDeploymentRequest::ID;
        let body = types::CreateAgentDeploymentRequest { task_id };
        let response = self.call(&body).await?;
        required(OP, "deployment", response.deployment)
    }

    /// Read an agent deployment by Id.
    ///
    /// `POST /agents/deployments/read` (operation `readAgentDeployment`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn read_agent_deployment(
        &self,
        deployment_id: &str,
    ) -> Result<types::AgentDeployment, Error> {
        const OP: &str = types::ReadAgentDeploymentRequest::ID;
        let body = types::ReadAgentDeploymentRequest {
            deployment_id: deployment_id.to_owned(),
        };
        let response = self.call(&body).await?;
        required(OP, "deployment", response.deployment)
    }

    /// Send a follow-up prompt to a running agent deployment.
    ///
    /// `POST /agents/deployments/prompt` (operation `updateAgentDeployment`, titled
    /// "Update Deployment" in QuantConnect's docs). Returns the server's confirmation
    /// message (e.g. `Prompt run started.`) when it sends one; read the conversation to see
    /// the agent's answer.
    ///
    /// # Errors
    /// See [`Error`]. On [`Error::Transport`] the prompt may or may not have been taken.
    #[doc(alias = "update_agent_deployment", alias = "updateAgentDeployment")]
    pub async fn prompt_agent_deployment(
        &self,
        deployment_id: &str,
        prompt: impl Into<String>,
    ) -> Result<Option<String>, Error> {
        let body = types::UpdateAgentDeploymentRequest {
            deployment_id: deployment_id.to_owned(),
            prompt: prompt.into(),
        };
        let response = self.call(&body).await?;
        Ok(response.message)
    }

    /// List the deployments of an agent task.
    ///
    /// `POST /agents/deployments/list` (operation `listAgentDeployments`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn list_agent_deployments(
        &self,
        task_id: i64,
    ) -> Result<Vec<types::AgentDeployment>, Error> {
        let body = types::ListAgentDeploymentsRequest { task_id };
        let response = self.call(&body).await?;
        Ok(response.deployments)
    }

    /// Stop a running agent deployment.
    ///
    /// `POST /agents/deployments/stop` (operation `stopAgentDeployment`). Its status
    /// becomes `Stopped`.
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn stop_agent_deployment(&self, deployment_id: &str) -> Result<(), Error> {
        let body = types::StopAgentDeploymentRequest {
            deployment_id: deployment_id.to_owned(),
        };
        self.call(&body).await.map(drop)
    }

    /// Delete an agent deployment.
    ///
    /// `POST /agents/deployments/delete` (operation `deleteAgentDeployment`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn delete_agent_deployment(&self, deployment_id: &str) -> Result<(), Error> {
        let body = types::DeleteAgentDeploymentRequest {
            deployment_id: deployment_id.to_owned(),
        };
        self.call(&body).await.map(drop)
    }

    /// Read the conversation transcript of an agent deployment.
    ///
    /// `POST /agents/deployments/conversation/read` (operation `readAgentConversation`):
    /// every message so far with its parts, and the running token totals.
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn read_agent_conversation(
        &self,
        deployment_id: &str,
    ) -> Result<types::AgentConversation, Error> {
        self.read_conversation(deployment_id, None).await
    }

    /// Read the conversation of a callable sub-agent of a deployment.
    ///
    /// The same operation as [`Client::read_agent_conversation`], with `callableId` set.
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn read_callable_conversation(
        &self,
        deployment_id: &str,
        callable_id: &str,
    ) -> Result<types::AgentConversation, Error> {
        self.read_conversation(deployment_id, Some(callable_id.to_owned()))
            .await
    }

    async fn read_conversation(
        &self,
        deployment_id: &str,
        callable_id: Option<String>,
    ) -> Result<types::AgentConversation, Error> {
        const OP: &str = types::ReadAgentConversationRequest::ID;
        let body = types::ReadAgentConversationRequest {
            deployment_id: deployment_id.to_owned(),
            callable_id,
        };
        let response = self.call(&body).await?;
        required(OP, "conversation", response.conversation)
    }
}

fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_normalized_and_checked() {
        assert_eq!(
            normalize_base_url("https://www.quantconnect.com/api/v2/", false).unwrap(),
            DEFAULT_BASE_URL
        );
        assert_eq!(
            normalize_base_url(" http://127.0.0.1:5612/api/v2 ", false).unwrap(),
            "http://127.0.0.1:5612/api/v2"
        );
        for bad in [
            "",
            "www.quantconnect.com/api/v2",
            "ftp://x/api/v2",
            "https://x/api?a=1",
        ] {
            assert!(
                matches!(
                    normalize_base_url(bad, false),
                    Err(Error::Configuration { .. })
                ),
                "{bad}"
            );
        }
        for local in [
            "http://localhost:5612/api/v2",
            "http://[::1]:80/api/v2",
            "http://127.0.0.2/api/v2",
        ] {
            assert!(normalize_base_url(local, false).is_ok(), "{local}");
        }
        let remote = "http://www.quantconnect.com/api/v2";
        let err = normalize_base_url(remote, false).unwrap_err();
        assert!(err.to_string().contains("allow_insecure_http"), "{err}");
        assert!(normalize_base_url(remote, true).is_ok());
    }

    #[test]
    fn a_base_url_with_credentials_is_refused_without_showing_them() {
        for url in [
            "http://admin:hunter2@127.0.0.1:5612/api/v2",
            "https://admin:hunter2@www.quantconnect.com/api/v2",
            "https://hunter2@www.quantconnect.com/api/v2",
            "https://admin:hunter2@[::1/api/v2",
        ] {
            let err = normalize_base_url(url, false).unwrap_err();
            let text = err.to_string();
            assert!(!text.contains("hunter2"), "{text}");
            assert!(matches!(err, Error::Configuration { .. }), "{text}");
        }
        let err = normalize_base_url("http://admin:hunter2@127.0.0.1/api/v2", false).unwrap_err();
        assert!(err.to_string().contains("QC_API_TOKEN"), "{err}");
    }

    #[test]
    fn only_https_bases_elsewhere_use_the_environments_proxy() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let all = env(&[
            ("HTTP_PROXY", "http://127.0.0.1:1"),
            ("HTTPS_PROXY", "http://127.0.0.1:2"),
            ("ALL_PROXY", "http://127.0.0.1:3"),
        ]);
        assert!(env_proxy(DEFAULT_BASE_URL, all).unwrap().is_some());
        for direct in [
            "http://127.0.0.1:5612/api/v2",
            "https://127.0.0.1:5612/api/v2",
            "https://localhost/api/v2",
            "http://www.quantconnect.com/api/v2",
        ] {
            assert!(env_proxy(direct, all).unwrap().is_none(), "{direct}");
        }
        // HTTP_PROXY alone applies to nothing.
        let http_only = env(&[("HTTP_PROXY", "http://127.0.0.1:1")]);
        assert!(env_proxy(DEFAULT_BASE_URL, http_only).unwrap().is_none());
        assert!(
            env_proxy(DEFAULT_BASE_URL, env(&[("all_proxy", "http://p:3")]))
                .unwrap()
                .is_some()
        );
        let socks = env(&[("ALL_PROXY", "socks5://user:secret@127.0.0.1:1080")]);
        let err = env_proxy(DEFAULT_BASE_URL, socks).unwrap_err();
        assert!(err.to_string().contains("ALL_PROXY"), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn credentials_are_cut_out_of_urls() {
        use crate::error::without_credentials as cut;
        assert_eq!(cut("https://a:b@host:1/x@y"), "https://host:1/x@y");
        assert_eq!(cut("https://host/a@b"), "https://host/a@b");
        assert_eq!(cut("//a@host/"), "//host/");
        assert_eq!(cut("a:b@host"), "host");
        assert_eq!(cut("/relative?x=@"), "/relative?x=@");
    }

    #[test]
    fn debug_shows_the_user_but_not_the_token() {
        let client = Client::new(DEFAULT_BASE_URL, Credentials::new("42", "very-secret")).unwrap();
        let text = format!("{client:?}");
        assert!(
            text.contains("42") && text.contains(DEFAULT_BASE_URL),
            "{text}"
        );
        assert!(!text.contains("very-secret"), "{text}");
    }
}
