//! Domain rules with no I/O.

pub mod user;
