//! The thin async driver around the sans-IO [`Endpoint`]: it executes the endpoint's Graph
//! requests with the [`GraphClient`], feeds webhook deliveries and timer expiries in, and hands
//! the endpoint's events to the application.
//!
//! One tokio task owns the endpoint (no lock around protocol state). Requests run concurrently
//! as their own tasks and report back over a channel, so a slow Graph call never delays a
//! notification. The application talks to the task through a [`DriverHandle`]: join a meeting,
//! answer, reject, hang up, perform an action, or read a call's roster.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::call::{
    CallAction, GraphAction, GraphFailure, GraphReply, GraphRequest, ReplyBody, RequestId,
};
use crate::client::GraphClient;
use crate::endpoint::{Endpoint, EndpointError, EndpointEvent, Output};
use crate::models::{
    AnswerRequest, Call as GraphCall, CallId, CommsNotifications, Msi, ParticipantId, RejectReason,
};
use crate::webhook::CallbackDelivery;

/// Runs one Graph request: the single `match` from [`GraphAction`] to the client method.
pub async fn execute(
    client: &GraphClient,
    request: &GraphRequest,
) -> Result<GraphReply, GraphFailure> {
    match (&request.action, request.call_id.as_ref()) {
        (GraphAction::CreateCall(call), _) => {
            let r = client.create_call(call).await?;
            Ok(GraphReply {
                status: r.status.as_u16(),
                location: r.location.as_ref().map(|u| u.to_string()),
                body: ReplyBody::Call(Box::new(r.body)),
            })
        }
        (action, Some(call)) => execute_on_call(client, call, action).await,
        (action, None) => Err(GraphFailure::Unreachable {
            reason: format!("{} request without a call id", action.name()),
        }),
    }
}

fn operation_reply(
    r: crate::client::GraphResponse<Option<crate::models::CommsOperation>>,
) -> GraphReply {
    GraphReply {
        status: r.status.as_u16(),
        location: r.location.as_ref().map(|u| u.to_string()),
        body: match r.body {
            Some(op) => ReplyBody::Operation(Box::new(op)),
            None => ReplyBody::Empty,
        },
    }
}

async fn execute_on_call(
    client: &GraphClient,
    call: &CallId,
    action: &GraphAction,
) -> Result<GraphReply, GraphFailure> {
    let empty = GraphReply::from;
    let operation = operation_reply;
    Ok(match action {
        GraphAction::CreateCall(_) => {
            return Err(GraphFailure::Unreachable {
                reason: "create-call does not address an existing call".into(),
            });
        }
        GraphAction::Answer(body) => empty(client.answer(call, body).await?),
        GraphAction::Reject(body) => empty(client.reject(call, body).await?),
        GraphAction::KeepAlive => empty(client.keep_alive(call).await?),
        GraphAction::HangUp => empty(client.delete_call(call).await?),
        GraphAction::GetCall => {
            let r = client.get_call(call).await?;
            GraphReply {
                status: r.status.as_u16(),
                location: None,
                body: ReplyBody::Call(Box::new(r.body)),
            }
        }
        GraphAction::ListParticipants => {
            GraphReply::participants(client.list_participants(call).await?.body.value)
        }
        GraphAction::GetOperation(op) => {
            GraphReply::operation(client.get_operation(call, op).await?.body)
        }
        GraphAction::Perform(action) => match action {
            CallAction::Redirect(b) => empty(client.redirect(call, b).await?),
            CallAction::Transfer(b) => empty(client.transfer(call, b).await?),
            CallAction::InviteParticipants(b) => {
                operation(client.invite_participants(call, b).await?)
            }
            CallAction::RemoveParticipant(p) => empty(client.delete_participant(call, p).await?),
            CallAction::MuteSelf(b) => operation(client.mute_self(call, b).await?),
            CallAction::UnmuteSelf(b) => operation(client.unmute_self(call, b).await?),
            CallAction::MuteParticipant { participant, body } => {
                operation(client.mute_participant(call, participant, body).await?)
            }
            CallAction::StartHoldMusic { participant, body } => {
                operation(client.start_hold_music(call, participant, body).await?)
            }
            CallAction::StopHoldMusic { participant, body } => {
                operation(client.stop_hold_music(call, participant, body).await?)
            }
            CallAction::ConfigureMixer(b) => operation(client.configure_mixer(call, b).await?),
            CallAction::UpdateRecordingStatus(b) => {
                operation(client.update_recording_status(call, b).await?)
            }
            CallAction::ChangeScreenSharingRole(b) => {
                empty(client.change_screen_sharing_role(call, b).await?)
            }
            CallAction::AddLargeGalleryView(b) => {
                operation(client.add_large_gallery_view(call, b).await?)
            }
            CallAction::PlayPrompt(b) => operation(client.play_prompt(call, b).await?),
            CallAction::RecordResponse(b) => operation(client.record_response(call, b).await?),
            CallAction::SubscribeToTone(b) => operation(client.subscribe_to_tone(call, b).await?),
            CallAction::CancelMediaProcessing(b) => {
                operation(client.cancel_media_processing(call, b).await?)
            }
        },
    })
}

