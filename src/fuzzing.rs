//! Entry points for the fuzz target (`fuzz/`) and the property tests: the response decoding
//! and error mapping, driven by arbitrary bytes. Not part of the supported API.

use crate::{
    call::{self, Call},
    error, types, Error,
};

/// How a call decodes a 200 for one operation, then what a caller may do with the result:
/// encode it again.
type Decoder = fn(&[u8]) -> Result<(), Error>;

fn decoder<C: Call>(body: &[u8]) -> Result<(), Error> {
    call::decode::<C::Response>(C::OPERATION, body, &reqwest::header::HeaderMap::new())
        .map(|decoded| drop(serde_json::to_vec(&decoded).expect("decoded values encode")))
}

const fn operation<C: Call>() -> (&'static str, Decoder) {
    (C::OPERATION, decoder::<C>)
}

/// Every operation, by its request type; its response type comes with it (`Call`).
const OPERATIONS: &[(&str, Decoder)] = &[
    operation::<types::AuthenticateRequest>(),
    operation::<types::CreateAgentRequest>(),
    operation::<types::ReadAgentRequest>(),
    operation::<types::UpdateAgentRequest>(),
    operation::<types::DeleteAgentRequest>(),
    operation::<types::ListAgentsRequest>(),
    operation::<types::CreateAgentTaskRequest>(),
    operation::<types::ReadAgentTaskRequest>(),
    operation::<types::UpdateAgentTaskRequest>(),
    operation::<types::DeleteAgentTaskRequest>(),
    operation::<types::ListAgentTasksRequest>(),
    operation::<types::CreateAgentDeploymentRequest>(),
    operation::<types::ReadAgentDeploymentRequest>(),
    operation::<types::UpdateAgentDeploymentRequest>(),
    operation::<types::ListAgentDeploymentsRequest>(),
    operation::<types::StopAgentDeploymentRequest>(),
    operation::<types::DeleteAgentDeploymentRequest>(),
    operation::<types::ReadAgentConversationRequest>(),
];

const STATUSES: &[u16] = &[200, 200, 200, 200, 401, 429, 500, 502, 503, 504, 404, 302];

/// Decodes `body` as the answer to the operation and status `selector` picks, the way a
/// call does: the operation's response type and its envelope at 200, the error mapping
/// otherwise. Whatever the bytes, this returns; it never panics.
pub fn decode(selector: u16, body: &[u8]) -> Result<(), Error> {
    let (operation, decode_200) = OPERATIONS[usize::from(selector) % OPERATIONS.len()];
    let status = STATUSES[usize::from(selector >> 8) % STATUSES.len()];
    if status != 200 {
        return Err(error::unexpected(operation, status, None, body));
    }
    decode_200(body)
}
