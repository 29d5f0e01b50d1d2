//! A cap on the connections of the HTTP client the crate builds: no more than the pool keeps.
//!
//! hyper's pool limits idle connections, not connections (hyperium/hyper#3785). A request
//! that finds no idle connection starts connecting and, at the same time, waits for one to
//! come back to the pool; when one does, it takes it and the connect goes on in a background
//! task, whose connection is kept. A finished request's connection goes back to the pool
//! from another task, a moment later, so under load requests open connections that were
//! not needed, and more than the pool keeps (35 to 41 for 32 with a thousand waiters).
//!
//! The client never has more requests in flight than the cap. So once `cap` connections are
//! open, a request that finds none idle either will soon get one that is on its way back (a
//! request finished a moment ago), or one of them has closed without the client learning it
//! (the server's or the pool's idle timeout). In the first case the connect waits instead
//! of connecting, and gives up without opening anything as soon as its request no longer
//! awaits it; if no connection comes back within [`STALE_AFTER`], it goes ahead. In the
//! second case, and after such a wait, the open connections are counted again as those of
//! the requests in flight, forgetting the ones that closed unseen.
//!
//! How a connect knows that its request no longer awaits it rests on tokio's documented
//! task-local semantics, not on how hyper schedules its futures: the transport sends each
//! request inside [`Connections::sending`], which marks it in a task-local
//! ([`tokio::task::LocalKey::scope`]: the value is visible exactly while the request's
//! future is being polled). The connector is called while the request is polled and notes
//! the mark. A waiting connect that is then polled without that mark is being driven by
//! something other than its request (hyper hands a connect that lost the race with the pool
//! to a background task): the request took a pooled connection. The one thing assumed of
//! hyper, that it calls the connector while polling the request, is checked by a test
//! (`the_http_client_calls_the_connector_while_polling_the_request`); if it stopped, the
//! connect would find no mark and only wait out [`STALE_AFTER`].
//!
//! The wait is part of the request's time (its deadline runs).

use std::{
    future::Future,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use tokio::sync::Semaphore;

tokio::task_local! {
    /// The request whose future is being polled: set by [`Connections::sending`].
    static REQUEST: u64;
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long a connect waits for a connection on its way back to the pool before deciding
/// that one has closed and connecting in its place.
pub(crate) const STALE_AFTER: Duration = Duration::from_millis(250);

/// How long after a request finished its connection may still be on its way back to the
/// pool (it takes microseconds; milliseconds under heavy load).
const IN_TRANSIT_FOR: Duration = Duration::from_secs(1);

/// The connections of one HTTP client, capped at `cap`: the connector layer that caps them,
/// and what the client learns about connections closing.
#[derive(Clone)]
pub(crate) struct Connections {
    counter: Arc<Counter>,
}

impl Connections {
    /// `in_flight` is the client's limit on requests in flight, of `cap` permits.
    pub(crate) fn new(cap: usize, in_flight: Arc<Semaphore>) -> Self {
        Connections {
            counter: Arc::new(Counter {
                cap,
                in_flight,
                open: AtomicUsize::new(0),
                started: std::time::Instant::now(),
                last_finished_ms: AtomicU64::new(u64::MAX),
                next_request: AtomicU64::new(0),
                unmarked_connects: AtomicUsize::new(0),
            }),
        }
    }

    /// Sends a request: runs `execute` (the HTTP client's `execute`) marked as one request,
    /// so that a connect the HTTP client starts for it can tell when the request no longer
    /// awaits it.
    pub(crate) async fn sending<F: Future>(&self, execute: F) -> F::Output {
        let mark = self.counter.next_request.fetch_add(1, Ordering::Relaxed);
        REQUEST.scope(mark, execute).await
    }

    /// The layer for `reqwest::ClientBuilder::connector_layer`.
    pub(crate) fn layer(&self) -> CapLayer {
        CapLayer {
            counter: self.counter.clone(),
        }
    }

    /// A connection is closing: the response said so, or it failed mid-request.
    pub(crate) fn closed(&self) {
        self.counter.uncount();
    }

    /// A request finished: its connection is on its way back to the pool.
    pub(crate) fn request_finished(&self) {
        let ms = self.counter.started.elapsed().as_millis() as u64;
        self.counter.last_finished_ms.store(ms, Ordering::Release);
    }

    /// The connections counted as open.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.counter.open.load(Ordering::Acquire)
    }
}

/// Whether the connection that carried `response` closes after it: `Connection: close`, or
/// HTTP/1.0 without `Connection: keep-alive`.
pub(crate) fn closes_after(response: &reqwest::Response) -> bool {
    let says = |word: &str| {
        response
            .headers()
            .get_all(reqwest::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case(word))
    };
    match response.version() {
        reqwest::Version::HTTP_10 => !says("keep-alive"),
        reqwest::Version::HTTP_11 => says("close"),
        _ => false,
    }
}

/// The connector layer of [`Connections`].
#[derive(Clone)]
pub(crate) struct CapLayer {
    counter: Arc<Counter>,
}

impl<S> tower_layer::Layer<S> for CapLayer {
    type Service = Cap<S>;

    fn layer(&self, inner: S) -> Cap<S> {
        Cap {
            shared: Arc::new(Shared {
                inner,
                counter: self.counter.clone(),
            }),
        }
    }
}

/// The connections opened and not known to have closed. A connection can close without the
/// client learning it (an idle timeout); a connect that finds none coming back then
/// replaces one instead of adding one.
struct Counter {
    cap: usize,
    /// The client's requests in flight hold its permits.
    in_flight: Arc<Semaphore>,
    open: AtomicUsize,
    started: std::time::Instant,
    /// When the last request finished, in milliseconds since `started`; `u64::MAX` before.
    last_finished_ms: AtomicU64,
    /// The mark of the next request sent.
    next_request: AtomicU64,
    /// Connects called outside any marked request (none, as long as hyper calls the
    /// connector while polling the request; a test checks it).
    unmarked_connects: AtomicUsize,
}

impl Counter {
    /// One connection fewer; never below zero, whatever the order of events (a recount may
    /// come between a count and its uncount).
    fn uncount(&self) {
        let _ = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                open.checked_sub(1)
            });
    }

    /// Counts the open connections again when none is idle and none is coming back: they are
    /// at most those of the requests in flight, the caller's new one included. Forgets the
    /// connections that closed unseen (a timeout, an idle timeout, a body left unread).
    fn recount(&self) {
        let in_flight = self.cap.saturating_sub(self.in_flight.available_permits());
        self.open
            .store(in_flight.clamp(1, self.cap), Ordering::Release);
    }

    /// Whether a finished request's connection may still be on its way back to the pool.
    fn connection_in_transit(&self) -> bool {
        let last = self.last_finished_ms.load(Ordering::Acquire);
        let now = self.started.elapsed().as_millis() as u64;
        last != u64::MAX && now.saturating_sub(last) <= IN_TRANSIT_FOR.as_millis() as u64
    }

    /// Counts a new connection if there is room for it.
    fn reserve(self: &Arc<Self>) -> Option<Reservation> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.cap).then_some(open + 1)
            })
            .ok()
            .map(|_| Reservation(Some(self.clone())))
    }
}

