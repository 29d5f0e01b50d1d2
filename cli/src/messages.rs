//! How a conversation looks: whole messages (`conversation ID`, the end of `run`), and
//! live while its deployment runs (`--follow`), event by event from the library's
//! follower, as lines for people or as NDJSON.

use std::{collections::HashMap, time::Instant};

use anstyle::{AnsiColor, Style};
use futures_util::StreamExt as _;
use quantconnect_agents::{
    types::{AgentConversation, AgentConversationMessage, AgentConversationMessagePart},
    wait::{self, ConversationEvent, WaitError},
    Client, PartKind, Role, ToolCallState,
};
use serde_json::{Map, Value};

use crate::{
    output::{self, paint, Ui},
    progress::{StatusLine, Waited},
    text::{line, safe},
};

/// One message of a conversation: a header line with the role and time, then its parts.
pub fn message_view(m: &AgentConversationMessage, color: bool) -> String {
    let mut lines = vec![header(m.role.as_ref(), m.time.as_deref(), color)];
    for part in &m.parts {
        lines.extend(part_lines(part, color));
    }
    lines.join("\n")
}

/// The parts of `m` after the first `shown`, under its header; nothing when they show
/// nothing: the rest of a message that following showed in part.
pub fn rest_of_message(m: &AgentConversationMessage, shown: usize, color: bool) -> Option<String> {
    let lines: Vec<String> = m
        .parts
        .iter()
        .skip(shown)
        .flat_map(|p| part_lines(p, color))
        .collect();
    if lines.is_empty() {
        return None;
    }
    let header = header(m.role.as_ref(), m.time.as_deref(), color);
    Some(format!("{header}\n{}", lines.join("\n")))
}

/// The closing line of a conversation: its status and token totals.
pub fn conversation_footer(c: &AgentConversation) -> String {
    let count = |v: &Option<i64>| v.map_or_else(String::new, |v| v.to_string());
    format!(
        "({} messages; status {}; tokens in {}, out {})",
        c.messages.len(),
        c.aggregate_status
            .as_deref()
            .map_or_else(|| "?".into(), line),
        count(&c.input_tokens),
        count(&c.output_tokens)
    )
}

/// `assistant 2026-05-12 17:08:53`: who wrote a message and when, the role in colour.
fn header(role: Option<&Role>, time: Option<&str>, color: bool) -> String {
    let style = match role {
        Some(Role::User) => Style::new().fg_color(Some(AnsiColor::Blue.into())).bold(),
        Some(Role::Assistant) => Style::new()
            .fg_color(Some(AnsiColor::Magenta.into()))
            .bold(),
        _ => Style::new().bold(),
    };
    let role = role.map_or_else(|| "?".into(), |r| line(r.as_str()));
    match time {
        Some(time) => format!(
            "{} {}",
            paint(color, style, &role),
            paint(color, Style::new().dimmed(), &line(time))
        ),
        None => paint(color, style, &role),
    }
}

/// A part's lines, indented: reasoning dimmed as "(thinking)", a tool call as one line,
/// text as it is; nothing for a part with nothing to show (`step-start`).
fn part_lines(part: &AgentConversationMessagePart, color: bool) -> Vec<String> {
    // Painted line by line, so that a style never spans the indent of the next line.
    let (style, body) = match (&part.type_, &part.text, &part.tool_name) {
        (Some(PartKind::Reasoning), Some(text), _) => (
            Some(Style::new().dimmed().italic()),
            format!("(thinking) {}", safe(text)),
        ),
        (_, Some(text), _) => (None, safe(text)),
        (_, None, Some(_)) => return vec![format!("  {}", tool_line(part, color))],
        _ => return Vec::new(),
    };
    body.lines()
        .map(|text| match style {
            Some(style) => format!("  {}", paint(color, style, text)),
            None => format!("  {text}"),
        })
        .collect()
}

