//! mediabot's control plane over the Microsoft Graph calling API.

pub mod auth;
pub mod call;
pub mod client;
pub mod driver;
pub mod endpoint;
pub mod join_url;
pub mod models;
pub mod webhook;
