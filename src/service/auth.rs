//! Login sessions: starting one, the record of a failed login, rotating a refresh token (a
//! replayed one ends its session), logging out, and a password change (which ends every
//! session of the user). Each is one transaction with its audit entry; hashing and
//! throttling happen before, in the caller.

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use crate::auth::refresh;
use crate::db::audit;
use crate::db::users::{self, UserRow};
use crate::db::{now, write_tx, DbConnection, DbUuid};
use crate::error::ApiError;
use crate::service::Ctx;

/// A new refresh token and the session (its family) it belongs to.
pub struct SessionToken {
    pub refresh_token: String,
    pub session: DbUuid,
}

/// Creates a refresh token in `family` (a new session when `None`).
fn new_refresh_token(
    conn: &mut DbConnection,
    ttl: std::time::Duration,
    user_id: DbUuid,
    family: Option<DbUuid>,
) -> Result<SessionToken, ApiError> {
    let token = refresh::generate();
    let ttl = chrono::Duration::from_std(ttl).map_err(ApiError::internal)?;
    let family = family.unwrap_or(DbUuid(Uuid::new_v4()));
    users::insert_refresh_token(conn, user_id, family, &refresh::hash(&token), now() + ttl)?;
    Ok(SessionToken {
        refresh_token: token,
        session: family,
    })
}

/// A successful login: a new session, audited with the client's address.
pub fn start_session(
    conn: &mut DbConnection,
    user: &UserRow,
    ttl: std::time::Duration,
    address: &str,
    ctx: &Ctx,
) -> Result<SessionToken, ApiError> {
    write_tx(conn, |conn| {
        let token = new_refresh_token(conn, ttl, user.id, None)?;
        audit::append(
            conn,
            ctx.audit(
                Some(user.id.0),
                "auth.login",
                "user",
                Some(user.id.to_string()),
                json!({ "address": address }),
            ),
        )?;
        Ok(token)
    })
}

/// The audit entry of a refused login (`reason`: unknown_user, inactive_user, wrong_password).
pub fn record_failed_login(
    conn: &mut DbConnection,
    user_id: Option<DbUuid>,
    attempted: &str,
    address: &str,
    reason: &str,
    ctx: &Ctx,
) -> Result<(), ApiError> {
    write_tx(conn, |conn| {
        audit::append(
            conn,
            ctx.audit(
                None,
                "auth.login_failed",
                "user",
                user_id.map(|id| id.to_string()),
                json!({ "username": attempted, "address": address, "reason": reason }),
            ),
        )
        .map_err(ApiError::from)
    })
}

pub enum Refreshed {
    Issued(Box<UserRow>, SessionToken),
    Refused,
}

/// Spends the refresh token whose hash is `presented` and issues the next one of its
/// session. A spent token presented again — a replay, or a second concurrent use — ends the
/// whole session and is audited.
pub fn refresh(
    conn: &mut DbConnection,
    presented: &str,
    ttl: std::time::Duration,
    ctx: &Ctx,
) -> Result<Refreshed, ApiError> {
    write_tx(conn, |conn| {
        let Some(row) = users::find_refresh_token(conn, presented)? else {
            return Ok(Refreshed::Refused);
        };
        if row.revoked_at.is_some() {
            return Ok(Refreshed::Refused);
        }
        if row.used_at.is_none() && row.expires_at <= now() {
            return Ok(Refreshed::Refused);
        }
        let spent_now = row.used_at.is_none() && users::spend_refresh_token(conn, row.id)?;
        if !spent_now {
            let revoked = users::revoke_family(conn, row.family_id)?;
            audit::append(
                conn,
                ctx.audit(
                    None,
                    "auth.refresh_token_reuse",
                    "user",
                    Some(row.user_id.to_string()),
                    json!({ "family_id": row.family_id.to_string(), "tokens_revoked": revoked }),
                ),
            )?;
            tracing::warn!(user_id = %row.user_id, "refresh token reuse: session ended");
            return Ok(Refreshed::Refused);
        }
        let user = users::find(conn, row.user_id)?;
        if !user.active {
            users::revoke_family(conn, row.family_id)?;
            return Ok(Refreshed::Refused);
        }
        let token = new_refresh_token(conn, ttl, row.user_id, Some(row.family_id))?;
        Ok(Refreshed::Issued(Box::new(user), token))
    })
}

/// Ends the session of the refresh token whose hash is `presented`, if it is `user`'s.
pub fn logout(
    conn: &mut DbConnection,
    user: Uuid,
    presented: &str,
    ctx: &Ctx,
) -> Result<(), ApiError> {
    write_tx(conn, |conn| {
        if let Some(row) = users::find_refresh_token(conn, presented)? {
            if row.user_id.0 == user {
                end_family(conn, user, row.family_id, "api", ctx)?;
            }
        }
        Ok(())
    })
}

/// Ends the login session `session` of `user` (the console's logout, which holds the
/// session rather than a refresh token).
pub fn end_session(
    conn: &mut DbConnection,
    user: Uuid,
    session: DbUuid,
    ctx: &Ctx,
) -> Result<(), ApiError> {
    write_tx(conn, |conn| end_family(conn, user, session, "console", ctx))
}

/// Revokes the login session `family` of `user` with its audit entry (`via`: `api` or
/// `console`), inside the caller's transaction.
fn end_family(
    conn: &mut DbConnection,
    user: Uuid,
    family: DbUuid,
    via: &str,
    ctx: &Ctx,
) -> Result<(), ApiError> {
    let revoked = users::revoke_family(conn, family)?;
    audit::append(
        conn,
        ctx.audit(
            Some(user),
            "auth.logout",
            "user",
            Some(user.to_string()),
            json!({ "tokens_revoked": revoked, "via": via }),
        ),
    )?;
    Ok(())
}

/// Sets the user's own new password (already hashed) and ends all their sessions.
pub fn change_password(
    conn: &mut DbConnection,
    user: Uuid,
    new_hash: &str,
    ctx: &Ctx,
) -> Result<(), ApiError> {
    let id = DbUuid(user);
    write_tx(conn, |conn| {
        users::update(
            conn,
            id,
            &users::UserChanges {
                password_hash: Some(new_hash.to_string()),
                ..Default::default()
            },
        )?;
        let revoked = users::revoke_all_for_user(conn, id)?;
        audit::append(
            conn,
            ctx.audit(
                Some(user),
                "user.password_change",
                "user",
                Some(user.to_string()),
                json!({ "refresh_tokens_revoked": revoked, "at": Utc::now().to_rfc3339() }),
            ),
        )?;
        Ok(())
    })
}
