//! API keys: create (the secret is returned once), revoke; both audited without the secret.

use chrono::NaiveDateTime;
use serde_json::json;
use uuid::Uuid;

use crate::auth::api_key::{self, Scope};
use crate::db::api_keys::{self as keys, ApiKeyRow};
use crate::db::audit;
use crate::db::{now, write_tx, DbConnection, DbUuid};
use crate::domain::user::Role;
use crate::error::{ApiError, FieldError};
use crate::service::Ctx;

pub const NAME_MAX: usize = 100;

pub struct NewKey<'a> {
    pub name: &'a str,
    pub role: Role,
    /// `None`: one year from creation ([`DEFAULT_LIFETIME_DAYS`]).
    pub expires_at: Option<NaiveDateTime>,
    /// What the key may read; `[dashboards]` unless asked for.
    pub scopes: Vec<Scope>,
}

/// A key made without `expires_at` expires this long after creation.
pub const DEFAULT_LIFETIME_DAYS: i64 = 365;

/// Name 1–100 characters without control characters; role viewer or supervisor (a key
/// never administers); expiry, when given, in the future.
pub fn validate(key: &NewKey<'_>, at: NaiveDateTime) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    let name = key.name.trim();
    if name.is_empty() {
        errors.push(FieldError::new("name", "must not be empty"));
    } else if name.chars().count() > NAME_MAX {
        errors.push(FieldError::new(
            "name",
            format!("must be at most {NAME_MAX} characters"),
        ));
    } else if name.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "name",
            "must not contain control characters",
        ));
    }
    if !matches!(key.role, Role::Viewer | Role::Supervisor) {
        errors.push(FieldError::new(
            "role",
            "must be `viewer` or `supervisor`: keys only read",
        ));
    }
    if key.expires_at.is_some_and(|e| e <= at) {
        errors.push(FieldError::new("expires_at", "must be in the future"));
    }
    if key.scopes.is_empty() {
        errors.push(FieldError::new("scopes", "must name at least one scope"));
    }
    for (i, scope) in key.scopes.iter().enumerate() {
        if !scope.fits(key.role) {
            errors.push(FieldError::new(
                format!("scopes[{i}]"),
                format!(
                    "`{}` is for supervisor keys; a viewer key reads dashboards only",
                    scope.as_str()
                ),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Stores a new key and returns it with its secret (which is not stored).
pub fn create(
    conn: &mut DbConnection,
    key: &NewKey<'_>,
    created_by: Option<Uuid>,
    ctx: &Ctx,
    via: &str,
) -> Result<(ApiKeyRow, String), ApiError> {
    let at = now();
    validate(key, at)?;
    let secret = api_key::generate();
    let row = ApiKeyRow {
        id: DbUuid(Uuid::new_v4()),
        name: key.name.trim().to_string(),
        role: key.role,
        prefix: secret.shown,
        secret_hash: secret.hash,
        created_by: created_by.map(DbUuid),
        created_at: at,
        expires_at: Some(crate::db::truncate_micros(
            key.expires_at
                .unwrap_or(at + chrono::Duration::days(DEFAULT_LIFETIME_DAYS)),
        )),
        last_used_at: None,
        revoked_at: None,
        scopes: api_key::scopes_to_text(&key.scopes),
    };
    write_tx(conn, |conn| {
        keys::insert(conn, &row)?;
        audit::append(
            conn,
            ctx.audit(
                created_by,
                "api_key.create",
                "api_key",
                Some(row.id.to_string()),
                json!({
                    "name": row.name, "role": row.role, "prefix": row.prefix, "scopes": row.scopes,
                    "expires_at": row.expires_at.map(|e| e.and_utc().to_rfc3339()), "via": via,
                }),
            ),
        )?;
        Ok::<_, ApiError>(())
    })?;
    Ok((row, secret.secret))
}

/// Revokes a key at once; revoking a revoked key changes nothing (and is not audited again).
pub fn revoke(
    conn: &mut DbConnection,
    id: DbUuid,
    actor: Option<Uuid>,
    ctx: &Ctx,
    via: &str,
) -> Result<ApiKeyRow, ApiError> {
    write_tx(conn, |conn| {
        let row = keys::find(conn, id)?.ok_or(ApiError::NotFound)?;
        let at = now();
        if keys::revoke(conn, id, at)? {
            audit::append(
                conn,
                ctx.audit(
                    actor,
                    "api_key.revoke",
                    "api_key",
                    Some(id.to_string()),
                    json!({ "name": row.name, "role": row.role, "prefix": row.prefix, "via": via }),
                ),
            )?;
        }
        keys::find(conn, id)?.ok_or(ApiError::NotFound)
    })
}
