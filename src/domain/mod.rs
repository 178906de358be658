//! Domain rules with no I/O.

pub mod nip;
pub mod reference;
pub mod user;
