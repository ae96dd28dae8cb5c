//! One integration test binary: every test talks HTTP to the real app on a real
//! CouchDB-protocol server.

mod accounts;
mod auth;
mod authz_matrix;
mod compat;
mod couch_restart;
mod decision;
mod deleted_while_pending;
mod devices_callflows;
mod doc_cache;
mod early_delivery;
mod faults;
mod helpers;
mod ingest;
mod ingest_faults;
mod kazoo_docs;
mod kazoo_s3;
mod migrate;
mod monster_ui;
mod pipeline;
mod queues;
mod record_proxy;
mod recordings;
mod retention;
mod simulate;
mod storage;
mod users;
