//! The audit trail: appended in the caller's transaction, hash-chained.
//!
//! `hash = SHA-256(prev_hash ‖ ":" ‖ seq ‖ ":" ‖ canonical JSON of the entry)`, where the
//! canonical JSON has sorted keys, the time in UTC with microseconds, and `details` as
//! parsed JSON. Appends are serialised by the write lock that every write transaction
//! holds from its first statement ([`super::tx`]), so `seq` has no gaps; an append outside
//! [`super::write_tx`] is refused. The database itself refuses UPDATE, DELETE (and, on PostgreSQL,
//! TRUNCATE) of the table. A write transaction reads the chain's head once and then chains on
//! the head it wrote last ([`super::tx::audit_head`]); entries made together
//! ([`append_all`]) go in as one statement on PostgreSQL.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::schema::audit_log;
use super::{now, DbConnection};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One change to record: who did what to which entity, and what changed.
pub struct AuditEntry<'a> {
    pub actor_id: Option<Uuid>,
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Option<String>,
    pub details: Value,
    pub request_id: Option<&'a str>,
}

impl<'a> AuditEntry<'a> {
    /// An entry outside any request (the command line, the first start). In a request the
    /// entry is made by `service::Ctx::audit`, which adds the request id.
    pub fn new(
        actor_id: Option<Uuid>,
        action: &'a str,
        entity_type: &'a str,
        entity_id: Option<String>,
        details: Value,
    ) -> Self {
        AuditEntry {
            actor_id,
            action,
            entity_type,
            entity_id,
            details,
            request_id: None,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq)]
#[diesel(table_name = audit_log, treat_none_as_default_value = false)]
pub struct AuditRow {
    pub seq: i64,
    pub occurred_at: NaiveDateTime,
    pub actor_id: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub details: String,
    pub request_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

super::unnest::unnest_insert!(
    AuditRow,
    audit_log,
    [
        seq,
        occurred_at,
        actor_id,
        action,
        entity_type,
        entity_id,
        details,
        request_id,
        prev_hash,
        hash
    ]
);

fn canonical(row: &AuditRow) -> String {
    let details: Value =
        serde_json::from_str(&row.details).unwrap_or(Value::String(row.details.clone()));
    json!({
        "seq": row.seq,
        "occurred_at": row.occurred_at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "actor_id": row.actor_id,
        "action": row.action,
        "entity_type": row.entity_type,
        "entity_id": row.entity_id,
        "details": details,
        "request_id": row.request_id,
    })
    .to_string()
}

/// The hash an entry must carry.
pub fn hash_of(row: &AuditRow) -> String {
    let mut h = Sha256::new();
    h.update(row.prev_hash.as_bytes());
    h.update(b":");
    h.update(row.seq.to_string().as_bytes());
    h.update(b":");
    h.update(canonical(row).as_bytes());
    hex::encode(h.finalize())
}

/// The newest entry's seq and hash, or `(0, GENESIS)`.
pub fn head(conn: &mut DbConnection) -> QueryResult<(i64, String)> {
    audit_log::table
        .order(audit_log::seq.desc())
        .select((audit_log::seq, audit_log::hash))
        .first::<(i64, String)>(conn)
        .optional()
        .map(|h| h.unwrap_or((0, GENESIS.to_string())))
}

/// Appends inside the caller's write transaction ([`super::write_tx`], which holds the
/// write lock that keeps `seq` gapless); anywhere else it is an error.
pub fn append(conn: &mut DbConnection, entry: AuditEntry<'_>) -> QueryResult<()> {
    append_all(conn, vec![entry])
}

/// Appends entries in their order, as [`append`] would one by one, in one statement on
/// PostgreSQL ([`super::insert_rows`]).
pub fn append_all(conn: &mut DbConnection, entries: Vec<AuditEntry<'_>>) -> QueryResult<()> {
    if !super::tx::holds_write_lock() {
        return Err(diesel::result::Error::QueryBuilderError(
            "an audit entry is appended only inside write_tx, which holds the write lock".into(),
        ));
    }
    if entries.is_empty() {
        return Ok(());
    }
    let (mut seq, mut prev_hash) = match super::tx::audit_head() {
        Some(head) => head,
        None => head(conn)?,
    };
    let occurred_at = now();
    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        seq += 1;
        let mut row = AuditRow {
            seq,
            occurred_at,
            actor_id: entry.actor_id.map(|u| u.to_string()),
            action: entry.action.to_string(),
            entity_type: entry.entity_type.to_string(),
            entity_id: entry.entity_id,
            details: entry.details.to_string(),
            request_id: entry.request_id.map(str::to_string),
            prev_hash,
            hash: String::new(),
        };
        row.hash = hash_of(&row);
        prev_hash = row.hash.clone();
        rows.push(row);
    }
    if !super::deferred::hold(&rows, |h| &mut h.audit) {
        super::insert_rows!(conn, audit_log::table, rows);
    }
    super::tx::set_audit_head(seq, &prev_hash);
    Ok(())
}

/// Entries about one entity, oldest first: (action, details).
pub fn for_entity(
    conn: &mut DbConnection,
    entity_type: &str,
    entity_id: &str,
) -> QueryResult<Vec<(String, String)>> {
    audit_log::table
        .filter(audit_log::entity_type.eq(entity_type))
        .filter(audit_log::entity_id.eq(entity_id))
        .order(audit_log::seq.asc())
        .select((audit_log::action, audit_log::details))
        .load(conn)
}

pub struct ListFilter {
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub actor_id: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    pub before_seq: Option<i64>,
    pub limit: i64,
}

/// Newest first; `limit + 1` rows.
pub fn list(conn: &mut DbConnection, f: &ListFilter) -> QueryResult<Vec<AuditRow>> {
    let mut q = audit_log::table.select(AuditRow::as_select()).into_boxed();
    if let Some(v) = &f.entity_type {
        q = q.filter(audit_log::entity_type.eq(v.clone()));
    }
    if let Some(v) = &f.entity_id {
        q = q.filter(audit_log::entity_id.eq(v.clone()));
    }
    if let Some(v) = &f.actor_id {
        q = q.filter(audit_log::actor_id.eq(v.clone()));
    }
    if let Some(v) = f.from {
        q = q.filter(audit_log::occurred_at.ge(v));
    }
    if let Some(v) = f.to {
        q = q.filter(audit_log::occurred_at.lt(v));
    }
    if let Some(v) = f.before_seq {
        q = q.filter(audit_log::seq.lt(v));
    }
    q.order(audit_log::seq.desc()).limit(f.limit + 1).load(conn)
}

/// The result of recomputing the chain.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct Verification {
    pub ok: bool,
    /// Entries read.
    pub entries: i64,
    /// `seq` of the first entry that does not verify (a changed, missing or moved entry), or
    /// where the chain stops short of the expected head.
    pub first_bad_id: Option<i64>,
    pub head_seq: i64,
    pub head_hash: String,
}

