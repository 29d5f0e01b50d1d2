//! [`Client`]: every agents endpoint as one method that returns the payload or an [`Error`].

use std::{fmt, future::Future, time::Duration};

use progenitor_client::{ClientInfo as _, ResponseValue};

use crate::{
    auth::Credentials,
    error::{self, Error},
    generated,
    types::{self, builder},
};

/// QuantConnect's production API.
pub const DEFAULT_BASE_URL: &str = "https://www.quantconnect.com/api/v2";
/// QuantConnect's beta API.
pub const BETA_BASE_URL: &str = "https://beta.quantconnect.com/api/v2";
/// Environment variable that overrides the base URL.
pub const API_URL_VAR: &str = "QC_API_URL";
/// Environment variable that supplies the organization id.
pub const ORGANIZATION_ID_VAR: &str = "QC_ORGANIZATION_ID";

/// How long the default HTTP client waits for a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the default HTTP client lets one request take, response body included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

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
    api: generated::Client,
    organization_id: Option<String>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url())
            .field("user_id", &self.credentials().user_id())
            .field("organization_id", &self.organization_id)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`] from explicit parts. Start with [`Client::builder`].
#[derive(Debug)]
pub struct ClientBuilder {
    credentials: Credentials,
    base_url: String,
    organization_id: Option<String>,
    http: Option<reqwest::Client>,
}

impl ClientBuilder {
    /// The API's base URL, `/api/v2` included: [`DEFAULT_BASE_URL`] unless set, or
    /// [`BETA_BASE_URL`], or a local server such as `http://localhost:5612/api/v2`.
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// The organization used by the calls that take one (listing agents and tasks,
    /// creating agents and tasks) when the request does not name it.
    pub fn organization_id(mut self, organization_id: impl Into<String>) -> Self {
        self.organization_id = Some(organization_id.into());
        self
    }

    /// The HTTP client to send requests with, for your own timeouts, proxy or TLS settings.
    /// By default: [`DEFAULT_CONNECT_TIMEOUT`], [`DEFAULT_TIMEOUT`], and a `User-Agent` of
    /// `quantconnect-agents/<version>`.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The client.
    ///
    /// # Errors
    /// [`Error::Configuration`] when the base URL is not an absolute `http` or `https` URL,
    /// or the default HTTP client cannot be built.
    pub fn build(self) -> Result<Client, Error> {
        let base_url = normalize_base_url(&self.base_url)?;
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
                .timeout(DEFAULT_TIMEOUT)
                .user_agent(concat!("quantconnect-agents/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| Error::Configuration {
                    detail: format!("cannot build the HTTP client: {e}"),
                })?,
        };
        Ok(Client {
            api: generated::Client::new_with_client(&base_url, http, self.credentials),
            organization_id: self.organization_id.filter(|id| !id.trim().is_empty()),
        })
    }
}

fn normalize_base_url(base_url: &str) -> Result<String, Error> {
    let trimmed = base_url.trim().trim_end_matches('/');
    let url = reqwest::Url::parse(trimmed).map_err(|e| Error::Configuration {
        detail: format!("base URL `{trimmed}` is not a URL: {e}"),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Error::Configuration {
            detail: format!("base URL `{trimmed}` must be an http or https URL with a host"),
        });
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Configuration {
            detail: format!("base URL `{trimmed}` must not have a query or fragment"),
        });
    }
    Ok(trimmed.to_owned())
}

/// The generated response types, which all carry the `success`/`errors` envelope.
trait Envelope {
    fn success(&self) -> Option<bool>;
    fn take_errors(&mut self) -> Vec<String>;
}

macro_rules! envelope {
    ($($ty:ident),+ $(,)?) => {$(
        impl Envelope for types::$ty {
            fn success(&self) -> Option<bool> {
                self.success
            }
            fn take_errors(&mut self) -> Vec<String> {
                std::mem::take(&mut self.errors)
            }
        }
    )+};
}

envelope!(
    RestResponse,
    AgentResponse,
    AgentListResponse,
    AgentTaskResponse,
    AgentTaskListResponse,
    CreateAgentDeploymentResponse,
    AgentDeploymentResponse,
    UpdateAgentDeploymentResponse,
    AgentDeploymentListResponse,
    AgentConversationResponse,
);

