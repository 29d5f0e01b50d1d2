//! The operations of the API: QuantConnect's operation id, its path, and whether it changes
//! anything. One table for the retry policy and the simulator's routing.

use crate::retry::OperationKind::{self, Read, Write};

/// One operation.
pub(crate) struct Operation {
    /// QuantConnect's operation id.
    pub(crate) id: &'static str,
    /// The path under the base URL (routes the simulator's requests).
    #[cfg_attr(not(feature = "simulator"), allow(dead_code))]
    pub(crate) path: &'static str,
    /// Whether sending it twice may do it twice.
    pub(crate) kind: OperationKind,
}

const fn op(id: &'static str, path: &'static str, kind: OperationKind) -> Operation {
    Operation { id, path, kind }
}

/// Every operation of `openapi.yaml`, in its order.
pub(crate) const OPERATIONS: &[Operation] = &[
    op("authenticate", "/authenticate", Read),
    op("createAgent", "/agents/create", Write),
    op("readAgent", "/agents/read", Read),
    op("updateAgent", "/agents/update", Write),
    op("deleteAgent", "/agents/delete", Write),
    op("listAgents", "/agents/list", Read),
    op("createAgentTask", "/agents/tasks/create", Write),
    op("readAgentTask", "/agents/tasks/read", Read),
    op("updateAgentTask", "/agents/tasks/update", Write),
    op("deleteAgentTask", "/agents/tasks/delete", Write),
    op("listAgentTasks", "/agents/tasks/list", Read),
    op("createAgentDeployment", "/agents/deployments/create", Write),
    op("readAgentDeployment", "/agents/deployments/read", Read),
    op("updateAgentDeployment", "/agents/deployments/prompt", Write),
    op("listAgentDeployments", "/agents/deployments/list", Read),
    op("stopAgentDeployment", "/agents/deployments/stop", Write),
    op("deleteAgentDeployment", "/agents/deployments/delete", Write),
    op(
        "readAgentConversation",
        "/agents/deployments/conversation/read",
        Read,
    ),
];

/// The operation with this id.
pub(crate) fn find(id: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_matches_the_spec() {
        let spec: serde_json::Value =
            serde_norway::from_str(include_str!("../openapi.yaml")).unwrap();
        let paths = spec["paths"].as_object().unwrap();
        assert_eq!(paths.len(), OPERATIONS.len());
        for (path, item) in paths {
            let id = item["post"]["operationId"].as_str().unwrap();
            let op = find(id).unwrap_or_else(|| panic!("{id} is not in the table"));
            assert_eq!(op.path, path, "{id}");
        }
    }
}
