//! boxoffice: a ticket reservation server with a built-in virtual waiting room.
//!
//! `domain` holds the rules; `store`, `queue` and `events` are the ports with their adapters;
//! `http` serves the API; `jobs` runs the background work; `app` wires it all together and is
//! what both `main` and the tests start.

pub mod app;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod events;
pub mod http;
pub mod identity;
pub mod jobs;
pub mod memory;
pub mod metrics;
pub mod redact;
pub mod store;
pub mod waiting_room;

/// The OpenAPI spec of the whole API, as served at `/openapi.json`.
pub fn openapi_spec() -> String {
    http::spec_json()
}
