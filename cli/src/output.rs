//! Everything the CLI writes: stdout that ends quietly when its reader goes away, colour only
//! for terminals, tables, and the human views of the API's objects.

use std::{
    fmt::{Display, Write as _},
    io::{self, IsTerminal, Write},
    sync::{
        atomic::{AtomicBool, Ordering},
        OnceLock,
    },
    time::Duration,
};

use anstyle::{AnsiColor, Style};
use quantconnect_agents::{
    types::{Agent, AgentDeployment, AgentTask},
    DeploymentStatus,
};
use unicode_width::UnicodeWidthStr as _;

use crate::text::{is_c1_or_bidi, line, safe};

/// Set once stdout's reader has gone (`| head`) or a write failed: later output is dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// The first write error on stdout other than a closed pipe (`> /dev/full`): the command
/// fails with it ([`write_error`]).
static WRITE_ERROR: OnceLock<String> = OnceLock::new();

/// Whether stdout's reader has gone. Loops that only print (following a conversation) stop
/// when it has.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Why stdout could not be written, when it was not because its reader went away.
pub fn write_error() -> Option<&'static str> {
    WRITE_ERROR.get().map(String::as_str)
}

/// Writes `text` and a newline to stdout. A closed pipe marks stdout closed and is otherwise
/// ignored (Rust ignores SIGPIPE, so `println!` would panic on EPIPE instead); any other
/// write error is kept for [`write_error`], which makes the command fail.
pub fn out(text: impl Display) {
    if stdout_closed() {
        return;
    }
    let mut stdout = io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe {
            let _ = WRITE_ERROR.set(e.to_string());
        }
    }
}

/// Resolves once stdout's reader has gone, even with nothing written: a pipe whose reader
/// closed reports `POLLERR` (a socket `POLLHUP`), which a poll with no events asked for
/// still returns. Checked every quarter of a second; never on a file or a terminal, nor
/// off Unix.
pub async fn reader_gone() {
    loop {
        if stdout_closed() || pipe_closed() {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(unix)]
fn pipe_closed() -> bool {
    use rustix::event::{poll, PollFd, PollFlags};
    let stdout = io::stdout();
    let mut fds = [PollFd::new(&stdout, PollFlags::empty())];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    poll(&mut fds, Some(&zero)).is_ok()
        && fds[0].revents().intersects(PollFlags::ERR | PollFlags::HUP)
}

#[cfg(not(unix))]
fn pipe_closed() -> bool {
    false
}

/// Writes `text` and a newline to stderr, ignoring failures (`eprintln!` panics on them).
pub fn err(text: impl Display) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// How output looks, decided once from the streams and the environment.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// `--json`: stdout carries exactly the payload as JSON, nothing else: the answer
    /// without its envelope (`success`, `errors`), `{}` when it has nothing else.
    pub json: bool,
    /// Colour on stdout: a terminal, and `NO_COLOR` unset or empty.
    pub color_out: bool,
    /// Colour on stderr: the same test on stderr.
    pub color_err: bool,
    /// A live status line on stderr: only when stderr is a terminal.
    pub live: bool,
}

impl Ui {
    /// Looks at the streams and `NO_COLOR` (<https://no-color.org>).
    pub fn detect(json: bool) -> Self {
        Ui::decide(
            json,
            std::env::var_os("NO_COLOR").as_deref(),
            io::stdout().is_terminal(),
            io::stderr().is_terminal(),
        )
    }

    /// The decision behind [`detect`](Self::detect): colour on a terminal unless `NO_COLOR`
    /// is set to something; the status line whenever stderr is a terminal.
    fn decide(
        json: bool,
        no_color: Option<&std::ffi::OsStr>,
        stdout_tty: bool,
        stderr_tty: bool,
    ) -> Self {
        let no_color = no_color.is_some_and(|v| !v.is_empty());
        Ui {
            json,
            color_out: !no_color && stdout_tty,
            color_err: !no_color && stderr_tty,
            live: stderr_tty,
        }
    }

    /// Prints a value as pretty JSON on stdout, written as it is encoded (never held whole).
    pub fn json(&self, value: &impl serde::Serialize) {
        out(Json(value));
    }

    /// Prints `payload` as JSON with `--json`, else what `view` makes of it for people.
    pub fn show<V: Display>(&self, payload: &impl serde::Serialize, view: impl FnOnce() -> V) {
        if self.json {
            self.json(payload);
        } else {
            out(view());
        }
    }

    /// The answer of a call that returns nothing: `line`, or `{}` with --json (stdout holds
    /// one JSON value, always).
    pub fn done(&self, line: impl Display) {
        self.show(&serde_json::json!({}), || line);
    }

    /// Prints a human line on stdout, unless `--json` reserves stdout for the payload.
    pub fn line(&self, text: impl Display) {
        if !self.json {
            out(text);
        }
    }
}

/// A value shown as pretty JSON, encoded straight into the formatter.
struct Json<'a, T>(&'a T);

