//! Typed per-endpoint methods of [`GraphClient`] (reference §4).
//!
//! One method per documented calling endpoint. Paths are built under the client's calls
//! collection, so the same method serves `v1.0` and `beta`, `/communications/calls` and the
//! legacy `/app/calls` (chosen in [`GraphClientConfig`](super::GraphClientConfig)).
//!
//! Return types follow the documented responses: actions that answer `202 Accepted` without a
//! body return `GraphResponse<()>`; actions that return an operation return
//! `GraphResponse<Option<CommsOperation>>` (the body may be empty, in which case the operation's
//! URL is in [`GraphResponse::location`] and its outcome arrives as a notification); lists return
//! one [`ODataCollection`] page (`next_link` is not followed).
//!
//! Naming: `get_*` here names the HTTP `GET` of a Graph resource (Graph's own "Get call",
//! "Get participant"), a network operation rather than an accessor, so the house rule against
//! `get_` prefixes does not apply.

use http::Method;
use url::Url;

use super::{GraphClient, GraphError, GraphResponse};
use crate::models::{
    AddLargeGalleryViewRequest, AnswerRequest, AudioRoutingGroup, AudioRoutingGroupId, Call,
    CallId, CancelMediaProcessingRequest, ChangeScreenSharingRoleRequest, CommsOperation,
    ConfigureMixerRequest, ContentSharingSession, ContentSharingSessionId,
    InviteParticipantsRequest, MuteAllRequest, MuteParticipantRequest, MuteRequest,
    ODataCollection, OperationId, Participant, ParticipantId, PlayPromptRequest,
    RecordResponseRequest, RedirectRequest, RejectRequest, StartHoldMusicRequest,
    StopHoldMusicRequest, SubscribeToToneRequest, TransferRequest, UnmuteRequest,
    UpdateRecordingStatusRequest,
};

/// A body type for requests without one.
const NO_BODY: Option<&()> = None;

impl GraphClient {
    fn call_url(&self, call: &CallId, rest: &[&str]) -> Url {
        let mut segments = Vec::with_capacity(rest.len() + 1);
        segments.push(call.as_str());
        segments.extend_from_slice(rest);
        self.call_path_url(&segments)
    }

    async fn post_operation<B: serde::Serialize + ?Sized>(
        &self,
        url: Url,
        body: &B,
    ) -> Result<GraphResponse<Option<CommsOperation>>, GraphError> {
        self.send_json(Method::POST, &url, Some(body)).await
    }

    async fn post_empty<B: serde::Serialize + ?Sized>(
        &self,
        url: Url,
        body: &B,
    ) -> Result<GraphResponse<()>, GraphError> {
        self.send_no_content(Method::POST, &url, Some(body)).await
    }

    // ---- calls -------------------------------------------------------------------------------

    /// `POST /calls`: creates an outgoing call or joins a meeting. `201 Created` with the new call
    /// (state `establishing`) and its URL in `Location`.
    pub async fn create_call(&self, call: &Call) -> Result<GraphResponse<Call>, GraphError> {
        let url = self.calls_url().clone();
        self.send_json(Method::POST, &url, Some(call)).await
    }

    /// `GET /calls/{id}`.
    pub async fn get_call(&self, call: &CallId) -> Result<GraphResponse<Call>, GraphError> {
        self.send_json(Method::GET, &self.call_url(call, &[]), NO_BODY)
            .await
    }

    /// `DELETE /calls/{id}`: hangs up the bot's leg (`204 No Content`).
    pub async fn delete_call(&self, call: &CallId) -> Result<GraphResponse<()>, GraphError> {
        self.send_no_content(Method::DELETE, &self.call_url(call, &[]), NO_BODY)
            .await
    }

    /// `POST /calls/{id}/answer` (`202 Accepted`); must happen within 15 s of the incoming call.
    pub async fn answer(
        &self,
        call: &CallId,
        body: &AnswerRequest,
    ) -> Result<GraphResponse<()>, GraphError> {
        self.post_empty(self.call_url(call, &["answer"]), body)
            .await
    }

