//! What the simulator does for each operation: one function per operation id, listed in
//! [`HANDLERS`], each decoding the generated request type, changing the [`State`] and
//! answering with the generated models in QuantConnect's envelope (invalid arguments and
//! unknown ids get [`INVALID_ARGUMENT`]); [`answer`] picks the function for a request.

use serde_json::{json, Value};

use super::{
    state::{random_hex, task_view, DeploymentRecord, Moment, Run, Shared, State, TaskRecord},
    DEFAULT_AGENT_ID, INVALID_ARGUMENT,
};
use crate::{operation::OperationInfo, types, ProjectPreference};

/// What a handler works with: the simulator, its state (locked for the whole request) and
/// the moment the request is answered at.
struct Cx<'a> {
    shared: &'a Shared,
    state: &'a mut State,
    now: Moment,
}

impl Cx<'_> {
    /// Whether `id` is the simulated account's organization.
    fn org_ok(&self, id: &str) -> bool {
        id == self.shared.organization_id
    }
}

/// Answers one request of an operation: the request body in, the JSON answer out.
type Handler = fn(&mut Cx<'_>, &[u8]) -> Value;

/// The handler of each operation id of `openapi.yaml`, one per line.
const HANDLERS: &[(&str, Handler)] = &[
    ("authenticate", authenticate),
    ("createAgent", create_agent),
    ("readAgent", read_agent),
    ("updateAgent", update_agent),
    ("deleteAgent", delete_agent),
    ("listAgents", list_agents),
    ("createAgentTask", create_agent_task),
    ("readAgentTask", read_agent_task),
    ("updateAgentTask", update_agent_task),
    ("deleteAgentTask", delete_agent_task),
    ("listAgentTasks", list_agent_tasks),
    ("createAgentDeployment", create_agent_deployment),
    ("readAgentDeployment", read_agent_deployment),
    ("updateAgentDeployment", update_agent_deployment),
    ("listAgentDeployments", list_agent_deployments),
    ("stopAgentDeployment", stop_agent_deployment),
    ("deleteAgentDeployment", delete_agent_deployment),
    ("readAgentConversation", read_agent_conversation),
];

/// Answers one authenticated request of `operation`; the state changes it asks for happen
/// here. An operation without a handler (an endpoint just added to `openapi.yaml`) gets an
/// error envelope naming it and its path.
pub(super) fn answer(
    shared: &Shared,
    state: &mut State,
    operation: &OperationInfo,
    body: &[u8],
) -> Value {
    let Some(&(_, handler)) = HANDLERS.iter().find(|(id, _)| *id == operation.id) else {
        // Every operation `build/codegen.rs` generates is a POST.
        let error = format!(
            "The simulator does not simulate the operation {} (POST {})",
            operation.id, operation.path
        );
        return json!({"success": false, "errors": [error]});
    };
    let mut cx = Cx {
        shared,
        state,
        now: Moment::now(),
    };
    handler(&mut cx, body)
}

/// QuantConnect's answer to invalid arguments and unknown ids.
fn refuse() -> Value {
    json!({"success": false, "errors": [INVALID_ARGUMENT]})
}

/// `payload` in a successful envelope.
fn ok(mut payload: Value) -> Value {
    payload["success"] = json!(true);
    payload["errors"] = json!([]);
    payload
}

/// Decodes the request as the operation's generated request type.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_json::from_slice(body).ok()
}

fn authenticate(_cx: &mut Cx<'_>, _body: &[u8]) -> Value {
    ok(json!({}))
}

