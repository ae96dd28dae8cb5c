//! Authentication pieces that need no HTTP: tokens, credential hashes, login throttling.

pub mod creds;
pub mod throttle;
pub mod tokens;
