#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(not(any(feature = "rustls", feature = "native-tls")))]
compile_error!(
    "quantconnect-agents needs a TLS backend for QuantConnect's https API: the `rustls` \
     feature (the default) or `native-tls`"
);

// The way through the code is one way: the generated types and `operation` (what the spec
// says about each operation) → `transport` (one attempt: sign, send, read the bounded body,
// map the envelope) → `client` (retries, deadline, methods) → `wait`. `auth`, `error`,
// `backoff`, `duration`, `enums` and `redacted` serve them and import none of them.
pub mod auth;
mod backoff;
mod client;
pub mod duration;
pub mod enums;
pub mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod generated;
pub mod operation;
mod redacted;
pub mod retry;
#[cfg(feature = "simulator")]
pub mod simulator;
mod transport;
pub mod wait;

pub use auth::Credentials;
pub use client::{
    Client, ClientBuilder, API_URL_VAR, BETA_BASE_URL, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT,
    ORGANIZATION_ID_VAR, REQUEST_TIMEOUT_VAR,
};
pub use enums::{
    DeploymentStatus, PartKind, ProjectPreference, ReasoningEffort, Role, ToolCallState,
};
pub use error::Error;
pub use operation::Operation;
pub use transport::{MAX_RESPONSE_OBJECTS, MAX_RESPONSE_VALUES};

/// The models of the API, generated from `openapi.yaml`: requests, responses and the
/// objects they carry ([`types::AgentTask`], [`types::AgentDeployment`],
/// [`types::AgentConversation`], ...).
///
/// Every response field is an `Option` (QuantConnect marks none required) or a collection
/// that is empty when absent; unknown fields are ignored. Each type derives
/// `schemars::JsonSchema`, so its schema can be handed to tools. `types::builder` holds a
/// builder for each, used by [`Client::create_agent_task`] and friends. Every request type
/// implements [`Operation`], so [`Client::send`] sends it.
pub mod types {
    pub use crate::generated::types::*;
    pub use crate::redacted::AgentToken;
}