/// A counted connection; uncounted again unless the connect succeeds.
struct Reservation(Option<Arc<Counter>>);

impl Reservation {
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(counter) = self.0.take() {
            counter.uncount();
        }
    }
}

/// The connector service of [`CapLayer`].
///
/// hyper-util clones the connector for every request, though most requests take a pooled
/// connection and never connect; so a clone is one `Arc` increment, and the wrapped
/// connector is cloned only for a connect (measured: cloning reqwest's connector for every
/// request cost about 2,000 instructions a call).
pub(crate) struct Cap<S> {
    shared: Arc<Shared<S>>,
}

struct Shared<S> {
    /// The wrapped connector, cloned for each connect.
    inner: S,
    counter: Arc<Counter>,
}

impl<S> Clone for Cap<S> {
    fn clone(&self) -> Self {
        Cap {
            shared: self.shared.clone(),
        }
    }
}

impl<S, R> tower_service::Service<R> for Cap<S>
where
    S: tower_service::Service<R, Error = BoxError> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    /// Always ready: each connect waits for its own clone of the wrapped connector to be.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, target: R) -> Self::Future {
        let mut inner = self.shared.inner.clone();
        let counter = self.shared.counter.clone();
        // Called while the request that needs the connection is polled: note which.
        let request = REQUEST.try_with(|mark| *mark).ok();
        if request.is_none() {
            counter.unmarked_connects.fetch_add(1, Ordering::Relaxed);
        }
        Box::pin(async move {
            let reservation = counter.reserve();
            if reservation.is_none() {
                if counter.connection_in_transit() {
                    if let Waited::ConnectionReused = (WaitForPool {
                        request,
                        stale: Box::pin(tokio::time::sleep(STALE_AFTER)),
                    })
                    .await
                    {
                        return Err(NotNeeded.into());
                    }
                    tracing::debug!(
                        "no pooled connection came back in {STALE_AFTER:?}; replacing a closed one"
                    );
                }
                counter.recount();
            }
            futures_util::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
            let connection = inner.call(target).await?;
            if let Some(reservation) = reservation {
                reservation.keep();
            }
            Ok(connection)
        })
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Waited {
    /// The connect is no longer polled by its request: the request took a pooled connection.
    ConnectionReused,
    /// Nothing came back in time.
    Stale,
}

/// Pending until polled outside the request it was started for (see the module docs), or
/// until `stale`.
struct WaitForPool {
    /// The mark of the request it was started for; `None` if it was started outside any
    /// (then it only waits for `stale`).
    request: Option<u64>,
    stale: Pin<Box<tokio::time::Sleep>>,
}

