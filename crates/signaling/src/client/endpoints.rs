//! Typed per-endpoint methods of [`GraphClient`](super::GraphClient) (reference §4).
