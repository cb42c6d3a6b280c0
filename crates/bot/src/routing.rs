//! Audio routes of one call: the routing crate's sans-IO reconciler, driven by a task that runs
//! its Graph requests with the `GraphClient`, feeds it the roster, and takes route changes from
//! the control API (`PUT/DELETE /control/calls/{id}/routes/{name}`, `GET …/routes`).

use std::sync::Arc;
use std::time::Instant;

use mediabot_routing::{
    BotRoute, Output, Reconciler, ReconcilerConfig, RequestKind, Route, RouteName, RoutePublisher,
    RouteReader, RouteStatus, RoutingReply, RoutingRequest, SendStreamId, StreamPool,
};
use mediabot_signaling::call::GraphFailure;
use mediabot_signaling::client::GraphClient;
use mediabot_signaling::models::{CallId, Participant, ParticipantId};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

/// A route as the control API takes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub(crate) enum RouteSpec {
    /// The bot speaks to one participant alone.
    Whisper {
        /// Participant id.
        to: String,
    },
    /// The bot speaks to several participants.
    Broadcast {
        /// Participant ids.
        to: Vec<String>,
    },
    /// A private room of these participants and the bot.
    Room {
        /// Participant ids (the bot is added).
        members: Vec<String>,
    },
}

/// A route and how far it is in place, for `GET …/routes`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RouteView {
    pub(crate) name: String,
    pub(crate) status: String,
    pub(crate) participants: Vec<String>,
}

pub(crate) enum RoutingCommand {
    Upsert(String, RouteSpec, oneshot::Sender<anyhow::Result<()>>),
    Remove(String, oneshot::Sender<bool>),
    List(oneshot::Sender<Vec<RouteView>>),
    Roster(Vec<Participant>),
}

fn to_route(bot: &ParticipantId, name: &str, spec: RouteSpec) -> anyhow::Result<Route> {
    let name = RouteName::new(name)?;
    let id = |s: String| ParticipantId::new(s);
    Ok(match spec {
        RouteSpec::Whisper { to } => Route::whisper(name, bot.clone(), id(to))?,
        RouteSpec::Broadcast { to } => {
            Route::broadcast(name, bot.clone(), to.into_iter().map(id).collect())?
        }
        RouteSpec::Room { members } => {
            let mut members: Vec<ParticipantId> = members.into_iter().map(id).collect();
            if !members.contains(bot) {
                members.push(bot.clone());
            }
            Route::private_room(name, members)?
        }
    })
}

async fn execute(
    client: &GraphClient,
    call: &CallId,
    request: &RoutingRequest,
) -> Result<RoutingReply, GraphFailure> {
    Ok(match &request.kind {
        RequestKind::List => client.list_audio_routing_groups(call).await?.into(),
        RequestKind::Get { id } => client.get_audio_routing_group(call, id).await?.into(),
        RequestKind::Create { group } => {
            client.create_audio_routing_group(call, group).await?.into()
        }
        RequestKind::Update { id, group } => client
            .update_audio_routing_group(call, id, group)
            .await?
            .into(),
        RequestKind::Delete { id } => client.delete_audio_routing_group(call, id).await?.into(),
        other => {
            return Err(GraphFailure::Unreachable {
                reason: format!("cannot send {}", other.name()),
            });
        }
    })
}

/// The send thread's view of the routes: with no bot route the bot speaks into the default mix
/// on its own SSRC; with one, its audio goes out only while that route's group is in place at
/// Graph (so a whisper never leaks into the mix while Graph is still setting it up).
pub(crate) struct RouteGate {
    reader: RouteReader,
    default_ssrc: u32,
}

impl RouteGate {
    pub(crate) fn new(reader: RouteReader, default_ssrc: u32) -> RouteGate {
        RouteGate {
            reader,
            default_ssrc,
        }
    }
}

impl mediabot_media::send::SendGate for RouteGate {
    fn live_ssrc(&mut self) -> Option<u32> {
        self.reader.refresh();
        let table = self.reader.table();
        if table.is_empty() {
            Some(self.default_ssrc)
        } else {
            table.live_ssrc(SendStreamId(0))
        }
    }
}

/// Starts the routing task of `call`, whose bot participant is `bot`; it publishes the bot's
/// routes to the send thread through `publisher` (stream 0 sends on `bot_ssrc`).
pub(crate) fn spawn(
    client: Arc<GraphClient>,
    call: CallId,
    bot: ParticipantId,
    mut publisher: RoutePublisher,
    bot_ssrc: u32,
) -> anyhow::Result<mpsc::Sender<RoutingCommand>> {
    let mut reconciler = Reconciler::new(ReconcilerConfig::new(bot.clone()))?;
    let mut pool = StreamPool::new(&[bot_ssrc])?;
    let mut published: Vec<BotRoute> = Vec::new();
    let (tx, mut commands) = mpsc::channel::<RoutingCommand>(32);
    let (result_tx, mut results) = mpsc::channel(32);
    tokio::spawn(async move {
        loop {
            let mut deadline = None;
            while let Some(output) = reconciler.poll_output() {
                match output {
                    Output::Request(request) => {
                        let client = client.clone();
                        let call = call.clone();
                        let result_tx = result_tx.clone();
                        tokio::spawn(async move {
                            let result = execute(&client, &call, &request).await;
                            let _ = result_tx.send((request.id, result)).await;
                        });
                    }
                    Output::Event(event) => tracing::debug!(?event, "routing"),
                    Output::Timeout(at) => {
                        deadline = Some(at);
                        break;
                    }
                }
            }
            let bot_routes = reconciler.bot_routes();
            if bot_routes != published {
                let built = pool.table(&bot_routes);
                if !built.unassigned.is_empty() {
                    tracing::warn!(routes = ?built.unassigned, "the bot has one outgoing stream; extra bot routes stay silent");
                }
                // A table the audio thread cannot take yet stays pending and goes out with the
                // next publish or flush (only the newest routing matters).
                let _ = publisher.publish(built.table);
                published = bot_routes;
            } else if publisher.has_pending() {
                publisher.flush();
            }
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                command = commands.recv() => {
                    let Some(command) = command else { return };
                    let now = Instant::now();
                    match command {
                        RoutingCommand::Upsert(name, spec, reply) => {
                            let result = to_route(&bot, &name, spec)
                                .and_then(|route| Ok(reconciler.upsert_route(now, route)?));
                            let _ = reply.send(result);
                        }
                        RoutingCommand::Remove(name, reply) => {
                            let removed = RouteName::new(name)
                                .map(|n| reconciler.remove_route(now, &n))
                                .unwrap_or(false);
                            let _ = reply.send(removed);
                        }
                        RoutingCommand::List(reply) => {
                            let views = reconciler
                                .routes()
                                .iter()
                                .map(|r| RouteView {
                                    name: r.name().as_str().to_string(),
                                    status: reconciler
                                        .route_status(r.name())
                                        .map_or("unknown".into(), status_name),
                                    participants: r
                                        .participants()
                                        .into_iter()
                                        .map(|p| p.as_str().to_string())
                                        .collect(),
                                })
                                .collect();
                            let _ = reply.send(views);
                        }
                        RoutingCommand::Roster(participants) => {
                            reconciler.handle_roster(now, &participants);
                        }
                    }
                }
                Some((id, result)) = results.recv() => {
                    reconciler.handle_response(Instant::now(), id, result);
                }
                () = sleep => reconciler.handle_timeout(Instant::now()),
            }
        }
    });
    Ok(tx)
}

fn status_name(status: RouteStatus) -> String {
    format!("{status:?}").to_lowercase()
}
