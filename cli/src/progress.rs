//! Waiting for a deployment with a live status line (status, elapsed time, reads) on a
//! terminal, or one plain line per status change on stderr otherwise.

use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use quantconnect_agents::{types::AgentDeployment, wait::WaitError, Client};

use crate::{
    output::{self, elapsed, paint, status_style, status_text, Ui},
    text::{line, shell_quote},
};

/// How a wait went: the outcome, how long it took and how many reads it made.
pub struct Waited {
    /// The deployment once `Completed`, or why not.
    pub outcome: Result<AgentDeployment, WaitError>,
    /// How long the wait took.
    pub elapsed: Duration,
    /// How many times the deployment was read.
    pub reads: u32,
}

/// The status line: a spinner on stderr when it is a terminal, else nothing drawn.
pub struct StatusLine {
    bar: ProgressBar,
    ui: Ui,
    id: String,
    /// The deployment as last read, for a report that must say its status.
    last: std::sync::Mutex<Option<AgentDeployment>>,
}

impl StatusLine {
    /// A status line for deployment `id`, drawn only when stderr is a terminal.
    pub fn new(ui: Ui, id: &str) -> Self {
        let target = if ui.live {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::hidden();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {msg} · {elapsed} · reads: {pos}")
                .expect("the template is valid"),
        );
        bar.set_prefix(format!("deployment {}", line(id)));
        bar.set_message("…");
        bar.set_draw_target(target);
        if ui.live {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        StatusLine {
            bar,
            ui,
            id: id.to_owned(),
            last: std::sync::Mutex::new(None),
        }
    }

    /// Shows a new status: on the live line, or as a plain line on stderr.
    pub fn status(&self, deployment: &AgentDeployment) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some(deployment.clone());
        }
        let status = status_text(deployment);
        if self.ui.live {
            self.bar.set_message(paint(
                self.ui.color_err,
                status_style(deployment.status.as_ref()),
                &status,
            ));
        } else {
            output::err(format!("deployment {}: {status}", line(&self.id)));
        }
    }

    /// The deployment as last read, if it was.
    pub fn last_seen(&self) -> Option<AgentDeployment> {
        self.last.lock().ok().and_then(|last| last.clone())
    }

    /// Prints a line on stdout without tearing the status line.
    pub fn print(&self, text: impl std::fmt::Display) {
        self.bar.suspend(|| output::out(text));
    }

    fn read(&self) {
        self.bar.inc(1);
    }

    /// Removes the status line.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for StatusLine {
    /// A wait abandoned (Ctrl-C drops it) leaves no half-drawn line above the advice.
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Waits for deployment `id` with the library's waiter, drawing each read and status
/// change on the status line and counting the reads for the summary.
pub async fn wait_for(client: &Client, id: &str, max_wait: Duration, line: &StatusLine) -> Waited {
    let started = Instant::now();
    let reads = AtomicU32::new(0);
    let outcome = client
        .wait_for_deployment(id)
        .max_wait(max_wait)
        .on_read(|| {
            reads.fetch_add(1, Ordering::Relaxed);
            line.read();
        })
        .on_status_change(|d| line.status(d))
        .await;
    Waited {
        outcome,
        elapsed: started.elapsed(),
        reads: reads.load(Ordering::Relaxed),
    }
}

/// `Completed in 4s (3 reads)`, coloured by status.
pub fn summary(ui: Ui, id: &str, deployment: Option<&AgentDeployment>, waited: &Waited) -> String {
    let status = deployment.map_or_else(|| "still running".into(), status_text);
    let style = status_style(deployment.and_then(|d| d.status.as_ref()));
    format!(
        "deployment {} {} after {} ({} reads)",
        line(id),
        paint(ui.color_out, style, &status),
        elapsed(waited.elapsed),
        waited.reads
    )
}

/// Tells the user how to pick up deployment `id` again or stop it (stderr).
pub fn resume_hint(task_id: Option<i64>, id: &str) {
    let task = task_id.map(|t| format!("task {t}, ")).unwrap_or_default();
    output::err(format!("{task}deployment {} is still there:", line(id)));
    let id = shell_quote(id);
    output::err(format!("  resume waiting: qc-agents deployments wait {id}"));
    output::err(format!("  stop it:        qc-agents deployments stop {id}"));
    if let Some(task_id) = task_id {
        output::err(format!("  delete it all:  qc-agents deployments delete {id} && qc-agents tasks delete {task_id}"));
    }
}
