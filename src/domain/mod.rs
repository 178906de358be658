//! Domain rules with no I/O.

pub mod authority;
pub mod calendar;
pub mod dates;
pub mod discipline;
pub mod events;
pub mod followup;
pub mod inspection;
pub mod nip;
pub mod reference;
pub mod user;
pub mod vocab;
pub mod webhook_signature;