fn create_agent(cx: &mut Cx<'_>, body: &[u8]) -> Value {
    let Some(req) = parse::<types::CreateAgentRequest>(body) else {
        return refuse();
    };
    if !cx.org_ok(&req.organization_id) || req.name.trim().is_empty() {
        return refuse();
    }
    let id = cx.state.next_agent_id;
    cx.state.next_agent_id += 1;
    let agent = types::Agent {
        id: Some(id),
        name: Some(req.name),
        description: req.description,
        profile_image: req.profile_image,
        system_prompt: req.system_prompt,
        reasoning_effort: req.reasoning_effort,
        max_turns: req.max_turns,
        tool_choice: req.tool_choice,
        tools: req.tools,
        public: req.public,
        model: req.model,
        pipeline: req.pipeline,
        created: Some(cx.now.text()),
        updated: Some(cx.now.text()),
        author: req.author,
        organization: Some(types::AgentOrganization {
            id: Some(cx.shared.organization_id.clone()),
            name: Some("Simulated Organization".into()),
            profile: None,
        }),
        chained_agents: req.chained_agents,
        sub_agents: req.sub_agents,
        token: req.token,
        use_qcc: req.use_qcc,
        node: req.node,
        ..Default::default()
    };
    cx.state.agents.insert(id, agent.clone());
    ok(json!({ "agent": agent }))
}

fn read_agent(cx: &mut Cx<'_>, body: &[u8]) -> Value {
    let Some(req) = parse::<types::ReadAgentRequest>(body) else {
        return refuse();
    };
    match cx.state.agents.get(&req.agent_id) {
        Some(agent) => ok(json!({ "agent": agent })),
        None => refuse(),
    }
}

fn update_agent(cx: &mut Cx<'_>, body: &[u8]) -> Value {
    let Some(req) = parse::<types::UpdateAgentRequest>(body) else {
        return refuse();
    };
    let Some(agent) = cx.state.agents.get_mut(&req.agent_id) else {
        return refuse();
    };
    macro_rules! set {
        ($($field:ident),+) => {$(
            if let Some(value) = req.$field { agent.$field = Some(value); }
        )+};
    }
    set!(
        name,
        description,
        profile_image,
        system_prompt,
        reasoning_effort,
        max_turns,
        tool_choice,
        public,
        model,
        pipeline,
        token,
        use_qcc,
        node,
        author
    );
    if !req.tools.is_empty() {
        agent.tools = req.tools;
    }
    agent.updated = Some(cx.now.text());
    ok(json!({}))
}

fn delete_agent(cx: &mut Cx<'_>, body: &[u8]) -> Value {
    let Some(req) = parse::<types::DeleteAgentRequest>(body) else {
        return refuse();
    };
    match cx.state.agents.remove(&req.agent_id) {
        Some(_) => ok(json!({})),
        None => refuse(),
    }
}

fn list_agents(cx: &mut Cx<'_>, body: &[u8]) -> Value {
    let Some(req) = parse::<types::ListAgentsRequest>(body) else {
        return refuse();
    };
    if !cx.org_ok(&req.organization_id) {
        return refuse();
    }
    let agents: Vec<_> = cx.state.agents.values().collect();
    ok(json!({ "agents": agents }))
}

fn create_agent_task(cx: &mut Cx<'_>, body: &[u8]) -> Value {
    let schedule = &cx.shared.schedule;
    let Some(req) = parse::<types::CreateAgentTaskRequest>(body) else {
        return refuse();
    };
    let known_preference = !req.project_preference.is_unknown();
    if !cx.org_ok(&req.organization_id)
        || !cx.state.agents.contains_key(&req.agent_id)
        || req.name.trim().is_empty()
        || req.prompt.trim().is_empty()
        || !known_preference
    {
        return refuse();
    }
    let id = cx.state.next_task_id;
    cx.state.next_task_id += 1;
    let task = types::AgentTask {
        id: Some(id),
        name: Some(req.name.trim().to_owned()),
        organization_id: Some(req.organization_id),
        agent_id: Some(req.agent_id),
        prompt: Some(req.prompt),
        deployments: Some(0),
        created: Some(cx.now.text()),
        updated: Some(cx.now.text()),
        owner: Some(types::AgentTaskOwner {
            public_id: Some("simulated_user".into()),
            name: Some("Simulated User".into()),
            image: None,
        }),
        project_preference: Some(req.project_preference),
        ..Default::default()
    };
    cx.state.tasks.insert(id, TaskRecord { task: task.clone() });
    ok(json!({ "task": task_view(cx.state, schedule, id, cx.now.instant) }))
}

