//! The outbox of webhook events (`webhook_events`): appended in the write transaction of
//! the change each describes (held with the batch's other rows in the group commit, see
//! [`super::deferred`]), read in `seq` order by whoever delivers them.

use diesel::prelude::*;

use super::schema::webhook_events;
use super::DbConnection;
use crate::domain::events::EventType;

/// An event to append; `seq` is given by the database.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhook_events)]
pub struct NewEvent {
    /// The `webhook-id` of its deliveries.
    pub id: String,
    pub event_type: EventType,
    /// The report, follow-up, official or photo it is about.
    pub subject_id: String,
    /// Milliseconds since 1970.
    pub occurred_at: i64,
    /// The body sent, byte for byte the same on every delivery.
    pub payload: String,
}

super::unnest::unnest_insert!(
    NewEvent,
    webhook_events,
    [id, event_type, subject_id, occurred_at, payload]
);

/// An event as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_events)]
pub struct Event {
    pub seq: i64,
    pub id: String,
    pub event_type: EventType,
    pub subject_id: String,
    pub occurred_at: i64,
    pub payload: String,
}

/// Appends `events` in the caller's write transaction.
pub fn append_all(conn: &mut DbConnection, events: &[NewEvent]) -> QueryResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    if !super::deferred::hold(events, |h| &mut h.outbox) {
        super::insert_rows!(conn, webhook_events::table, events);
    }
    Ok(())
}

/// Events after `seq`, oldest first, at most `limit`.
pub fn after(conn: &mut DbConnection, seq: i64, limit: i64) -> QueryResult<Vec<Event>> {
    webhook_events::table
        .filter(webhook_events::seq.gt(seq))
        .order(webhook_events::seq.asc())
        .limit(limit)
        .select(Event::as_select())
        .load(conn)
}
