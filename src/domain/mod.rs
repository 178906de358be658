//! Domain rules with no I/O.

pub mod inspection;
pub mod nip;
pub mod reference;
pub mod user;