/// Recomputes the whole chain, a thousand entries at a time. With `expected_head`
/// (exported earlier by `sidak audit head`), a chain that no longer reaches that entry, or
/// reaches it with another hash, is reported too (a truncated tail).
pub fn verify(
    conn: &mut DbConnection,
    expected_head: Option<(i64, &str)>,
) -> QueryResult<Verification> {
    let mut expected_seq = 1i64;
    let mut prev = GENESIS.to_string();
    let mut entries = 0i64;
    let mut first_bad = None;
    let mut head_hash = GENESIS.to_string();
    let mut anchor_seen = false;
    loop {
        let batch: Vec<AuditRow> = audit_log::table
            .filter(audit_log::seq.ge(expected_seq.min(i64::MAX - 1)))
            .order(audit_log::seq.asc())
            .limit(1000)
            .select(AuditRow::as_select())
            .load(conn)?;
        if batch.is_empty() {
            break;
        }
        for row in batch {
            entries += 1;
            if first_bad.is_none()
                && (row.seq != expected_seq || row.prev_hash != prev || hash_of(&row) != row.hash)
            {
                first_bad = Some(expected_seq.min(row.seq));
            }
            if let Some((s, h)) = expected_head {
                if row.seq == s {
                    anchor_seen = true;
                    if row.hash != h && first_bad.is_none() {
                        first_bad = Some(s);
                    }
                }
            }
            prev = row.hash.clone();
            head_hash = row.hash;
            expected_seq = row.seq + 1;
        }
    }
    if let Some((s, _)) = expected_head {
        if !anchor_seen && first_bad.is_none() && s > 0 {
            first_bad = Some(expected_seq);
        }
    }
    Ok(Verification {
        ok: first_bad.is_none(),
        entries,
        first_bad_id: first_bad,
        head_seq: expected_seq - 1,
        head_hash,
    })
}
