//! Operations endpoints: liveness, readiness, the OpenAPI document.

use actix_web::web::Data;
use actix_web::{get, HttpResponse};
use diesel::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ok")]
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// Where photos are stored: `local` or `s3`.
    #[schema(example = "local")]
    pub evidence: String,
    /// Backups: the schedule, the next scheduled time, and the last backup taken by any
    /// server of this database (scheduled or by `sidak backup`).
    pub backup: BackupReadiness,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BackupReadiness {
    /// `SIDAK_BACKUP_SCHEDULE` as read (`daily 02:00`, `every 6h`); null when backups
    /// are not scheduled.
    #[schema(example = "daily 02:00")]
    pub schedule: Option<String>,
    /// The next scheduled time (UTC).
    pub next_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the last backup ended (UTC); null when none ever ended.
    pub last_at: Option<chrono::DateTime<chrono::Utc>>,
    /// How the last backup ended: `ok` or `failed` (the reason is in the server's log).
    #[schema(example = "ok")]
    pub last_outcome: Option<String>,
    /// When the last successful backup ended (UTC).
    pub last_success_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn ms_to_time(ms: Option<i64>) -> Option<chrono::DateTime<chrono::Utc>> {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
}

/// The OpenAPI document as served at `/openapi.yaml`.
pub struct SpecYaml(pub String);

/// Liveness.
///
/// The process is up and serving; it does not touch the database.
#[utoipa::path(tag = "operations", security(()), responses((status = 200, description = "Up", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

/// Readiness.
///
/// The database answers a query and the photo store answers a listing; `503` when either
/// does not.
#[utoipa::path(
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "The database or the photo store does not answer", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: Data<AppState>) -> ApiResult<HttpResponse> {
    let (backend, backups) = super::run(&state.pool, |conn| {
        diesel::sql_query("SELECT 1")
            .execute(conn)
            .map_err(|e| ApiError::ServiceUnavailable(format!("readiness query failed: {e}")))?;
        let backups = crate::db::backups::last(conn)
            .map_err(|e| ApiError::ServiceUnavailable(format!("readiness query failed: {e}")))?;
        Ok((conn.backend_name(), backups))
    })
    .await
    .map_err(|e| match e {
        ApiError::Internal(m) => ApiError::ServiceUnavailable(m),
        other => other,
    })?;
    state
        .evidence
        .check()
        .await
        .map_err(|e| ApiError::ServiceUnavailable(format!("readiness: {e}")))?;
    let evidence = match state.evidence.location() {
        crate::storage::EvidenceLocation::Local(_) => "local",
        crate::storage::EvidenceLocation::S3 { .. } => "s3",
    };
    let schedule = state.config.backup_schedule.as_ref();
    Ok(HttpResponse::Ok().json(Readiness {
        status: "ok".into(),
        database: backend.into(),
        evidence: evidence.into(),
        backup: BackupReadiness {
            schedule: schedule.map(|s| s.to_string()),
            next_at: schedule.map(|s| s.next_after(chrono::Utc::now(), state.config.timezone)),
            last_at: ms_to_time(backups.last.as_ref().and_then(|r| r.finished_at)),
            last_outcome: backups.last.as_ref().map(|r| r.outcome.clone()),
            last_success_at: ms_to_time(backups.last_ok.as_ref().and_then(|r| r.finished_at)),
        },
    }))
}

/// This document.
///
/// The OpenAPI 3.1 document the server was built with, as YAML.
#[utoipa::path(
    tag = "operations",
    security(()),
    params(("Accept" = Option<String>, Header, description = "`text/plain` (alone) labels the YAML so; otherwise it comes as `application/yaml`")),
    responses((status = 200, description = "The OpenAPI 3.1 document, as YAML", content((serde_json::Value = "application/yaml"), (String = "text/plain"))))
)]
#[get("/openapi.yaml")]
pub async fn openapi_yaml(req: actix_web::HttpRequest, spec: Data<SpecYaml>) -> HttpResponse {
    let media_type = if super::extract::accepts_only(&req, "text/plain") {
        "text/plain; charset=utf-8"
    } else {
        "application/yaml; charset=utf-8"
    };
    HttpResponse::Ok()
        .content_type(media_type)
        .body(spec.0.clone())
}

/// Prometheus metrics (admin, supervisor).
///
/// Requests and latency by route pattern and status class, the database pool, records
/// written and login failures, in the Prometheus text format.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        (status = 403, description = "Admins and supervisors only", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/metrics")]
pub async fn metrics(
    state: Data<AppState>,
    caller: crate::auth::AuthUser,
) -> ApiResult<HttpResponse> {
    caller.require(&[
        crate::domain::user::Role::Admin,
        crate::domain::user::Role::Supervisor,
    ])?;
    let pool = state.pool.state();
    state
        .metrics
        .pool_in_use
        .set(i64::from(pool.connections - pool.idle_connections));
    state
        .metrics
        .pool_idle
        .set(i64::from(pool.idle_connections));
    use std::sync::atomic::Ordering::Relaxed;
    state
        .metrics
        .blocking_waiting
        .set(crate::http::BLOCKING_WAITING.load(Relaxed));
    state
        .metrics
        .blocking_running
        .set(crate::http::BLOCKING_RUNNING.load(Relaxed));
    let (backups, backlog) = super::run(&state.pool, |conn| {
        Ok((
            crate::db::backups::last(conn)?,
            crate::db::deliveries::backlog(conn)?,
        ))
    })
    .await?;
    state.metrics.set_backups(&backups);
    state
        .metrics
        .set_webhooks(&backlog, chrono::Utc::now().timestamp_millis());
    let m = &state.metrics;
    for (counter, total) in [
        (&m.grouped_writes, &crate::db::group::JOBS),
        (&m.grouped_batches, &crate::db::group::BATCHES),
        (&m.grouped_redone, &crate::db::group::REDONE),
    ] {
        counter.inc_by(total.load(Relaxed).saturating_sub(counter.get()));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render()))
}
