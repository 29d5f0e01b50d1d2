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
        .create_agent_task(|t| {
            t.agent_id(quantconnect_agents::simulator::DEFAULT_AGENT_ID)
                .name(name)
                .prompt("Print Hello World")
                .project_preference(quantconnect_agents::ProjectPreference::ProjectForTask)
        })
        .await?;
    Ok(task.id.expect("the simulator gives every task an id"))
}