fn read_agent_task(cx: &mut Cx<'_>, body: &[u8]) -> Value {
    let schedule = &cx.shared.schedule;
    let Some(req) = parse::<types::ReadAgentTaskRequest>(body) else {
        return refuse();
    };
    if !cx.state.tasks.contains_key(&req.task_id) {
        return refuse();
    }
    ok(json!({ "task": task_view(cx.state, schedule, req.task_id, cx.now.instant) }))
}

fn update_agent_task(cx: &mut Cx<'_>, body: &[u8]) -> Value {
    let Some(req) = parse::<types::UpdateAgentTaskRequest>(body) else {
        return refuse();
    };
    let Some(record) = cx.state.tasks.get_mut(&req.task_id) else {
        return refuse();
    };
    if let Some(name) = req.name {
        if name.trim().is_empty() {
            return refuse();
        }
        record.task.name = Some(name);
    }
    record.task.updated = Some(cx.now.text());
    ok(json!({}))
}

fn delete_agent_task(cx: &mut Cx<'_>, body: &[u8]) -> Value {
    let Some(req) = parse::<types::DeleteAgentTaskRequest>(body) else {
        return refuse();
    };
    match cx.state.tasks.remove(&req.task_id) {
        Some(_) => ok(json!({})),
        None => refuse(),
    }
}

fn list_agent_tasks(cx: &mut Cx<'_>, body: &[u8]) -> Value {
    let schedule = &cx.shared.schedule;
    let Some(req) = parse::<types::ListAgentTasksRequest>(body) else {
        return refuse();
    };
    if !cx.org_ok(&req.organization_id) {
        return refuse();
    }
    let ids: Vec<i64> = cx.state.tasks.keys().copied().collect();
    let tasks: Vec<_> = ids
        .into_iter()
        .map(|id| task_view(cx.state, schedule, id, cx.now.instant))
        .collect();
    ok(json!({ "tasks": tasks }))
}

fn create_agent_deployment(cx: &mut Cx<'_>, body: &[u8]) -> Value {
    let schedule = &cx.shared.schedule;
    let Some(req) = parse::<types::CreateAgentDeploymentRequest>(body) else {
        return refuse();
    };
    let Some(record) = cx.state.tasks.get(&req.task_id) else {
        return refuse();
    };
    let task = record.task.clone();
    let project_id = match (&task.project_preference, task.project_id) {
        (Some(ProjectPreference::ProjectForTask), Some(project)) => project,
        _ => {
            let project = cx.state.next_project_id;
            cx.state.next_project_id += 1;
            project
        }
    };
    let number = cx.state.next_deployment_number;
    cx.state.next_deployment_number += 1;
    let deployment = DeploymentRecord {
        id: format!("A-{}", random_hex(32)),
        task_id: req.task_id,
        agent_id: task.agent_id.unwrap_or(DEFAULT_AGENT_ID),
        project_id,
        created: cx.now,
        runs: vec![Run {
            prompt: task.prompt.clone().unwrap_or_default(),
            start: cx.now,
            queued: true,
            failure: schedule.failure.clone(),
            stopped: None,
        }],
        stopped: None,
    };
    let model = deployment.model(schedule, cx.now.instant);
    let debug = json!({"id": deployment.id, "agent": deployment.agent_id, "version": 17283});
    cx.state.deployments.push(deployment);
    if let Some(record) = cx.state.tasks.get_mut(&req.task_id) {
        let task = &mut record.task;
        task.deployments = Some(task.deployments.unwrap_or(0) + 1);
        task.last_deployment_id = Some(number);
        task.last_deployment_time = Some(cx.now.text());
        if matches!(
            task.project_preference,
            Some(ProjectPreference::ProjectForTask)
        ) {
            task.project_id = Some(project_id);
        }
    }
    ok(json!({ "deployment": model, "debug": debug }))
}

fn read_agent_deployment(cx: &mut Cx<'_>, body: &[u8]) -> Value {
    let schedule = &cx.shared.schedule;
    let Some(req) = parse::<types::ReadAgentDeploymentRequest>(body) else {
        return refuse();
    };
    match cx.state.deployment(&req.deployment_id) {
        Some(d) => ok(json!({ "deployment": d.model(schedule, cx.now.instant) })),
        None => refuse(),
    }
}

