//! Pure domain logic: ids, time, JSON semantics, paging. No I/O here, so it is all unit-tested.

pub mod etf;
pub mod ids;
pub mod json;
pub mod paging;
pub mod time;
