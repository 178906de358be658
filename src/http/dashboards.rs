//! Dashboards: aggregates from the rollups, as JSON or CSV.

use actix_web::http::header;
use actix_web::web::{Data, Query};
use actix_web::{get, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db;
use crate::domain::user::Role;
use crate::error::{ApiError, ApiResult, Problem};
use crate::service::dashboards::{self as service, Interval, Range, Summary};
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Json,
    Csv,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DashboardQuery {
    /// First local day (inclusive); default 29 days before `to`.
    pub from: Option<NaiveDate>,
    /// Last local day (inclusive); default today.
    pub to: Option<NaiveDate>,
    pub opd_id: Option<Uuid>,
    /// `csv` (or `Accept: text/csv`) for CSV with a header row.
    pub format: Option<Format>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TrendsQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub opd_id: Option<Uuid>,
    pub format: Option<Format>,
    /// `day` (local), `week` (ISO, Monday start) or `month`; default `day`.
    pub interval: Option<Interval>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OfficialsQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub opd_id: Option<Uuid>,
    pub format: Option<Format>,
    /// Default 3.
    #[param(minimum = 1)]
    pub min_findings: Option<i64>,
}

/// Rows of a dashboard: flat objects with scalar values.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardRows {
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Map<String, Value>>,
}

const EVERYONE: [Role; 4] = [Role::Admin, Role::Supervisor, Role::Inspector, Role::Viewer];

fn wants_csv(req: &HttpRequest, format: Option<Format>) -> bool {
    format == Some(Format::Csv)
        || (format.is_none()
            && req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/csv")))
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn csv_response(name: &str, range: Range, rows: &[Map<String, Value>]) -> ApiResult<HttpResponse> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if let Some(first) = rows.first() {
        w.write_record(first.keys()).map_err(ApiError::internal)?;
        for r in rows {
            w.write_record(r.values().map(cell))
                .map_err(ApiError::internal)?;
        }
    }
    let body = w.into_inner().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"sidak-{name}-{}-{}.csv\"",
                range.from, range.to
            ),
        ))
        .body(body))
}

fn range(state: &AppState, from: Option<NaiveDate>, to: Option<NaiveDate>) -> ApiResult<Range> {
    Range::new(from, to, crate::service::today(state.config.timezone))
}

/// Overall figures for the range.
#[utoipa::path(
    operation_id = "dashboard_summary",
    tag = "dashboards",
    params(DashboardQuery),
    responses(
        (status = 200, description = "The summary (JSON, or one CSV row)", content((Summary = "application/json"), (String = "text/csv"))),
        (status = 403, description = "Not signed in with a role", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/dashboard/summary")]
pub async fn summary(
    req: HttpRequest,
    state: Data<AppState>,
    caller: AuthUser,
    q: Query<DashboardQuery>,
) -> ApiResult<HttpResponse> {
    caller.require(&EVERYONE)?;
    let q = q.into_inner();
    let r = range(&state, q.from, q.to)?;
    let opd = q.opd_id.map(|o| o.to_string());
    let (today, tz) = (
        crate::service::today(state.config.timezone),
        state.config.timezone,
    );
    let s = db::run(&state.pool, move |conn| {
        service::summary(conn, r, opd.as_deref(), today, tz)
    })
    .await?;
    if wants_csv(&req, q.format) {
        let value = serde_json::to_value(&s).map_err(ApiError::internal)?;
        return csv_response("summary", r, &[service::flatten(&value)]);
    }
    Ok(HttpResponse::Ok().json(s))
}

/// One row per OPD: every active OPD (zeros included), and deactivated ones with data.
#[utoipa::path(
    operation_id = "dashboard_opds",
    tag = "dashboards",
    params(DashboardQuery),
    responses((status = 200, description = "One row per OPD", content((DashboardRows = "application/json"), (String = "text/csv"))))
)]
#[get("/api/v1/dashboard/opds")]
pub async fn opds(
    req: HttpRequest,
    state: Data<AppState>,
    caller: AuthUser,
    q: Query<DashboardQuery>,
) -> ApiResult<HttpResponse> {
    caller.require(&EVERYONE)?;
    let q = q.into_inner();
    let r = range(&state, q.from, q.to)?;
    let opd = q.opd_id.map(|o| o.to_string());
    let items = db::run(&state.pool, move |conn| {
        service::opds(conn, r, opd.as_deref())
    })
    .await?;
    if wants_csv(&req, q.format) {
        return csv_response("opds", r, &items);
    }
    Ok(HttpResponse::Ok().json(DashboardRows {
        from: r.from,
        to: r.to,
        items,
    }))
}

/// A time series in local days, ISO weeks or months; empty buckets are zeros.
#[utoipa::path(
    operation_id = "dashboard_trends",
    tag = "dashboards",
    params(TrendsQuery),
    responses((status = 200, description = "One row per bucket", content((DashboardRows = "application/json"), (String = "text/csv"))))
)]
#[get("/api/v1/dashboard/trends")]
pub async fn trends(
    req: HttpRequest,
    state: Data<AppState>,
    caller: AuthUser,
    q: Query<TrendsQuery>,
) -> ApiResult<HttpResponse> {
    caller.require(&EVERYONE)?;
    let q = q.into_inner();
    let r = range(&state, q.from, q.to)?;
    let opd = q.opd_id.map(|o| o.to_string());
    let interval = q.interval.unwrap_or(Interval::Day);
    let items = db::run(&state.pool, move |conn| {
        service::trends(conn, r, opd.as_deref(), interval)
    })
    .await?;
    if wants_csv(&req, q.format) {
        return csv_response("trends", r, &items);
    }
    Ok(HttpResponse::Ok().json(DashboardRows {
        from: r.from,
        to: r.to,
        items,
    }))
}

/// Repeat offenders: officials with at least `min_findings` findings in the range, with
/// their current OPD and open follow-ups (supervisor, admin).
#[utoipa::path(
    operation_id = "dashboard_officials",
    tag = "dashboards",
    params(OfficialsQuery),
    responses(
        (status = 200, description = "One row per official", content((DashboardRows = "application/json"), (String = "text/csv"))),
        (status = 403, description = "Supervisors and admins only", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/dashboard/officials")]
pub async fn officials(
    req: HttpRequest,
    state: Data<AppState>,
    caller: AuthUser,
    q: Query<OfficialsQuery>,
) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin, Role::Supervisor])?;
    let q = q.into_inner();
    let r = range(&state, q.from, q.to)?;
    let min = q.min_findings.unwrap_or(3);
    if min < 1 {
        return Err(ApiError::invalid("min_findings", "must be at least 1"));
    }
    let opd = q.opd_id.map(|o| o.to_string());
    let items = db::run(&state.pool, move |conn| {
        service::officials(conn, r, opd.as_deref(), min)
    })
    .await?;
    if wants_csv(&req, q.format) {
        return csv_response("officials", r, &items);
    }
    Ok(HttpResponse::Ok().json(DashboardRows {
        from: r.from,
        to: r.to,
        items,
    }))
}
