//! `qc-agents tasks …`: list, read, create, rename and delete tasks; creating one is shared
//! with `run`.

use clap::{
    builder::{PossibleValuesParser, TypedValueParser},
    Subcommand,
};
use quantconnect_agents::{types::AgentTask, Client, Error, ProjectPreference};

use crate::{
    context::{prompt_text, Context, Organization},
    failure::Failure,
    output,
};

/// `qc-agents tasks`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the organization's tasks
    List(Organization),
    /// Show one task
    Read {
        /// The task's id
        id: i64,
    },
    /// Create a task (this runs nothing: `deployments create` does)
    Create {
        /// The agent that works on the task
        #[arg(long, value_name = "ID")]
        agent: i64,
        /// The task's name
        #[arg(long)]
        name: String,
        /// What the agent is asked to do
        #[arg(
            long,
            required_unless_present = "prompt_file",
            conflicts_with = "prompt_file"
        )]
        prompt: Option<String>,
        /// Read the prompt from this file (`-` for stdin)
        #[arg(long, value_name = "PATH")]
        prompt_file: Option<std::path::PathBuf>,
        /// Which project the task's deployments work in
        #[arg(long, value_parser = project_preference(),
              default_value_t = ProjectPreference::ProjectForTask)]
        project_preference: ProjectPreference,
        #[command(flatten)]
        organization: Organization,
    },
    /// Rename a task
    Rename {
        /// The task's id
        id: i64,
        /// The new name
        name: String,
    },
    /// Delete a task
    Delete {
        /// The task's id
        id: i64,
    },
}

/// Accepts exactly the library's known project preferences, spelled as on the wire;
/// `--help` lists them.
pub fn project_preference() -> impl TypedValueParser<Value = ProjectPreference> {
    PossibleValuesParser::new(
        ProjectPreference::KNOWN
            .iter()
            .map(ProjectPreference::as_str),
    )
    .map(ProjectPreference::from)
}

/// Runs one `tasks` command.
pub async fn run(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::List(organization) => list(ctx, &organization).await,
        Command::Read { id } => read(ctx, id).await,
        Command::Create {
            agent,
            name,
            prompt,
            prompt_file,
            project_preference,
            organization,
        } => {
            let prompt = prompt_text(prompt, prompt_file.as_deref(), "prompt")?;
            let client = ctx.client_in(&organization)?;
            create(ctx, &client, agent, name, prompt, project_preference).await
        }
        Command::Rename { id, name } => rename(ctx, id, name).await,
        Command::Delete { id } => delete(ctx, id).await,
    }
}

/// `tasks list`.
async fn list(ctx: &Context, organization: &Organization) -> Result<(), Failure> {
    let tasks = ctx.client_in(organization)?.list_agent_tasks().await?;
    ctx.ui.show(&tasks, || output::tasks_table(&tasks));
    Ok(())
}

/// `tasks read ID`.
async fn read(ctx: &Context, id: i64) -> Result<(), Failure> {
    let task = ctx.client()?.read_agent_task(id).await?;
    ctx.ui.show(&task, || output::task_view(&task));
    Ok(())
}

/// Creates a task (for `tasks create` and `run`).
pub async fn create_task(
    client: &Client,
    agent: i64,
    name: String,
    prompt: String,
    preference: ProjectPreference,
) -> Result<AgentTask, Error> {
    client
        .create_agent_task(agent, name, prompt, preference)
        .await
}

/// The id of a task just created.
pub fn id_of_task(task: &AgentTask) -> Result<i64, Failure> {
    task.id.ok_or_else(|| {
        Failure::Local("createAgentTask: the response says success but has no task id".into())
    })
}

/// `tasks create --agent … --name … --prompt …`.
async fn create(
    ctx: &Context,
    client: &Client,
    agent: i64,
    name: String,
    prompt: String,
    preference: ProjectPreference,
) -> Result<(), Failure> {
    let task = create_task(client, agent, name, prompt, preference).await?;
    if ctx.ui.json {
        ctx.ui.json(&task);
    } else {
        output::out(format!("created task {}", id_of_task(&task)?));
        output::out(output::task_view(&task));
    }
    Ok(())
}

/// `tasks rename ID NAME`.
async fn rename(ctx: &Context, id: i64, name: String) -> Result<(), Failure> {
    let shown = name.clone();
    ctx.client()?
        .update_agent_task(id, |t| t.name(name))
        .await?;
    ctx.ui.done(format!("renamed task {id} to {shown:?}"));
    Ok(())
}

/// `tasks delete ID`.
async fn delete(ctx: &Context, id: i64) -> Result<(), Failure> {
    ctx.client()?.delete_agent_task(id).await?;
    ctx.ui.done(format!("deleted task {id}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Tasks {
        #[command(subcommand)]
        command: Command,
    }

    fn preference_of(args: &[&str]) -> Result<ProjectPreference, clap::Error> {
        let base = [
            "x", "create", "--agent", "1", "--name", "n", "--prompt", "p",
        ];
        let parsed = Tasks::try_parse_from(base.iter().chain(args))?;
        match parsed.command {
            Command::Create {
                project_preference, ..
            } => Ok(project_preference),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn project_preference_takes_the_librarys_spellings_and_a_default() {
        for preference in ProjectPreference::KNOWN {
            let flag = ["--project-preference", preference.as_str()];
            assert_eq!(&preference_of(&flag).unwrap(), preference);
        }
        assert_eq!(
            preference_of(&[]).unwrap(),
            ProjectPreference::ProjectForTask
        );
        assert!(preference_of(&["--project-preference", "project-existing"]).is_err());
    }
}