/// The response body when its envelope says success, else the matching [`Error`].
///
/// A missing `success` counts as failure, as in QuantConnect's own clients.
async fn checked<T: Envelope>(
    operation: &'static str,
    send: impl Future<Output = Result<ResponseValue<T>, progenitor_client::Error<()>>>,
) -> Result<T, Error> {
    match send.await {
        Ok(response) => {
            let status = response.status().as_u16();
            let mut body = response.into_inner();
            if body.success() == Some(true) {
                Ok(body)
            } else {
                Err(error::failure(operation, status, body.take_errors()))
            }
        }
        Err(e) => Err(error::from_progenitor(operation, e).await),
    }
}

fn required<T>(operation: &'static str, field: &'static str, value: Option<T>) -> Result<T, Error> {
    value.ok_or(Error::MissingPayload { operation, field })
}

impl Client {
    /// A client for `base_url` (including `/api/v2`) with `credentials` and the default HTTP
    /// client; see [`Client::builder`] for the other settings.
    ///
    /// # Errors
    /// [`Error::Configuration`] when `base_url` is not an absolute `http` or `https` URL.
    pub fn new(base_url: &str, credentials: Credentials) -> Result<Self, Error> {
        Self::builder(credentials).base_url(base_url).build()
    }

    /// A builder for a client with `credentials`, against [`DEFAULT_BASE_URL`] unless told
    /// otherwise.
    ///
    /// ```
    /// use quantconnect_agents::{Client, Credentials, BETA_BASE_URL};
    ///
    /// let client = Client::builder(Credentials::new("123456", "token"))
    ///     .base_url(BETA_BASE_URL)
    ///     .organization_id("5cad178b20a1d52567b534553413b691")
    ///     .build()?;
    /// assert_eq!(client.base_url(), BETA_BASE_URL);
    /// # Ok::<(), quantconnect_agents::Error>(())
    /// ```
    pub fn builder(credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            credentials,
            base_url: DEFAULT_BASE_URL.to_owned(),
            organization_id: None,
            http: None,
        }
    }

    /// A client configured from the environment.
    ///
    /// - credentials: `QC_USER_ID` and `QC_API_TOKEN`, else lean-cli's
    ///   `~/.lean/credentials` (see [`Credentials::from_env`]);
    /// - base URL: `QC_API_URL`, else [`DEFAULT_BASE_URL`];
    /// - organization: `QC_ORGANIZATION_ID`, if set.
    ///
    /// # Errors
    /// [`Error::MissingCredentials`] or [`Error::CredentialsFile`] when no credentials can be
    /// found; [`Error::Configuration`] for a malformed `QC_API_URL`.
    pub fn from_env() -> Result<Self, Error> {
        let mut builder = Self::builder(Credentials::from_env()?);
        if let Some(url) = non_empty_var(API_URL_VAR) {
            builder = builder.base_url(url);
        }
        if let Some(organization_id) = non_empty_var(ORGANIZATION_ID_VAR) {
            builder = builder.organization_id(organization_id);
        }
        builder.build()
    }

    /// The same client (sharing its connections) for another organization.
    pub fn with_organization_id(&self, organization_id: impl Into<String>) -> Self {
        Client {
            api: self.api.clone(),
            organization_id: Some(organization_id.into()),
        }
    }

    /// The base URL requests go to, `/api/v2` included, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.api.baseurl()
    }

    /// The organization used by the calls that take one, if configured.
    pub fn organization_id(&self) -> Option<&str> {
        self.organization_id.as_deref()
    }

    /// The credentials requests are signed with.
    pub fn credentials(&self) -> &Credentials {
        self.api.inner()
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

    /// Maps a request that could not be built for want of an organization id onto
    /// [`Error::MissingOrganization`].
    fn explain_missing_organization(&self, error: Error) -> Error {
        match error {
            Error::InvalidRequest { operation, detail }
                if self.organization_id.is_none() && detail.contains("organization_id") =>
            {
                Error::MissingOrganization { operation }
            }
            other => other,
        }
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
        const OP: &str = "authenticate";
        let body = types::AuthenticateRequest(serde_json::Map::new());
        checked(OP, self.api.authenticate().body(body).send())
            .await
            .map(drop)
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
        const OP: &str = "createAgent";
        let body = build(self.with_default_organization(
            builder::CreateAgentRequest::default(),
            builder::CreateAgentRequest::organization_id,
        ));
        let response = checked(OP, self.api.create_agent().body(body).send())
            .await
            .map_err(|e| self.explain_missing_organization(e))?;
        required(OP, "agent", response.agent)
    }

    /// Read an agent by Id.
    ///
    /// `POST /agents/read` (operation `readAgent`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn read_agent(&self, agent_id: i64) -> Result<types::Agent, Error> {
        const OP: &str = "readAgent";
        let body = types::ReadAgentRequest { agent_id };
        let response = checked(OP, self.api.read_agent().body(body).send()).await?;
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
        const OP: &str = "updateAgent";
        let body = build(builder::UpdateAgentRequest::default().agent_id(agent_id));
        checked(OP, self.api.update_agent().body(body).send())
            .await
            .map(drop)
    }

    /// Delete an agent.
    ///
    /// `POST /agents/delete` (operation `deleteAgent`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn delete_agent(&self, agent_id: i64) -> Result<(), Error> {
        const OP: &str = "deleteAgent";
        let body = types::DeleteAgentRequest { agent_id };
        checked(OP, self.api.delete_agent().body(body).send())
            .await
            .map(drop)
    }

    /// List the agents of an organization.
    ///
    /// `POST /agents/list` (operation `listAgents`), for the client's organization (see
    /// [`Client::with_organization_id`]).
    ///
    /// # Errors
    /// [`Error::MissingOrganization`] when the client has no organization; see [`Error`].
    pub async fn list_agents(&self) -> Result<Vec<types::Agent>, Error> {
        const OP: &str = "listAgents";
        let body = types::ListAgentsRequest {
            organization_id: self.organization(OP)?,
        };
        let response = checked(OP, self.api.list_agents().body(body).send()).await?;
        Ok(response.agents)
    }

    // --- tasks -----------------------------------------------------------------------

    /// Create a new agent task.
    ///
    /// `POST /agents/tasks/create` (operation `createAgentTask`). `build` fills in the
    /// request on a builder whose organization is the client's; set the agent, name, prompt
    /// and project preference. Creating a task runs nothing: deploy it with
    /// [`Client::create_agent_deployment`].
    ///
    /// ```no_run
    /// # async fn run(client: quantconnect_agents::Client) -> Result<(), quantconnect_agents::Error> {
    /// use quantconnect_agents::ProjectPreference;
    ///
    /// let task = client
    ///     .create_agent_task(|task| {
    ///         task.agent_id(47)
    ///             .name("Print Hello World Message")
    ///             .prompt("Write an algorithm that prints Hello World")
    ///             .project_preference(ProjectPreference::ProjectForTask)
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::MissingOrganization`] when neither the client nor `build` gives an
    /// organization, [`Error::InvalidRequest`] when a required field is not set; see
    /// [`Error`] for the rest.
    pub async fn create_agent_task(
        &self,
        build: impl FnOnce(builder::CreateAgentTaskRequest) -> builder::CreateAgentTaskRequest,
    ) -> Result<types::AgentTask, Error> {
        const OP: &str = "createAgentTask";
        let body = build(self.with_default_organization(
            builder::CreateAgentTaskRequest::default(),
            builder::CreateAgentTaskRequest::organization_id,
        ));
        let response = checked(OP, self.api.create_agent_task().body(body).send())
            .await
            .map_err(|e| self.explain_missing_organization(e))?;
        required(OP, "task", response.task)
    }

    /// Read an agent task by Id.
    ///
    /// `POST /agents/tasks/read` (operation `readAgentTask`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn read_agent_task(&self, task_id: i64) -> Result<types::AgentTask, Error> {
        const OP: &str = "readAgentTask";
        let body = types::ReadAgentTaskRequest { task_id };
        let response = checked(OP, self.api.read_agent_task().body(body).send()).await?;
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
        const OP: &str = "updateAgentTask";
        let body = build(builder::UpdateAgentTaskRequest::default().task_id(task_id));
        checked(OP, self.api.update_agent_task().body(body).send())
            .await
            .map(drop)
    }

    /// Delete an agent task.
    ///
    /// `POST /agents/tasks/delete` (operation `deleteAgentTask`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn delete_agent_task(&self, task_id: i64) -> Result<(), Error> {
        const OP: &str = "deleteAgentTask";
        let body = types::DeleteAgentTaskRequest { task_id };
        checked(OP, self.api.delete_agent_task().body(body).send())
            .await
            .map(drop)
    }

    /// List the agent tasks of an organization.
    ///
    /// `POST /agents/tasks/list` (operation `listAgentTasks`), for the client's
    /// organization (see [`Client::with_organization_id`]).
    ///
    /// # Errors
    /// [`Error::MissingOrganization`] when the client has no organization; see [`Error`].
    pub async fn list_agent_tasks(&self) -> Result<Vec<types::AgentTask>, Error> {
        const OP: &str = "listAgentTasks";
        let body = types::ListAgentTasksRequest {
            organization_id: self.organization(OP)?,
        };
        let response = checked(OP, self.api.list_agent_tasks().body(body).send()).await?;
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
        const OP: &str = "createAgentDeployment";
        let body = types::CreateAgentDeploymentRequest { task_id };
        let response = checked(OP, self.api.create_agent_deployment().body(body).send()).await?;
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
        const OP: &str = "readAgentDeployment";
        let body = types::ReadAgentDeploymentRequest {
            deployment_id: deployment_id.to_owned(),
        };
        let response = checked(OP, self.api.read_agent_deployment().body(body).send()).await?;
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
        const OP: &str = "updateAgentDeployment";
        let body = types::UpdateAgentDeploymentRequest {
            deployment_id: deployment_id.to_owned(),
            prompt: prompt.into(),
        };
        let response = checked(OP, self.api.update_agent_deployment().body(body).send()).await?;
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
        const OP: &str = "listAgentDeployments";
        let body = types::ListAgentDeploymentsRequest { task_id };
        let response = checked(OP, self.api.list_agent_deployments().body(body).send()).await?;
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
        const OP: &str = "stopAgentDeployment";
        let body = types::StopAgentDeploymentRequest {
            deployment_id: deployment_id.to_owned(),
        };
        checked(OP, self.api.stop_agent_deployment().body(body).send())
            .await
            .map(drop)
    }

    /// Delete an agent deployment.
    ///
    /// `POST /agents/deployments/delete` (operation `deleteAgentDeployment`).
    ///
    /// # Errors
    /// See [`Error`].
    pub async fn delete_agent_deployment(&self, deployment_id: &str) -> Result<(), Error> {
        const OP: &str = "deleteAgentDeployment";
        let body = types::DeleteAgentDeploymentRequest {
            deployment_id: deployment_id.to_owned(),
        };
        checked(OP, self.api.delete_agent_deployment().body(body).send())
            .await
            .map(drop)
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
        const OP: &str = "readAgentConversation";
        let body = types::ReadAgentConversationRequest {
            deployment_id: deployment_id.to_owned(),
            callable_id,
        };
        let response = checked(OP, self.api.read_agent_conversation().body(body).send()).await?;
        required(OP, "conversation", response.conversation)
    }
}

fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_normalized_and_checked() {
        assert_eq!(
            normalize_base_url("https://www.quantconnect.com/api/v2/").unwrap(),
            DEFAULT_BASE_URL
        );
        assert_eq!(
            normalize_base_url(" http://127.0.0.1:5612/api/v2 ").unwrap(),
            "http://127.0.0.1:5612/api/v2"
        );
        for bad in [
            "",
            "www.quantconnect.com/api/v2",
            "ftp://x/api/v2",
            "https://x/api?a=1",
        ] {
            assert!(
                matches!(normalize_base_url(bad), Err(Error::Configuration { .. })),
                "{bad}"
            );
        }
    }

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

    #[test]
    fn every_spec_operation_has_a_documented_method() {
        let spec: serde_json::Value =
            serde_norway::from_str(include_str!("../openapi.yaml")).unwrap();
        let source = include_str!("client.rs");
        let paths = spec["paths"].as_object().unwrap();
        for (path, item) in paths {
            let op = &item["post"];
            let id = op["operationId"].as_str().unwrap();
            let summary = op["summary"].as_str().unwrap();
            assert!(
                source.contains(&format!("const OP: &str = \"{id}\";")),
                "no method sends {id}"
            );
            assert!(
                source.contains(&format!("/// {summary}")),
                "the method for {id} does not start its docs with the spec's summary"
            );
            assert!(
                source.contains(&format!("`POST {path}` (operation `{id}`")),
                "the method for {id} does not name its path"
            );
        }
    }
}
