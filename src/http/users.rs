//! User administration (admin only).

use actix_web::web::{Data, Path, Query};
use actix_web::{get, patch, post, HttpResponse};
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::users::{self as user_db, UserRow};
use crate::db::DbUuid;
use crate::domain::user::{self as rules, Role};
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::http::extract::Json;
use crate::http::paging::{check_limit, decode_cursor, encode_cursor, Page};
use crate::service::users as user_service;
use crate::service::Ctx;
use crate::state::AppState;

/// A user account. Never includes the password hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub full_name: String,
    pub role: Role,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: row.id.0,
            username: row.username,
            full_name: row.full_name,
            role: row.role,
            active: row.active,
            created_at: Utc.from_utc_datetime(&row.created_at),
            updated_at: Utc.from_utc_datetime(&row.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    /// 3–64 characters: letters, digits, `.`, `_`, `-`; unique ignoring letter case.
    #[schema(
        example = "inspektur01",
        pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$"
    )]
    pub username: String,
    /// 1–200 characters, no control characters.
    #[schema(
        example = "Siti Rahmawati",
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub full_name: String,
    pub role: Role,
    /// 10–1024 characters and not the username.
    #[schema(min_length = 10, max_length = 1024, pattern = r"^[^\u0000]*$")]
    pub password: String,
}

/// Fields to change; a body that changes nothing answers the user as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub full_name: Option<String>,
    pub role: Option<Role>,
    /// `false` deactivates: the user cannot log in and their refresh tokens stop working.
    pub active: Option<bool>,
    /// Sets a new password and revokes the user's refresh tokens.
    #[schema(min_length = 10, max_length = 1024, pattern = r"^[^\u0000]*$")]
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UserListQuery {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
}

fn forbid_unless_admin(caller: &AuthUser) -> ApiResult<()> {
    caller.require_admin()
}

fn validate_new(body: &NewUserRequest) -> ApiResult<()> {
    let errors: Vec<FieldError> = [
        rules::validate_username(&body.username),
        rules::validate_full_name(&body.full_name),
        rules::validate_password("password", &body.password, &body.username),
    ]
    .into_iter()
    .filter_map(Result::err)
    .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Create a user (admin).
///
/// Usernames are unique ignoring letter case; the password is checked against the policy.
#[utoipa::path(
    tag = "users",
    request_body = NewUserRequest,
    responses(
        (status = 201, description = "Created", body = User, headers(("Location" = String))),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Username taken (ignoring letter case)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/users")]
pub async fn create_user(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    body: Json<NewUserRequest>,
) -> ApiResult<HttpResponse> {
    forbid_unless_admin(&caller)?;
    let body = body.0;
    validate_new(&body)?;
    let hash = state.hasher.hash(body.password.clone()).await?;
    let row = super::run(&state.pool, move |conn| {
        user_service::create(
            conn,
            &user_db::NewUser {
                id: DbUuid(Uuid::new_v4()),
                username: &body.username,
                full_name: &body.full_name,
                role: body.role,
                password_hash: &hash,
            },
            Some(caller.id),
            &ctx,
            "api",
        )
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/users/{}", row.id)))
        .json(User::from(row)))
}

/// List users (admin).
///
/// Ordered by username, one page at a time; filter by role or active.
#[utoipa::path(
    tag = "users",
    params(UserListQuery),
    responses(
        (status = 200, description = "One page of users", body = Page<User>),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/users")]
pub async fn list_users(
    state: Data<AppState>,
    caller: AuthUser,
    query: Query<UserListQuery>,
) -> ApiResult<HttpResponse> {
    forbid_unless_admin(&caller)?;
    let query = query.into_inner();
    let limit = check_limit(query.limit)?;
    let after_key = query
        .cursor
        .as_deref()
        .map(|c| decode_cursor("cursor", c))
        .transpose()?;
    let filter = user_db::ListFilter {
        role: query.role,
        active: query.active,
        after_key,
        limit,
    };
    let rows = super::run(&state.pool, move |conn| Ok(user_db::list(conn, &filter)?)).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |r| encode_cursor(&r.username_key),
        User::from,
    )))
}

/// Read a user (admin).
///
/// The account as it stands; passwords are never shown.
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/users/{id}")]
pub async fn get_user(
    state: Data<AppState>,
    caller: AuthUser,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    forbid_unless_admin(&caller)?;
    let id = DbUuid(id.into_inner());
    let row = super::run(&state.pool, move |conn| Ok(user_db::find(conn, id)?)).await?;
    Ok(HttpResponse::Ok().json(User::from(row)))
}

/// Change a user's role, active flag, full name or password (admin).
///
/// Deactivating a user or setting their password revokes their refresh tokens at once.
/// A change that would leave no active admin is refused with `409`.
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path, description = "User id")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The user as it now stands", body = User),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The change would leave no active admin", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api/v1/users/{id}")]
pub async fn update_user(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    id: Path<Uuid>,
    body: Json<UserPatch>,
) -> ApiResult<HttpResponse> {
    forbid_unless_admin(&caller)?;
    let id = DbUuid(id.into_inner());
    let patch = body.0;
    if patch.full_name.is_none()
        && patch.role.is_none()
        && patch.active.is_none()
        && patch.password.is_none()
    {
        // Nothing to change: the user as it is, and no audit entry.
        let row = super::run(&state.pool, move |conn| Ok(user_db::find(conn, id)?)).await?;
        return Ok(HttpResponse::Ok().json(User::from(row)));
    }
    if let Some(name) = &patch.full_name {
        rules::validate_full_name(name).map_err(|e| ApiError::Validation(vec![e]))?;
    }
    let current = super::run(&state.pool, move |conn| Ok(user_db::find(conn, id)?)).await?;
    let password_hash = match &patch.password {
        Some(pw) => {
            rules::validate_password("password", pw, &current.username)
                .map_err(|e| ApiError::Validation(vec![e]))?;
            Some(state.hasher.hash(pw.clone()).await?)
        }
        None => None,
    };
    let row = super::run(&state.pool, move |conn| {
        user_service::update(
            conn,
            id,
            &user_service::Changes {
                full_name: patch.full_name.as_deref().map(|n| n.trim().to_string()),
                role: patch.role,
                active: patch.active,
                password_hash: password_hash.clone(),
            },
            caller.id,
            &ctx,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(User::from(row)))
}