/// `tool create_file main.py: done`: the tool, its key input and its outcome so far.
fn tool_line(part: &AgentConversationMessagePart, color: bool) -> String {
    let (style, outcome) = match &part.state {
        Some(ToolCallState::OutputAvailable) => (AnsiColor::Green, tool_result(&part.output)),
        Some(ToolCallState::OutputError) => (
            AnsiColor::Red,
            format!("failed{}", tool_errors(&part.output)),
        ),
        Some(state) => (AnsiColor::Yellow, line(state.as_str())),
        None => (AnsiColor::Yellow, "no state".into()),
    };
    let style = Style::new().fg_color(Some(style.into()));
    format!(
        "{}: {}",
        paint(color, Style::new().dimmed(), &tool_call(part)),
        paint(color, style, &outcome)
    )
}

/// `tool create_file main.py`: a tool call's name and the input that says most about it.
fn tool_call(part: &AgentConversationMessagePart) -> String {
    let name = part.tool_name.as_deref().map_or_else(|| "?".into(), line);
    match key_input(&part.input) {
        Some(input) => format!("tool {name} {input}"),
        None => format!("tool {name}"),
    }
}

/// The longest a key input is shown, in characters.
const KEY_INPUT_CHARS: usize = 60;

/// The input that names what a tool works on: a file path, a name, a query; else the
/// first short text or number. Cut to [`KEY_INPUT_CHARS`] and made safe.
fn key_input(input: &Map<String, Value>) -> Option<String> {
    const KEYS: [&str; 10] = [
        "filePath",
        "path",
        "file",
        "fileName",
        "name",
        "backtestName",
        "projectId",
        "query",
        "command",
        "url",
    ];
    let scalar = |v: &Value| match v {
        Value::String(s) if !s.contains('\n') => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let value = KEYS
        .iter()
        .find_map(|k| input.get(*k).and_then(scalar))
        .or_else(|| input.values().find_map(scalar))?;
    let mut shown: String = value.chars().take(KEY_INPUT_CHARS).collect();
    if shown.len() < value.len() {
        shown.push('…');
    }
    Some(line(&shown))
}

/// A tool's result: `done`, with its warnings or errors counted when it reports them (the
/// `structuredContent` of QuantConnect's tools).
fn tool_result(output: &Map<String, Value>) -> String {
    let content = output.get("structuredContent").unwrap_or(&Value::Null);
    if content.get("success") == Some(&Value::Bool(false)) {
        return format!("failed{}", tool_errors(output));
    }
    match content.get("warnings").and_then(Value::as_array) {
        Some(w) if !w.is_empty() => format!("done, {} warning(s)", w.len()),
        _ => "done".into(),
    }
}

/// `: the first error (and 2 more)` from a tool's output, or nothing.
fn tool_errors(output: &Map<String, Value>) -> String {
    let errors = output
        .get("structuredContent")
        .and_then(|c| c.get("errors"))
        .and_then(Value::as_array);
    let mut texts = errors
        .into_iter()
        .flatten()
        .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned));
    match texts.next() {
        Some(first) => {
            let more = texts.count();
            let mut shown = line(&first);
            if more > 0 {
                shown.push_str(&format!(" (and {more} more)"));
            }
            format!(": {shown}")
        }
        None => String::new(),
    }
}

/// What following found: how the deployment ended, and how much of each message it showed.
pub struct Followed {
    /// The outcome, as a wait reports it; no read count, as the follower keeps none.
    pub waited: Waited,
    /// How many parts of each message were shown, by message id (as the follower keys
    /// them): a message that ended the follow half shown has its rest shown after.
    pub shown: HashMap<String, usize>,
}

