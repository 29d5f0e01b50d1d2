//! What `openapi.yaml` says about each operation, generated from it by `build.rs`.
//!
//! Every operation's request type (e.g. [`types::ReadAgentTaskRequest`]) implements
//! [`Operation`]: QuantConnect's operation id, the path, the response type, and whether it
//! is safe to send twice (the spec's `x-idempotent: true`; an operation without it is a
//! write). [`Client::send`](crate::Client::send) sends any of them:
//!
//! ```no_run
//! # async fn run(client: quantconnect_agents::Client) -> Result<(), quantconnect_agents::Error> {
//! use quantconnect_agents::types;
//!
//! let response = client.send(&types::ReadAgentTaskRequest { task_id: 332 }).await?;
//! println!("{:?}", response.task);
//! # Ok(()) }
//! ```
//!
//! An endpoint added to `openapi.yaml` gets its impl at the next build and is callable
//! through `send` at once. Both traits are sealed: only the spec's types implement them.
//!
//! [`types::ReadAgentTaskRequest`]: crate::types::ReadAgentTaskRequest

use serde::{de::DeserializeOwned, Serialize};

mod sealed {
    /// Implemented by the generated types only.
    pub trait Sealed {}
}

/// Whether an operation changes anything on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    /// Reads nothing but state (`x-idempotent: true` in the spec): safe to send twice.
    Read,
    /// Creates, prompts, updates, stops or deletes: sending it twice may do it twice.
    Write,
}

/// An operation's request type, and what the spec says about its operation. Implemented,
/// by `build.rs`, for the request type of every operation in `openapi.yaml`; sealed.
pub trait Operation: Serialize + sealed::Sealed {
    /// QuantConnect's operation id, e.g. `readAgentTask`.
    const ID: &'static str;
    /// The path under the base URL, e.g. `/agents/tasks/read`.
    const PATH: &'static str;
    /// Whether sending it twice may do it twice.
    const KIND: OperationKind;
    /// What a 200 carries.
    type Response: Envelope + DeserializeOwned + Serialize + Send + 'static;
}

/// A response type with QuantConnect's `success`/`errors` envelope: every response of the
/// API. Implemented by `build.rs` for every operation's response type (a response schema
/// without the envelope fails the build, naming it); sealed.
pub trait Envelope: sealed::Sealed {
    /// The `success` flag; absent counts as failure, as in QuantConnect's own clients.
    fn success(&self) -> Option<bool>;
    /// Takes the `errors` list out.
    fn take_errors(&mut self) -> Vec<String>;
}

/// One operation of the spec, as a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OperationInfo {
    /// QuantConnect's operation id.
    pub id: &'static str,
    /// The path under the base URL.
    pub path: &'static str,
    /// Whether sending it twice may do it twice.
    pub kind: OperationKind,
    /// The name of its request type in [`crate::types`].
    pub request: &'static str,
    /// The name of its response type in [`crate::types`].
    pub response: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/operations.rs"));

/// The operation with this id.
pub fn find(id: &str) -> Option<&'static OperationInfo> {
    OPERATIONS.iter().find(|op| op.id == id)
}

/// The operation at `path` (under the base URL; a trailing `/` is ignored).
pub fn at_path(path: &str) -> Option<&'static OperationInfo> {
    let path = path.strip_suffix('/').unwrap_or(path);
    OPERATIONS.iter().find(|op| op.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types;

    #[test]
    fn the_table_and_the_impls_agree() {
        fn info<O: Operation>() -> (&'static str, &'static str, OperationKind) {
            (O::ID, O::PATH, O::KIND)
        }
        let read = info::<types::ReadAgentTaskRequest>();
        assert_eq!(
            read,
            ("readAgentTask", "/agents/tasks/read", OperationKind::Read)
        );
        let op = find("readAgentTask").unwrap();
        assert_eq!((op.id, op.path, op.kind), read);
        assert_eq!(op.request, "ReadAgentTaskRequest");
        assert_eq!(op.response, "AgentTaskResponse");
        assert_eq!(at_path("/agents/tasks/read/"), Some(op));
        assert_eq!(
            info::<types::CreateAgentDeploymentRequest>().2,
            OperationKind::Write
        );
    }
}
