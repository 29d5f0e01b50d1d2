//! [`ConversationEvent`]: what a follower reports, and [`Tracker`], which turns successive
//! reads of a conversation into events, each once.

use std::collections::HashMap;

use crate::{
    types::{AgentConversationMessage, AgentConversationMessagePart, AgentDeployment},
    PartKind, Role,
};

/// What [`ConversationFollower::events`](super::ConversationFollower::events) yields, in
/// the order it happened.
///
/// Each message gets one `MessageStarted`, then its parts, each once, as `Part`s in order,
/// then one `MessageCompleted`; `ToolCallChanged` reports a tool call's progress before
/// its `Part`; `StatusChanged` reports the deployment's status as each round reads it,
/// before that round's conversation; `DeploymentEnded` comes last. Messages are keyed by
/// their `id` (by their position when they have none).
///
/// As JSON (serde) an event is an object tagged by `event` in snake case, its fields in
/// camel case: `{"event": "part", "messageId": "m-2", "index": 1, "part": {…}}`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(
    tag = "event",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum ConversationEvent {
    /// The deployment's status, read for the first time or changed since the last read
    /// (`InQueue` to `Running`, say): the deployment as read.
    StatusChanged {
        /// The deployment as read.
        deployment: Box<AgentDeployment>,
    },
    /// A message appeared. The user's prompt is complete at once: its parts and
    /// `MessageCompleted` follow in the same read.
    MessageStarted {
        /// The message's id.
        message_id: String,
        /// Who wrote it.
        role: Option<Role>,
        /// When it was produced, as the server wrote it.
        time: Option<String>,
    },
    /// A part settled: it will not change any more. A part settles when a later part
    /// exists in its message (a tool call: once its state is final,
    /// [`ToolCallState::is_final`](crate::ToolCallState::is_final)), when a later message
    /// exists, when its message is the user's, or when the deployment ends. Parts come in
    /// their order: one not settled holds back those after it.
    Part {
        /// The message's id.
        message_id: String,
        /// The part's position in its message, from 0.
        index: usize,
        /// The part as settled.
        part: AgentConversationMessagePart,
    },
    /// A tool call not settled yet was first seen, or its `state` changed (its input
    /// arrived, say): `part` as read. Its outcome comes as its [`Part`](Self::Part).
    ToolCallChanged {
        /// The message's id.
        message_id: String,
        /// The call's position in its message, from 0.
        index: usize,
        /// The call as read: `tool_name`, `state`, `input`.
        part: AgentConversationMessagePart,
    },
    /// Every part of the message has been yielded; nothing more comes for it.
    MessageCompleted {
        /// The message's id.
        message_id: String,
    },
    /// The deployment ended (`Completed`, `Stopped` or `Failed`); the last event.
    DeploymentEnded {
        /// The deployment as last read.
        deployment: Box<AgentDeployment>,
    },
}

/// What has been yielded of one message.
struct Seen {
    id: String,
    /// How many of its parts have been yielded.
    parts: usize,
    /// The last state reported for each unsettled tool call, by position.
    states: HashMap<usize, Option<crate::ToolCallState>>,
    completed: bool,
}

/// Turns reads of a conversation into events, remembering what it yielded.
///
/// A read with fewer messages or parts than an earlier one takes nothing back: what was
/// yielded stays yielded, nothing is yielded again, and a message resumes once it grows
/// past what was yielded of it. Parts appearing in a message after its `MessageCompleted`
/// are not reported.
#[derive(Default)]
pub(super) struct Tracker {
    seen: Vec<Seen>,
    by_id: HashMap<String, usize>,
}

