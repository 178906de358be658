//! Webhook deliveries (`webhook_deliveries`): one per event and subscription that was to
//! receive it, made when the delivery worker reads the outbox past its cursor
//! (`webhook_fanout`), then tried until delivered or failed. Also the record of which
//! follow-ups have had their `follow_up.overdue` event (`webhook_overdue`).

use chrono::NaiveDate;
use diesel::prelude::*;

use super::outbox::Event;
use super::schema::{
    follow_ups, webhook_deliveries as d, webhook_events as e, webhook_fanout, webhook_overdue,
    webhooks as w,
};
use super::webhooks::WebhookRow;
use super::{DbConnection, DbUuid};
use crate::db::followups::FollowUpRow;
use crate::domain::events::{DeliveryStatus, EventType};
use crate::domain::followup::FollowUpStatus;

/// The outbox cursor's name.
const CURSOR: &str = "deliveries";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = d)]
pub struct DeliveryRow {
    pub id: DbUuid,
    pub webhook_id: DbUuid,
    pub event_seq: i64,
    pub status: DeliveryStatus,
    /// Attempts since it was made or last sent again by hand.
    pub attempts: i32,
    /// Milliseconds since 1970, like every time here.
    pub created_at: i64,
    pub next_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

super::unnest::unnest_insert!(
    DeliveryRow,
    webhook_deliveries,
    [
        id,
        webhook_id,
        event_seq,
        status,
        attempts,
        created_at,
        next_attempt_at,
        last_attempt_at,
        delivered_at,
        response_status,
        response_body,
        error
    ]
);

/// What an attempt changes.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = d, treat_none_as_null = true)]
pub struct Attempted {
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

/// A delivery with what the delivery log shows of its event.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = d)]
pub struct Logged {
    #[diesel(embed)]
    pub delivery: DeliveryRow,
    #[diesel(select_expression = e::id)]
    pub event_id: String,
    #[diesel(select_expression = e::event_type)]
    pub event_type: EventType,
    #[diesel(select_expression = e::occurred_at)]
    pub occurred_at: i64,
}

/// A delivery to try: the row, its event's id and body, and the subscription.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = d)]
pub struct Due {
    #[diesel(embed)]
    pub delivery: DeliveryRow,
    #[diesel(select_expression = e::id)]
    pub event_id: String,
    #[diesel(select_expression = e::payload)]
    pub payload: String,
    #[diesel(embed)]
    pub webhook: WebhookRow,
}

/// The last event whose deliveries have been made.
pub fn cursor(conn: &mut DbConnection) -> QueryResult<i64> {
    webhook_fanout::table
        .find(CURSOR)
        .select(webhook_fanout::seq)
        .first(conn)
        .optional()
        .map(|s| s.unwrap_or(0))
}

pub fn set_cursor(conn: &mut DbConnection, seq: i64) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::update(webhook_fanout::table.find(CURSOR))
        .set(webhook_fanout::seq.eq(seq))
        .execute(conn)
        .map(|_| ())
}

/// Events after the cursor, oldest first, at most `limit`.
pub fn unread(conn: &mut DbConnection, limit: i64) -> QueryResult<(i64, Vec<Event>)> {
    let from = cursor(conn)?;
    Ok((from, super::outbox::after(conn, from, limit)?))
}

pub fn insert_all(conn: &mut DbConnection, rows: &[DeliveryRow]) -> QueryResult<()> {
    if !rows.is_empty() {
        super::insert_rows!(conn, d::table, rows);
    }
    Ok(())
}

/// Pending deliveries of active subscriptions due at `now_ms`, the longest waiting first.
pub fn due(conn: &mut DbConnection, now_ms: i64, limit: i64) -> QueryResult<Vec<Due>> {
    d::table
        .inner_join(e::table)
        .inner_join(w::table)
        .filter(d::status.eq(DeliveryStatus::Pending))
        .filter(d::next_attempt_at.le(now_ms))
        .filter(w::active.eq(true))
        .order((d::next_attempt_at.asc(), d::event_seq.asc()))
        .limit(limit)
        .select(Due::as_select())
        .load(conn)
}

/// Records an attempt on a delivery that is still pending; `false` when it is not (sent
/// again by hand or its subscription deleted meanwhile).
pub fn record(conn: &mut DbConnection, id: DbUuid, attempted: &Attempted) -> QueryResult<bool> {
    super::tx::debug_assert_writing();
    diesel::update(
        d::table
            .find(id)
            .filter(d::status.eq(DeliveryStatus::Pending)),
    )
    .set(attempted)
    .execute(conn)
    .map(|n| n == 1)
}

/// A subscription's deliveries, newest event first, before `before_seq`; `limit + 1` rows.
pub fn log(
    conn: &mut DbConnection,
    webhook: DbUuid,
    status: Option<DeliveryStatus>,
    before_seq: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Logged>> {
    let mut q = d::table
        .inner_join(e::table)
        .filter(d::webhook_id.eq(webhook))
        .into_boxed::<super::MultiBackend>();
    if let Some(s) = status {
        q = q.filter(d::status.eq(s));
    }
    if let Some(b) = before_seq {
        q = q.filter(d::event_seq.lt(b));
    }
    q.order(d::event_seq.desc())
        .limit(limit + 1)
        .select(Logged::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConnection, webhook: DbUuid, id: DbUuid) -> QueryResult<Option<Logged>> {
    d::table
        .inner_join(e::table)
        .filter(d::webhook_id.eq(webhook))
        .filter(d::id.eq(id))
        .select(Logged::as_select())
        .first(conn)
        .optional()
}

/// Makes a delivery pending again, due now, with a fresh set of retries.
pub fn resend(conn: &mut DbConnection, id: DbUuid, now_ms: i64) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::update(d::table.find(id))
        .set((
            d::status.eq(DeliveryStatus::Pending),
            d::attempts.eq(0),
            d::next_attempt_at.eq(Some(now_ms)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// What waits to be delivered: pending deliveries of active subscriptions, and the
/// occurrence time of the oldest event among them or not yet read from the outbox.
pub struct Backlog {
    pub pending: i64,
    pub oldest_occurred_at: Option<i64>,
}

pub fn backlog(conn: &mut DbConnection) -> QueryResult<Backlog> {
    let pending_q = || {
        d::table
            .inner_join(e::table)
            .inner_join(w::table)
            .filter(d::status.eq(DeliveryStatus::Pending))
            .filter(w::active.eq(true))
    };
    let pending: i64 = pending_q().count().get_result(conn)?;
    let oldest_pending: Option<i64> = pending_q()
        .select(diesel::dsl::min(e::occurred_at))
        .first(conn)?;
    let from = cursor(conn)?;
    let oldest_unread: Option<i64> = e::table
        .filter(e::seq.gt(from))
        .select(diesel::dsl::min(e::occurred_at))
        .first(conn)?;
    Ok(Backlog {
        pending,
        oldest_occurred_at: match (oldest_pending, oldest_unread) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
    })
}

/// Open or in-review follow-ups due before `today` that have not had their overdue event
/// for that due date, oldest due first, at most `limit`.
pub fn newly_overdue(
    conn: &mut DbConnection,
    today: NaiveDate,
    limit: i64,
) -> QueryResult<Vec<FollowUpRow>> {
    follow_ups::table
        .filter(follow_ups::status.eq_any([FollowUpStatus::Open, FollowUpStatus::InReview]))
        .filter(follow_ups::due_date.lt(today))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            webhook_overdue::table
                .filter(webhook_overdue::follow_up_id.eq(follow_ups::id))
                .filter(webhook_overdue::due_date.eq(follow_ups::due_date)),
        )))
        .order((follow_ups::due_date.asc(), follow_ups::id.asc()))
        .limit(limit)
        .select(FollowUpRow::as_select())
        .load(conn)
}

/// Notes that `follow_up`'s overdue event for `due` was raised.
pub fn mark_overdue(conn: &mut DbConnection, follow_up: DbUuid, due: NaiveDate) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::insert_into(webhook_overdue::table)
        .values((
            webhook_overdue::follow_up_id.eq(follow_up),
            webhook_overdue::due_date.eq(due),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The subscription's failing streak: `failing_since` set on the first failure after a
/// success, cleared on a success; past `disable_after_ms` of it the subscription is
/// deactivated with `reason`. Returns `true` when this deactivated it.
pub fn note_outcome(
    conn: &mut DbConnection,
    webhook: DbUuid,
    ok: bool,
    now_ms: i64,
    disable_after_ms: i64,
    reason: &str,
) -> QueryResult<bool> {
    super::tx::debug_assert_writing();
    if ok {
        diesel::update(
            w::table
                .find(webhook)
                .filter(w::failing_since.is_not_null()),
        )
        .set(w::failing_since.eq(None::<i64>))
        .execute(conn)?;
        return Ok(false);
    }
    diesel::update(w::table.find(webhook).filter(w::failing_since.is_null()))
        .set(w::failing_since.eq(Some(now_ms)))
        .execute(conn)?;
    let disabled = diesel::update(
        w::table
            .find(webhook)
            .filter(w::active.eq(true))
            .filter(w::failing_since.le(now_ms - disable_after_ms)),
    )
    .set((
        w::active.eq(false),
        w::disabled_at.eq(Some(now_ms)),
        w::disabled_reason.eq(Some(reason)),
    ))
    .execute(conn)?;
    Ok(disabled == 1)
}

/// What [`prune`] removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub deliveries: usize,
    pub events: usize,
}

/// Removes delivered and failed deliveries of events that happened before `before_ms`, and
/// those events once no delivery of theirs is left and the worker has read past them.
/// Pending deliveries, and their events, stay however old.
pub fn prune(conn: &mut DbConnection, before_ms: i64) -> QueryResult<Pruned> {
    super::tx::debug_assert_writing();
    let last: Option<i64> = e::table
        .filter(e::occurred_at.lt(before_ms))
        .select(diesel::dsl::max(e::seq))
        .first(conn)?;
    let Some(last) = last else {
        return Ok(Pruned::default());
    };
    let deliveries = diesel::delete(
        d::table
            .filter(d::event_seq.le(last))
            .filter(d::status.ne(DeliveryStatus::Pending)),
    )
    .execute(conn)?;
    let read = cursor(conn)?;
    let events = diesel::delete(e::table.filter(e::seq.le(last.min(read))).filter(
        diesel::dsl::not(diesel::dsl::exists(
            d::table.filter(d::event_seq.eq(e::seq)),
        )),
    ))
    .execute(conn)?;
    Ok(Pruned { deliveries, events })
}