    /// `POST /calls/{id}/reject` (`202 Accepted`).
    pub async fn reject(
        &self,
        call: &CallId,
        body: &RejectRequest,
    ) -> Result<GraphResponse<()>, GraphError> {
        self.post_empty(self.call_url(call, &["reject"]), body)
            .await
    }

    /// `POST /calls/{id}/redirect` (`202 Accepted`).
    pub async fn redirect(
        &self,
        call: &CallId,
        body: &RedirectRequest,
    ) -> Result<GraphResponse<()>, GraphError> {
        self.post_empty(self.call_url(call, &["redirect"]), body)
            .await
    }

    /// `POST /calls/{id}/transfer` (`202 Accepted`).
    pub async fn transfer(
        &self,
        call: &CallId,
        body: &TransferRequest,
    ) -> Result<GraphResponse<()>, GraphError> {
        self.post_empty(self.call_url(call, &["transfer"]), body)
            .await
    }

    /// `POST /calls/{id}/keepAlive` without a body (`200 OK`; `404` once the call has ended).
    pub async fn keep_alive(&self, call: &CallId) -> Result<GraphResponse<()>, GraphError> {
        let url = self.call_url(call, &["keepAlive"]);
        self.send_no_content(Method::POST, &url, NO_BODY).await
    }

    /// `POST /calls/{id}/mute`: server-mutes the bot's own leg → `muteParticipantOperation`.
    pub async fn mute_self(
        &self,
        call: &CallId,
        body: &MuteRequest,
    ) -> Result<GraphResponse<Option<CommsOperation>>, GraphError> {
        self.post_operation(self.call_url(call, &["mute"]), body)
            .await
    }

    /// `POST /calls/{id}/unmute` → `unmuteParticipantOperation`.
    pub async fn unmute_self(
        &self,
        call: &CallId,
        body: &UnmuteRequest,
    ) -> Result<GraphResponse<Option<CommsOperation>>, GraphError> {
        self.post_operation(self.call_url(call, &["unmute"]), body)
            .await
    }

    /// `POST /calls/{id}/changeScreenSharingRole` (`202 Accepted`; app-hosted media only).
    pub async fn change_screen_sharing_role(
        &self,
        call: &CallId,
        body: &ChangeScreenSharingRoleRequest,
    ) -> Result<GraphResponse<()>, GraphError> {
        self.post_empty(self.call_url(call, &["changeScreenSharingRole"]), body)
            .await
    }

    /// `POST /calls/{id}/updateRecordingStatus` → `updateRecordingStatusOperation`. Must succeed
    /// before any media is persisted.
    pub async fn update_recording_status(
        &self,
        call: &CallId,
        body: &UpdateRecordingStatusRequest,
    ) -> Result<GraphResponse<Option<CommsOperation>>, GraphError> {
        self.post_operation(self.call_url(call, &["updateRecordingStatus"]), body)
            .await
    }

    /// `POST /calls/{id}/addLargeGalleryView` → `addLargeGalleryViewOperation`.
    pub async fn add_large_gallery_view(
        &self,
        call: &CallId,
        body: &AddLargeGalleryViewRequest,
    ) -> Result<GraphResponse<Option<CommsOperation>>, GraphError> {
        self.post_operation(self.call_url(call, &["addLargeGalleryView"]), body)
            .await
    }

    /// `POST /calls/{id}/subscribeToTone` (service-hosted media only) → `subscribeToToneOperation`.
    pub async fn subscribe_to_tone(
        &self,
        call: &CallId,
        body: &SubscribeToToneRequest,
    ) -> Result<GraphResponse<Option<CommsOperation>>, GraphError> {
        self.post_operation(self.call_url(call, &["subscribeToTone"]), body)
            .await
    }

    /// `POST /calls/{id}/playPrompt` (service-hosted media only) → `playPromptOperation`.
    pub async fn play_prompt(
        &self,
        call: &CallId,
        body: &PlayPromptRequest,
    ) -> Result<GraphResponse<Option<CommsOperation>>, GraphError> {
        self.post_operation(self.call_url(call, &["playPrompt"]), body)
            .await
    }

    /// `POST /calls/{id}/recordResponse` (service-hosted media only) → `recordOperation`.
    pub async fn record_response(
        &self,
        call: &CallId,
        body: &RecordResponseRequest,
    ) -> Result<GraphResponse<Option<CommsOperation>>, GraphError> {
        self.post_operation(self.call_url(call, &["recordResponse"]), body)
            .await
    }

