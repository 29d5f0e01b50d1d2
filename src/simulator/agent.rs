//! The simulated agent's work on one run: a script of [`TICKS`] changes to its answer,
//! spread evenly over the schedule's `running` time, so the answer grows part by part as a
//! real agent's does: two steps, each a `step-start`, its reasoning and a tool call whose
//! state moves from `input-available` to an outcome, then the text.

use serde_json::{json, Map, Value};

use crate::{types::AgentConversationMessagePart as Part, PartKind, ToolCallState};

/// How many changes a run's answer goes through; the `k`-th lands at `k / TICKS` of the
/// running time, the last at its end.
pub(super) const TICKS: u32 = 9;

/// The answer's parts after `ticks` changes of a run of `prompt`; `failure` makes the
/// backtest's tool call end `output-error` and the text say why.
pub(super) fn answer(prompt: &str, failure: Option<&str>, ticks: u32) -> Vec<Part> {
    let mut parts: Vec<Part> = Vec::new();
    for tick in 1..=ticks.min(TICKS) {
        match tick {
            1 | 5 => parts.push(Part {
                type_: Some(PartKind::StepStart),
                ..Default::default()
            }),
            2 => parts.push(text(
                PartKind::Reasoning,
                format!("The user asks: {prompt}. I will write the algorithm first."),
            )),
            3 => parts.push(tool_call(
                "create_file",
                object(json!({
                    "filePath": "main.py",
                    "content": "# simulated\nclass Algorithm(QCAlgorithm):\n    pass\n",
                })),
            )),
            6 => parts.push(text(
                PartKind::Reasoning,
                "main.py is written; now I backtest it.".to_owned(),
            )),
            7 => parts.push(tool_call(
                "create_backtest",
                object(json!({"backtestName": "Simulated backtest"})),
            )),
            4 => finish(parts.last_mut(), None),
            8 => finish(parts.last_mut(), failure),
            _ => parts.push(text(
                PartKind::Text,
                match failure {
                    Some(error) => format!("The run failed: {error}"),
                    None => format!("Done (simulated): {prompt}"),
                },
            )),
        }
    }
    parts
}

fn text(kind: PartKind, text: String) -> Part {
    Part {
        type_: Some(kind),
        text: Some(text),
        ..Default::default()
    }
}

fn tool_call(name: &str, input: Map<String, Value>) -> Part {
    Part {
        type_: Some(PartKind::DynamicTool),
        tool_name: Some(name.to_owned()),
        state: Some(ToolCallState::InputAvailable),
        input,
        ..Default::default()
    }
}

/// The tool call's outcome, in the shape QuantConnect's tools answer with.
fn finish(call: Option<&mut Part>, error: Option<&str>) {
    let Some(call) = call else { return };
    let (state, result) = match error {
        Some(error) => (
            ToolCallState::OutputError,
            json!({"success": false, "errors": [error], "warnings": []}),
        ),
        None => (
            ToolCallState::OutputAvailable,
            json!({"success": true, "errors": [], "warnings": []}),
        ),
    };
    call.state = Some(state);
    call.output = object(json!({ "structuredContent": result }));
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_grows_one_change_a_tick_and_a_failure_ends_with_the_error() {
        let sizes: Vec<usize> = (0..=TICKS + 1)
            .map(|t| answer("p", None, t).len())
            .collect();
        assert_eq!(sizes, [0, 1, 2, 3, 3, 4, 5, 6, 6, 7, 7]);
        let tool = &answer("p", None, 3)[2];
        assert_eq!(tool.state, Some(ToolCallState::InputAvailable));
        assert!(tool.output.is_empty());
        let tool = &answer("p", None, 4)[2];
        assert_eq!(tool.state, Some(ToolCallState::OutputAvailable));
        let failed = answer("p", Some("boom"), TICKS);
        assert_eq!(failed[5].state, Some(ToolCallState::OutputError));
        assert_eq!(failed[6].text.as_deref(), Some("The run failed: boom"));
    }
}