/// A value as JSON on one line, for NDJSON (`--follow --json`).
pub struct JsonLine<'a, T>(pub &'a T);

impl<T: serde::Serialize> Display for Json<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        serde_json::to_writer_pretty(Adapter(f), self.0).map_err(|_| std::fmt::Error)
    }
}

impl<T: serde::Serialize> Display for JsonLine<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        serde_json::to_writer(Adapter(f), self.0).map_err(|_| std::fmt::Error)
    }
}

/// `io::Write` onto a formatter: serde_json writes valid UTF-8, whole characters at a time.
/// It escapes the C0 controls; the C1 controls and bidirectional overrides, which can only
/// be inside strings, are escaped here too (`\u009b`): the same JSON value, and nothing a
/// terminal acts on.
struct Adapter<'a, 'b>(&'a mut std::fmt::Formatter<'b>);

impl io::Write for Adapter<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = std::str::from_utf8(buf).map_err(io::Error::other)?;
        let written = if text.chars().any(is_c1_or_bidi) {
            text.chars().try_for_each(|c| match c {
                c if is_c1_or_bidi(c) => write!(self.0, "\\u{:04x}", c as u32),
                c => self.0.write_char(c),
            })
        } else {
            self.0.write_str(text)
        };
        written.map_err(io::Error::other)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `text` in `style` when `color`, else as is.
pub fn paint(color: bool, style: Style, text: &str) -> String {
    if color {
        format!("{}{text}{}", style.render(), style.render_reset())
    } else {
        text.to_owned()
    }
}

/// The colour of a deployment status.
pub fn status_style(status: Option<&DeploymentStatus>) -> Style {
    let color = match status {
        Some(DeploymentStatus::Completed) => AnsiColor::Green,
        Some(DeploymentStatus::Failed) => AnsiColor::Red,
        Some(DeploymentStatus::Stopped) => AnsiColor::Yellow,
        Some(DeploymentStatus::Running) => AnsiColor::Cyan,
        _ => return Style::new().dimmed(),
    };
    Style::new().fg_color(Some(color.into())).bold()
}

/// A deployment's status as text, `?` when the server sent none (a status the library does
/// not know is the server's text, made safe to print).
pub fn status_text(deployment: &AgentDeployment) -> String {
    deployment
        .status
        .as_ref()
        .map_or("?".into(), |s| line(s.as_str()))
}

/// `1h 02m 03s`, `4m 05s`, `7.9s`: tenths under a minute, whole seconds above, for people.
pub fn elapsed(d: Duration) -> String {
    quantconnect_agents::duration::for_people(d).to_string()
}

/// Rows in aligned columns, no borders: easy to read and to `grep`/`awk`. Written line by
/// line when printed, never built as one string, so a long list costs its rows and no more.
pub struct Table {
    rows: Vec<Vec<String>>,
    /// Each column's width, in characters as a terminal shows them.
    widths: Vec<usize>,
    /// Spaces after each column but the last.
    gap: usize,
}

