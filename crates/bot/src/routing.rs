//! Audio routes: the control API's routes as the routing crate's [`Route`]s, the Graph requests
//! of the reconciler (which lives inside the orchestrator) run with the `GraphClient`, and the
//! send thread's gate that reads the published route table.

use mediabot_routing::{
    Reconciler, RequestKind, Route, RouteName, RouteReader, RouteStatus, RoutingReply,
    RoutingRequest, SendStreamId,
};
use mediabot_signaling::call::GraphFailure;
use mediabot_signaling::client::GraphClient;
use mediabot_signaling::models::{CallId, ParticipantId};

use crate::control::{RouteSpec, RouteView};

/// A control-API route as the routing crate's [`Route`] (a room always includes the bot).
pub(crate) fn to_route(bot: &ParticipantId, name: &str, spec: RouteSpec) -> anyhow::Result<Route> {
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

pub(crate) async fn execute(
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

/// The routes of a call as the control API shows them.
pub(crate) fn views(reconciler: &Reconciler) -> Vec<RouteView> {
    reconciler
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
        .collect()
}

fn status_name(status: RouteStatus) -> String {
    format!("{status:?}").to_lowercase()
}
