//! Helpers shared by the integration tests and the waiter bench. Each includes this module
//! and uses part of it, hence the allowance.
#![allow(dead_code)]

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

/// A writer for `tracing_subscriber` that keeps everything written, for tests that read the
/// client's logs.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Sends this thread's `tracing` events at `level` and above to the returned writer until
/// the guard drops (enough for a current-thread runtime).
pub fn capture_logs(level: tracing::Level) -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

/// A builder for a client of `sim` (its URL, credentials and organization), for tests that
/// set more than [`Simulator::client`] does.
pub fn client_of(
    sim: &quantconnect_agents::simulator::Simulator,
) -> quantconnect_agents::ClientBuilder {
    quantconnect_agents::Client::builder(sim.credentials().clone())
        .base_url(sim.base_url())
        .organization_id(sim.organization_id())
}

/// Creates a task named `name` on the simulator's agent 47, as QuantConnect's example does,
/// and returns its id.
pub async fn create_task(
    client: &quantconnect_agents::Client,
    name: &str,
) -> Result<i64, quantconnect_agents::Error> {
    let task = client
        .create_agent_task(
            quantconnect_agents::simulator::DEFAULT_AGENT_ID,
            name,
            "Print Hello World",
            quantconnect_agents::ProjectPreference::ProjectForTask,
        )
        .await?;
    Ok(task.id.expect("the simulator gives every task an id"))
}

/// A server on `ip` (a loopback address) at a port the OS picks that answers every request
/// with `response` (a whole HTTP/1.1 response, `{addr}` replaced by its own address) and
/// closes; it keeps each request's head (request line and headers) in order.
pub struct Canned {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Canned {
    pub async fn start(ip: &str, response: &str) -> Canned {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let response = response.replace("{addr}", &addr.to_string());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = heads.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // The head, then as much body as it announces.
                let head = loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break None,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                    let text = String::from_utf8_lossy(&request).into_owned();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                let l = l.to_ascii_lowercase();
                                l.strip_prefix("content-length:")?.trim().parse().ok()
                            })
                            .unwrap_or(0usize);
                        if request.len() >= end + 4 + length {
                            break Some(text[..end].to_owned());
                        }
                    }
                };
                if let Some(head) = head {
                    seen.lock().unwrap().push(head);
                    let _ = stream.write_all(response.as_bytes()).await;
                }
                let _ = stream.shutdown().await;
            }
        });
        Canned { addr, heads, task }
    }

    /// The heads of the requests received so far.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }

    /// `http://{addr}/api/v2`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v2", self.addr)
    }
}

impl Drop for Canned {
    fn drop(&mut self) {
        self.task.abort();
    }
}
