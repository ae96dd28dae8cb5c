//! One integration test binary: every test talks HTTP to the real app on a real
//! CouchDB-protocol server.

mod accounts;
mod auth;
mod helpers;
mod pipeline;