/// Follows deployment `id`'s conversation until it ends: each event printed as it comes
/// (NDJSON with --json), the status on `status`, a tool call still running on the live
/// status line only, then shown once, with its outcome.
pub async fn follow(
    client: &Client,
    ui: Ui,
    id: &str,
    max_wait: std::time::Duration,
    status: &StatusLine,
) -> Followed {
    let started = Instant::now();
    let stream = client.follow_conversation(id).max_wait(max_wait).events();
    let mut stream = std::pin::pin!(stream);
    let mut shown = HashMap::new();
    let mut outcome = None;
    while let Some(event) = stream.next().await {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                outcome = Some(Err(error));
                break;
            }
        };
        if ui.json {
            status.print(output::JsonLine(&event));
        }
        match &event {
            ConversationEvent::MessageStarted { message_id, .. } => {
                shown.insert(message_id.clone(), 0);
            }
            ConversationEvent::Part { message_id, .. } => {
                *shown.entry(message_id.clone()).or_default() += 1;
            }
            _ => {}
        }
        match event {
            ConversationEvent::StatusChanged { deployment } => status.status(&deployment),
            ConversationEvent::MessageStarted { role, time, .. } if !ui.json => {
                status.print(header(role.as_ref(), time.as_deref(), ui.color_out));
            }
            ConversationEvent::ToolCallChanged { part, .. } if !ui.json => {
                status.activity(Some(tool_line(&part, ui.color_err)));
            }
            ConversationEvent::Part { part, .. } if !ui.json => {
                if part.tool_name.is_some() {
                    status.activity(None);
                }
                for text in part_lines(&part, ui.color_out) {
                    status.print(text);
                }
            }
            ConversationEvent::DeploymentEnded { deployment } => {
                outcome = Some(wait::outcome(*deployment));
            }
            _ => {}
        }
    }
    status.activity(None);
    let outcome = outcome.unwrap_or_else(|| {
        // The follower ends with the deployment's end or an error; should it not, say so.
        Err(WaitError::ExceededMaxWait {
            deployment_id: id.to_owned(),
            max_wait,
            elapsed: started.elapsed(),
            polls: 0,
            last: status.last_seen().map(Box::new),
            last_error: None,
        })
    });
    Followed {
        waited: Waited {
            outcome,
            elapsed: started.elapsed(),
            reads: None,
        },
        shown,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tool(state: ToolCallState, input: Value, output: Value) -> AgentConversationMessagePart {
        let object = |v: Value| v.as_object().cloned().unwrap_or_default();
        AgentConversationMessagePart {
            type_: Some(PartKind::DynamicTool),
            tool_name: Some("create_file".into()),
            state: Some(state),
            input: object(input),
            output: object(output),
            ..Default::default()
        }
    }

    #[test]
    fn a_tool_call_is_one_line_with_its_key_input_and_outcome() {
        let input = json!({"content": "x\ny", "filePath": "main.py"});
        let running = tool(ToolCallState::InputAvailable, input.clone(), json!({}));
        assert_eq!(
            part_lines(&running, false),
            ["  tool create_file main.py: input-available"]
        );
        let done = json!({"structuredContent": {"success": true, "errors": [], "warnings": []}});
        let done = tool(ToolCallState::OutputAvailable, input.clone(), done);
        assert_eq!(
            part_lines(&done, false),
            ["  tool create_file main.py: done"]
        );
        let failed =
            json!({"structuredContent": {"success": false, "errors": ["a\u{1b}[2J", "b"]}});
        let failed = tool(ToolCallState::OutputError, input, failed);
        assert_eq!(
            part_lines(&failed, false),
            ["  tool create_file main.py: failed: a^[[2J (and 1 more)"]
        );
    }

    #[test]
    fn the_key_input_is_a_known_name_else_the_first_short_value_cut_and_safe() {
        let input = |v: Value| v.as_object().cloned().unwrap();
        assert_eq!(
            key_input(&input(json!({"a": [1], "query": "SPY"}))).unwrap(),
            "SPY"
        );
        assert_eq!(
            key_input(&input(json!({"x": "a\nb", "n": 3}))).unwrap(),
            "3"
        );
        assert_eq!(key_input(&input(json!({"x": {"y": 1}}))), None);
        let long = key_input(&input(json!({"path": "é".repeat(100)}))).unwrap();
        assert_eq!(long.chars().count(), KEY_INPUT_CHARS + 1);
        assert!(long.ends_with('…'));
        assert_eq!(
            key_input(&input(json!({"path": "\u{9b}31m"}))).unwrap(),
            "\\u{9b}31m"
        );
    }

    #[test]
    fn reasoning_is_thinking_and_a_step_start_shows_nothing() {
        let part = |kind, text: Option<&str>| AgentConversationMessagePart {
            type_: Some(kind),
            text: text.map(str::to_owned),
            ..Default::default()
        };
        assert_eq!(
            part_lines(&part(PartKind::Reasoning, Some("a\nb")), false),
            ["  (thinking) a", "  b"]
        );
        assert!(part_lines(&part(PartKind::StepStart, None), false).is_empty());
        assert_eq!(
            part_lines(&part(PartKind::Text, Some("hi")), false),
            ["  hi"]
        );
    }
}
