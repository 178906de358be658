//! Login, token refresh with rotation and reuse detection, logout, and the caller's own
//! account (`/me`).

use actix_web::web::Data;
use actix_web::{get, post, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{refresh, AuthUser};
use crate::db::audit::{self, AuditEntry};
use crate::db::users::{self as user_db, UserRow};
use crate::db::{self, write_tx, DbUuid};
use crate::domain::user::{self as rules, PASSWORD_MAX_CHARS};
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::extract::{client_ip, Json, RequestId};
use crate::http::users::User;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "inspektur01", pattern = r"^[^\u0000]*$")]
    pub username: String,
    #[schema(example = "kata-sandi-rahasia", pattern = r"^[^\u0000]*$")]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
    /// Opaque; spent by `/auth/refresh`, which returns a new one.
    pub refresh_token: String,
    pub user: User,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(pattern = r"^[^\u0000]*$")]
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[schema(pattern = r"^[^\u0000]*$")]
    pub current_password: String,
    /// 10–1024 characters and not the username.
    #[schema(min_length = 10, max_length = 1024, pattern = r"^[^\u0000]*$")]
    pub new_password: String,
}

const BAD_CREDENTIALS: &str = "The username or password is incorrect.";
const BAD_REFRESH: &str = "The refresh token is invalid, expired or already used; log in again.";

/// Creates a new refresh token in `family` (a new family when `None`) and returns it.
fn new_refresh_token(
    conn: &mut db::DbConnection,
    state: &AppState,
    user_id: DbUuid,
    family: Option<DbUuid>,
) -> Result<(String, DbUuid), ApiError> {
    let token = refresh::generate();
    let ttl =
        chrono::Duration::from_std(state.config.refresh_token_ttl).map_err(ApiError::internal)?;
    let expires_at = db::now() + ttl;
    let family = family.unwrap_or(DbUuid(Uuid::new_v4()));
    user_db::insert_refresh_token(conn, user_id, family, &refresh::hash(&token), expires_at)?;
    Ok((token, family))
}

/// The token pair of a login session: the access token names the session (the refresh
/// tokens' family) it belongs to.
fn token_response(
    state: &AppState,
    user: UserRow,
    (refresh_token, session): (String, DbUuid),
) -> ApiResult<HttpResponse> {
    let (access_token, expires_in) = state
        .jwt
        .issue(user.id.0, &user.role, session.0)
        .map_err(ApiError::Internal)?;
    Ok(HttpResponse::Ok().json(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in,
        refresh_token,
        user: User::from(user),
    }))
}

/// Log in with username and password.
///
/// Wrong password, unknown user and deactivated account all give the same `401`. After
/// repeated failures the account (and, after a flood of failures, the client address) is
/// throttled with `429` and `Retry-After`.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    security(()),
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 401, description = "Wrong username or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; see `Retry-After`", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
#[post("/api/v1/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: Data<AppState>,
    request_id: RequestId,
    body: Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let LoginRequest { username, password } = body.0;
    let account = rules::username_key(&username);
    let address = client_ip(&req, &state.config.trusted_proxies);
    // Counted before it is verified: a burst of guesses gets no more than a slow series.
    let attempt = match state.throttle.begin(&account, &address) {
        Ok(attempt) => attempt,
        Err(retry_after_secs) => {
            state
                .metrics
                .login_failures
                .with_label_values(&["throttled"])
                .inc();
            return Err(ApiError::TooManyRequests {
                detail: "Too many failed login attempts; try again later.".into(),
                retry_after_secs,
            });
        }
    };

    let lookup = username.clone();
    let user = if account.is_empty() || account.len() > 256 {
        None
    } else {
        let found = db::run(&state.pool, move |conn| {
            Ok(user_db::find_by_username(conn, &lookup)?)
        })
        .await;
        match found {
            Ok(user) => user,
            Err(e) => {
                // Nothing was guessed: the database did not answer.
                attempt.release();
                return Err(e);
            }
        }
    };
    let verified = if password.chars().count() > PASSWORD_MAX_CHARS {
        false
    } else {
        match state
            .hasher
            .verify(password, user.as_ref().map(|u| u.password_hash.clone()))
            .await
        {
            Ok(verified) => verified,
            Err(e) => {
                attempt.release();
                return Err(e);
            }
        }
    };

    match user {
        Some(user) if verified && user.active => {
            attempt.succeeded();
            let st = state.clone();
            let rid = request_id.0.clone();
            let (user, refresh_token) = db::run(&state.pool, move |conn| {
                write_tx(conn, |conn| {
                    let token = new_refresh_token(conn, &st, user.id, None)?;
                    audit::append(
                        conn,
                        AuditEntry {
                            actor_id: Some(user.id.0),
                            action: "auth.login",
                            entity_type: "user",
                            entity_id: Some(user.id.to_string()),
                            details: json!({ "address": address }),
                            request_id: Some(&rid),
                        },
                    )?;
                    Ok((user.clone(), token))
                })
            })
            .await?;
            token_response(&state, user, refresh_token)
        }
        user => {
            attempt.failed();
            state
                .metrics
                .login_failures
                .with_label_values(&["credentials"])
                .inc();
            let rid = request_id.0.clone();
            let attempted: String = username.chars().take(64).collect();
            let user_id = user.as_ref().map(|u| u.id);
            let reason = match &user {
                None => "unknown_user",
                Some(u) if !u.active && verified => "inactive_user",
                Some(_) => "wrong_password",
            };
            db::run(&state.pool, move |conn| {
                write_tx(conn, |conn| {
                    audit::append(
                        conn,
                        AuditEntry {
                            actor_id: None,
                            action: "auth.login_failed",
                            entity_type: "user",
                            entity_id: user_id.map(|id| id.to_string()),
                            details: json!({ "username": attempted, "address": address, "reason": reason }),
                            request_id: Some(&rid),
                        },
                    )
                    .map_err(ApiError::from)
                })
            })
            .await?;
            Err(ApiError::Unauthorized(BAD_CREDENTIALS.into()))
        }
    }
}

