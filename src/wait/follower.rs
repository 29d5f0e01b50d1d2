//! [`ConversationFollower`]: a deployment's conversation as events at part granularity
//! ([`ConversationEvent`]), or as whole messages, while the deployment runs.

use std::{collections::VecDeque, future::Future, time::Duration};

use futures_util::{Stream, StreamExt};
use tokio::time::{sleep, Instant};

use super::{
    before,
    events::{ConversationEvent, Tracker},
    exceeded_max_wait, Backoff, WaitError, DEFAULT_MAX_WAIT,
};
use crate::{
    backoff::random_unit,
    types::{AgentConversationMessage, AgentDeployment},
    Client, DeploymentStatus, Error,
};

/// Follows a deployment's conversation. Made by [`Client::follow_conversation`]; turn it
/// into a stream of events with [`events`](Self::events), or of whole messages with
/// [`stream`](Self::stream).
///
/// It holds its own clone of the client, so its streams are `Send + 'static`: they can be
/// spawned, and the client need not outlive them.
///
/// # Reads
/// Each round reads the deployment, then its conversation: two requests. Rounds follow the
/// [`Backoff`] schedule (by default at about 0, 1, 3, 7, 15, 25, 35, … s; jitter only makes
/// a delay shorter, by up to 9 %): 9 rounds in the first minute, 10 (20 requests) at most,
/// and then a round every 9.1 to 10 s, at most 7 rounds (14 requests) in any minute, as
/// the waiter bench measures (`cargo xtask bench`). A part that settles is yielded by the
/// next round, so by default within about 10 s.
#[must_use = "a follower does nothing until streamed"]
#[derive(Debug)]
pub struct ConversationFollower {
    client: Client,
    deployment_id: String,
    max_wait: Duration,
    backoff: Backoff,
}

impl ConversationFollower {
    pub(super) fn new(client: Client, deployment_id: String) -> Self {
        ConversationFollower {
            client,
            deployment_id,
            max_wait: DEFAULT_MAX_WAIT,
            backoff: Backoff::default(),
        }
    }

    /// How long to follow at most ([`DEFAULT_MAX_WAIT`] unless set); past it the stream
    /// yields [`WaitError::ExceededMaxWait`] and ends.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// The polling schedule ([`Backoff::default`] unless set).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The conversation as [`ConversationEvent`]s, each once, in order, as the reads find
    /// them: messages starting, parts settling, tool calls changing state, messages
    /// complete, and last the deployment's end.
    ///
    /// Once a round finds the deployment ended, its conversation read is the final one:
    /// every part left settles, and the stream ends after
    /// [`DeploymentEnded`](ConversationEvent::DeploymentEnded). A read with fewer messages
    /// or parts than an earlier one takes nothing back and repeats nothing (see
    /// [`ConversationEvent`]). A request that fails for good is yielded as an error and ends
    /// the stream; transient failures are retried on the schedule.
    pub fn events(
        self,
    ) -> impl Stream<Item = Result<ConversationEvent, WaitError>> + Send + 'static {
        let ConversationFollower {
            client,
            deployment_id,
            max_wait,
            backoff,
        } = self;
        let id = deployment_id.clone();
        let reader = client.clone();
        let read_deployment = move || {
            let (client, id) = (reader.clone(), id.clone());
            async move { client.read_agent_deployment(&id).await }
        };
        let id = deployment_id.clone();
        let read_conversation = move || {
            let (client, id) = (client.clone(), id.clone());
            async move {
                client
                    .read_agent_conversation(&id)
                    .await
                    .map(|c| c.messages)
            }
        };
        follow(
            deployment_id,
            read_deployment,
            read_conversation,
            max_wait,
            backoff,
            random_unit,
        )
    }

    /// The conversation's messages, each once, in order, each as soon as it is complete
    /// (the user's prompt at once, an answer once a later message exists or the
    /// deployment ends), with the parts [`events`](Self::events) yielded for it. Ends
    /// after the deployment ends; errors as for `events`.
    pub fn stream(
        self,
    ) -> impl Stream<Item = Result<AgentConversationMessage, WaitError>> + Send + 'static {
        messages(self.events())
    }
}

