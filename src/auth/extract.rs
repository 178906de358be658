//! `AuthUser`: the caller, from `Authorization: Bearer <access token>`, or an API key
//! (`Authorization: Bearer sdk_…` or `X-API-Key: sdk_…`).
//!
//! The token must verify *and* its user must still exist and be active, and its login
//! session (claim `sid`) must not have ended (logout, a replayed refresh token, a password
//! change, a deactivation); the role used for authorization is the one stored now, so a
//! demotion or deactivation takes effect at once.
//! A key must exist, be neither revoked nor expired, and may only read: the request
//! middleware answers `403` to any other method carrying a key, whatever its role.

use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

use crate::auth::api_key;
use crate::db::{self, DbUuid};
use crate::error::ApiError;
use crate::service::Caller;
use crate::state::AppState;

/// The authenticated caller as the HTTP layer sees it: the [`Caller`] the use cases take
/// (reached through `Deref`), plus the names shown back to it. For an API key, `username`
/// is its shown prefix and `full_name` its name.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub caller: Caller,
    pub username: String,
    pub full_name: String,
}

impl std::ops::Deref for AuthUser {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

const INVALID_TOKEN: &str = "A valid access token is required (Authorization: Bearer <token>).";

pub fn unauthorized() -> ApiError {
    ApiError::Unauthorized(INVALID_TOKEN.into())
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

pub const API_KEY_HEADER: &str = "x-api-key";

enum Credential {
    Token(String),
    Key(String),
}

/// The one credential of the request. Both headers at once is refused (`None`), so a key
/// never silently stands in for a user or the other way round.
fn credential(req: &HttpRequest) -> Option<Credential> {
    let key = req
        .headers()
        .get(API_KEY_HEADER)
        .map(|v| v.to_str().map(|s| s.trim().to_string()));
    match (key, req.headers().contains_key(header::AUTHORIZATION)) {
        (Some(_), true) => None,
        (Some(k), false) => k.ok().map(Credential::Key),
        (None, _) => bearer(req).map(|t| {
            if api_key::looks_like_key(&t) {
                Credential::Key(t)
            } else {
                Credential::Token(t)
            }
        }),
    }
}

/// Methods that change nothing; the only ones an API key may use.
pub fn reads_only(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

/// Whether the request presents an API key (valid or not).
pub fn carries_api_key(req: &HttpRequest) -> bool {
    req.headers().contains_key(API_KEY_HEADER)
        || bearer(req).is_some_and(|t| api_key::looks_like_key(&t))
}

pub fn key_write_refused() -> ApiError {
    ApiError::Forbidden("API keys can only read; this request would change data.".into())
}

/// The key's caller. That a key only reads is enforced once, for every path, by the
/// request middleware (`http::middleware::around`) before any extractor runs.
async fn key_caller(state: &AppState, secret: String, path: &str) -> Result<AuthUser, ApiError> {
    let presented = api_key::hash(&secret);
    drop(secret);
    let at = db::now();
    let stale_before = at - chrono::Duration::seconds(api_key::TOUCH_INTERVAL_SECONDS);
    let row = crate::http::run(&state.pool, move |conn| {
        let Some(row) = db::api_keys::find_by_hash(conn, &presented)? else {
            return Ok(None);
        };
        let usable = api_key::same_hash(&row.secret_hash, &presented)
            && row.revoked_at.is_none()
            && row.expires_at.is_none_or(|e| e > at);
        if !usable {
            return Ok(None);
        }
        if row.last_used_at.is_none_or(|t| t < stale_before) {
            // Through the writers' queue like every other write (on SQLite a bare UPDATE
            // would wait in the busy handler behind a report being written).
            let touched = db::write_tx(conn, |c| db::api_keys::touch(c, row.id, at, stale_before));
            if let Err(e) = touched {
                // The key is valid; a missed `last_used_at` must not refuse the read.
                tracing::warn!(key_id = %row.id, error = %e, "could not record the key's use");
            }
        }
        Ok(Some(row))
    })
    .await?;
    let row = row.ok_or_else(unauthorized)?;
    let role = row.role;
    // A key reaches only what its scopes name, and only as far as its role allows.
    let scopes = api_key::scopes_from_text(&row.scopes);
    match api_key::Scope::for_path(path) {
        Some(needed) if scopes.contains(&needed) => {}
        Some(needed) => {
            return Err(ApiError::Forbidden(format!(
                "This API key's scopes do not include `{}`; an admin can make a key that has it.",
                needed.as_str()
            )))
        }
        None => {
            return Err(ApiError::Forbidden(
                "API keys cannot read this resource.".into(),
            ))
        }
    }
    let allowed = state
        .key_limiter
        .check(row.id.0)
        .await
        .map_err(|e| ApiError::ServiceUnavailable(format!("the API key allowance: {e}")))?;
    if let Err(wait) = allowed {
        return Err(ApiError::TooManyRequests {
            detail: "This API key has used its requests for the minute; retry later.".into(),
            retry_after_secs: wait.as_secs().saturating_add(1),
        });
    }
    Ok(AuthUser {
        caller: Caller {
            id: row.id.0,
            role,
            key_scopes: Some(scopes),
        },
        username: row.prefix,
        full_name: row.name,
    })
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let credential = credential(req);
        let path = req.path().to_string();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let token = match credential.ok_or_else(unauthorized)? {
                Credential::Token(t) => t,
                Credential::Key(k) => return key_caller(&state, k, &path).await,
            };
            let claims = state.jwt.verify(&token).map_err(|reason| {
                tracing::debug!(%reason, "access token refused");
                unauthorized()
            })?;
            let user_id = Uuid::parse_str(&claims.sub).map_err(|_| unauthorized())?;
            let session = Uuid::parse_str(&claims.sid).map_err(|_| unauthorized())?;
            let row = crate::http::run(&state.pool, move |conn| {
                db::users::find_in_session(conn, DbUuid(user_id), DbUuid(session))
                    .map_err(ApiError::from)
            })
            .await;
            let row = match row {
                Ok(row) => row,
                Err(ApiError::NotFound) => return Err(unauthorized()),
                Err(other) => return Err(other),
            };
            if !row.active {
                return Err(unauthorized());
            }
            let role = row.role;
            Ok(AuthUser {
                caller: Caller::user(user_id, role),
                username: row.username,
                full_name: row.full_name,
            })
        })
    }
}