fn update_agent_deployment(cx: &mut Cx<'_>, body: &[u8]) -> Value {
    let Some(req) = parse::<types::UpdateAgentDeploymentRequest>(body) else {
        return refuse();
    };
    if req.prompt.trim().is_empty() {
        return refuse();
    }
    let Some(d) = cx
        .state
        .deployments
        .iter_mut()
        .find(|d| d.id == req.deployment_id)
    else {
        return refuse();
    };
    d.follow_up(req.prompt, cx.now);
    ok(json!({ "message": "Prompt run started." }))
}

fn list_agent_deployments(cx: &mut Cx<'_>, body: &[u8]) -> Value {
    let schedule = &cx.shared.schedule;
    let Some(req) = parse::<types::ListAgentDeploymentsRequest>(body) else {
        return refuse();
    };
    if !cx.state.tasks.contains_key(&req.task_id) {
        return refuse();
    }
    let deployments: Vec<_> = cx
        .state
        .deployments
        .iter()
        .filter(|d| d.task_id == req.task_id)
        .map(|d| d.model(schedule, cx.now.instant))
        .collect();
    ok(json!({ "deployments": deployments }))
}

fn stop_agent_deployment(cx: &mut Cx<'_>, body: &[u8]) -> Value {
    let schedule = &cx.shared.schedule;
    let Some(req) = parse::<types::StopAgentDeploymentRequest>(body) else {
        return refuse();
    };
    let Some(d) = cx
        .state
        .deployments
        .iter_mut()
        .find(|d| d.id == req.deployment_id)
    else {
        return refuse();
    };
    let (status, _) = d.status(schedule, cx.now.instant);
    if !status.is_terminal() {
        d.stopped = Some(cx.now);
    }
    ok(json!({}))
}

fn delete_agent_deployment(cx: &mut Cx<'_>, body: &[u8]) -> Value {
    let Some(req) = parse::<types::DeleteAgentDeploymentRequest>(body) else {
        return refuse();
    };
    let before = cx.state.deployments.len();
    cx.state.deployments.retain(|d| d.id != req.deployment_id);
    if cx.state.deployments.len() == before {
        return refuse();
    }
    ok(json!({}))
}

