//! `qc-agents agents …`: list, read, create, update and delete agents.

use clap::{
    builder::{PossibleValuesParser, TypedValueParser as _},
    Args, Subcommand,
};
use quantconnect_agents::ReasoningEffort;
use serde_json::json;

use crate::{
    context::{prompt_text, Context, Organization},
    failure::Failure,
    output,
};

/// `qc-agents agents`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the organization's agents
    List(Organization),
    /// Show one agent
    Read {
        /// The agent's id
        id: i64,
    },
    /// Create an agent (--name required)
    Create {
        #[command(flatten)]
        fields: AgentFields,
        #[command(flatten)]
        organization: Organization,
    },
    /// Change an agent's settings; the others keep their value
    Update {
        /// The agent's id
        id: i64,
        #[command(flatten)]
        fields: AgentFields,
    },
    /// Delete an agent
    Delete {
        /// The agent's id
        id: i64,
    },
}

/// The settings of an agent that `agents create` and `agents update` set.
#[derive(Debug, Args)]
pub struct AgentFields {
    /// The agent's name
    #[arg(long)]
    pub name: Option<String>,
    /// What the agent is for
    #[arg(long)]
    pub description: Option<String>,
    /// The system prompt
    #[arg(long, conflicts_with = "system_prompt_file")]
    pub system_prompt: Option<String>,
    /// Read the system prompt from this file (`-` for stdin)
    #[arg(long, value_name = "PATH")]
    pub system_prompt_file: Option<std::path::PathBuf>,
    /// The LLM model, e.g. claude-opus-4-7 (the organization's default when not set)
    #[arg(long)]
    pub model: Option<String>,
    /// How hard the model reasons
    #[arg(long, value_parser = reasoning_effort())]
    pub reasoning_effort: Option<ReasoningEffort>,
    /// The most turns a deployment may take
    #[arg(long, value_name = "N")]
    pub max_turns: Option<i64>,
    /// How the model picks tools, e.g. auto
    #[arg(long, value_name = "CHOICE")]
    pub tool_choice: Option<String>,
    /// A tool the agent may use (repeat for more)
    #[arg(long = "tool", value_name = "TOOL")]
    pub tools: Vec<String>,
    /// Whether other users can see the agent
    #[arg(long, value_name = "BOOL")]
    pub public: Option<bool>,
}

/// Accepts exactly the library's known reasoning efforts, spelled as on the wire; `--help`
/// lists them.
fn reasoning_effort() -> impl clap::builder::TypedValueParser<Value = ReasoningEffort> {
    PossibleValuesParser::new(ReasoningEffort::KNOWN.iter().map(ReasoningEffort::as_str))
        .map(ReasoningEffort::from)
}

/// Runs one `agents` command.
pub async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::List(organization) => list(ctx, &organization).await,
        Command::Read { id } => read(ctx, id).await,
        Command::Create {
            fields,
            organization,
        } => create(ctx, read_system_prompt(fields)?, &organization).await,
        Command::Update { fields, .. } if fields.is_empty() => Err(Failure::Usage(
            "agents update: nothing to change; give at least one of --name, --description, \
             --system-prompt, --model, --reasoning-effort, --max-turns, --tool-choice, --tool, \
             --public"
                .into(),
        )),
        Command::Update { id, fields } => update(ctx, id, read_system_prompt(fields)?).await,
        Command::Delete { id } => delete(ctx, id).await,
    }
}

impl AgentFields {
    /// Whether no field is set: nothing for `agents update` to change.
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.description.is_none()
            && self.system_prompt.is_none()
            && self.system_prompt_file.is_none()
            && self.model.is_none()
            && self.reasoning_effort.is_none()
            && self.max_turns.is_none()
            && self.tool_choice.is_none()
            && self.tools.is_empty()
            && self.public.is_none()
    }
}

/// The fields with `--system-prompt-file` read into `system_prompt`.
fn read_system_prompt(mut fields: AgentFields) -> Result<AgentFields, Failure> {
    if let Some(path) = fields.system_prompt_file.take() {
        fields.system_prompt = Some(prompt_text(None, Some(&path), "system-prompt")?);
    } else if fields.system_prompt.as_deref() == Some("-") {
        fields.system_prompt = Some(prompt_text(
            fields.system_prompt.take(),
            None,
            "system-prompt",
        )?);
    }
    Ok(fields)
}

