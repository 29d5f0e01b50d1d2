//! [`Client`]: every agents endpoint as one method that returns the payload or an [`Error`].

use std::{fmt, sync::Arc, time::Duration};

use tokio::sync::Semaphore;

use crate::{
    auth::Credentials,
    enums::ProjectPreference,
    error::Error,
    operation::Operation,
    retry::{self, RetryPolicy},
    transport::Transport,
    types::{self, builder},
};

mod config;
mod trace;

pub use self::config::ClientBuilder;

/// QuantConnect's production API.
pub const DEFAULT_BASE_URL: &str = "https://www.quantconnect.com/api/v2";
/// QuantConnect's beta API.
pub const BETA_BASE_URL: &str = "https://beta.quantconnect.com/api/v2";
/// Environment variable that overrides the base URL.
pub const API_URL_VAR: &str = "QC_API_URL";
/// Environment variable that supplies the organization id.
pub const ORGANIZATION_ID_VAR: &str = "QC_ORGANIZATION_ID";
/// Environment variable that sets the request timeout, in seconds.
pub const REQUEST_TIMEOUT_VAR: &str = "QC_REQUEST_TIMEOUT";

/// How long the default HTTP client waits for a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one call may take in all, unless set with [`ClientBuilder::request_timeout`]:
/// every attempt (connection and whole response body included) and every wait between
/// attempts. A server that drips bytes cannot hold a call longer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// How many requests one client (and its clones) has in flight at most, unless set with
/// [`ClientBuilder::max_concurrent_requests`]; the default HTTP client opens and keeps at
/// most as many idle connections (README, "Performance": what that means for connections).
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 32;
/// How much of a response body the client reads at most, unless set with
/// [`ClientBuilder::max_response_bytes`]: 32 MiB, far above any documented response.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// A client of QuantConnect's Agents API.
///
/// Every method signs its request afresh, sends it, and returns the payload of the response
/// (the task, the deployments, ...). A response with `success: false`, an authentication
/// failure, an HTML error page or a body that does not decode is an [`Error`], never `Ok`.
///
/// Cheap to clone: clones share the connection pool.
///
/// ```no_run
/// # async fn run() -> Result<(), quantconnect_agents::Error> {
/// use quantconnect_agents::Client;
///
/// let client = Client::from_env()?;
/// let task = client.read_agent_task(332).await?;
/// println!("{:?}", task.name);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    transport: Arc<Transport>,
    organization_id: Option<String>,
    retry: RetryPolicy,
    request_timeout: Duration,
    in_flight: Arc<Semaphore>,
    /// What the client keeps alive: the simulator that made it, if one did.
    _keep_alive: Option<KeepAlive>,
}

/// Something a client keeps alive as long as it (or a clone) lives.
type KeepAlive = Arc<dyn std::any::Any + Send + Sync>;

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url())
            .field("user_id", &self.credentials().user_id())
            .field("organization_id", &self.organization_id)
            .field("retry", &self.retry)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

fn required<T>(operation: &'static str, field: &'static str, value: Option<T>) -> Result<T, Error> {
    value.ok_or(Error::MissingPayload { operation, field })
}

impl Client {
    /// The same client (sharing its connections) for another organization.
    pub fn with_organization_id(&self, organization_id: impl Into<String>) -> Self {
        Client {
            organization_id: Some(organization_id.into()),
            ..self.clone()
        }
    }