    /// `POST /calls/{id}/cancelMediaProcessing` → `cancelMediaProcessingOperation`.
    pub async fn cancel_media_processing(
        &self,
        call: &CallId,
        body: &CancelMediaProcessingRequest,
    ) -> Result<GraphResponse<Option<CommsOperation>>, GraphError> {
        self.post_operation(self.call_url(call, &["cancelMediaProcessing"]), body)
            .await
    }

    // ---- participants ------------------------------------------------------------------------

    /// `GET /calls/{id}/participants` (one page).
    pub async fn list_participants(
        &self,
        call: &CallId,
    ) -> Result<GraphResponse<ODataCollection<Participant>>, GraphError> {
        let url = self.call_url(call, &["participants"]);
        self.send_json(Method::GET, &url, NO_BODY).await
    }

    /// `GET /calls/{id}/participants/{id}`.
    pub async fn get_participant(
        &self,
        call: &CallId,
        participant: &ParticipantId,
    ) -> Result<GraphResponse<Participant>, GraphError> {
        let url = self.call_url(call, &["participants", participant.as_str()]);
        self.send_json(Method::GET, &url, NO_BODY).await
    }

    /// `POST /calls/{id}/participants/invite` → `inviteParticipantsOperation` (group calls).
    pub async fn invite_participants(
        &self,
        call: &CallId,
        body: &InviteParticipantsRequest,
    ) -> Result<GraphResponse<Option<CommsOperation>>, GraphError> {
        self.post_operation(self.call_url(call, &["participants", "invite"]), body)
            .await
    }

    /// `DELETE /calls/{id}/participants/{id}` (`204 No Content`): removes a participant, or
    /// cancels an invitation not yet accepted.
    pub async fn delete_participant(
        &self,
        call: &CallId,
        participant: &ParticipantId,
    ) -> Result<GraphResponse<()>, GraphError> {
        let url = self.call_url(call, &["participants", participant.as_str()]);
        self.send_no_content(Method::DELETE, &url, NO_BODY).await
    }

    /// `POST /calls/{id}/participants/{id}/mute` → `muteParticipantOperation` (server mute).
    pub async fn mute_participant(
        &self,
        call: &CallId,
        participant: &ParticipantId,
        body: &MuteParticipantRequest,
    ) -> Result<GraphResponse<Option<CommsOperation>>, GraphError> {
        let url = self.call_url(call, &["participants", participant.as_str(), "mute"]);
        self.post_operation(url, body).await
    }

    /// `POST /calls/{id}/participants/muteAll` (beta, deprecated) → `commsOperation`.
    pub async fn mute_all(
        &self,
        call: &CallId,
        body: &MuteAllRequest,
    ) -> Result<GraphResponse<Option<CommsOperation>>, GraphError> {
        self.post_operation(self.call_url(call, &["participants", "muteAll"]), body)
            .await
    }

    /// `POST /calls/{id}/participants/configureMixer` (beta) → `commsOperation`.
    pub async fn configure_mixer(
        &self,
        call: &CallId,
        body: &ConfigureMixerRequest,
    ) -> Result<GraphResponse<Option<CommsOperation>>, GraphError> {
        let url = self.call_url(call, &["participants", "configureMixer"]);
        self.post_operation(url, body).await
    }

    /// `POST /calls/{id}/participants/{id}/startHoldMusic` → `startHoldMusicOperation`.
    pub async fn start_hold_music(
        &self,
        call: &CallId,
        participant: &ParticipantId,
        body: &StartHoldMusicRequest,
    ) -> Result<GraphResponse<Option<CommsOperation>>, GraphError> {
        let url = self.call_url(
            call,
            &["participants", participant.as_str(), "startHoldMusic"],
        );
        self.post_operation(url, body).await
    }

