//! Accounts: creating one (the API, `sidak user create` and the first start share it) and
//! changing one, each in one transaction with its audit entry.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::db::audit;
use crate::db::users::{self, UserChanges, UserRow};
use crate::db::{write_tx, DbConnection, DbUuid};
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::service::Ctx;

/// Creates a user after checking the username is free (ignoring letter case), and records
/// it in the audit log; `via` says where (`api`, `cli`, `first-start`).
pub fn create(
    conn: &mut DbConnection,
    user: &users::NewUser<'_>,
    actor_id: Option<Uuid>,
    ctx: &Ctx,
    via: &str,
) -> Result<UserRow, ApiError> {
    write_tx(conn, |conn| {
        if users::find_by_username(conn, user.username)?.is_some() {
            return Err(ApiError::Conflict(format!(
                "The username `{}` is already taken.",
                user.username.trim()
            )));
        }
        let row = users::insert(conn, user)?;
        audit::append(
            conn,
            ctx.audit(actor_id, "user.create", "user", Some(row.id.to_string()), json!({
                    "username": row.username, "full_name": row.full_name, "role": row.role, "via": via
                })),
        )?;
        Ok(row)
    })
}

/// What an admin may change about an account.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub full_name: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
    /// Already hashed (hashing happens before the transaction).
    pub password_hash: Option<String>,
}

/// Changes an account. A change that would leave no active admin is refused (`409`); it is
/// checked under the write lock, so two admins deactivating each other at once cannot both
/// succeed. Deactivating a user or setting their password ends their sessions.
pub fn update(
    conn: &mut DbConnection,
    id: DbUuid,
    changes: &Changes,
    actor: Uuid,
    ctx: &Ctx,
) -> Result<UserRow, ApiError> {
    write_tx(conn, |conn| {
        let before = users::find(conn, id)?;
        let stored = UserChanges {
            full_name: changes.full_name.clone(),
            role: changes.role,
            active: changes.active,
            password_hash: changes.password_hash.clone(),
        };
        users::update(conn, id, &stored)?;
        if users::count_active_admins(conn)? == 0 {
            return Err(ApiError::Conflict(
                "This change would leave no active admin account.".into(),
            ));
        }
        let after = users::find(conn, id)?;
        let mut revoked = 0;
        if stored.password_hash.is_some() || !after.active {
            revoked = users::revoke_all_for_user(conn, id)?;
        }
        let mut diff = Map::new();
        let mut record = |field: &str, old: Value, new: Value| {
            if old != new {
                diff.insert(field.to_string(), json!({ "before": old, "after": new }));
            }
        };
        record("full_name", json!(before.full_name), json!(after.full_name));
        record("role", json!(before.role), json!(after.role));
        record("active", json!(before.active), json!(after.active));
        if stored.password_hash.is_some() {
            diff.insert("password".into(), json!("changed"));
        }
        audit::append(
            conn,
            ctx.audit(
                Some(actor),
                "user.update",
                "user",
                Some(id.to_string()),
                json!({ "changes": diff, "refresh_tokens_revoked": revoked }),
            ),
        )?;
        Ok(after)
    })
}
