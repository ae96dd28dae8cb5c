//! Recording ingest (KAZOO's media manager role): recordings handed over by a media server
//! are made durable in a local spool before they are acknowledged, then delivered.

pub mod batch_write;
pub mod cdr;
pub mod deliver;
pub mod ftp;
pub mod http;
pub mod spool;
pub mod tee;
pub mod url;
pub mod worker;
