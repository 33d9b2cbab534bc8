//! boxoffice: a ticket reservation server with a built-in virtual waiting room.
//!
//! `domain` holds the rules; `store`, `queue` and `events` are the ports with their adapters;
//! `http` serves the API; `jobs` runs the background work; `app` wires it all together and is
//! what both `main` and the tests start.

pub mod domain;
pub mod events;
pub mod queue;
pub mod store;
