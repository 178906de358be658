//! What every use case is given besides its input: who acts ([`Caller`]) and the settings
//! and request it serves ([`Ctx`]). The HTTP layer builds both from the request (the
//! `AuthUser` and `Ctx` extractors); the command line builds them with [`Ctx::cli`].

use std::sync::Arc;

use chrono::NaiveDate;
use uuid::Uuid;

use crate::auth::api_key::Scope;
use crate::config::{Config, FollowUpConfig};
use crate::db::audit::AuditEntry;
use crate::domain::user::Role;
use crate::error::ApiError;

/// Who acts: a signed-in user, or an API key (then `id` is the key's id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub id: Uuid,
    pub role: Role,
    /// The key's scopes; `None` for a signed-in user.
    pub key_scopes: Option<Vec<Scope>>,
}

impl Caller {
    pub fn user(id: Uuid, role: Role) -> Self {
        Caller {
            id,
            role,
            key_scopes: None,
        }
    }

    pub fn is_key(&self) -> bool {
        self.key_scopes.is_some()
    }

    /// `403` unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "This action is not allowed for the role `{}`.",
                self.role
            )))
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        self.require(&[Role::Admin])
    }
}

/// The settings and the request a use case serves.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub config: Arc<Config>,
    /// The `X-Request-Id` of the HTTP request; `None` on the command line.
    pub request_id: Option<String>,
}

impl Ctx {
    pub fn new(config: Arc<Config>, request_id: Option<String>) -> Self {
        Ctx { config, request_id }
    }

    /// For the command line: no request to point the audit trail at.
    pub fn cli(config: &Config) -> Self {
        Ctx::new(Arc::new(config.clone()), None)
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.config.timezone
    }

    /// The local day now, in the city's time zone.
    pub fn today(&self) -> NaiveDate {
        crate::domain::dates::today(self.tz())
    }

    pub fn follow_ups(&self) -> &FollowUpConfig {
        &self.config.follow_ups
    }

    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The one way an audit entry is made: `actor` did `action` to `entity_type` `entity_id`,
    /// in this request.
    pub fn audit<'a>(
        &'a self,
        actor: Option<Uuid>,
        action: &'a str,
        entity_type: &'a str,
        entity_id: Option<String>,
        details: serde_json::Value,
    ) -> AuditEntry<'a> {
        AuditEntry {
            request_id: self.request_id(),
            ..AuditEntry::new(actor, action, entity_type, entity_id, details)
        }
    }
}