fn read_agent_conversation(cx: &mut Cx<'_>, body: &[u8]) -> Value {
    let schedule = &cx.shared.schedule;
    let Some(req) = parse::<types::ReadAgentConversationRequest>(body) else {
        return refuse();
    };
    if req.callable_id.is_some() {
        // The simulated agents have no callable sub-agents.
        return refuse();
    }
    let Some(d) = cx.state.deployment(&req.deployment_id) else {
        return refuse();
    };
    let messages = d.messages(schedule, cx.now.instant);
    let (status, _) = d.status(schedule, cx.now.instant);
    let words: i64 = messages
        .iter()
        .flat_map(|m| &m.parts)
        .filter_map(|p| p.text.as_ref())
        .map(|t| t.split_whitespace().count() as i64)
        .sum();
    let conversation = types::AgentConversation {
        id: Some(d.id.clone()),
        user_id: cx.shared.credentials.user_id().parse().ok(),
        organization_id: Some(cx.shared.organization_id.clone()),
        channel: Some(format!("agent-deployment-{}", &d.id[2..])),
        project_id: Some(d.project_id),
        prompt: d.runs.first().map(|r| r.prompt.clone()),
        messages,
        input_tokens: Some(1000 + 40 * words),
        output_tokens: Some(25 * words),
        aggregate_status: Some(status.to_string()),
        ..Default::default()
    };
    ok(json!({ "conversation": conversation }))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{
        operation::{OperationKind, OPERATIONS},
        simulator::Schedule,
        Credentials, Operation,
    };

    fn simulator(schedule: Schedule) -> Shared {
        Shared::new(
            Credentials::new("123456", "secret"),
            "org-1".into(),
            schedule,
        )
    }

    /// Answers `body` as the spec's operation `id` does.
    fn answer_raw(shared: &Shared, id: &str, body: &[u8]) -> Value {
        let operation = crate::operation::find(id).expect("an operation of the spec");
        let mut state = shared.lock();
        answer(shared, &mut state, operation, body)
    }

    /// Answers `request`, sent as the client sends it.
    fn call<O: Operation>(shared: &Shared, request: &O) -> Value {
        let body = serde_json::to_vec(request).expect("a request serializes");
        answer_raw(shared, O::ID, &body)
    }

    fn hello_task(organization_id: &str) -> types::CreateAgentTaskRequest {
        types::CreateAgentTaskRequest {
            organization_id: organization_id.into(),
            agent_id: DEFAULT_AGENT_ID,
            name: "Hello".into(),
            prompt: "Print Hello World".into(),
            project_preference: ProjectPreference::ProjectForTask,
        }
    }

    #[test]
    fn every_operation_of_the_spec_has_a_handler() {
        for op in OPERATIONS {
            assert!(
                HANDLERS.iter().any(|(id, _)| *id == op.id),
                "the simulator has no handler for {}: add one to src/simulator/handlers.rs",
                op.id
            );
        }
        for (i, (id, _)) in HANDLERS.iter().enumerate() {
            assert!(
                crate::operation::find(id).is_some(),
                "src/simulator/handlers.rs has a handler for {id}, which openapi.yaml lacks"
            );
            assert!(
                HANDLERS[..i].iter().all(|(other, _)| other != id),
                "src/simulator/handlers.rs lists {id} twice"
            );
        }
    }

    #[test]
    fn an_operation_without_a_handler_answers_that_it_is_not_simulated() {
        let logs = OperationInfo {
            id: "readAgentDeploymentLogs",
            path: "/agents/deployments/logs/read",
            kind: OperationKind::Read,
            request: "ReadAgentDeploymentLogsRequest",
            response: "AgentDeploymentLogsResponse",
        };
        let shared = simulator(Schedule::default());
        let mut state = shared.lock();
        let answer = answer(&shared, &mut state, &logs, br#"{"deploymentId": "A-1"}"#);
        assert_eq!(
            answer,
            json!({
                "success": false,
                "errors": ["The simulator does not simulate the operation readAgentDeploymentLogs (POST /agents/deployments/logs/read)"],
            })
        );
    }

    #[test]
    fn invalid_arguments_and_unknown_ids_are_refused() {
        let shared = simulator(Schedule::default());
        let refused = json!({"success": false, "errors": [INVALID_ARGUMENT]});
        let unknown = types::ReadAgentTaskRequest { task_id: 1 };
        assert_eq!(call(&shared, &unknown), refused);
        assert_eq!(
            answer_raw(&shared, "readAgentTask", b"{\"id\": 1}"),
            refused
        );
        assert_eq!(call(&shared, &hello_task("org-2")), refused);
        assert_eq!(call(&shared, &hello_task("org-1"))["success"], true);
    }

    #[test]
    fn a_task_is_deployed_and_answered_without_a_server() {
        let shared = simulator(Schedule {
            in_queue: Duration::ZERO,
            running: Duration::ZERO,
            failure: None,
        });
        let created = call(&shared, &hello_task("org-1"));
        let task_id = created["task"]["id"].as_i64().expect("a task id");
        let deployed = call(&shared, &types::CreateAgentDeploymentRequest { task_id });
        assert_eq!(deployed["deployment"]["status"], "Completed", "{deployed}");
        let deployment_id = deployed["deployment"]["deploymentId"]
            .as_str()
            .expect("a deployment id")
            .to_owned();
        let task = call(&shared, &types::ReadAgentTaskRequest { task_id });
        assert_eq!(task["task"]["deployments"], 1, "{task}");
        let conversation = call(
            &shared,
            &types::ReadAgentConversationRequest {
                deployment_id,
                callable_id: None,
            },
        );
        let messages = conversation["conversation"]["messages"]
            .as_array()
            .expect("messages");
        assert_eq!(messages.len(), 2, "{conversation}");
        assert_eq!(messages[1]["role"], "assistant");
    }
}
