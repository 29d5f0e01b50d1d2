#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod auth;
mod call;
mod client;
mod connections;
pub mod enums;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
mod generated;
mod hooks;
pub mod models;
mod operations;
pub mod retry;
#[cfg(feature = "simulator")]
pub mod simulator;
pub mod wait;

pub use auth::Credentials;
pub use client::{
    Client, ClientBuilder, API_URL_VAR, BETA_BASE_URL, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_CONCURRENT_REQUESTS, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT,
    ORGANIZATION_ID_VAR, REQUEST_TIMEOUT_VAR,
};
pub use enums::{DeploymentStatus, ProjectPreference, ReasoningEffort};
pub use error::Error;

/// The models of the API, generated from `openapi.yaml`: requests, responses and the
/// objects they carry ([`types::AgentTask`], [`types::AgentDeployment`],
/// [`types::AgentConversation`], ...).
///
/// Every response field is an `Option` (QuantConnect marks none required) or a collection
/// that is empty when absent; unknown fields are ignored. Each type derives
/// `schemars::JsonSchema`, so its schema can be handed to tools. `types::builder` holds a
/// builder for each, used by [`Client::create_agent_task`] and friends.
pub mod types {
    pub use crate::generated::types::*;
}
