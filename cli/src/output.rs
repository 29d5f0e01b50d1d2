//! Everything the CLI writes: stdout that ends quietly when its reader goes away, colour only
//! for terminals, tables, and the human views of the API's objects.

use std::{
    fmt::Display,
    io::{self, IsTerminal, Write},
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use anstyle::{AnsiColor, Style};
use quantconnect_agents::{
    types::{Agent, AgentConversation, AgentConversationMessage, AgentDeployment, AgentTask},
    DeploymentStatus,
};
use unicode_width::UnicodeWidthStr as _;

/// Set once stdout's reader has gone (`| head`): later output is dropped, not an error.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether stdout's reader has gone. Loops that only print (following a conversation) stop
/// when it has.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Writes `text` and a newline to stdout. A closed pipe marks stdout closed and is otherwise
/// ignored (Rust ignores SIGPIPE, so `println!` would panic on EPIPE instead); any other
/// write error does the same, since there is nowhere left to report it.
pub fn out(text: impl Display) {
    if stdout_closed() {
        return;
    }
    let mut stdout = io::stdout().lock();
    if writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Writes `text` and a newline to stderr, ignoring failures (`eprintln!` panics on them).
pub fn err(text: impl Display) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// How output looks, decided once from the streams and the environment.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// `--json`: stdout carries exactly the payload as JSON, nothing else.
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

    /// The answer of a call that returns nothing: `line`, or `{"success": true}` with --json.
    pub fn done(&self, line: String) {
        self.show(&serde_json::json!({"success": true}), || line);
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

impl<T: serde::Serialize> Display for Json<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        /// `io::Write` onto a formatter: serde_json writes valid UTF-8.
        struct Adapter<'a, 'b>(&'a mut std::fmt::Formatter<'b>);
        impl io::Write for Adapter<'_, '_> {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let text = std::str::from_utf8(buf).map_err(io::Error::other)?;
                self.0.write_str(text).map_err(io::Error::other)?;
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        serde_json::to_writer_pretty(Adapter(f), self.0).map_err(|_| std::fmt::Error)
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

/// A deployment's status as text, `?` when the server sent none.
pub fn status_text(deployment: &AgentDeployment) -> &str {
    deployment.status.as_ref().map_or("?", |s| s.as_str())
}

/// `1h 02m 03s`, `4m 05s`, `7.9s`: tenths under a minute, whole seconds above, for people.
pub fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, _) => format!("{:.1}s", (d.as_millis() / 100) as f64 / 10.0),
        (0, m, s) => format!("{m}m {s:02}s"),
        (h, m, s) => format!("{h}h {m:02}m {s:02}s"),
    }
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

fn text<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(String::new, ToString::to_string)
}

fn some<T: ToString>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(ToString::to_string)
}

/// The agents as a table.
pub fn agents_table(agents: &[Agent]) -> Table {
    let rows = agents
        .iter()
        .map(|a| {
            vec![
                text(&a.id),
                text(&a.name),
                a.model.clone().unwrap_or_else(|| "(default)".into()),
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
                    .clone()
                    .unwrap_or_else(|| "(organization default)".into()),
            ),
        ),
        ("reasoning effort", some(&a.reasoning_effort)),
        ("max turns", some(&a.max_turns)),
        ("tool choice", some(&a.tool_choice)),
        ("tools", (!a.tools.is_empty()).then(|| a.tools.join(", "))),
        ("public", some(&a.public)),
        (
            "own LLM token",
            a.token.as_ref().map(|t| {
                format!(
                    "yes ({})",
                    t.llm_provider_api
                        .as_deref()
                        .unwrap_or("provider not named")
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
        ("schedule", t.schedule_human.clone().or(t.schedule.clone())),
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
                status_text(d).to_owned(),
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
                status_text(d),
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

/// One message of a conversation: a header line with the role and time, then its parts.
pub fn message_view(m: &AgentConversationMessage, color: bool) -> String {
    let role = m.role.as_ref().map_or("?", |r| r.as_str());
    let role_style = match role {
        "user" => Style::new().fg_color(Some(AnsiColor::Blue.into())).bold(),
        "assistant" => Style::new()
            .fg_color(Some(AnsiColor::Magenta.into()))
            .bold(),
        _ => Style::new().bold(),
    };
    let mut lines = vec![match &m.time {
        Some(time) => format!(
            "{} {}",
            paint(color, role_style, role),
            paint(color, Style::new().dimmed(), time)
        ),
        None => paint(color, role_style, role),
    }];
    for part in &m.parts {
        let kind = part.type_.as_ref().map_or("text", |k| k.as_str());
        let body = match (kind, &part.text, &part.tool_name) {
            ("reasoning", Some(text), _) => paint(
                color,
                Style::new().dimmed().italic(),
                &format!("(thinking) {text}"),
            ),
            (_, Some(text), _) => text.clone(),
            (_, None, Some(tool)) => paint(
                color,
                Style::new().dimmed(),
                &format!(
                    "[tool {tool}{}]",
                    part.state
                        .as_ref()
                        .map(|s| format!(": {s}"))
                        .unwrap_or_default()
                ),
            ),
            _ => continue,
        };
        for line in body.lines() {
            lines.push(format!("  {line}"));
        }
    }
    lines.join("\n")
}

/// The closing line of a conversation: its status and token totals.
pub fn conversation_footer(c: &AgentConversation) -> String {
    format!(
        "({} messages; status {}; tokens in {}, out {})",
        c.messages.len(),
        c.aggregate_status.as_deref().unwrap_or("?"),
        text(&c.input_tokens),
        text(&c.output_tokens)
    )
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