impl Table {
    fn new(rows: Vec<Vec<String>>, gap: usize) -> Table {
        let mut widths = Vec::new();
        for row in &rows {
            widths.resize(widths.len().max(row.len()), 0);
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.width());
            }
        }
        Table { rows, widths, gap }
    }
}

impl Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, row) in self.rows.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            let mut pad = 0;
            for (cell, width) in row.iter().zip(&self.widths) {
                // Padding only before a cell that follows: no trailing space.
                write!(f, "{:pad$}{cell}", "")?;
                pad = width - cell.width() + self.gap;
            }
        }
        Ok(())
    }
}

/// A table with `header` over `rows`, columns two spaces apart.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> Table {
    let mut all = Vec::with_capacity(rows.len() + 1);
    all.push(header.iter().map(|h| h.to_string()).collect());
    all.extend(rows);
    Table::new(all, 2)
}

/// `key  value` lines, aligned, for one object; fields the server left out are skipped.
pub fn fields(pairs: Vec<(&str, Option<String>)>) -> String {
    let rows = pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| vec![format!("{k}:"), v]))
        .collect();
    Table::new(rows, 1).to_string()
}

/// A server's value for a table cell or a one-line field: safe to print, on one line.
fn text<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(String::new, |v| line(&v.to_string()))
}

/// A server's value for a field that may span lines (a prompt): safe to print.
fn some<T: ToString>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(|v| safe(&v.to_string()))
}

/// The agents as a table.
pub fn agents_table(agents: &[Agent]) -> Table {
    let rows = agents
        .iter()
        .map(|a| {
            vec![
                text(&a.id),
                text(&a.name),
                a.model.as_deref().map_or_else(|| "(default)".into(), line),
                text(&a.reasoning_effort),
                text(&a.public),
                text(&a.updated),
            ]
        })
        .collect();
    table(
        &["ID", "NAME", "MODEL", "REASONING", "PUBLIC", "UPDATED"],
        rows,
    )
}

/// One agent, field by field. The LLM provider token is never shown.
pub fn agent_view(a: &Agent) -> String {
    fields(vec![
        ("id", some(&a.id)),
        ("name", some(&a.name)),
        ("description", some(&a.description)),
        (
            "model",
            Some(
                a.model
                    .as_deref()
                    .map_or_else(|| "(organization default)".into(), line),
            ),
        ),
        ("reasoning effort", some(&a.reasoning_effort)),
        ("max turns", some(&a.max_turns)),
        ("tool choice", some(&a.tool_choice)),
        (
            "tools",
            (!a.tools.is_empty()).then(|| line(&a.tools.join(", "))),
        ),
        ("public", some(&a.public)),
        (
            "own LLM token",
            a.token.as_ref().map(|t| {
                format!(
                    "yes ({})",
                    t.llm_provider_api
                        .as_deref()
                        .map_or_else(|| "provider not named".into(), line)
                )
            }),
        ),
        ("created", some(&a.created)),
        ("updated", some(&a.updated)),
        ("system prompt", some(&a.system_prompt)),
    ])
}

