//! Entry points for the fuzz target (`fuzz/`) and the property tests: the response decoding
//! and error mapping, driven by arbitrary bytes. Not part of the supported API.

use crate::{call, error, types, Error};

/// The operations whose responses are decoded, with their response types' decoders.
const OPERATIONS: &[&str] = &[
    "authenticate",
    "createAgent",
    "readAgent",
    "listAgents",
    "createAgentTask",
    "readAgentTask",
    "listAgentTasks",
    "createAgentDeployment",
    "readAgentDeployment",
    "updateAgentDeployment",
    "listAgentDeployments",
    "readAgentConversation",
];

const STATUSES: &[u16] = &[200, 200, 200, 200, 401, 429, 500, 502, 503, 504, 404, 302];

/// Decodes `body` as the answer to the operation and status `selector` picks, the way a
/// call does: the operation's response type and its envelope at 200, the error mapping
/// otherwise. Whatever the bytes, this returns; it never panics.
pub fn decode(selector: u16, body: &[u8]) -> Result<(), Error> {
    let operation = OPERATIONS[usize::from(selector) % OPERATIONS.len()];
    let status = STATUSES[usize::from(selector >> 8) % STATUSES.len()];
    if status != 200 {
        return Err(error::unexpected(operation, status, None, body));
    }
    macro_rules! as_type {
        ($ty:ty) => {
            // The decoding a call does, then what a caller may do with it: encode it again.
            call::decode::<$ty>(operation, body, &reqwest::header::HeaderMap::new())
                .map(|decoded| drop(serde_json::to_vec(&decoded).expect("decoded values encode")))
        };
    }
    match operation {
        "authenticate" => as_type!(types::RestResponse),
        "createAgent" | "readAgent" => as_type!(types::AgentResponse),
        "listAgents" => as_type!(types::AgentListResponse),
        "createAgentTask" | "readAgentTask" => as_type!(types::AgentTaskResponse),
        "listAgentTasks" => as_type!(types::AgentTaskListResponse),
        "createAgentDeployment" => as_type!(types::CreateAgentDeploymentResponse),
        "readAgentDeployment" => as_type!(types::AgentDeploymentResponse),
        "updateAgentDeployment" => as_type!(types::UpdateAgentDeploymentResponse),
        "listAgentDeployments" => as_type!(types::AgentDeploymentListResponse),
        _ => as_type!(types::AgentConversationResponse),
    }
}
