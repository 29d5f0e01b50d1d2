//! Following a live conversation on the simulator in paused time: each part once, in order,
//! by the read after it settles.

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use quantconnect_agents::{
    simulator::{Schedule, Simulator},
    wait::{Backoff, ConversationEvent},
    Client, DeploymentStatus, PartKind, ToolCallState,
};
use tokio::time::Instant;

/// 90 s running: the answer's nine changes land every 10 s.
async fn simulator() -> Simulator {
    Simulator::builder()
        .schedule(Schedule {
            in_queue: Duration::ZERO,
            running: Duration::from_secs(90),
            failure: None,
        })
        .start()
        .await
        .unwrap()
}

/// The default schedule without jitter: rounds at 0, 1, 3, 7, 15, 25, 35, … s.
fn exact() -> Backoff {
    Backoff::new(Duration::from_secs(1), Duration::from_secs(10)).with_jitter(0.0)
}

async fn deploy(client: &Client) -> String {
    let task = common::create_task(client, "Print Hello World")
        .await
        .unwrap();
    let created = client.create_agent_deployment(task).await.unwrap();
    created.deployment_id.unwrap()
}

/// Every event with the virtual second it was yielded at.
async fn follow(client: &Client, id: &str) -> Vec<(u64, ConversationEvent)> {
    let start = Instant::now();
    let events = client.follow_conversation(id).backoff(exact()).events();
    events
        .map(|e| (start.elapsed().as_secs(), e.expect("no error")))
        .collect()
        .await
}

/// The `Part`s of message `id`: (second yielded, index, kind, tool state).
fn parts(
    events: &[(u64, ConversationEvent)],
    id: &str,
) -> Vec<(u64, usize, PartKind, Option<ToolCallState>)> {
    events
        .iter()
        .filter_map(|(at, e)| match e {
            ConversationEvent::Part {
                message_id,
                index,
                part,
            } if message_id == id => {
                Some((*at, *index, part.type_.clone().unwrap(), part.state.clone()))
            }
            _ => None,
        })
        .collect()
}

/// The answer's parts settle at 20, 30, 40, 60, 70, 80 and 90 s (a part when the next
/// appears, a tool call when its output does; changes land every 10 s): each is yielded by
/// the next read, within one 10 s round (plus the requests' time on the paused clock).
fn within_a_read_of_settling(answer: &[(u64, usize, PartKind, Option<ToolCallState>)]) {
    let settled = [20, 30, 40, 60, 70, 80, 90];
    for (at, index, ..) in answer {
        let settled = settled[*index];
        assert!(
            *at >= settled && *at <= settled + 11,
            "part {index} settled at {settled} s, yielded at {at} s"
        );
    }
}

