//! Waiting for a deployment with a live status line (status, elapsed time, reads) on a
//! terminal, or one plain line per status change on stderr otherwise.

use std::{
    io,
    sync::{
        atomic::{AtomicU32, Ordering},
        Mutex,
    },
    time::{Duration, Instant},
};

use console::Term;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};
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
    /// How many times the deployment was read, when counted (a waiter counts; a follower,
    /// which also reads the conversation, does not).
    pub reads: Option<u32>,
}

/// The status line: a spinner on stderr when it is a terminal, else nothing drawn.
pub struct StatusLine {
    bar: ProgressBar,
    ui: Ui,
    id: String,
    /// The deployment as last read, for a report that must say its status.
    last: Mutex<Option<AgentDeployment>>,
    /// What the line shows after the status: a tool call running, say.
    shown: Mutex<(String, Option<String>)>,
}

impl StatusLine {
    /// A status line for deployment `id`, drawn only when stderr is a terminal, counting
    /// the reads a waiter makes.
    pub fn new(ui: Ui, id: &str) -> Self {
        Self::with_template(
            ui,
            id,
            "{spinner} {prefix} {msg} · {elapsed} · reads: {pos}",
        )
    }

    /// A status line for following deployment `id`: no read count.
    pub fn following(ui: Ui, id: &str) -> Self {
        Self::with_template(ui, id, "{spinner} {prefix} · {elapsed} · {wide_msg}")
    }

    fn with_template(ui: Ui, id: &str, template: &str) -> Self {
        let target = if ui.live {
            ProgressDrawTarget::term_like_with_hz(Box::new(Narrower(Term::stderr())), 20)
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::hidden();
        bar.set_style(ProgressStyle::with_template(template).expect("the templates are valid"));
        bar.set_prefix(format!("deployment {}", line(id)));
        bar.set_message("…");
        bar.set_draw_target(target);
        if ui.live {
            bar.enable_steady_tick(Duration::from_millis(120));
            *SHOWN.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar.clone());
        }
        StatusLine {
            bar,
            ui,
            id: id.to_owned(),
            last: Mutex::new(None),
            shown: Mutex::new(("…".into(), None)),
        }
    }

    /// Shows a new status: on the live line, or as a plain line on stderr.
    pub fn status(&self, deployment: &AgentDeployment) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some(deployment.clone());
        }
        let status = status_text(deployment);
        if self.ui.live {
            self.show(|shown| {
                shown.0 = paint(
                    self.ui.color_err,
                    status_style(deployment.status.as_ref()),
                    &status,
                );
            });
        } else {
            output::err(format!("deployment {}: {status}", line(&self.id)));
        }
    }

    /// Shows `activity` after the status (a tool call running), or nothing more: on the
    /// live line only, as it is not for the record.
    pub fn activity(&self, activity: Option<String>) {
        if self.ui.live {
            self.show(|shown| shown.1 = activity);
        }
    }

    fn show(&self, change: impl FnOnce(&mut (String, Option<String>))) {
        let mut shown = self.shown.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut shown);
        self.bar.set_message(match &shown.1 {
            Some(activity) => format!("{} · {activity}", shown.0),
            None => shown.0.clone(),
        });
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
        SHOWN.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// The status line on the terminal, if one is: log lines are written around it.
static SHOWN: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// stderr for log lines (`-v`, warnings): each written with the status line taken off the
/// terminal and drawn again after it, so that neither tears the other.
pub struct LogWriter;

impl io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let shown = SHOWN.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match shown {
            Some(bar) => bar.suspend(|| io::stderr().write_all(buf))?,
            None => io::stderr().write_all(buf)?,
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// stderr for the status line, two columns narrower than the terminal. indicatif pads the
/// line to the width it is given and leaves the cursor after it: at the full width, the
/// `^C` a terminal echoes would wrap onto a line of its own, and clearing the status line
/// would clear that line instead, leaving the status line above the report.
#[derive(Debug)]
struct Narrower(Term);

impl TermLike for Narrower {
    fn width(&self) -> u16 {
        self.0.size().1.saturating_sub(2).max(1)
    }
    fn height(&self) -> u16 {
        self.0.size().0
    }
    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_up(n)
    }
    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_down(n)
    }
    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_right(n)
    }
    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.0.move_cursor_left(n)
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        self.0.write_line(s)
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        self.0.write_str(s)
    }
    fn clear_line(&self) -> io::Result<()> {
        self.0.clear_line()
    }
    fn flush(&self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Drop for StatusLine {
    /// A wait abandoned (Ctrl-C drops it) leaves no half-drawn line above the advice.
    fn drop(&mut self) {
        self.finish();
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
        reads: Some(reads.load(Ordering::Relaxed)),
    }
}

impl Waited {
    /// The deployment as last read, when a read worked.
    pub fn last(&self) -> Option<&AgentDeployment> {
        match &self.outcome {
            Ok(deployment) => Some(deployment),
            Err(e) => e.deployment(),
        }
    }

    /// `deployment A-1 Completed after 4.0s (3 reads)`, coloured by status; nothing when
    /// no read worked, as then no status is known (the error says what happened).
    pub fn summary(&self, ui: Ui, id: &str) -> Option<String> {
        let deployment = self.last()?;
        let style = status_style(deployment.status.as_ref());
        let reads = self
            .reads
            .map(|reads| format!(" ({reads} reads)"))
            .unwrap_or_default();
        Some(format!(
            "deployment {} {} after {}{reads}",
            line(id),
            paint(ui.color_out, style, &status_text(deployment)),
            elapsed(self.elapsed),
        ))
    }
}

/// Tells the user how to pick up deployment `id` again (with `follow`, its conversation)
/// or stop it (stderr).
pub fn resume_hint(id: &str, follow: bool) {
    output::err(format!("deployment {} is still there:", line(id)));
    let id = shell_quote(id);
    if follow {
        output::err(format!(
            "  resume following: qc-agents conversation {id} --follow"
        ));
        output::err(format!(
            "  stop it:          qc-agents deployments stop {id}"
        ));
    } else {
        output::err(format!("  resume waiting: qc-agents deployments wait {id}"));
        output::err(format!("  stop it:        qc-agents deployments stop {id}"));
    }
}
