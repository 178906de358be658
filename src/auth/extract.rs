//! `AuthUser`: the caller, from `Authorization: Bearer <access token>`.
//!
//! The token must verify *and* its user must still exist and be active; the role used for
//! authorization is the one stored now, so a demotion or deactivation takes effect at once.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

use crate::db::{self, DbUuid};
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: Uuid,
    pub username: String,
    pub full_name: String,
    pub role: Role,
}

const INVALID_TOKEN: &str = "A valid access token is required (Authorization: Bearer <token>).";

pub fn unauthorized() -> ApiError {
    ApiError::Unauthorized(INVALID_TOKEN.into())
}

impl AuthUser {
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

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let token = token.ok_or_else(unauthorized)?;
            let claims = state.jwt.verify(&token).map_err(|reason| {
                tracing::debug!(%reason, "access token refused");
                unauthorized()
            })?;
            let user_id = Uuid::parse_str(&claims.sub).map_err(|_| unauthorized())?;
            let row = db::run(&state.pool, move |conn| {
                db::users::find(conn, DbUuid(user_id)).map_err(ApiError::from)
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
            let role = Role::parse(&row.role)
                .ok_or_else(|| ApiError::internal("stored role is unknown"))?;
            Ok(AuthUser {
                id: user_id,
                username: row.username,
                full_name: row.full_name,
                role,
            })
        })
    }
}
