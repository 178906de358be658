//! Appending to the audit log, inside the caller's transaction.

use diesel::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use super::schema::audit_log;
use super::{now, DbConnection};

/// One change to record: who did what to which entity, and what changed.
pub struct AuditEntry<'a> {
    pub actor_id: Option<Uuid>,
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Option<String>,
    pub details: Value,
    pub request_id: Option<&'a str>,
}

pub fn append(conn: &mut DbConnection, entry: AuditEntry<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::id.eq(Uuid::new_v4().to_string()),
            audit_log::occurred_at.eq(now()),
            audit_log::actor_id.eq(entry.actor_id.map(|u| u.to_string())),
            audit_log::action.eq(entry.action),
            audit_log::entity_type.eq(entry.entity_type),
            audit_log::entity_id.eq(entry.entity_id),
            audit_log::details.eq(entry.details.to_string()),
            audit_log::request_id.eq(entry.request_id),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Entries about one entity, oldest first (used by tests and, later, the audit API).
pub fn for_entity(
    conn: &mut DbConnection,
    entity_type: &str,
    entity_id: &str,
) -> QueryResult<Vec<(String, String)>> {
    audit_log::table
        .filter(audit_log::entity_type.eq(entity_type))
        .filter(audit_log::entity_id.eq(entity_id))
        .order(audit_log::occurred_at.asc())
        .select((audit_log::action, audit_log::details))
        .load(conn)
}
