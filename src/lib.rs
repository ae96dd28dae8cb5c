//! A KAZOO crossbar-compatible call recording API service.
//!
//! Layers, top down:
//! - [`api`]: the route table, the request pipeline (crossbar's order of checks), the
//!   envelope and the one error type; one module per crossbar resource.
//! - [`schema`]: validation against our schemas (KAZOO's contract), KAZOO-shaped errors.
//! - [`auth`]: tokens, credential hashes, login throttling.
//! - [`couch`]: the one CouchDB layer (names, documents, views, `pvt_*` stamping).
//! - [`domain`]: pure logic (ids, time, JSON semantics, paging), unit-tested.
//! - [`replay`]: the compat fixture format and runner.
//! - [`ingest`], [`recording_policy`], [`simulate`]: recordings in (the media-server side).
//! - [`startup`], [`config`], [`state`], [`telemetry`]: wiring.

pub mod api;
pub mod apps_registry;
pub mod auth;
pub mod bench;
pub mod call_view;
pub mod cdr;
pub mod config;
pub mod couch;
pub mod domain;
pub mod ingest;
pub mod migrate;
pub mod recording_policy;
pub mod replay;
pub mod retention;
pub mod schema;
pub mod simulate;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod testdata;