impl Future for WaitForPool {
    type Output = Waited;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Waited> {
        if let Some(request) = self.request {
            if REQUEST.try_with(|mark| *mark).ok() != Some(request) {
                return Poll::Ready(Waited::ConnectionReused);
            }
        }
        self.stale.as_mut().poll(cx).map(|()| Waited::Stale)
    }
}

/// Why a connect gave up: the request it was for took a pooled connection. hyper drops this
/// error (the connect runs in the background by then).
#[derive(Debug)]
struct NotNeeded;

impl std::fmt::Display for NotNeeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection not needed: the request reused a pooled one")
    }
}

impl std::error::Error for NotNeeded {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_counted_up_to_the_cap_and_released_when_a_connect_fails() {
        let connections = Connections::new(2, Arc::new(Semaphore::new(2)));
        let first = connections.counter.reserve().unwrap();
        let second = connections.counter.reserve().unwrap();
        assert!(connections.counter.reserve().is_none(), "over the cap");
        first.keep();
        drop(second); // its connect failed
        assert_eq!(connections.open(), 1);
        connections.closed();
        connections.closed();
        assert_eq!(connections.open(), 0, "never below zero");
        let late = connections.counter.reserve().unwrap();
        connections.closed();
        drop(late); // its connect failed after the count had been lowered
        assert_eq!(connections.open(), 0, "never below zero");
    }

    #[test]
    fn a_recount_keeps_the_connections_of_the_requests_in_flight() {
        let in_flight = Arc::new(Semaphore::new(4));
        let connections = Connections::new(4, in_flight.clone());
        for _ in 0..4 {
            connections.counter.reserve().unwrap().keep();
        }
        // Three connections closed unseen; two requests are in flight.
        let _turns = in_flight.try_acquire_many(2).unwrap();
        connections.counter.recount();
        assert_eq!(connections.open(), 2);
        assert!(connections.counter.reserve().is_some());
    }

    #[tokio::test]
    async fn the_http_client_calls_the_connector_while_polling_the_request() {
        // What the cap assumes of hyper (module docs): if this fails, connects find no
        // request mark and the cap degrades to waiting out STALE_AFTER.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = stream.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                        if stream.write_all(reply).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let connections = Connections::new(4, Arc::new(Semaphore::new(4)));
        let http = reqwest::Client::builder()
            .connector_layer(connections.layer())
            .build()
            .unwrap();
        let send = || async {
            let request = http.get(&url).build().unwrap();
            connections
                .sending(http.execute(request))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
        };
        // Several at once, so that connects are called while other requests run.
        futures_util::future::join_all((0..4).map(|_| send())).await;
        send().await;
        assert!(connections.open() >= 1, "connections were opened");
        assert_eq!(
            connections
                .counter
                .unmarked_connects
                .load(Ordering::Relaxed),
            0,
            "a connect was called outside the request it was for"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_connect_gives_up_once_polled_outside_its_request() {
        let wait = || WaitForPool {
            request: Some(7),
            stale: Box::pin(tokio::time::sleep(STALE_AFTER)),
        };
        // Polled by its request (inside its mark) until nothing came back: stale.
        assert_eq!(REQUEST.scope(7, wait()).await, Waited::Stale);
        // Polled by its request first, then by something else: no longer needed.
        let mut waiting = Box::pin(wait());
        let first = REQUEST
            .scope(7, futures_util::future::poll_immediate(waiting.as_mut()))
            .await;
        assert_eq!(first, None, "pending while its request polls it");
        assert_eq!(waiting.await, Waited::ConnectionReused);
        // Polled inside another request's mark: not its request either.
        assert_eq!(REQUEST.scope(8, wait()).await, Waited::ConnectionReused);
        // Started outside any request: waits for the stale timeout only.
        let unmarked = WaitForPool {
            request: None,
            stale: Box::pin(tokio::time::sleep(STALE_AFTER)),
        };
        assert_eq!(unmarked.await, Waited::Stale);
    }

    #[test]
    fn closing_responses_are_recognised() {
        let response = |version, connection: Option<&str>| {
            let mut builder = http::Response::builder().version(version);
            if let Some(value) = connection {
                builder = builder.header("connection", value);
            }
            reqwest::Response::from(builder.body("").unwrap())
        };
        use reqwest::Version;
        assert!(closes_after(&response(Version::HTTP_11, Some("close"))));
        assert!(closes_after(&response(
            Version::HTTP_11,
            Some("Upgrade, Close")
        )));
        assert!(!closes_after(&response(Version::HTTP_11, None)));
        assert!(!closes_after(&response(
            Version::HTTP_11,
            Some("keep-alive")
        )));
        assert!(closes_after(&response(Version::HTTP_10, None)));
        assert!(!closes_after(&response(
            Version::HTTP_10,
            Some("keep-alive")
        )));
    }
}