enum RefreshOutcome {
    Issued(Box<UserRow>, (String, DbUuid)),
    Refused,
}

/// Exchange a refresh token for a new pair.
///
/// The presented token is spent. Presenting a spent token again — a replay, or a second
/// concurrent use — revokes every token of its login (the whole chain) and is audited.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    security(()),
    responses(
        (status = 200, description = "A new access and refresh token", body = TokenResponse),
        (status = 401, description = "Invalid, expired, revoked or spent refresh token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/auth/refresh")]
pub async fn refresh_tokens(
    state: Data<AppState>,
    request_id: RequestId,
    body: Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let presented = body.0.refresh_token;
    if presented.is_empty() || presented.len() > 128 {
        return Err(ApiError::Unauthorized(BAD_REFRESH.into()));
    }
    let hash = refresh::hash(&presented);
    let st = state.clone();
    let outcome = db::run(&state.pool, move |conn| {
        write_tx(conn, |conn| {
            let Some(row) = user_db::find_refresh_token(conn, &hash)? else {
                return Ok(RefreshOutcome::Refused);
            };
            if row.revoked_at.is_some() {
                return Ok(RefreshOutcome::Refused);
            }
            if row.used_at.is_none() && row.expires_at <= db::now() {
                return Ok(RefreshOutcome::Refused);
            }
            let spent_now = row.used_at.is_none() && user_db::spend_refresh_token(conn, row.id)?;
            if !spent_now {
                let revoked = user_db::revoke_family(conn, row.family_id)?;
                audit::append(
                    conn,
                    AuditEntry {
                        actor_id: None,
                        action: "auth.refresh_token_reuse",
                        entity_type: "user",
                        entity_id: Some(row.user_id.to_string()),
                        details: json!({ "family_id": row.family_id.to_string(), "tokens_revoked": revoked }),
                        request_id: Some(&request_id.0),
                    },
                )?;
                tracing::warn!(user_id = %row.user_id, "refresh token reuse: token chain revoked");
                return Ok(RefreshOutcome::Refused);
            }
            let user = user_db::find(conn, row.user_id)?;
            if !user.active {
                user_db::revoke_family(conn, row.family_id)?;
                return Ok(RefreshOutcome::Refused);
            }
            let token = new_refresh_token(conn, &st, row.user_id, Some(row.family_id))?;
            Ok::<_, ApiError>(RefreshOutcome::Issued(Box::new(user), token))
        })
    })
    .await?;
    match outcome {
        RefreshOutcome::Issued(user, token) => token_response(&state, *user, token),
        RefreshOutcome::Refused => Err(ApiError::Unauthorized(BAD_REFRESH.into())),
    }
}