fn ended(events: &[(u64, ConversationEvent)]) -> (u64, DeploymentStatus) {
    match events.last() {
        Some((at, ConversationEvent::DeploymentEnded { deployment })) => {
            (*at, deployment.status.clone().unwrap())
        }
        other => panic!("the last event is the end: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn parts_come_in_order_each_once_by_the_read_after_they_settle() {
    let sim = simulator().await;
    let client = sim.client();
    let id = deploy(&client).await;
    let prompt_id = format!("msg-{}-000", &id[2..10]);
    let answer_id = format!("msg-{}-001", &id[2..10]);
    let events = follow(&client, &id).await;

    let prompt = parts(&events, &prompt_id);
    assert_eq!(prompt, [(0, 0, PartKind::Text, None)], "the prompt at once");

    use PartKind::*;
    let done = Some(ToolCallState::OutputAvailable);
    let answer = parts(&events, &answer_id);
    let got: Vec<_> = answer
        .iter()
        .map(|p| (p.1, p.2.clone(), p.3.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (0, StepStart, None),
            (1, Reasoning, None),
            (2, DynamicTool, done.clone()),
            (3, StepStart, None),
            (4, Reasoning, None),
            (5, DynamicTool, done),
            (6, Text, None),
        ],
        "in order, each once"
    );
    within_a_read_of_settling(&answer);
    let tool_changes: Vec<_> = events
        .iter()
        .filter_map(|(at, e)| match e {
            ConversationEvent::ToolCallChanged { index, part, .. } => {
                Some((*at, *index, part.state.clone().unwrap()))
            }
            _ => None,
        })
        .collect();
    let tool_changes: Vec<_> = tool_changes.iter().map(|c| (c.1, c.2.clone())).collect();
    assert_eq!(
        tool_changes,
        [
            (2, ToolCallState::InputAvailable),
            (5, ToolCallState::InputAvailable)
        ],
        "each call's input is reported before its outcome"
    );
    let completed: Vec<_> = events
        .iter()
        .filter_map(|(at, e)| match e {
            ConversationEvent::MessageCompleted { message_id } => Some((*at, message_id.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(completed[0], (0, prompt_id));
    assert_eq!(completed[1].1, answer_id);
    assert_eq!(ended(&events).1, DeploymentStatus::Completed);
}

#[tokio::test(start_paused = true)]
async fn a_follow_up_prompt_is_yielded_at_once_and_its_answer_part_by_part() {
    let sim = simulator().await;
    let client = sim.client();
    let id = deploy(&client).await;
    tokio::time::sleep(Duration::from_secs(100)).await;
    client
        .prompt_agent_deployment(&id, "Replace SPY for QQQ")
        .await
        .unwrap();
    let events = follow(&client, &id).await;
    let message = |n: u32| format!("msg-{}-{n:03}", &id[2..10]);
    assert_eq!(parts(&events, &message(0)).len(), 1);
    let first: Vec<_> = parts(&events, &message(1)).iter().map(|p| p.0).collect();
    assert_eq!(
        first, [0; 7],
        "the first answer is complete: a later message exists"
    );
    assert_eq!(parts(&events, &message(2)), [(0, 0, PartKind::Text, None)]);
    let second = parts(&events, &message(3));
    let indexes: Vec<_> = second.iter().map(|p| p.1).collect();
    assert_eq!(indexes, [0, 1, 2, 3, 4, 5, 6], "in order, each once");
    within_a_read_of_settling(&second);
    assert_eq!(ended(&events).1, DeploymentStatus::Completed);
}

#[tokio::test(start_paused = true)]
async fn a_stopped_run_leaves_its_partial_answer() {
    let sim = simulator().await;
    let client = sim.client();
    let id = deploy(&client).await;
    let stopper = client.clone();
    let stop_id = id.clone();
    let stop = async move {
        tokio::time::sleep(Duration::from_secs(32)).await;
        stopper.stop_agent_deployment(&stop_id).await.unwrap();
    };
    let (events, ()) = tokio::join!(follow(&client, &id), stop);
    let answer = parts(&events, &format!("msg-{}-001", &id[2..10]));
    assert_eq!(
        answer,
        [
            (25, 0, PartKind::StepStart, None),
            (35, 1, PartKind::Reasoning, None),
            (
                35,
                2,
                PartKind::DynamicTool,
                Some(ToolCallState::InputAvailable)
            ),
        ],
        "the stop at 32 s froze the answer with its tool call still running"
    );
    assert_eq!(ended(&events), (35, DeploymentStatus::Stopped));
}

#[tokio::test(start_paused = true)]
async fn a_failed_run_ends_with_the_error() {
    let sim = Simulator::builder()
        .schedule(Schedule {
            in_queue: Duration::ZERO,
            running: Duration::from_secs(9),
            failure: Some("The backtest ended with a runtime error.".into()),
        })
        .start()
        .await
        .unwrap();
    let client = sim.client();
    let id = deploy(&client).await;
    let messages: Vec<_> = client
        .follow_conversation(&id)
        .backoff(exact())
        .stream()
        .map(|m| m.unwrap())
        .collect()
        .await;
    let answer = &messages[1].parts;
    assert_eq!(answer[5].state, Some(ToolCallState::OutputError));
    assert_eq!(
        answer.last().unwrap().text.as_deref(),
        Some("The run failed: The backtest ended with a runtime error.")
    );
}
