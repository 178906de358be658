//! The audit trail: read it, verify it.

use actix_web::web::{Data, Query};
use actix_web::{get, HttpResponse};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::audit::{self, AuditRow, Verification};
use crate::db::read_snapshot;
use crate::domain::user::Role;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::paging::{check_limit, decode_seq_cursor, encode_seq_cursor, Page};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entity type: `user`, `opd`, `official`, `inspection`, `evidence`, `follow_up`,
    /// `finding` (an absence excused), `holiday`.
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub actor_id: Option<Uuid>,
    /// First local day (inclusive).
    pub from: Option<NaiveDate>,
    /// Last local day (inclusive).
    pub to: Option<NaiveDate>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryOut {
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    /// `null` for the system (first start, command line).
    pub actor_id: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    /// What changed; for updates `{field: {before, after}}`. Never password hashes or tokens.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub request_id: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditRow> for AuditEntryOut {
    fn from(r: AuditRow) -> Self {
        AuditEntryOut {
            seq: r.seq,
            occurred_at: Utc.from_utc_datetime(&r.occurred_at),
            actor_id: r.actor_id,
            action: r.action,
            entity_type: r.entity_type,
            entity_id: r.entity_id,
            details: serde_json::from_str(&r.details)
                .unwrap_or(serde_json::Value::String(r.details)),
            request_id: r.request_id,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// List the audit trail (admin, supervisor).
///
/// Who did what, when, newest first, one page at a time; filter by actor, action, entity or
/// time. Entries are never changed or deleted.
#[utoipa::path(
    operation_id = "list_audit",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "One page of entries", body = Page<AuditEntryOut>),
        (status = 403, description = "Admins and supervisors only", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/audit")]
pub async fn list(
    state: Data<AppState>,
    caller: AuthUser,
    query: Query<AuditQuery>,
) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin, Role::Supervisor])?;
    let q = query.into_inner();
    let limit = check_limit(q.limit)?;
    let tz = state.config.timezone;
    let local = |d: NaiveDate| Some(crate::domain::dates::day_start(d, tz));
    let before_seq = q
        .cursor
        .as_deref()
        .map(|c| decode_seq_cursor("cursor", c))
        .transpose()?;
    let bounded = |field, d| {
        crate::domain::dates::check_opt(field, d).map_err(|e| ApiError::Validation(vec![e]))
    };
    let (from, to) = (bounded("from", q.from)?, bounded("to", q.to)?);
    let filter = audit::ListFilter {
        entity_type: q.entity,
        entity_id: q.entity_id,
        actor_id: q.actor_id.map(|a| a.to_string()),
        from: from.and_then(local),
        to: to.and_then(|d| d.succ_opt()).and_then(local),
        before_seq,
        limit,
    };
    let rows = super::run(&state.pool, move |conn| Ok(audit::list(conn, &filter)?)).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |r| encode_seq_cursor(r.seq),
        AuditEntryOut::from,
    )))
}

/// Verify the audit trail's hash chain (admin).
///
/// Recomputes every entry's hash from the one before it. `ok` is `false` when any entry was
/// altered or removed; `first_bad_id` is then the `seq` of the first entry that does not
/// verify.
#[utoipa::path(
    operation_id = "verify_audit",
    tag = "audit",
    responses(
        (status = 200, description = "The verification", body = Verification),
        (status = 403, description = "Admins only", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/audit/verify")]
pub async fn verify(state: Data<AppState>, caller: AuthUser) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let v = super::run(&state.pool, |conn| {
        read_snapshot(conn, |conn| Ok::<_, ApiError>(audit::verify(conn, None)?))
    })
    .await?;
    Ok(HttpResponse::Ok().json(v))
}
