//! Open enums: the string enums of the API that QuantConnect may extend.
//!
//! A closed Rust enum would fail to decode a whole response the day the server sends a value
//! the spec does not list yet (a new deployment status, say). These types decode every known
//! value into its variant and keep any other string in `Unknown`, so old clients keep working
//! and callers can still see, log and match the new value. They replace the types progenitor
//! would generate for `AgentDeploymentStatus`, `AgentProjectPreference` and
//! `AgentReasoningEffort` in `openapi.yaml`, and type three string fields the spec leaves
//! open (a part's `type` and `state`, a message's `role`), whose values QuantConnect gives
//! only in prose and examples (see `OPEN_STRING_FIELDS` in `build/codegen.rs`).

use std::{borrow::Cow, fmt, str::FromStr};

macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the crate does not know, kept as the server sent it.
            Unknown(String),
        }

        impl $name {
            /// Every value the spec documents, in the spec's order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The value as QuantConnect writes it on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Unknown(other) => other,
                }
            }

            /// Whether this is a value the spec does not document.
            pub fn is_unknown(&self) -> bool {
                matches!(self, $name::Unknown(_))
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $( $wire => $name::$variant, )+
                    other => $name::Unknown(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                match $name::from(value.as_str()) {
                    $name::Unknown(_) => $name::Unknown(value),
                    known => known,
                }
            }
        }

        impl FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Ok($name::from(value))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
                Ok($name::from(value.into_owned()))
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                // Open: any string decodes; the documented values are listed as examples.
                schemars::json_schema!({
                    "type": "string",
                    "examples": [$($wire),+],
                })
            }
        }
    };
}

open_enum! {
    /// The status of an agent deployment.
    ///
    /// A deployment starts [`InQueue`](Self::InQueue) until an agent node is free, runs, and
    /// ends [`Completed`](Self::Completed), [`Stopped`](Self::Stopped) or
    /// [`Failed`](Self::Failed). QuantConnect's own example polls until one of the last three.
    DeploymentStatus {
        /// Waiting for a free agent node.
        InQueue => "InQueue",
        /// The agent is working.
        Running => "Running",
        /// The agent finished its work.
        Completed => "Completed",
        /// Someone stopped the deployment.
        Stopped => "Stopped",
        /// The deployment ended with an error; see the deployment's `runtime_error`.
        Failed => "Failed",
    }
}

impl DeploymentStatus {
    /// Whether the deployment has ended: `Completed`, `Stopped` or `Failed`.
    ///
    /// An unknown status is not terminal: a caller that waits keeps waiting rather than
    /// mistaking a new intermediate state for the end.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            DeploymentStatus::Completed | DeploymentStatus::Stopped | DeploymentStatus::Failed
        )
    }
}

open_enum! {
    /// How a task maps projects to its deployments.
    ProjectPreference {
        /// Every deployment of the task gets a new project.
        ProjectEachTaskDeployment => "project-each-task-deployment",
        /// The task keeps one project that every deployment reuses.
        ProjectForTask => "project-for-task",
    }
}

open_enum! {
    /// How much reasoning effort an agent's model spends.
    ReasoningEffort {
        /// Low effort.
        Low => "low",
        /// Medium effort.
        Medium => "medium",
        /// High effort.
        High => "high",
    }
}

open_enum! {
    /// The kind of a part of a conversation message (its `type`), so code can tell the
    /// agent's thinking from its answer.
    PartKind {
        /// The start of a step of the agent's work; it carries nothing else.
        StepStart => "step-start",
        /// The agent's thinking, in `text`.
        Reasoning => "reasoning",
        /// A tool call: `tool_name`, `input`, then `output`, as its `state` moves on.
        DynamicTool => "dynamic-tool",
        /// The agent's answer (or the user's prompt), in `text`.
        Text => "text",
    }
}

open_enum! {
    /// The state of a tool call (a [`PartKind::DynamicTool`] part): its input arrives, then
    /// its outcome.
    ToolCallState {
        /// The tool's input is still being written.
        InputStreaming => "input-streaming",
        /// The input is complete; the tool runs.
        InputAvailable => "input-available",
        /// The tool returned; its `output` is in the part. Final.
        OutputAvailable => "output-available",
        /// The tool failed. Final.
        OutputError => "output-error",
    }
}

impl ToolCallState {
    /// Whether the call has its outcome: `output-available` or `output-error`. An unknown
    /// state is not final, so a follower waits for one it knows (or the deployment's end).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            ToolCallState::OutputAvailable | ToolCallState::OutputError
        )
    }
}

open_enum! {
    /// Who wrote a conversation message.
    Role {
        /// The person (or program) that prompted the agent.
        User => "user",
        /// The agent.
        Assistant => "assistant",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_round_trip_through_json() {
        for status in DeploymentStatus::KNOWN {
            let json = serde_json::to_string(status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            let back: DeploymentStatus = serde_json::from_str(&json).unwrap();
            assert_eq!(&back, status);
            assert!(!back.is_unknown());
        }
        let pref: ProjectPreference = serde_json::from_str("\"project-for-task\"").unwrap();
        assert_eq!(pref, ProjectPreference::ProjectForTask);
        let effort: ReasoningEffort = serde_json::from_str("\"medium\"").unwrap();
        assert_eq!(effort, ReasoningEffort::Medium);
        let kind: PartKind = serde_json::from_str("\"dynamic-tool\"").unwrap();
        assert_eq!(kind, PartKind::DynamicTool);
        let role: Role = serde_json::from_str("\"user\"").unwrap();
        assert_eq!(role, Role::User);
        let kind: PartKind = serde_json::from_str("\"source-url\"").unwrap();
        assert_eq!(kind, PartKind::Unknown("source-url".into()));
    }

    #[test]
    fn only_an_outcome_is_a_final_tool_call_state() {
        let finals: Vec<_> = ToolCallState::KNOWN
            .iter()
            .filter(|s| s.is_final())
            .map(ToolCallState::as_str)
            .collect();
        assert_eq!(finals, ["output-available", "output-error"]);
        assert!(!ToolCallState::from("approval-requested").is_final());
    }

    #[test]
    fn unknown_values_are_kept_and_re_encoded_unchanged() {
        let status: DeploymentStatus = serde_json::from_str("\"Paused\"").unwrap();
        assert_eq!(status, DeploymentStatus::Unknown("Paused".into()));
        assert!(status.is_unknown());
        assert!(!status.is_terminal());
        assert_eq!(serde_json::to_string(&status).unwrap(), "\"Paused\"");
        let pref: ProjectPreference = "project-existing".parse().unwrap();
        assert_eq!(pref.to_string(), "project-existing");
    }

    #[test]
    fn values_are_case_sensitive_as_on_the_wire() {
        assert!(DeploymentStatus::from("completed").is_unknown());
        assert_eq!(
            DeploymentStatus::from("Completed"),
            DeploymentStatus::Completed
        );
    }

    #[test]
    fn terminal_statuses_are_exactly_completed_stopped_failed() {
        let terminal: Vec<_> = DeploymentStatus::KNOWN
            .iter()
            .filter(|s| s.is_terminal())
            .map(DeploymentStatus::as_str)
            .collect();
        assert_eq!(terminal, ["Completed", "Stopped", "Failed"]);
    }

    #[test]
    fn a_non_string_is_a_decoding_error_not_a_panic() {
        assert!(serde_json::from_str::<DeploymentStatus>("3").is_err());
    }
}
