//! Webhook subscriptions (`webhooks`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::webhooks;
use super::{DbConnection, DbUuid};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = webhooks, treat_none_as_null = true)]
pub struct WebhookRow {
    pub id: DbUuid,
    pub url: String,
    /// Event types, space-separated (`domain::events::EventType`).
    pub event_types: String,
    pub description: Option<String>,
    pub active: bool,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_valid_until: Option<NaiveDateTime>,
    pub created_by: Option<DbUuid>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The first failed attempt since the last success (milliseconds since 1970).
    pub failing_since: Option<i64>,
    /// When, and why, the delivery worker deactivated it.
    pub disabled_at: Option<i64>,
    pub disabled_reason: Option<String>,
}

pub fn insert(conn: &mut DbConnection, row: &WebhookRow) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::insert_into(webhooks::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<WebhookRow>> {
    webhooks::table
        .find(id)
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()
}

/// Every subscription, oldest first (a city has a handful).
pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<WebhookRow>> {
    webhooks::table
        .order((webhooks::created_at.asc(), webhooks::id.asc()))
        .select(WebhookRow::as_select())
        .load(conn)
}

/// Writes `row` over the stored one.
pub fn update(conn: &mut DbConnection, row: &WebhookRow) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::update(webhooks::table.find(row.id))
        .set(row)
        .execute(conn)
        .map(|_| ())
}

pub fn delete(conn: &mut DbConnection, id: DbUuid) -> QueryResult<bool> {
    super::tx::debug_assert_writing();
    diesel::delete(webhooks::table.find(id))
        .execute(conn)
        .map(|n| n == 1)
}
