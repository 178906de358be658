//! Login, token refresh with rotation and reuse detection, logout, and the caller's own
//! account (`/me`).

use actix_web::web::Data;
use actix_web::{get, post, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::throttle::Refused;
use crate::auth::{refresh, AuthUser};
use crate::db::users::{self as user_db, UserRow};
use crate::db::DbUuid;
use crate::domain::user::{self as rules, PASSWORD_MAX_CHARS};
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::extract::{client_ip, Json};
use crate::http::users::User;
use crate::service::auth::{self as auth_service, Refreshed};
use crate::service::Ctx;
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

/// The token pair of a login session: the access token names the session (the refresh
/// tokens' family) it belongs to.
fn token_response(
    state: &AppState,
    user: UserRow,
    token: auth_service::SessionToken,
) -> ApiResult<HttpResponse> {
    let refresh_token = token.refresh_token;
    let (access_token, expires_in) = state
        .jwt
        .issue(user.id.0, user.role.as_str(), token.session.0)
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
    ctx: Ctx,
    body: Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let LoginRequest { username, password } = body.0;
    let (user, token) = authenticate(&req, &state, ctx, username, password).await?;
    token_response(&state, user, token)
}

/// A login by username and password, for the API and the console alike: throttled per
/// account and per address, audited, and on success a new login session (the record that
/// access tokens and console cookies name, so that logout, a password change or a
/// deactivation ends them).
pub async fn authenticate(
    req: &HttpRequest,
    state: &Data<AppState>,
    ctx: Ctx,
    username: String,
    password: String,
) -> ApiResult<(UserRow, auth_service::SessionToken)> {
    let account = rules::username_key(&username);
    let address = client_ip(req, &state.config.trusted_proxies);
    // Counted before it is verified: a burst of guesses gets no more than a slow series.
    let attempt = match state.throttle.begin(&account, &address).await {
        Ok(attempt) => attempt,
        Err(Refused::Unavailable(e)) => {
            return Err(ApiError::ServiceUnavailable(format!(
                "the login records could not be read: {e}"
            )))
        }
        Err(Refused::Wait(retry_after_secs)) => {
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
        let found = super::run(&state.pool, move |conn| {
            Ok(user_db::find_by_username(conn, &lookup)?)
        })
        .await;
        match found {
            Ok(user) => user,
            Err(e) => {
                // Nothing was guessed: the database did not answer.
                attempt.release().await;
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
                attempt.release().await;
                return Err(e);
            }
        }
    };

    match user {
        Some(user) if verified && user.active => {
            attempt.succeeded().await;
            let ttl = state.config.refresh_token_ttl;
            super::run(&state.pool, move |conn| {
                let token = auth_service::start_session(conn, &user, ttl, &address, &ctx)?;
                Ok((user, token))
            })
            .await
        }
        user => {
            attempt.failed().await;
            state
                .metrics
                .login_failures
                .with_label_values(&["credentials"])
                .inc();
            let attempted: String = username.chars().take(64).collect();
            let user_id = user.as_ref().map(|u| u.id);
            let reason = match &user {
                None => "unknown_user",
                Some(u) if !u.active && verified => "inactive_user",
                Some(_) => "wrong_password",
            };
            super::run(&state.pool, move |conn| {
                auth_service::record_failed_login(conn, user_id, &attempted, &address, reason, &ctx)
            })
            .await?;
            Err(ApiError::Unauthorized(BAD_CREDENTIALS.into()))
        }
    }
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
    ctx: Ctx,
    body: Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let presented = body.0.refresh_token;
    if presented.is_empty() || presented.len() > 128 {
        return Err(ApiError::Unauthorized(BAD_REFRESH.into()));
    }
    let hash = refresh::hash(&presented);
    let ttl = state.config.refresh_token_ttl;
    let outcome = super::run(&state.pool, move |conn| {
        auth_service::refresh(conn, &hash, ttl, &ctx)
    })
    .await?;
    match outcome {
        Refreshed::Issued(user, token) => token_response(&state, *user, token),
        Refreshed::Refused => Err(ApiError::Unauthorized(BAD_REFRESH.into())),
    }
}

/// Log out.
///
/// Revokes the refresh token's whole chain (when it is the caller's), so neither it nor any
/// token refreshed from it works again; access tokens of that login stop working at once.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Logged out: the session's refresh tokens are revoked and its access tokens refused from now on (also `204` when the refresh token was already invalid)"))
)]
#[post("/api/v1/auth/logout")]
pub async fn logout(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    body: Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let hash = refresh::hash(&body.0.refresh_token);
    super::run(&state.pool, move |conn| {
        auth_service::logout(conn, caller.id, &hash, &ctx)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The calling user.
///
/// The account behind the access token. An API key is not an account (`403`).
#[utoipa::path(tag = "auth", responses((status = 200, description = "The caller", body = User)))]
#[get("/api/v1/me")]
pub async fn me(state: Data<AppState>, caller: AuthUser) -> ApiResult<HttpResponse> {
    if caller.is_key() {
        return Err(ApiError::Forbidden(
            "An API key is not a user account; see GET /api/v1/api-keys (admin).".into(),
        ));
    }
    let row = super::run(&state.pool, move |conn| {
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
    ctx: Ctx,
    body: Json<PasswordChange>,
) -> ApiResult<HttpResponse> {
    let PasswordChange {
        current_password,
        new_password,
    } = body.0;
    let account = rules::username_key(&caller.username);
    let address = client_ip(&req, &state.config.trusted_proxies);
    // The current password is a guess like a login's: reserved before it is verified.
    let attempt =
        state
            .throttle
            .begin(&account, &address)
            .await
            .map_err(|refused| match refused {
                Refused::Wait(retry_after_secs) => ApiError::TooManyRequests {
                    detail: "Too many failed password attempts; try again later.".into(),
                    retry_after_secs,
                },
                Refused::Unavailable(e) => ApiError::ServiceUnavailable(format!(
                    "the login records could not be read: {e}"
                )),
            })?;
    if let Err(e) = rules::validate_password("new_password", &new_password, &caller.username) {
        attempt.release().await;
        return Err(ApiError::Validation(vec![e]));
    }
    let uid = DbUuid(caller.id);
    let checked = async {
        let row = super::run(&state.pool, move |conn| Ok(user_db::find(conn, uid)?)).await?;
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
        Ok(true) => attempt.succeeded().await,
        Ok(false) => {
            attempt.failed().await;
            return Err(ApiError::Validation(vec![FieldError::new(
                "current_password",
                "is not the current password",
            )]));
        }
        Err(e) => {
            attempt.release().await;
            return Err(e);
        }
    }
    let new_hash = state.hasher.hash(new_password).await?;
    super::run(&state.pool, move |conn| {
        auth_service::change_password(conn, caller.id, &new_hash, &ctx)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
