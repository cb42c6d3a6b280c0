//! Audio routing for mediabot (not built yet; see issue "Routing crate").
//!
//! This crate will hold the `audioRoutingGroup` model with Graph's validation rules, a sans-IO
//! reconciler that turns desired routes into the minimal Graph create/update/delete requests, and the
//! lock-free send-route table the audio thread reads. Until then it deliberately exports nothing.