/// The tasks as a table.
pub fn tasks_table(tasks: &[AgentTask]) -> Table {
    let rows = tasks
        .iter()
        .map(|t| {
            vec![
                text(&t.id),
                text(&t.name),
                text(&t.agent_id),
                text(&t.deployments),
                text(&t.project_preference),
                text(&t.updated),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "NAME",
            "AGENT",
            "DEPLOYMENTS",
            "PROJECT PREFERENCE",
            "UPDATED",
        ],
        rows,
    )
}

/// One task, field by field.
pub fn task_view(t: &AgentTask) -> String {
    let active = t
        .status
        .iter()
        .map(|s| format!("{} {}", text(&s.deployment_id), text(&s.status)))
        .collect::<Vec<_>>();
    fields(vec![
        ("id", some(&t.id)),
        ("name", some(&t.name)),
        ("agent", some(&t.agent_id)),
        ("project preference", some(&t.project_preference)),
        ("project", some(&t.project_id)),
        ("deployments", some(&t.deployments)),
        ("active", (!active.is_empty()).then(|| active.join(", "))),
        ("last deployment", some(&t.last_deployment_time)),
        (
            "schedule",
            some(&t.schedule_human).or_else(|| some(&t.schedule)),
        ),
        ("created", some(&t.created)),
        ("updated", some(&t.updated)),
        ("prompt", some(&t.prompt)),
    ])
}

/// The deployments as a table (uncoloured: escape codes would count as width and skew the
/// columns).
pub fn deployments_table(deployments: &[AgentDeployment]) -> Table {
    let rows = deployments
        .iter()
        .map(|d| {
            vec![
                text(&d.deployment_id),
                status_text(d),
                text(&d.task_id),
                text(&d.created),
                text(&d.ended),
            ]
        })
        .collect();
    table(&["ID", "STATUS", "TASK", "CREATED", "ENDED"], rows)
}

/// One deployment, field by field.
pub fn deployment_view(d: &AgentDeployment, color: bool) -> String {
    fields(vec![
        ("id", some(&d.deployment_id)),
        (
            "status",
            Some(paint(
                color,
                status_style(d.status.as_ref()),
                &status_text(d),
            )),
        ),
        ("runtime error", some(&d.runtime_error)),
        ("task", some(&d.task_id)),
        ("agent", some(&d.agent_id)),
        ("model", some(&d.model)),
        ("project", some(&d.project_id)),
        ("created", some(&d.created)),
        ("started", some(&d.started)),
        ("ended", some(&d.ended)),
        ("prompt", some(&d.prompt)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_is_whole_seconds_with_units() {
        assert_eq!(elapsed(Duration::from_millis(7_960)), "7.9s");
        assert_eq!(elapsed(Duration::from_millis(40)), "0.0s");
        assert_eq!(elapsed(Duration::from_secs(245)), "4m 05s");
        assert_eq!(elapsed(Duration::from_secs(3723)), "1h 02m 03s");
    }

    #[test]
    fn tables_align_columns_without_trailing_space() {
        let t = table(
            &["ID", "NAME"],
            vec![vec!["1".into(), "a".into()], vec!["22".into(), "bb".into()]],
        );
        assert_eq!(t.to_string(), "ID  NAME\n1   a\n22  bb");
        let t = table(&["A", "B"], vec![vec!["é€".into(), "x".into()], vec![]]);
        assert_eq!(t.to_string(), "A   B\né€  x\n");
    }

    #[test]
    fn fields_skip_absent_values() {
        let f = fields(vec![
            ("id", Some("1".into())),
            ("gone", None),
            ("name", Some("x".into())),
        ]);
        assert_eq!(f, "id:   1\nname: x");
    }

    #[test]
    fn colour_only_on_terminals_and_never_with_no_color() {
        use std::ffi::OsStr;
        let ui = Ui::decide(false, None, true, false);
        assert!(ui.color_out && !ui.color_err && !ui.live);
        let ui = Ui::decide(false, None, false, true);
        assert!(!ui.color_out && ui.color_err && ui.live);
        let ui = Ui::decide(false, Some(OsStr::new("1")), true, true);
        assert!(!ui.color_out && !ui.color_err, "NO_COLOR turns colour off");
        assert!(ui.live, "but not the status line");
        let ui = Ui::decide(false, Some(OsStr::new("")), true, true);
        assert!(
            ui.color_out,
            "an empty NO_COLOR does not count (no-color.org)"
        );
    }

    #[test]
    fn paint_adds_escapes_only_when_asked() {
        assert_eq!(paint(false, Style::new().bold(), "x"), "x");
        assert!(paint(true, Style::new().bold(), "x").contains('\u{1b}'));
    }
}