    /// The base URL requests go to, `/api/v2` included, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.transport.base_url()
    }

    /// The organization used by the calls that take one, if configured.
    pub fn organization_id(&self) -> Option<&str> {
        self.organization_id.as_deref()
    }

    /// The credentials requests are signed with.
    pub fn credentials(&self) -> &Credentials {
        self.transport.credentials()
    }

    /// Sends any operation of `openapi.yaml`, given its request type (see
    /// [`crate::operation`]), and returns its response once the envelope says success.
    ///
    /// The named methods ([`Client::read_agent_task`] and the others) are thin sugar over
    /// this: the same signing, retries by idempotency (reads are retried, a write is never
    /// resent once it may have arrived; see [`crate::retry`]), request timeout, response
    /// bound and `tracing` span. An endpoint added to `openapi.yaml` is callable here at the
    /// next build, before it has a named method (README, "Adding an endpoint").
    ///
    /// ```no_run
    /// # async fn run(client: quantconnect_agents::Client) -> Result<(), quantconnect_agents::Error> {
    /// use quantconnect_agents::types;
    ///
    /// let listed = client
    ///     .send(&types::ListAgentDeploymentsRequest { task_id: 332 })
    ///     .await?;
    /// for deployment in listed.deployments {
    ///     println!("{:?} {:?}", deployment.deployment_id, deployment.status);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// See [`Error`]. A response whose envelope says `success: false` is [`Error::Api`] (or
    /// [`Error::Authentication`]), never `Ok`.
    pub async fn send<O: Operation>(&self, request: &O) -> Result<O::Response, Error> {
        self.call(request).await.map(|response| *response)
    }

    /// Sends one operation: each attempt freshly signed, all of them within the request timeout,
    /// failures retried as the [`RetryPolicy`] says, a rejected signature retried once with
    /// the clock offset the server's `Date` reveals, all inside one `tracing` span.
    async fn call<O: Operation>(&self, body: &O) -> Result<Box<O::Response>, Error> {
        let attempts = retry::attempts(
            &self.transport,
            &self.in_flight,
            &self.retry,
            self.request_timeout,
            body,
        );
        trace::traced(O::ID, attempts).await
    }

    fn organization(&self, operation: &'static str) -> Result<String, Error> {
        self.organization_id
            .clone()
            .ok_or(Error::MissingOrganization { operation })
    }

    /// A builder whose organization is the client's, when it has one.
    fn with_default_organization<B>(&self, builder: B, set: fn(B, String) -> B) -> B {
        match &self.organization_id {
            Some(id) => set(builder, id.clone()),
            None => builder,
        }
    }

    /// The request a builder describes, or why it cannot be built: a missing organization
    /// id is [`Error::MissingOrganization`], another missing field [`Error::InvalidRequest`].
    fn request_body<T, B>(&self, operation: &'static str, builder: B) -> Result<T, Error>
    where
        T: TryFrom<B>,
        T::Error: fmt::Display,
    {
        T::try_from(builder).map_err(|e| {
            let detail = e.to_string();
            if self.organization_id.is_none() && detail.contains("organization_id") {
                Error::MissingOrganization { operation }
            } else {
                Error::InvalidRequest { operation, detail }
            }
        })
    }

    // --- authentication --------------------------------------------------------------

    /// Check that the API credentials are valid.
    ///
    /// `POST /authenticate` (operation `authenticate`) with the body `{}`, as QuantConnect's
    /// guide sends it. Verifies the user id, the token and this machine's clock in one cheap
    /// call.
    ///
    /// # Errors
    /// [`Error::Authentication`] when the server rejects the credentials or the timestamp;
    /// see [`Error`] for the rest.
    pub async fn authenticate(&self) -> Result<(), Error> {
        let body = types::AuthenticateRequest(serde_json::Map::new());
        self.call(&body).await.map(drop)
    }

    // --- agents ----------------------------------------------------------------------

    /// Create a new agent.
    ///
    /// `POST /agents/create` (operation `createAgent`). `build` fills in the request on a
    /// builder whose organization is the client's; set `name` at least.
    ///
    /// ```no_run
    /// # async fn run(client: quantconnect_agents::Client) -> Result<(), quantconnect_agents::Error> {
    /// use quantconnect_agents::ReasoningEffort;
    ///
    /// let agent = client
    ///     .create_agent(|agent| {
    ///         agent
    ///             .name("Momentum researcher")
    ///             .model("claude-opus-4-7".to_owned())
    ///             .reasoning_effort(ReasoningEffort::High)
    ///             .max_turns(100)
    ///     })
    ///     .await?;
    /// println!("agent {:?}", agent.id);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::MissingOrganization`] when neither the client nor `build` gives an
    /// organization; see [`Error`] for the rest.
    pub async fn create_agent(
        &self,
        build: impl FnOnce(builder::CreateAgentRequest) -> builder::CreateAgentRequest,
    ) -> Result<types::Agent, Error> {
        const OP: &str = types::CreateAgentRequest::ID;
        let body = build(self.with_default_organization(
            builder::CreateAgentRequest::default(),
            builder::CreateAgentRequest::organization_id,
        ));
        let body = self.request_body::<types::CreateAgentRequest, _>(OP, body)?;
        let response = self.call(&body).await?;
        required(OP, "agent", response.agent)
    }

    /// Read an agent by Id.
    ///
    /// `POST /agents/read` (operation `readAgent`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn read_agent(&self, agent_id: i64) -> Result<types::Agent, Error> {
        const OP: &str = types::ReadAgentRequest::ID;
        let body = types::ReadAgentRequest { agent_id };
        let response = self.call(&body).await?;
        required(OP, "agent", response.agent)
    }

    /// Update an existing agent.
    ///
    /// `POST /agents/update` (operation `updateAgent`). `build` sets the fields to change;
    /// the others keep their value. The response carries no agent: read it again to see it.
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn update_agent(
        &self,
        agent_id: i64,
        build: impl FnOnce(builder::UpdateAgentRequest) -> builder::UpdateAgentRequest,
    ) -> Result<(), Error> {
        const OP: &str = types::UpdateAgentRequest::ID;
        let body = build(builder::UpdateAgentRequest::default().agent_id(agent_id));
        let body = self.request_body::<types::UpdateAgentRequest, _>(OP, body)?;
        self.call(&body).await.map(drop)
    }

    /// Delete an agent.
    ///
    /// `POST /agents/delete` (operation `deleteAgent`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn delete_agent(&self, agent_id: i64) -> Result<(), Error> {
        let body = types::DeleteAgentRequest { agent_id };
        self.call(&body).await.map(drop)
    }

    /// List the agents of an organization.
    ///
    /// `POST /agents/list` (operation `listAgents`), for the client's organization (see
    /// [`Client::with_organization_id`]).
    ///
    /// # Errors
    /// [`Error::MissingOrganization`] when the client has no organization; see [`Error`].
    pub async fn list_agents(&self) -> Result<Vec<types::Agent>, Error> {
        const OP: &str = types::ListAgentsRequest::ID;
        let body = types::ListAgentsRequest {
            organization_id: self.organization(OP)?,
        };
        let response = self.call(&body).await?;
        Ok(response.agents)
    }

    // --- tasks -----------------------------------------------------------------------

    /// Create a new agent task.
    ///
    /// `POST /agents/tasks/create` (operation `createAgentTask`), in the client's
    /// organization ([`Client::with_organization_id`] for another). Every field the API
    /// requires is an argument, so none can be forgotten. Creating a task runs nothing:
    /// deploy it with [`Client::create_agent_deployment`].
    ///
    /// ```no_run
    /// # async fn run(client: quantconnect_agents::Client) -> Result<(), quantconnect_agents::Error> {
    /// use quantconnect_agents::ProjectPreference;
    ///
    /// let task = client
    ///     .create_agent_task(
    ///         47,
    ///         "Print Hello World Message",
    ///         "Write an algorithm that prints Hello World",
    ///         ProjectPreference::ProjectForTask,
    ///     )
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// Leaving one out does not compile:
    /// ```compile_fail,E0061
    /// # async fn run(client: quantconnect_agents::Client) -> Result<(), quantconnect_agents::Error> {
    /// let task = client.create_agent_task(47, "No prompt", quantconnect_agents::ProjectPreference::ProjectForTask).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::MissingOrganization`] without an organization; see [`Error`] for the rest.
    pub async fn create_agent_task(
        &self,
        agent_id: i64,
        name: impl Into<String>,
        prompt: impl Into<String>,
        project_preference: ProjectPreference,
    ) -> Result<types::AgentTask, Error> {
        const OP: &str = types::CreateAgentTaskRequest::ID;
        let body = types::CreateAgentTaskRequest {
            organization_id: self.organization(OP)?,
            agent_id,
            name: name.into(),
            prompt: prompt.into(),
            project_preference,
        };
        let response = self.call(&body).await?;
        required(OP, "task", response.task)
    }

    /// Read an agent task by Id.
    ///
    /// `POST /agents/tasks/read` (operation `readAgentTask`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn read_agent_task(&self, task_id: i64) -> Result<types::AgentTask, Error> {
        const OP: &str = types::ReadAgentTaskRequest::ID;
        let body = types::ReadAgentTaskRequest { task_id };
        let response = self.call(&body).await?;
        required(OP, "task", response.task)
    }

    /// Update an agent task.
    ///
    /// `POST /agents/tasks/update` (operation `updateAgentTask`). The name is the only
    /// field QuantConnect documents as changeable:
    /// `client.update_agent_task(id, |t| t.name("New name".to_owned()))`.
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn update_agent_task(
        &self,
        task_id: i64,
        build: impl FnOnce(builder::UpdateAgentTaskRequest) -> builder::UpdateAgentTaskRequest,
    ) -> Result<(), Error> {
        const OP: &str = types::UpdateAgentTaskRequest::ID;
        let body = build(builder::UpdateAgentTaskRequest::default().task_id(task_id));
        let body = self.request_body::<types::UpdateAgentTaskRequest, _>(OP, body)?;
        self.call(&body).await.map(drop)
    }

    /// Delete an agent task.
    ///
    /// `POST /agents/tasks/delete` (operation `deleteAgentTask`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn delete_agent_task(&self, task_id: i64) -> Result<(), Error> {
        let body = types::DeleteAgentTaskRequest { task_id };
        self.call(&body).await.map(drop)
    }

    /// List the agent tasks of an organization.
    ///
    /// `POST /agents/tasks/list` (operation `listAgentTasks`), for the client's
    /// organization (see [`Client::with_organization_id`]).
    ///
    /// # Errors
    /// [`Error::MissingOrganization`] when the client has no organization; see [`Error`].
    pub async fn list_agent_tasks(&self) -> Result<Vec<types::AgentTask>, Error> {
        const OP: &str = types::ListAgentTasksRequest::ID;
        let body = types::ListAgentTasksRequest {
            organization_id: self.organization(OP)?,
        };
        let response = self.call(&body).await?;
        Ok(response.tasks)
    }

    // --- deployments -----------------------------------------------------------------

    /// Deploy an agent task.
    ///
    /// `POST /agents/deployments/create` (operation `createAgentDeployment`). Starts a run
    /// of the task and returns the new deployment, usually `InQueue`; read it again to
    /// follow its status. Each call starts another run, so a failed call is not retried
    /// blindly: on [`Error::Transport`] the deployment may or may not exist.
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn create_agent_deployment(
        &self,
        task_id: i64,
    ) -> Result<types::AgentDeployment, Error> {
        const OP: &str = types::CreateAgentDeploymentRequest::ID;
        let body = types::CreateAgentDeploymentRequest { task_id };
        let response = self.call(&body).await?;
        required(OP, "deployment", response.deployment)
    }

    /// Read an agent deployment by Id.
    ///
    /// `POST /agents/deployments/read` (operation `readAgentDeployment`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn read_agent_deployment(
        &self,
        deployment_id: &str,
    ) -> Result<types::AgentDeployment, Error> {
        const OP: &str = types::ReadAgentDeploymentRequest::ID;
        let body = types::ReadAgentDeploymentRequest {
            deployment_id: deployment_id.to_owned(),
        };
        let response = self.call(&body).await?;
        required(OP, "deployment", response.deployment)
    }

    /// Send a follow-up prompt to a running agent deployment.
    ///
    /// `POST /agents/deployments/prompt` (operation `updateAgentDeployment`, titled
    /// "Update Deployment" in QuantConnect's docs). Returns the server's confirmation
    /// message (e.g. `Prompt run started.`) when it sends one; read the conversation to see
    /// the agent's answer.
    ///
    /// # Errors
    /// See [`Error`]. On [`Error::Transport`] the prompt may or may not have been taken.
    #[doc(alias = "update_agent_deployment", alias = "updateAgentDeployment")]
    pub async fn prompt_agent_deployment(
        &self,
        deployment_id: &str,
        prompt: impl Into<String>,
    ) -> Result<Option<String>, Error> {
        let body = types::UpdateAgentDeploymentRequest {
            deployment_id: deployment_id.to_owned(),
            prompt: prompt.into(),
        };
        let response = self.call(&body).await?;
        Ok(response.message)
    }

    /// List the deployments of an agent task.
    ///
    /// `POST /agents/deployments/list` (operation `listAgentDeployments`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn list_agent_deployments(
        &self,
        task_id: i64,
    ) -> Result<Vec<types::AgentDeployment>, Error> {
        let body = types::ListAgentDeploymentsRequest { task_id };
        let response = self.call(&body).await?;
        Ok(response.deployments)
    }

    /// Stop a running agent deployment.
    ///
    /// `POST /agents/deployments/stop` (operation `stopAgentDeployment`). Its status
    /// becomes `Stopped`.
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn stop_agent_deployment(&self, deployment_id: &str) -> Result<(), Error> {
        let body = types::StopAgentDeploymentRequest {
            deployment_id: deployment_id.to_owned(),
        };
        self.call(&body).await.map(drop)
    }

    /// Delete an agent deployment.
    ///
    /// `POST /agents/deployments/delete` (operation `deleteAgentDeployment`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn delete_agent_deployment(&self, deployment_id: &str) -> Result<(), Error> {
        let body = types::DeleteAgentDeploymentRequest {
            deployment_id: deployment_id.to_owned(),
        };
        self.call(&body).await.map(drop)
    }

    /// Read the conversation transcript of an agent deployment.
    ///
    /// `POST /agents/deployments/conversation/read` (operation `readAgentConversation`):
    /// every message so far with its parts, and the running token totals.
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn read_agent_conversation(
        &self,
        deployment_id: &str,
    ) -> Result<types::AgentConversation, Error> {
        self.read_conversation(deployment_id, None).await
    }

    /// Read the conversation of a callable sub-agent of a deployment.
    ///
    /// The same operation as [`Client::read_agent_conversation`], with `callableId` set.
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn read_callable_conversation(
        &self,
        deployment_id: &str,
        callable_id: &str,
    ) -> Result<types::AgentConversation, Error> {
        self.read_conversation(deployment_id, Some(callable_id.to_owned()))
            .await
    }

    async fn read_conversation(
        &self,
        deployment_id: &str,
        callable_id: Option<String>,
    ) -> Result<types::AgentConversation, Error> {
        const OP: &str = types::ReadAgentConversationRequest::ID;
        let body = types::ReadAgentConversationRequest {
            deployment_id: deployment_id.to_owned(),
            callable_id,
        };
        let response = self.call(&body).await?;
        required(OP, "conversation", response.conversation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_user_but_not_the_token() {
        let client = Client::new(DEFAULT_BASE_URL, Credentials::new("42", "very-secret")).unwrap();
        let text = format!("{client:?}");
        assert!(
            text.contains("42") && text.contains(DEFAULT_BASE_URL),
            "{text}"
        );
        assert!(!text.contains("very-secret"), "{text}");
    }
}
