//! mediabot's control plane over the Microsoft Graph calling API.
