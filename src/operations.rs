//! What the spec does not say about an operation: whether it changes anything. Its id and
//! path come from `openapi.yaml` (`crate::call::PATHS`, generated).

use crate::retry::OperationKind::{self, Read, Write};

/// One operation.
pub(crate) struct Operation {
    /// QuantConnect's operation id.
    pub(crate) id: &'static str,
    /// Whether sending it twice may do it twice.
    pub(crate) kind: OperationKind,
}

const fn op(id: &'static str, kind: OperationKind) -> Operation {
    Operation { id, kind }
}

/// Every operation of `openapi.yaml`, in its order.
pub(crate) const OPERATIONS: &[Operation] = &[
    op("authenticate", Read),
    op("createAgent", Write),
    op("readAgent", Read),
    op("updateAgent", Write),
    op("deleteAgent", Write),
    op("listAgents", Read),
    op("createAgentTask", Write),
    op("readAgentTask", Read),
    op("updateAgentTask", Write),
    op("deleteAgentTask", Write),
    op("listAgentTasks", Read),
    op("createAgentDeployment", Write),
    op("readAgentDeployment", Read),
    op("updateAgentDeployment", Write),
    op("listAgentDeployments", Read),
    op("stopAgentDeployment", Write),
    op("deleteAgentDeployment", Write),
    op("readAgentConversation", Read),
];

/// The operation with this id.
pub(crate) fn find(id: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.id == id)
}

/// The id of the operation at `path` (under the base URL).
#[cfg(feature = "simulator")]
pub(crate) fn at_path(path: &str) -> Option<&'static str> {
    crate::call::PATHS
        .iter()
        .find(|(_, p)| *p == path)
        .map(|(id, _)| *id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_of_the_spec_says_whether_it_changes_anything() {
        let ids: Vec<&str> = OPERATIONS.iter().map(|op| op.id).collect();
        let spec: Vec<&str> = crate::call::PATHS.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, spec);
    }
}
