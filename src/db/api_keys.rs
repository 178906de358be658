//! Queries on `api_keys`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::api_keys;
use super::{DbConnection, DbUuid};
use crate::domain::user::Role;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: DbUuid,
    pub name: String,
    pub role: Role,
    pub prefix: String,
    pub secret_hash: String,
    pub created_by: Option<DbUuid>,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    /// Scope names, comma-separated (`auth::api_key::Scope`).
    pub scopes: String,
}

pub fn insert(conn: &mut DbConnection, row: &ApiKeyRow) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::insert_into(api_keys::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table
        .find(id)
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_hash(conn: &mut DbConnection, secret_hash: &str) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table
        .filter(api_keys::secret_hash.eq(secret_hash))
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()
}

/// Newest first; `after` is the `(created_at, id)` of the previous page's last key.
pub fn list(
    conn: &mut DbConnection,
    after: Option<(NaiveDateTime, DbUuid)>,
    limit: i64,
) -> QueryResult<Vec<ApiKeyRow>> {
    let mut q = api_keys::table
        .select(ApiKeyRow::as_select())
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .limit(limit + 1)
        .into_boxed();
    if let Some((at, id)) = after {
        q = q.filter(
            api_keys::created_at
                .lt(at)
                .or(api_keys::created_at.eq(at).and(api_keys::id.lt(id))),
        );
    }
    q.load(conn)
}

/// Marks a key revoked; `false` when it already was.
pub fn revoke(conn: &mut DbConnection, id: DbUuid, at: NaiveDateTime) -> QueryResult<bool> {
    super::tx::debug_assert_writing();
    diesel::update(
        api_keys::table
            .find(id)
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(at))
    .execute(conn)
    .map(|n| n == 1)
}

/// Records a use, unless one was recorded since `stale_before` (a concurrent request may
/// have done it): at most one write per key and interval, however busy the key is.
pub fn touch(
    conn: &mut DbConnection,
    id: DbUuid,
    at: NaiveDateTime,
    stale_before: NaiveDateTime,
) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::update(
        api_keys::table.find(id).filter(
            api_keys::last_used_at
                .is_null()
                .or(api_keys::last_used_at.lt(stale_before)),
        ),
    )
    .set(api_keys::last_used_at.eq(at))
    .execute(conn)
    .map(|_| ())
}