/// Log out: revokes the refresh token's whole chain (if it is the caller's).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Logged out: the session's refresh tokens are revoked and its access tokens refused from now on (also `204` when the refresh token was already invalid)"))
)]
#[post("/api/v1/auth/logout")]
pub async fn logout(
    state: Data<AppState>,
    caller: AuthUser,
    request_id: RequestId,
    body: Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let hash = refresh::hash(&body.0.refresh_token);
    db::run(&state.pool, move |conn| {
        write_tx(conn, |conn| {
            if let Some(row) = user_db::find_refresh_token(conn, &hash)? {
                if row.user_id.0 == caller.id {
                    let revoked = user_db::revoke_family(conn, row.family_id)?;
                    audit::append(
                        conn,
                        AuditEntry {
                            actor_id: Some(caller.id),
                            action: "auth.logout",
                            entity_type: "user",
                            entity_id: Some(caller.id.to_string()),
                            details: json!({ "tokens_revoked": revoked }),
                            request_id: Some(&request_id.0),
                        },
                    )?;
                }
            }
            Ok::<_, ApiError>(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The calling user.
#[utoipa::path(tag = "auth", responses((status = 200, description = "The caller", body = User)))]
#[get("/api/v1/me")]
pub async fn me(state: Data<AppState>, caller: AuthUser) -> ApiResult<HttpResponse> {
    if caller.api_key.is_some() {
        return Err(ApiError::Forbidden(
            "An API key is not a user account; see GET /api/v1/api-keys (admin).".into(),
        ));
    }
    let row = db::run(&state.pool, move |conn| {
        Ok(user_db::find(conn, DbUuid(caller.id))?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(User::from(row)))
}

/// Change the caller's own password; every refresh token of the caller is revoked.
///
/// A wrong `current_password` is a `422` on that field (and counts as a failed login for
/// throttling).
#[utoipa::path(
    tag = "auth",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Password changed; log in again on other devices"),
        (status = 429, description = "Too many wrong current passwords", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/me/password")]
pub async fn change_password(
    req: HttpRequest,
    state: Data<AppState>,
    caller: AuthUser,
    request_id: RequestId,
    body: Json<PasswordChange>,
) -> ApiResult<HttpResponse> {
    let PasswordChange {
        current_password,
        new_password,
    } = body.0;
    let account = rules::username_key(&caller.username);
    let address = client_ip(&req, &state.config.trusted_proxies);
    // The current password is a guess like a login's: reserved before it is verified.
    let attempt = state
        .throttle
        .begin(&account, &address)
        .map_err(|retry_after_secs| ApiError::TooManyRequests {
            detail: "Too many failed password attempts; try again later.".into(),
            retry_after_secs,
        })?;
    if let Err(e) = rules::validate_password("new_password", &new_password, &caller.username) {
        attempt.release();
        return Err(ApiError::Validation(vec![e]));
    }
    let uid = DbUuid(caller.id);
    let checked = async {
        let row = db::run(&state.pool, move |conn| Ok(user_db::find(conn, uid)?)).await?;
        if current_password.chars().count() > PASSWORD_MAX_CHARS {
            return Ok(false);
        }
        state
            .hasher
            .verify(current_password, Some(row.password_hash))
            .await
    }
    .await;
    match checked {
        Ok(true) => attempt.succeeded(),
        Ok(false) => {
            attempt.failed();
            return Err(ApiError::Validation(vec![FieldError::new(
                "current_password",
                "is not the current password",
            )]));
        }
        Err(e) => {
            attempt.release();
            return Err(e);
        }
    }
    let new_hash = state.hasher.hash(new_password).await?;
    db::run(&state.pool, move |conn| {
        write_tx(conn, |conn| {
            user_db::update(
                conn,
                uid,
                &user_db::UserChanges {
                    password_hash: Some(new_hash.clone()),
                    ..Default::default()
                },
            )?;
            let revoked = user_db::revoke_all_for_user(conn, uid)?;
            audit::append(
                conn,
                AuditEntry {
                    actor_id: Some(caller.id),
                    action: "user.password_change",
                    entity_type: "user",
                    entity_id: Some(caller.id.to_string()),
                    details: json!({ "refresh_tokens_revoked": revoked, "at": Utc::now().to_rfc3339() }),
                    request_id: Some(&request_id.0),
                },
            )?;
            Ok::<_, ApiError>(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
