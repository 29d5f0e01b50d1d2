//! Models written by hand where the generated `Debug` would show a secret (see
//! `build/codegen.rs`); they are part of [`crate::types`].

use std::fmt;

/// User-supplied LLM provider credentials attached to an agent.
///
/// Its `Debug` output hides the token, so logging an [`Agent`](crate::types::Agent) does
/// not leak the user's LLM provider key.
#[derive(
    Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct AgentToken {
    /// API token supplied by the user for the chosen LLM provider.
    #[serde(
        rename = "llmApiTokenUser",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub llm_api_token_user: Option<String>,
    /// Identifier of the LLM provider the token is for.
    #[serde(
        rename = "llmProviderApi",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub llm_provider_api: Option<String>,
}

impl fmt::Debug for AgentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentToken")
            .field(
                "llm_api_token_user",
                &self.llm_api_token_user.as_ref().map(|_| "<redacted>"),
            )
            .field("llm_provider_api", &self.llm_provider_api)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_token_and_json_keeps_it() {
        let token: AgentToken = serde_json::from_str(
            r#"{"llmApiTokenUser": "sk-ant-secret", "llmProviderApi": "anthropic"}"#,
        )
        .unwrap();
        let debug = format!("{token:?}");
        assert!(
            !debug.contains("sk-ant-secret") && debug.contains("anthropic"),
            "{debug}"
        );
        assert!(serde_json::to_string(&token)
            .unwrap()
            .contains("sk-ant-secret"));
    }
}