/// `agents list`.
async fn list(ctx: &Context, organization: &Organization) -> Result<(), Failure> {
    let agents = ctx.client_in(organization)?.list_agents().await?;
    ctx.ui
        .show(&redacted(&agents), || output::agents_table(&agents));
    Ok(())
}

/// `agents read ID`.
async fn read(ctx: &Context, id: i64) -> Result<(), Failure> {
    let agent = ctx.client()?.read_agent(id).await?;
    ctx.ui
        .show(&redacted(&agent), || output::agent_view(&agent));
    Ok(())
}

/// An agent (or a list of them) as JSON with its LLM provider token replaced by
/// `"(redacted)"`: the one secret the API returns, and this tool never prints secrets.
fn redacted(payload: &impl serde::Serialize) -> serde_json::Value {
    fn redact(agent: &mut serde_json::Value) {
        if let Some(token) = agent
            .get_mut("token")
            .and_then(|t| t.get_mut("llmApiTokenUser"))
        {
            *token = json!("(redacted)");
        }
    }
    let mut value = serde_json::to_value(payload).unwrap_or(serde_json::Value::Null);
    match &mut value {
        serde_json::Value::Array(agents) => agents.iter_mut().for_each(redact),
        agent => redact(agent),
    }
    value
}

/// Applies the fields given on the command line to a create or update builder.
macro_rules! apply_fields {
    ($builder:expr, $fields:expr) => {{
        let f = $fields;
        let mut b = $builder;
        if let Some(v) = f.name {
            b = b.name(v);
        }
        if let Some(v) = f.description {
            b = b.description(v);
        }
        if let Some(v) = f.system_prompt {
            b = b.system_prompt(v);
        }
        if let Some(v) = f.model {
            b = b.model(v);
        }
        if let Some(v) = f.reasoning_effort {
            b = b.reasoning_effort(v);
        }
        if let Some(v) = f.max_turns {
            b = b.max_turns(v);
        }
        if let Some(v) = f.tool_choice {
            b = b.tool_choice(v);
        }
        if !f.tools.is_empty() {
            b = b.tools(f.tools);
        }
        if let Some(v) = f.public {
            b = b.public(v);
        }
        b
    }};
}

/// `agents create --name …`.
async fn create(
    ctx: &Context,
    fields: AgentFields,
    organization: &Organization,
) -> Result<(), Failure> {
    if fields.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        return Err(Failure::Usage("agents create needs --name NAME".into()));
    }
    let client = ctx.client_in(organization)?;
    let agent = client.create_agent(|b| apply_fields!(b, fields)).await?;
    if ctx.ui.json {
        ctx.ui.json(&redacted(&agent));
    } else {
        output::out(format!(
            "created agent {}",
            agent.id.map_or("?".into(), |i| i.to_string())
        ));
        output::out(output::agent_view(&agent));
    }
    Ok(())
}

/// `agents update ID …`.
async fn update(ctx: &Context, id: i64, fields: AgentFields) -> Result<(), Failure> {
    let client = ctx.client()?;
    client
        .update_agent(id, |b| apply_fields!(b, fields))
        .await?;
    ctx.ui.done(format!("updated agent {id}"));
    Ok(())
}

/// `agents delete ID`.
async fn delete(ctx: &Context, id: i64) -> Result<(), Failure> {
    ctx.client()?.delete_agent(id).await?;
    ctx.ui.done(format!("deleted agent {id}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Fields {
        #[command(flatten)]
        fields: AgentFields,
    }

    #[test]
    fn reasoning_effort_takes_the_librarys_spellings_only() {
        for effort in ReasoningEffort::KNOWN {
            let parsed = Fields::try_parse_from(["x", "--reasoning-effort", effort.as_str()]);
            assert_eq!(
                parsed.unwrap().fields.reasoning_effort.as_ref(),
                Some(effort)
            );
        }
        assert!(Fields::try_parse_from(["x", "--reasoning-effort", "LOW"]).is_err());
    }
}
