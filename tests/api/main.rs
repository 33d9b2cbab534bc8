//! The API tested from the outside: every test starts the real app on 127.0.0.1 port 0 with
//! a temporary database and drives it over HTTP.

mod helpers;

mod access_codes;
mod accounts;
mod admin;
mod admin_lists;
mod backups;
mod buyer_identity;
mod cancel;
mod checkins;
mod cors;
mod errors;
mod events;
mod expiry;
mod flow;
mod group_holds;
mod idempotency;
mod idle_sessions;
mod jwt;
mod ops;
mod pages;
mod poll_pace;
mod prequeue;
mod purchase_limits;
mod races;
mod refunds;
mod reports;
mod request_ids;
mod sales_windows;
mod seat_layouts;
mod seat_maps;
mod settings;
mod sold_out;
mod tickets;
mod validation;
mod waiting_room;
mod web_sessions;
