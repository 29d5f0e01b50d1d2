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
//! of connecting: when the request gets a pooled connection, hyper moves the connect into a
//! background task, which the connect notices (it is polled from another task) and gives up
//! without opening anything; if none comes back within [`STALE_AFTER`], it goes ahead. In
//! the second case, and after such a wait, the open connections are counted again as those
//! of the requests in flight, forgetting the ones that closed unseen.
//!
//! The wait is part of the request's time (its timeout runs), and a request future moved
//! to another task while its connect waits is taken for one served from the pool: that
//! connect fails, as a connect error the retry policy resends (nothing was sent).

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
            }),
        }
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
            inner,
            counter: self.counter.clone(),
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
#[derive(Clone)]
pub(crate) struct Cap<S> {
    inner: S,
    counter: Arc<Counter>,
}

impl<S, R> tower_service::Service<R> for Cap<S>
where
    S: tower_service::Service<R, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, target: R) -> Self::Future {
        // The service that was polled ready makes the call; the clone stays for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let counter = self.counter.clone();
        // hyper calls the connector from the task of the request that needs the connection.
        let requester = tokio::task::try_id();
        Box::pin(async move {
            let reservation = counter.reserve();
            if reservation.is_none() {
                if counter.connection_in_transit() {
                    if let Waited::ConnectionReused = (WaitForPool {
                        requester,
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
            let connection = inner.call(target).await?;
            if let Some(reservation) = reservation {
                reservation.keep();
            }
            Ok(connection)
        })
    }
}

enum Waited {
    /// hyper moved the connect into a background task: the request took a pooled connection.
    ConnectionReused,
    /// Nothing came back in time.
    Stale,
}

/// Pending until polled from a task other than the requester's, or until `stale`.
struct WaitForPool {
    requester: Option<tokio::task::Id>,
    stale: Pin<Box<tokio::time::Sleep>>,
}

impl Future for WaitForPool {
    type Output = Waited;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Waited> {
        if tokio::task::try_id() != self.requester {
            return Poll::Ready(Waited::ConnectionReused);
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