/// Whole messages from events: each built from its `MessageStarted` and `Part`s, yielded at
/// its `MessageCompleted`.
fn messages<S>(events: S) -> impl Stream<Item = Result<AgentConversationMessage, WaitError>>
where
    S: Stream<Item = Result<ConversationEvent, WaitError>>,
{
    let mut building: Vec<AgentConversationMessage> = Vec::new();
    events.filter_map(move |event| {
        let message = match event {
            Err(error) => Some(Err(error)),
            Ok(ConversationEvent::MessageStarted {
                message_id,
                role,
                time,
            }) => {
                building.push(AgentConversationMessage {
                    id: Some(message_id),
                    role,
                    parts: Vec::new(),
                    time,
                });
                None
            }
            Ok(ConversationEvent::Part {
                message_id, part, ..
            }) => {
                if let Some(m) = building
                    .iter_mut()
                    .find(|m| m.id.as_ref() == Some(&message_id))
                {
                    m.parts.push(part);
                }
                None
            }
            Ok(ConversationEvent::MessageCompleted { message_id }) => building
                .iter()
                .position(|m| m.id.as_ref() == Some(&message_id))
                .map(|at| Ok(building.remove(at))),
            Ok(_) => None,
        };
        std::future::ready(message)
    })
}

struct Follow<D, C, U> {
    deployment_id: String,
    read_deployment: D,
    read_conversation: C,
    unit: U,
    backoff: Backoff,
    max_wait: Duration,
    start: Option<Instant>,
    delays: u32,
    polls: u32,
    tracker: Tracker,
    /// The deployment as last read: its status is the one last reported.
    last: Option<AgentDeployment>,
    ready: VecDeque<ConversationEvent>,
    done: bool,
}

