//! The console's login session: an HttpOnly, SameSite=Strict cookie holding a signed token
//! (`typ` `console`, refused as an API access token) that names the same login session as
//! the API's tokens. Every request checks that session in the database, so logout, a
//! password change or a deactivation ends the cookie at once, and the role used is the one
//! stored now.
//!
//! CSRF: every form carries the session's token (the cookie token's `jti`, which a page of
//! another site can neither read nor set); a POST without it is refused (`403`) before
//! anything is read or written. The login form, which has no session yet, uses a
//! double-submit cookie of its own.

use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::Data;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::PageError;
use crate::db::{self, DbUuid};
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::service::Caller;
use crate::state::AppState;

/// The session cookie.
pub const COOKIE: &str = "sidak_sesi";
/// The login form's CSRF cookie.
pub const LOGIN_CSRF_COOKIE: &str = "sidak_masuk";
/// How long a console login lasts: one working day.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// The form field every POST carries.
pub const CSRF_FIELD: &str = "_csrf";

/// Who is looking at the console.
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    pub caller: Caller,
    pub full_name: String,
    pub session: Uuid,
    /// Put into every form as `_csrf`.
    pub csrf: String,
}

impl ConsoleUser {
    pub fn role(&self) -> Role {
        self.caller.role
    }

    /// Supervisors and admins: every page, names and NIPs.
    pub fn reviews(&self) -> bool {
        matches!(self.caller.role, Role::Supervisor | Role::Admin)
    }

    /// `403` unless the role is one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), PageError> {
        self.caller.require(roles).map_err(PageError::from)
    }

    /// `403` unless `presented` is this session's CSRF token.
    pub fn check_csrf(&self, presented: Option<&str>) -> Result<(), PageError> {
        same_token(presented, &self.csrf)
    }
}

fn same_token(presented: Option<&str>, expected: &str) -> Result<(), PageError> {
    let ok = presented.is_some_and(|p| {
        !expected.is_empty() && bool::from(p.as_bytes().ct_eq(expected.as_bytes()))
    });
    if ok {
        Ok(())
    } else {
        Err(PageError::Api(ApiError::Forbidden(
            "Formulir ini kedaluwarsa atau tidak berasal dari halaman Sidak; muat ulang halaman lalu coba lagi."
                .into(),
        )))
    }
}

/// Whether cookies must be `Secure`: the public address is https, or the request came
/// through a trusted proxy that says the client used https.
fn secure(req: &HttpRequest, state: &AppState) -> bool {
    if state
        .config
        .public_url
        .as_deref()
        .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
    {
        return true;
    }
    let from_proxy = req
        .peer_addr()
        .is_some_and(|a| state.config.trusted_proxies.contains(&a.ip()));
    from_proxy
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

fn cookie<'a>(
    req: &HttpRequest,
    state: &AppState,
    name: &'a str,
    value: String,
    max_age: Duration,
) -> Cookie<'a> {
    Cookie::build(name, value)
        .path("/app")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(req, state))
        .max_age(actix_web::cookie::time::Duration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        ))
        .finish()
}

/// The session cookie for a new login session.
pub fn session_cookie(
    req: &HttpRequest,
    state: &AppState,
    user: Uuid,
    role: Role,
    session: Uuid,
) -> Result<Cookie<'static>, ApiError> {
    let (token, _) = state
        .jwt
        .issue_console(user, role.as_str(), session, SESSION_TTL)
        .map_err(ApiError::Internal)?;
    Ok(cookie(req, state, COOKIE, token, SESSION_TTL))
}

/// A cookie that removes `name`.
pub fn removal(req: &HttpRequest, state: &AppState, name: &'static str) -> Cookie<'static> {
    let mut c = cookie(req, state, name, String::new(), Duration::ZERO);
    c.make_removal();
    c
}

/// The login form's CSRF token: the one in the browser's cookie, or a new one with the
/// cookie to set.
pub fn login_csrf(req: &HttpRequest, state: &AppState) -> (String, Option<Cookie<'static>>) {
    match req.cookie(LOGIN_CSRF_COOKIE) {
        Some(c) if c.value().len() >= 32 => (c.value().to_string(), None),
        _ => {
            let token = crate::auth::refresh::generate();
            let c = cookie(
                req,
                state,
                LOGIN_CSRF_COOKIE,
                token.clone(),
                Duration::from_secs(3600),
            );
            (token, Some(c))
        }
    }
}

/// `403` unless the login form's token matches the browser's login cookie.
pub fn check_login_csrf(req: &HttpRequest, presented: Option<&str>) -> Result<(), PageError> {
    let expected = req
        .cookie(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    same_token(presented, &expected)
}

/// The console user of the request, or `None` without a live session.
pub async fn current(req: &HttpRequest, state: &AppState) -> Result<Option<ConsoleUser>, ApiError> {
    let Some(cookie) = req.cookie(COOKIE) else {
        return Ok(None);
    };
    let Ok(claims) = state.jwt.verify_console(cookie.value()) else {
        return Ok(None);
    };
    let (Ok(user_id), Ok(session)) = (Uuid::parse_str(&claims.sub), Uuid::parse_str(&claims.sid))
    else {
        return Ok(None);
    };
    let row = crate::http::run(&state.pool, move |conn| {
        db::users::find_in_session(conn, DbUuid(user_id), DbUuid(session)).map_err(ApiError::from)
    })
    .await;
    let row = match row {
        Ok(row) if row.active => row,
        Ok(_) | Err(ApiError::NotFound) => return Ok(None),
        Err(other) => return Err(other),
    };
    Ok(Some(ConsoleUser {
        caller: Caller::user(user_id, row.role),
        full_name: row.full_name,
        session,
        csrf: claims.jti,
    }))
}

/// The extractor: a page without a live session sends the browser to the login page, and
/// back here afterwards.
impl FromRequest for ConsoleUser {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<Data<AppState>>()
                .cloned()
                .ok_or_else(|| PageError::Api(ApiError::internal("application state missing")))?;
            match current(&req, &state).await? {
                Some(user) => Ok(user),
                None => {
                    let next = if req.method() == actix_web::http::Method::GET {
                        req.uri()
                            .path_and_query()
                            .map(|p| p.as_str().to_string())
                            .unwrap_or_default()
                    } else {
                        String::new()
                    };
                    Err(PageError::Login(next))
                }
            }
        })
    }
}

/// Where to go after logging in: only a path of the console itself.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/app/") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_string()
        }
        _ => "/app/".into(),
    }
}

/// The `Location` of the login page that comes back to `next`.
pub fn login_location(next: &str) -> String {
    if next.is_empty() || next == "/app/" {
        "/app/masuk".into()
    } else {
        format!("/app/masuk?lanjut={}", urlencode(next))
    }
}

pub fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|e| e.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

/// A `303 See Other` to `location`.
pub fn see_other(location: &str) -> actix_web::HttpResponse {
    actix_web::HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .finish()
}