/// What the application can ask of the driver task.
enum Command {
    CreateCall(Box<GraphCall>, oneshot::Sender<RequestId>),
    Answer(
        CallId,
        Box<AnswerRequest>,
        oneshot::Sender<Result<RequestId, EndpointError>>,
    ),
    Reject(
        CallId,
        RejectReason,
        oneshot::Sender<Result<RequestId, EndpointError>>,
    ),
    HangUp(CallId, oneshot::Sender<Result<RequestId, EndpointError>>),
    Perform(
        CallId,
        Box<CallAction>,
        oneshot::Sender<Result<RequestId, EndpointError>>,
    ),
    ParticipantForMsi(CallId, Msi, oneshot::Sender<Option<ParticipantId>>),
    Roster(
        CallId,
        oneshot::Sender<Option<Vec<crate::models::Participant>>>,
    ),
    Calls(oneshot::Sender<Vec<CallId>>),
    MyParticipantId(CallId, oneshot::Sender<Option<ParticipantId>>),
}

/// The application's side of a running driver. Cheap to clone.
#[derive(Clone)]
pub struct DriverHandle {
    commands: mpsc::Sender<Command>,
}

/// Why a driver command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The driver task has stopped.
    #[error("the signaling driver has stopped")]
    Stopped,
    /// The endpoint refused the action.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
}

impl DriverHandle {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, DriverError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// Creates a call (join a meeting, start a group call). The call appears as
    /// [`EndpointEvent::CallCreated`] once Graph answered.
    pub async fn create_call(&self, call: GraphCall) -> Result<RequestId, DriverError> {
        self.ask(|tx| Command::CreateCall(Box::new(call), tx)).await
    }

    /// Answers an incoming call.
    pub async fn answer(
        &self,
        call: CallId,
        answer: AnswerRequest,
    ) -> Result<RequestId, DriverError> {
        Ok(self
            .ask(|tx| Command::Answer(call, Box::new(answer), tx))
            .await??)
    }

    /// Rejects an incoming call.
    pub async fn reject(
        &self,
        call: CallId,
        reason: RejectReason,
    ) -> Result<RequestId, DriverError> {
        Ok(self.ask(|tx| Command::Reject(call, reason, tx)).await??)
    }

    /// Hangs up.
    pub async fn hang_up(&self, call: CallId) -> Result<RequestId, DriverError> {
        Ok(self.ask(|tx| Command::HangUp(call, tx)).await??)
    }

    /// Performs a call action (mute, invite, hold music …).
    pub async fn perform(
        &self,
        call: CallId,
        action: CallAction,
    ) -> Result<RequestId, DriverError> {
        Ok(self
            .ask(|tx| Command::Perform(call, Box::new(action), tx))
            .await??)
    }

    /// The participant whose audio carries `msi` in `call`, from the latest roster.
    pub async fn participant_for_msi(
        &self,
        call: CallId,
        msi: Msi,
    ) -> Result<Option<ParticipantId>, DriverError> {
        self.ask(|tx| Command::ParticipantForMsi(call, msi, tx))
            .await
    }

    /// The call's current roster (`None` if the call is unknown).
    pub async fn roster(
        &self,
        call: CallId,
    ) -> Result<Option<Vec<crate::models::Participant>>, DriverError> {
        self.ask(|tx| Command::Roster(call, tx)).await
    }

    /// The live calls.
    pub async fn calls(&self) -> Result<Vec<CallId>, DriverError> {
        self.ask(Command::Calls).await
    }

