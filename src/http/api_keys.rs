//! API keys for dashboards and other machines that only read (admin only).

use actix_web::web::{Data, Path, Query};
use actix_web::{delete, get, post, HttpResponse};
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::api_key::Scope;
use crate::auth::AuthUser;
use crate::db::api_keys::ApiKeyRow;
use crate::db::{self, DbUuid};
use crate::domain::user::Role;
use crate::error::{ApiResult, Problem};
use crate::http::extract::Json;
use crate::http::paging::{check_limit, decode_time_cursor, encode_time_cursor, Page};
use crate::service::api_keys as service;
use crate::service::Ctx;
use crate::state::AppState;

/// What a key may read: as a viewer (dashboard aggregates) or as a supervisor (everything a
/// supervisor reads). Never admin, and never any write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyRole {
    Viewer,
    Supervisor,
}

impl From<KeyRole> for Role {
    fn from(r: KeyRole) -> Role {
        match r {
            KeyRole::Viewer => Role::Viewer,
            KeyRole::Supervisor => Role::Supervisor,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKeyRequest {
    /// What the key is for, e.g. "Layar kantor wali kota"; 1–100 characters.
    #[schema(
        example = "Wall screen, mayor's office",
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    pub role: KeyRole,
    /// After this moment the key is refused; must be in the future. Default: one year
    /// after creation.
    #[serde(default, deserialize_with = "crate::domain::dates::opt_time")]
    pub expires_at: Option<DateTime<FixedOffset>>,
    /// What the key may read (default `["dashboards"]`): `dashboards` (dashboards and the
    /// OPD list and detail), and for supervisor keys also `officials:read`, `reports:read`,
    /// `follow-ups:read`, `audit:read`, `metrics`. Anything else a key asks for is `403`.
    #[schema(min_items = 1, max_items = 6)]
    pub scopes: Option<Vec<Scope>>,
}

/// A key's metadata; the secret is never shown again after creation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub role: KeyRole,
    /// The first characters of the secret, to tell keys apart.
    #[schema(example = "sdk_Q2x1cHZ")]
    pub prefix: String,
    /// The admin who created it; `null` when made on the command line.
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Updated at most once a minute.
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// What the key may read.
    pub scopes: Vec<Scope>,
}

/// A new key with its secret, shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// Send as `Authorization: Bearer <secret>` or `X-API-Key: <secret>`. Not retrievable later.
    #[schema(example = "sdk_Q2x1cHZ0bGZ3b3R4c2V0aGZ2a3JxdW5ibGZ3b3R4c2U")]
    pub secret: String,
}

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    Utc.from_utc_datetime(&t)
}

impl From<ApiKeyRow> for ApiKey {
    fn from(row: ApiKeyRow) -> Self {
        ApiKey {
            id: row.id.0,
            name: row.name,
            role: if row.role == Role::Supervisor {
                KeyRole::Supervisor
            } else {
                KeyRole::Viewer
            },
            prefix: row.prefix,
            created_by: row.created_by.map(|u| u.0),
            created_at: utc(row.created_at),
            expires_at: row.expires_at.map(utc),
            last_used_at: row.last_used_at.map(utc),
            revoked_at: row.revoked_at.map(utc),
            scopes: crate::auth::api_key::scopes_from_text(&row.scopes),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyListQuery {
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Create an API key (admin).
///
/// The key reads only (any other method is `403`), as its role allows and only what its
/// scopes name (`dashboards` when none are given). The answer holds the secret once; store
/// it then. Keys expire after a year unless `expires_at` says otherwise.
#[utoipa::path(
    operation_id = "create_api_key",
    tag = "api-keys",
    request_body = NewApiKeyRequest,
    responses(
        (status = 201, description = "Created; `secret` is shown only here", body = CreatedApiKey, headers(("Location" = String))),
        (status = 403, description = "Caller is not an admin (or is a key)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name, role or expiry", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/api-keys")]
pub async fn create_api_key(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    body: Json<NewApiKeyRequest>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let body = body.0;
    let (row, secret) = super::run(&state.pool, move |conn| {
        service::create(
            conn,
            &service::NewKey {
                name: &body.name,
                role: body.role.into(),
                expires_at: body.expires_at.map(|e| e.naive_utc()),
                scopes: body
                    .scopes
                    .clone()
                    .unwrap_or_else(|| vec![Scope::Dashboards]),
            },
            Some(caller.id),
            &ctx,
            "api",
        )
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/api-keys/{}", row.id)))
        .json(CreatedApiKey {
            key: ApiKey::from(row),
            secret,
        }))
}

/// List API keys (admin).
///
/// Newest first, one page at a time. Metadata only: name, role, scopes, prefix, expiry,
/// last use and revocation; a key's secret is never stored and never shown again.
#[utoipa::path(
    operation_id = "list_api_keys",
    tag = "api-keys",
    params(ApiKeyListQuery),
    responses(
        (status = 200, description = "One page of keys", body = Page<ApiKey>),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/api-keys")]
pub async fn list_api_keys(
    state: Data<AppState>,
    caller: AuthUser,
    query: Query<ApiKeyListQuery>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let query = query.into_inner();
    let limit = check_limit(query.limit)?;
    let after = query
        .cursor
        .as_deref()
        .map(decode_time_cursor)
        .transpose()?;
    let rows = super::run(&state.pool, move |conn| {
        Ok(db::api_keys::list(conn, after, limit)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |r| encode_time_cursor(r.created_at, r.id),
        ApiKey::from,
    )))
}

/// Revoke an API key (admin).
///
/// The key is refused from the next request on. Revoking a revoked key changes nothing and
/// answers the key as it stands.
#[utoipa::path(
    operation_id = "revoke_api_key",
    tag = "api-keys",
    params(("id" = Uuid, Path, description = "API key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/api-keys/{id}")]
pub async fn revoke_api_key(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let id = DbUuid(id.into_inner());
    super::run(&state.pool, move |conn| {
        service::revoke(conn, id, Some(caller.id), &ctx, "api")
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