impl Tracker {
    /// The events of one read; `ended` when the deployment read just before it had ended.
    pub(super) fn read(
        &mut self,
        messages: Vec<AgentConversationMessage>,
        ended: bool,
        out: &mut Vec<ConversationEvent>,
    ) {
        let count = messages.len();
        for (position, message) in messages.into_iter().enumerate() {
            let id = message.id.clone().unwrap_or_else(|| format!("#{position}"));
            let at = match self.by_id.get(&id) {
                Some(&at) => at,
                None => {
                    out.push(ConversationEvent::MessageStarted {
                        message_id: id.clone(),
                        role: message.role.clone(),
                        time: message.time.clone(),
                    });
                    self.by_id.insert(id.clone(), self.seen.len());
                    self.seen.push(Seen {
                        id,
                        parts: 0,
                        states: HashMap::new(),
                        completed: false,
                    });
                    self.seen.len() - 1
                }
            };
            let seen = &mut self.seen[at];
            if seen.completed {
                continue;
            }
            let complete = ended || position + 1 < count || message.role == Some(Role::User);
            let parts = message.parts;
            while let Some(part) = parts.get(seen.parts) {
                let settled = complete
                    || match part.type_ {
                        Some(PartKind::DynamicTool) => {
                            part.state.as_ref().is_some_and(|s| s.is_final())
                        }
                        _ => seen.parts + 1 < parts.len(),
                    };
                if !settled {
                    break;
                }
                seen.states.remove(&seen.parts);
                out.push(ConversationEvent::Part {
                    message_id: seen.id.clone(),
                    index: seen.parts,
                    part: part.clone(),
                });
                seen.parts += 1;
            }
            for (index, part) in parts.iter().enumerate().skip(seen.parts) {
                let is_tool = part.type_ == Some(PartKind::DynamicTool);
                if is_tool && seen.states.get(&index) != Some(&part.state) {
                    seen.states.insert(index, part.state.clone());
                    out.push(ConversationEvent::ToolCallChanged {
                        message_id: seen.id.clone(),
                        index,
                        part: part.clone(),
                    });
                }
            }
            if complete && seen.parts >= parts.len() {
                seen.completed = true;
                out.push(ConversationEvent::MessageCompleted {
                    message_id: seen.id.clone(),
                });
            }
        }
        if ended {
            // Messages the last read no longer had keep what was yielded of them.
            for seen in self.seen.iter_mut().filter(|s| !s.completed) {
                seen.completed = true;
                out.push(ConversationEvent::MessageCompleted {
                    message_id: seen.id.clone(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ToolCallState;

    fn part(kind: PartKind, text: &str) -> AgentConversationMessagePart {
        AgentConversationMessagePart {
            type_: Some(kind),
            text: Some(text.to_owned()),
            ..Default::default()
        }
    }

    fn tool(state: ToolCallState) -> AgentConversationMessagePart {
        AgentConversationMessagePart {
            type_: Some(PartKind::DynamicTool),
            tool_name: Some("create_file".into()),
            state: Some(state),
            ..Default::default()
        }
    }

    fn message(
        id: &str,
        role: Role,
        parts: Vec<AgentConversationMessagePart>,
    ) -> AgentConversationMessage {
        AgentConversationMessage {
            id: Some(id.to_owned()),
            role: Some(role),
            parts,
            time: None,
        }
    }

    /// Each event in short: `start m`, `part m i text`, `tool m i state`, `done m`, `end`.
    fn short(events: &[ConversationEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                ConversationEvent::MessageStarted { message_id, .. } => {
                    format!("start {message_id}")
                }
                ConversationEvent::Part {
                    message_id,
                    index,
                    part,
                } => format!(
                    "part {message_id} {index} {}",
                    part.text
                        .as_deref()
                        .or(part.state.as_ref().map(|s| s.as_str()))
                        .unwrap_or("-")
                ),
                ConversationEvent::ToolCallChanged {
                    message_id,
                    index,
                    part,
                } => format!(
                    "tool {message_id} {index} {}",
                    part.state.as_ref().map_or("-", |s| s.as_str())
                ),
                ConversationEvent::MessageCompleted { message_id } => format!("done {message_id}"),
                ConversationEvent::DeploymentEnded { .. } => "end".to_owned(),
                ConversationEvent::StatusChanged { .. } => "status".to_owned(),
            })
            .collect()
    }

    fn read(
        tracker: &mut Tracker,
        messages: Vec<AgentConversationMessage>,
        ended: bool,
    ) -> Vec<String> {
        let mut out = Vec::new();
        tracker.read(messages, ended, &mut out);
        short(&out)
    }

    #[test]
    fn the_prompt_at_once_parts_once_settled_tool_calls_as_they_change() {
        let mut t = Tracker::default();
        let prompt = message("u", Role::User, vec![part(PartKind::Text, "Hi")]);
        let answer = |parts| message("a", Role::Assistant, parts);
        let thinking = part(PartKind::Reasoning, "thinking");
        assert_eq!(
            read(
                &mut t,
                vec![prompt.clone(), answer(vec![thinking.clone()])],
                false
            ),
            ["start u", "part u 0 Hi", "done u", "start a"],
            "the prompt at once; the reasoning may still grow"
        );
        let running = vec![thinking.clone(), tool(ToolCallState::InputAvailable)];
        assert_eq!(
            read(&mut t, vec![prompt.clone(), answer(running.clone())], false),
            ["part a 0 thinking", "tool a 1 input-available"]
        );
        assert!(read(&mut t, vec![prompt.clone(), answer(running)], false).is_empty());
        let done = vec![
            thinking,
            tool(ToolCallState::OutputAvailable),
            part(PartKind::Text, "Do"),
        ];
        assert_eq!(
            read(&mut t, vec![prompt.clone(), answer(done.clone())], false),
            ["part a 1 output-available"],
            "the text may still grow"
        );
        assert_eq!(
            read(&mut t, vec![prompt, answer(done)], true),
            ["part a 2 Do", "done a"]
        );
    }

    #[test]
    fn a_read_with_fewer_parts_or_messages_takes_nothing_back_and_repeats_nothing() {
        let mut t = Tracker::default();
        let parts = |n: usize| {
            (0..n)
                .map(|i| part(PartKind::Text, &format!("p{i}")))
                .collect()
        };
        let answer = |n| message("a", Role::Assistant, parts(n));
        assert_eq!(
            read(&mut t, vec![answer(3)], false),
            ["start a", "part a 0 p0", "part a 1 p1"]
        );
        assert!(
            read(&mut t, vec![answer(1)], false).is_empty(),
            "fewer parts"
        );
        assert!(read(&mut t, vec![], false).is_empty(), "no message at all");
        assert!(
            read(&mut t, vec![answer(2)], false).is_empty(),
            "not past what was seen"
        );
        assert_eq!(
            read(&mut t, vec![answer(4)], false),
            ["part a 2 p2"],
            "resumes once it grows past what was yielded"
        );
        assert_eq!(
            read(&mut t, vec![], true),
            ["done a"],
            "the end keeps what was yielded"
        );
    }
}
