//! Use cases: validation against the database, writes in one transaction with their audit
//! entry. Shared by the HTTP handlers and the command line.

pub mod access;
pub mod api_keys;
pub mod auth;
pub mod backup;
pub mod calendar;
mod context;
pub mod dashboards;
pub mod deliveries;
pub mod demo;
pub mod events;
pub mod evidence;
pub mod evidence_store;
pub mod followups;
pub mod import;
pub mod inspections;
pub mod officials;
pub mod opds;
pub mod periodic;
pub mod reference_cache;
pub mod users;
pub mod webhooks;

use serde_json::{json, Map, Value};

pub use context::{Caller, Ctx};

/// What a create did: stored something new, or recognised a replay of what was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    Replay,
}

/// The fields that differ, as `{field: {before, after}}`.
pub fn diff(before: &Value, after: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    if let (Some(b), Some(a)) = (before.as_object(), after.as_object()) {
        for (k, av) in a {
            let bv = b.get(k).unwrap_or(&Value::Null);
            if bv != av {
                out.insert(k.clone(), json!({ "before": bv, "after": av }));
            }
        }
    }
    out
}