/// The follower's loop, with its reads and clock draws passed in.
pub fn follow<D, DF, C, CF, U>(
    deployment_id: String,
    read_deployment: D,
    read_conversation: C,
    max_wait: Duration,
    backoff: Backoff,
    unit: U,
) -> impl Stream<Item = Result<ConversationEvent, WaitError>>
where
    D: FnMut() -> DF,
    DF: Future<Output = Result<AgentDeployment, Error>>,
    C: FnMut() -> CF,
    CF: Future<Output = Result<Vec<AgentConversationMessage>, Error>>,
    U: FnMut() -> f64,
{
    let state = Follow {
        deployment_id,
        read_deployment,
        read_conversation,
        unit,
        backoff,
        max_wait,
        start: None,
        delays: 0,
        polls: 0,
        tracker: Tracker::default(),
        last: None,
        ready: VecDeque::new(),
        done: false,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(event) = st.ready.pop_front() {
                return Some((Ok(event), st));
            }
            if st.done {
                return None;
            }
            let start = *st.start.get_or_insert_with(Instant::now);
            if st.polls > 0 {
                let now = Instant::now();
                let deadline = start.checked_add(st.max_wait);
                if deadline.is_some_and(|d| now >= d) {
                    st.done = true;
                    let error = exceeded_max_wait(
                        &st.deployment_id,
                        st.max_wait,
                        now - start,
                        st.polls,
                        st.last.take(),
                        None,
                    );
                    return Some((Err(error), st));
                }
                let remaining = deadline.map_or(Duration::MAX, |d| d - now);
                let delay = st.backoff.delay(st.delays, (st.unit)()).min(remaining);
                st.delays = st.delays.saturating_add(1);
                sleep(delay).await;
            }
            st.polls += 1;
            // The maximum wait bounds the reads in flight too: one cut off by it ends the
            // stream at the check above.
            let deadline = start.checked_add(st.max_wait);
            let Some(read) = before(deadline, (st.read_deployment)()).await else {
                continue;
            };
            let deployment = match read {
                Ok(deployment) => deployment,
                Err(error) if error.is_transient() => continue,
                Err(error) => {
                    st.done = true;
                    return Some((Err(error.into()), st));
                }
            };
            let ended = deployment
                .status
                .as_ref()
                .is_some_and(DeploymentStatus::is_terminal);
            if st.last.as_ref().map(|d| &d.status) != Some(&deployment.status) {
                st.ready.push_back(ConversationEvent::StatusChanged {
                    deployment: Box::new(deployment.clone()),
                });
            }
            st.last = Some(deployment);
            let Some(read) = before(deadline, (st.read_conversation)()).await else {
                continue;
            };
            let messages = match read {
                Ok(messages) => messages,
                Err(error) if error.is_transient() => continue,
                Err(error) => {
                    st.done = true;
                    return Some((Err(error.into()), st));
                }
            };
            let mut events = Vec::new();
            st.tracker.read(messages, ended, &mut events);
            st.ready.extend(events);
            if ended {
                if let Some(deployment) = st.last.take() {
                    st.ready.push_back(ConversationEvent::DeploymentEnded {
                        deployment: Box::new(deployment),
                    });
                }
                st.done = true;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;
    use crate::wait::fakes::{fake, Answer, ID};

    fn message(id: &str, text: &str) -> AgentConversationMessage {
        AgentConversationMessage {
            id: Some(id.to_owned()),
            role: Some(crate::Role::Assistant),
            parts: vec![crate::types::AgentConversationMessagePart {
                type_: Some(crate::PartKind::Text),
                text: Some(text.to_owned()),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_follower_yields_each_message_once_and_ends_after_the_deployment() {
        let (read_deployment, reads) = fake(&[
            (0.0, Answer::Status("Running")),
            (5.0, Answer::Http(503)),
            (6.0, Answer::Status("Running")),
            (20.0, Answer::Status("Completed")),
        ]);
        let start = Instant::now();
        // The conversation grows: one message at 0 s, two at 2 s, the second one still
        // being written until 8 s, three at 12 s.
        let read_conversation = move || {
            let at = start.elapsed().as_secs_f64();
            let mut messages = vec![message("m1", "Hello")];
            if at >= 2.0 {
                messages.push(message(
                    "m2",
                    if at >= 8.0 {
                        "Working on it, done."
                    } else {
                        "Working on"
                    },
                ));
            }
            if at >= 12.0 {
                messages.push(message("m3", "Backtest complete."));
            }
            std::future::ready(Ok(messages))
        };
        let stream = messages(follow(
            ID.to_owned(),
            read_deployment,
            read_conversation,
            DEFAULT_MAX_WAIT,
            Backoff::default(),
            || 1.0,
        ));
        let mut stream = std::pin::pin!(stream);
        let mut got = Vec::new();
        while let Some(item) = stream.next().await {
            let m = item.expect("no error");
            got.push((
                m.id.clone().unwrap(),
                m.parts[0].text.clone().unwrap(),
                start.elapsed().as_secs(),
            ));
        }
        let texts: Vec<_> = got
            .iter()
            .map(|(id, text, _)| (id.as_str(), text.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                ("m1", "Hello"),
                ("m2", "Working on it, done."),
                ("m3", "Backtest complete.")
            ],
            "each once, the one being written held back until it is settled"
        );
        // Reads at 0, 1, 3, 7 (503: no conversation read), 15, 25 (Completed: final).
        assert_eq!(*reads.borrow(), [0.0, 1.0, 3.0, 7.0, 15.0, 25.0]);
        assert_eq!(got.last().unwrap().2, 25);
    }

    #[tokio::test(start_paused = true)]
    async fn the_follower_ends_with_an_error_when_a_read_fails_for_good() {
        let (read_deployment, _) =
            fake(&[(0.0, Answer::Status("Running")), (2.0, Answer::Refused)]);
        let read_conversation =
            || std::future::ready(Ok(vec![message("m1", "a"), message("m2", "b")]));
        let stream = messages(follow(
            ID.to_owned(),
            read_deployment,
            read_conversation,
            DEFAULT_MAX_WAIT,
            Backoff::default(),
            || 1.0,
        ));
        let items: Vec<_> = stream.collect().await;
        assert_eq!(items.len(), 2, "m1, then the error");
        assert_eq!(items[0].as_ref().unwrap().id.as_deref(), Some("m1"));
        assert!(matches!(items[1], Err(WaitError::Request(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn the_follower_gives_up_at_its_max_wait() {
        let (read_deployment, _) = fake(&[(0.0, Answer::Status("Running"))]);
        let read_conversation = || std::future::ready(Ok(Vec::new()));
        let stream = messages(follow(
            ID.to_owned(),
            read_deployment,
            read_conversation,
            Duration::from_secs(30),
            Backoff::default(),
            || 1.0,
        ));
        let items: Vec<_> = stream.collect().await;
        assert_eq!(items.len(), 1);
        assert!(matches!(items[0], Err(WaitError::ExceededMaxWait { .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn the_follower_reports_each_status_once_before_that_rounds_conversation() {
        let (read_deployment, _) = fake(&[
            (0.0, Answer::Status("InQueue")),
            (1.0, Answer::Status("Running")),
            (7.0, Answer::Status("Completed")),
        ]);
        let read_conversation = || std::future::ready(Ok(vec![message("m1", "a")]));
        let events: Vec<_> = follow(
            ID.to_owned(),
            read_deployment,
            read_conversation,
            DEFAULT_MAX_WAIT,
            Backoff::default(),
            || 1.0,
        )
        .map(|e| e.expect("no error"))
        .collect()
        .await;
        let json: Vec<String> = events
            .iter()
            .map(|e| {
                let v = serde_json::to_value(e).unwrap();
                let status = v["deployment"]["status"].as_str().unwrap_or_default();
                format!("{} {status}", v["event"].as_str().unwrap())
                    .trim()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            json,
            [
                "status_changed InQueue",
                "message_started",
                "status_changed Running",
                "status_changed Completed",
                "part",
                "message_completed",
                "deployment_ended Completed",
            ],
            "reads at 0 and 1 s change the status, the one at 3 s does not"
        );
        let part = serde_json::to_value(&events[4]).unwrap();
        assert_eq!(part["messageId"], "m1");
        assert_eq!(part["index"], 0);
        assert_eq!(part["part"]["text"], "a");
    }
}