    /// The bot's own participant id in `call` (`myParticipantId`), once Graph told it.
    pub async fn my_participant_id(
        &self,
        call: CallId,
    ) -> Result<Option<ParticipantId>, DriverError> {
        self.ask(|tx| Command::MyParticipantId(call, tx)).await
    }
}

/// Starts the driver task on the current tokio runtime. Deliveries from the webhook come in on
/// `deliveries`; endpoint events go out on the returned receiver (bounded; the driver waits for
/// the application rather than drop an event).
pub fn spawn(
    endpoint: Endpoint,
    client: Arc<GraphClient>,
    mut deliveries: mpsc::Receiver<CallbackDelivery<CommsNotifications>>,
) -> (
    DriverHandle,
    mpsc::Receiver<EndpointEvent>,
    tokio::task::JoinHandle<()>,
) {
    let (command_tx, mut commands) = mpsc::channel::<Command>(64);
    let (event_tx, events) = mpsc::channel::<EndpointEvent>(1_024);
    let (result_tx, mut results) =
        mpsc::channel::<(RequestId, Result<GraphReply, GraphFailure>)>(256);
    let task = tokio::spawn(async move {
        let mut endpoint = endpoint;
        let mut deliveries_open = true;
        loop {
            // Drain everything the endpoint wants done, up to its next deadline (str0m style:
            // the deadline is the last output of a drain).
            let mut next_timeout = None;
            while let Some(output) = endpoint.poll_output() {
                match output {
                    Output::Request(request) => {
                        let client = client.clone();
                        let result_tx = result_tx.clone();
                        tokio::spawn(async move {
                            let result = execute(&client, &request).await;
                            let _ = result_tx.send((request.id, result)).await;
                        });
                    }
                    Output::Event(event) => {
                        if event_tx.send(event).await.is_err() {
                            return;
                        }
                    }
                    Output::Timeout(at) => {
                        next_timeout = Some(at);
                        break;
                    }
                }
            }
            let deadline = next_timeout
                .or_else(|| endpoint.poll_timeout())
                .map(tokio::time::Instant::from_std);
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                delivery = deliveries.recv(), if deliveries_open => match delivery {
                    Some(d) => endpoint.handle_notifications(Instant::now(), d.notifications),
                    None => deliveries_open = false,
                },
                Some((id, result)) = results.recv() => {
                    endpoint.handle_response(Instant::now(), id, result);
                }
                command = commands.recv() => match command {
                    Some(command) => apply(&mut endpoint, command),
                    None => return,
                },
                () = sleep => endpoint.handle_timeout(Instant::now()),
            }
        }
    });
    (
        DriverHandle {
            commands: command_tx,
        },
        events,
        task,
    )
}

fn apply(endpoint: &mut Endpoint, command: Command) {
    let now = Instant::now();
    match command {
        Command::CreateCall(call, tx) => {
            let _ = tx.send(endpoint.create_call(now, *call));
        }
        Command::Answer(id, answer, tx) => {
            let _ = tx.send(endpoint.with_call(&id, |c| c.answer(now, *answer)));
        }
        Command::Reject(id, reason, tx) => {
            let _ = tx.send(endpoint.with_call(&id, |c| c.reject(now, reason)));
        }
        Command::HangUp(id, tx) => {
            let _ = tx.send(endpoint.with_call(&id, |c| c.hang_up(now)));
        }
        Command::Perform(id, action, tx) => {
            let _ = tx.send(endpoint.with_call(&id, |c| c.perform(now, *action)));
        }
        Command::ParticipantForMsi(id, msi, tx) => {
            let _ = tx.send(
                endpoint
                    .call(&id)
                    .and_then(|c| c.participant_for_msi(msi).cloned()),
            );
        }
        Command::Roster(id, tx) => {
            let _ = tx.send(
                endpoint
                    .call(&id)
                    .map(|c| c.roster().participants().cloned().collect()),
            );
        }
        Command::Calls(tx) => {
            let _ = tx.send(endpoint.call_ids().cloned().collect());
        }
        Command::MyParticipantId(id, tx) => {
            let _ = tx.send(
                endpoint
                    .call(&id)
                    .and_then(|c| c.my_participant_id().cloned()),
            );
        }
    }
}
