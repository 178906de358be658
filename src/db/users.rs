//! Queries on `users` and their refresh tokens.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{refresh_tokens, users};
use super::{now, DbConnection, DbUuid};
use crate::domain::user::Role;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: DbUuid,
    pub username: String,
    pub username_key: String,
    pub full_name: String,
    pub role: Role,
    pub password_hash: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub struct NewUser<'a> {
    pub id: DbUuid,
    pub username: &'a str,
    pub full_name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
}

pub fn insert(conn: &mut DbConnection, user: &NewUser<'_>) -> QueryResult<UserRow> {
    super::tx::debug_assert_writing();
    let at = now();
    diesel::insert_into(users::table)
        .values((
            users::id.eq(user.id),
            users::username.eq(user.username.trim()),
            users::username_key.eq(crate::domain::user::username_key(user.username)),
            users::full_name.eq(user.full_name.trim()),
            users::role.eq(user.role),
            users::password_hash.eq(user.password_hash),
            users::active.eq(true),
            users::created_at.eq(at),
            users::updated_at.eq(at),
        ))
        .execute(conn)?;
    find(conn, user.id)
}

pub fn find(conn: &mut DbConnection, id: DbUuid) -> QueryResult<UserRow> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
}

/// The user of an access token, only while its login session is alive (a refresh token of
/// the session not revoked): one query for the user and the session together.
pub fn find_in_session(
    conn: &mut DbConnection,
    id: DbUuid,
    session: DbUuid,
) -> QueryResult<UserRow> {
    users::table
        .find(id)
        .filter(diesel::dsl::exists(
            refresh_tokens::table
                .filter(refresh_tokens::family_id.eq(session))
                .filter(refresh_tokens::user_id.eq(id))
                .filter(refresh_tokens::revoked_at.is_null()),
        ))
        .select(UserRow::as_select())
        .first(conn)
}

/// The full names of the users among `ids` (unknown ids are left out).
pub fn names_of(conn: &mut DbConnection, ids: &[DbUuid]) -> QueryResult<Vec<(DbUuid, String)>> {
    users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::full_name))
        .load(conn)
}

pub fn find_by_username(conn: &mut DbConnection, username: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::username_key.eq(crate::domain::user::username_key(username)))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

pub fn count_active_admins(conn: &mut DbConnection) -> QueryResult<i64> {
    users::table
        .filter(users::role.eq(Role::Admin))
        .filter(users::active.eq(true))
        .count()
        .get_result(conn)
}

pub struct ListFilter {
    pub role: Option<Role>,
    pub active: Option<bool>,
    /// Keyset: usernames strictly after this key.
    pub after_key: Option<String>,
    pub limit: i64,
}

/// Users ordered by username (case-insensitive), `limit + 1` rows so the caller can tell
/// whether another page follows.
pub fn list(conn: &mut DbConnection, filter: &ListFilter) -> QueryResult<Vec<UserRow>> {
    let mut query = users::table.select(UserRow::as_select()).into_boxed();
    if let Some(role) = &filter.role {
        query = query.filter(users::role.eq(*role));
    }
    if let Some(active) = filter.active {
        query = query.filter(users::active.eq(active));
    }
    if let Some(after) = &filter.after_key {
        query = query.filter(users::username_key.gt(after.clone()));
    }
    query
        .order(users::username_key.asc())
        .limit(filter.limit + 1)
        .load(conn)
}

#[derive(Default)]
pub struct UserChanges {
    pub full_name: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
    pub password_hash: Option<String>,
}

pub fn update(conn: &mut DbConnection, id: DbUuid, changes: &UserChanges) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    let at = now();
    if let Some(v) = &changes.full_name {
        diesel::update(users::table.find(id))
            .set(users::full_name.eq(v.trim()))
            .execute(conn)?;
    }
    if let Some(v) = &changes.role {
        diesel::update(users::table.find(id))
            .set(users::role.eq(v))
            .execute(conn)?;
    }
    if let Some(v) = changes.active {
        diesel::update(users::table.find(id))
            .set(users::active.eq(v))
            .execute(conn)?;
    }
    if let Some(v) = &changes.password_hash {
        diesel::update(users::table.find(id))
            .set(users::password_hash.eq(v))
            .execute(conn)?;
    }
    diesel::update(users::table.find(id))
        .set(users::updated_at.eq(at))
        .execute(conn)?;
    Ok(())
}

// ---- refresh tokens ----

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub id: DbUuid,
    pub user_id: DbUuid,
    pub family_id: DbUuid,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

pub fn insert_refresh_token(
    conn: &mut DbConnection,
    user_id: DbUuid,
    family_id: DbUuid,
    token_hash: &str,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(DbUuid(uuid::Uuid::new_v4())),
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::family_id.eq(family_id),
            refresh_tokens::token_hash.eq(token_hash),
            refresh_tokens::created_at.eq(now()),
            refresh_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn find_refresh_token(
    conn: &mut DbConnection,
    token_hash: &str,
) -> QueryResult<Option<RefreshTokenRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshTokenRow::as_select())
        .first(conn)
        .optional()
}

/// Marks a token spent; `true` only for the one request that spent it.
pub fn spend_refresh_token(conn: &mut DbConnection, id: DbUuid) -> QueryResult<bool> {
    super::tx::debug_assert_writing();
    let n = diesel::update(
        refresh_tokens::table
            .find(id)
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(now()))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn revoke_family(conn: &mut DbConnection, family_id: DbUuid) -> QueryResult<usize> {
    super::tx::debug_assert_writing();
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now()))
    .execute(conn)
}

pub fn revoke_all_for_user(conn: &mut DbConnection, user_id: DbUuid) -> QueryResult<usize> {
    super::tx::debug_assert_writing();
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now()))
    .execute(conn)
}