    /// `POST /calls/{id}/participants/{id}/stopHoldMusic` → `stopHoldMusicOperation`.
    pub async fn stop_hold_music(
        &self,
        call: &CallId,
        participant: &ParticipantId,
        body: &StopHoldMusicRequest,
    ) -> Result<GraphResponse<Option<CommsOperation>>, GraphError> {
        let url = self.call_url(
            call,
            &["participants", participant.as_str(), "stopHoldMusic"],
        );
        self.post_operation(url, body).await
    }

    // ---- audio routing groups ----------------------------------------------------------------

    /// `GET /calls/{id}/audioRoutingGroups` (one page).
    pub async fn list_audio_routing_groups(
        &self,
        call: &CallId,
    ) -> Result<GraphResponse<ODataCollection<AudioRoutingGroup>>, GraphError> {
        let url = self.call_url(call, &["audioRoutingGroups"]);
        self.send_json(Method::GET, &url, NO_BODY).await
    }

    /// `GET /calls/{id}/audioRoutingGroups/{id}`.
    pub async fn get_audio_routing_group(
        &self,
        call: &CallId,
        group: &AudioRoutingGroupId,
    ) -> Result<GraphResponse<AudioRoutingGroup>, GraphError> {
        let url = self.call_url(call, &["audioRoutingGroups", group.as_str()]);
        self.send_json(Method::GET, &url, NO_BODY).await
    }

    /// `POST /calls/{id}/audioRoutingGroups` (the client chooses `id`) → the created group.
    pub async fn create_audio_routing_group(
        &self,
        call: &CallId,
        group: &AudioRoutingGroup,
    ) -> Result<GraphResponse<AudioRoutingGroup>, GraphError> {
        let url = self.call_url(call, &["audioRoutingGroups"]);
        self.send_json(Method::POST, &url, Some(group)).await
    }

    /// `PATCH /calls/{id}/audioRoutingGroups/{id}` → the updated group.
    pub async fn update_audio_routing_group(
        &self,
        call: &CallId,
        id: &AudioRoutingGroupId,
        group: &AudioRoutingGroup,
    ) -> Result<GraphResponse<AudioRoutingGroup>, GraphError> {
        let url = self.call_url(call, &["audioRoutingGroups", id.as_str()]);
        self.send_json(Method::PATCH, &url, Some(group)).await
    }

    /// `DELETE /calls/{id}/audioRoutingGroups/{id}` (`204 No Content`).
    pub async fn delete_audio_routing_group(
        &self,
        call: &CallId,
        group: &AudioRoutingGroupId,
    ) -> Result<GraphResponse<()>, GraphError> {
        let url = self.call_url(call, &["audioRoutingGroups", group.as_str()]);
        self.send_no_content(Method::DELETE, &url, NO_BODY).await
    }

    // ---- content sharing sessions and operations ---------------------------------------------

    /// `GET /calls/{id}/contentSharingSessions` (one page).
    pub async fn list_content_sharing_sessions(
        &self,
        call: &CallId,
    ) -> Result<GraphResponse<ODataCollection<ContentSharingSession>>, GraphError> {
        let url = self.call_url(call, &["contentSharingSessions"]);
        self.send_json(Method::GET, &url, NO_BODY).await
    }

    /// `GET /calls/{id}/contentSharingSessions/{id}`.
    pub async fn get_content_sharing_session(
        &self,
        call: &CallId,
        session: &ContentSharingSessionId,
    ) -> Result<GraphResponse<ContentSharingSession>, GraphError> {
        let url = self.call_url(call, &["contentSharingSessions", session.as_str()]);
        self.send_json(Method::GET, &url, NO_BODY).await
    }

    /// `GET /calls/{id}/operations/{id}`.
    pub async fn get_operation(
        &self,
        call: &CallId,
        operation: &OperationId,
    ) -> Result<GraphResponse<CommsOperation>, GraphError> {
        let url = self.call_url(call, &["operations", operation.as_str()]);
        self.send_json(Method::GET, &url, NO_BODY).await
    }

    /// `GET {location}`: follows a `Location` header (e.g. an operation URL). The URL must be on
    /// the configured Graph origin ([`GraphError::ForeignUrl`] otherwise).
    pub async fn get_operation_at(
        &self,
        location: &Url,
    ) -> Result<GraphResponse<CommsOperation>, GraphError> {
        self.send_json(Method::GET, location, NO_BODY).await
    }
}
