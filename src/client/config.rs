//! [`ClientBuilder`]: a [`Client`] from explicit parts or from the environment, and the
//! rules its base URL and HTTP client follow (where requests may go).

use std::{net::IpAddr, sync::Arc, time::Duration};

use tokio::sync::Semaphore;

use super::{
    Client, API_URL_VAR, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT,
    ORGANIZATION_ID_VAR, REQUEST_TIMEOUT_VAR,
};
use crate::{auth::Credentials, error::Error, retry::RetryPolicy, transport::Transport};

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
    keep_alive: Option<super::KeepAlive>,
}

impl ClientBuilder {
    /// The API's base URL, `/api/v2` included: [`DEFAULT_BASE_URL`] unless set, or
    /// [`BETA_BASE_URL`](super::BETA_BASE_URL), or a local server such as `http://localhost:5612/api/v2`.
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

    /// Keeps `value` alive as long as the client or a clone lives (the simulator's server).
    #[cfg_attr(not(feature = "simulator"), allow(dead_code))]
    pub(crate) fn keep_alive(mut self, value: super::KeepAlive) -> Self {
        self.keep_alive = Some(value);
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
            _keep_alive: self.keep_alive,
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
                 be read and replayed: use https (plain http is for a server on this machine)"
            ),
        });
    }
    // As the URL parser writes it (lowercase scheme and host, no default port), so that a
    // request's URL, the base plus a path, is the URL its response comes from.
    Ok(url.as_str().trim_end_matches('/').to_owned())
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
            keep_alive: None,
        }
    }

    /// A client configured from the environment.
    ///
    /// - credentials: `QC_USER_ID` and `QC_API_TOKEN`, else lean-cli's
    ///   `~/.lean/credentials` (see [`Credentials::from_env`]);
    /// - base URL: `QC_API_URL`, else [`DEFAULT_BASE_URL`];
    /// - organization: `QC_ORGANIZATION_ID`, if set;
    /// - request timeout: `QC_REQUEST_TIMEOUT` (`90`, `90s`, `2m`, `1h30m`: see
    ///   [`duration::parse`](crate::duration::parse)), else [`DEFAULT_TIMEOUT`].
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
            let timeout = crate::duration::parse(&timeout).map_err(|why| Error::Configuration {
                detail: format!("{REQUEST_TIMEOUT_VAR}: {why}"),
            })?;
            builder = builder.request_timeout(timeout);
        }
        builder.build()
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
        // Advice a CLI user can follow too (the library's way out is in the builder's docs).
        assert!(err.to_string().contains("use https"), "{err}");
        assert!(!err.to_string().contains("ClientBuilder"), "{err}");
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
}
