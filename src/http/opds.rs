//! OPDs (work units): everyone signed in may read them; only admins write.

use crate::domain::calendar::WorkWeek;
use actix_web::web::{Data, Path, Query};
use actix_web::{get, patch, post, HttpRequest, HttpResponse};
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::reference::{self as refdb, OpdFields, OpdRow};
use crate::db::DbUuid;
use crate::domain::reference::{OpdKind, DEFAULT_GEOFENCE_M};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::conditional::json_with_etag;
use crate::http::extract::{CsvBody, Json};
use crate::http::paging::{check_limit, decode_cursor, encode_cursor, Page};
use crate::service::import::ImportReport;
use crate::service::Ctx;
use crate::service::{import, opds as service};
use crate::state::AppState;

/// An OPD (Organisasi Perangkat Daerah): a government work unit.
#[derive(Debug, Serialize, ToSchema)]
pub struct Opd {
    pub id: Uuid,
    /// Unique, upper-case.
    #[schema(example = "DINKES")]
    pub code: String,
    #[schema(example = "Dinas Kesehatan")]
    pub name: String,
    pub kind: OpdKind,
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Radius around the coordinates within which an inspection counts as on site.
    pub geofence_radius_m: i32,
    /// A deactivated OPD receives no new inspections but keeps its history.
    pub active: bool,
    /// Which days are its working days (absence on another day does not count).
    pub work_week: WorkWeek,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<OpdRow> for Opd {
    fn from(r: OpdRow) -> Self {
        Opd {
            id: r.id.0,
            kind: r.kind,
            code: r.code,
            name: r.name,
            address: r.address,
            latitude: r.latitude,
            longitude: r.longitude,
            geofence_radius_m: r.geofence_radius_m,
            active: r.active,
            work_week: r.work_week,
            created_at: Utc.from_utc_datetime(&r.created_at),
            updated_at: Utc.from_utc_datetime(&r.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOpd {
    /// 1–32 letters, digits, `.`, `_`, `-` (surrounding spaces are dropped); stored
    /// upper-case; unique.
    #[schema(pattern = r"^\s*[A-Za-z0-9._-]{1,32}\s*$")]
    pub code: String,
    /// 1–200 characters.
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    pub kind: OpdKind,
    /// At most 500 characters; blank means none.
    #[schema(max_length = 500, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub address: Option<String>,
    /// −90..90; given together with `longitude`.
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub latitude: Option<f64>,
    /// −180..180; given together with `latitude`.
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub longitude: Option<f64>,
    /// 10..5000 metres, default 150.
    #[schema(minimum = 10, maximum = 5000)]
    #[serde(default, deserialize_with = "crate::http::whole_number")]
    pub geofence_radius_m: Option<i64>,
    /// Default `mon_fri`. Units serving the public directly (RSUD, puskesmas, Damkar, Satpol
    /// PP; Perpres 21/2023 Pasal 7) may work `mon_sat` or in shifts (`every_day`).
    pub work_week: Option<WorkWeek>,
}

/// Fields to change. `null` clears `address` or the coordinates.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpdPatch {
    #[schema(pattern = r"^\s*[A-Za-z0-9._-]{1,32}\s*$")]
    pub code: Option<String>,
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: Option<String>,
    pub kind: Option<OpdKind>,
    #[serde(default, deserialize_with = "crate::http::nullable")]
    #[schema(value_type = Option<String>, max_length = 500, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::nullable")]
    #[schema(value_type = Option<f64>, minimum = -90.0, maximum = 90.0)]
    pub latitude: Option<Option<f64>>,
    #[serde(default, deserialize_with = "crate::http::nullable")]
    #[schema(value_type = Option<f64>, minimum = -180.0, maximum = 180.0)]
    pub longitude: Option<Option<f64>>,
    #[schema(minimum = 10, maximum = 5000)]
    #[serde(default, deserialize_with = "crate::http::whole_number")]
    pub geofence_radius_m: Option<i64>,
    /// `false` deactivates the OPD (there is no delete).
    pub active: Option<bool>,
    pub work_week: Option<WorkWeek>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OpdListQuery {
    /// Part of the name or code, any letter case.
    pub q: Option<String>,
    pub kind: Option<OpdKind>,
    pub active: Option<bool>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Check and report without writing anything.
    pub dry_run: Option<bool>,
}

fn radius(r: Option<i64>) -> ApiResult<i32> {
    match r {
        None => Ok(DEFAULT_GEOFENCE_M),
        Some(r) => i32::try_from(r).map_err(|_| {
            ApiError::invalid("geofence_radius_m", "must be between 10 and 5000 metres")
        }),
    }
}

/// List OPDs.
///
/// Ordered by code, one page at a time; filter by name, kind or active.
#[utoipa::path(tag = "reference", params(OpdListQuery), responses((status = 200, description = "One page of OPDs", body = Page<Opd>)))]
#[get("/api/v1/opds")]
pub async fn list_opds(
    state: Data<AppState>,
    _caller: AuthUser,
    query: Query<OpdListQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let limit = check_limit(query.limit)?;
    let filter = refdb::OpdFilter {
        q: query.q.filter(|q| !q.trim().is_empty()),
        kind: query.kind,
        active: query.active,
        after_code: query
            .cursor
            .as_deref()
            .map(|c| decode_cursor("cursor", c))
            .transpose()?,
        limit,
    };
    let rows = super::run(&state.pool, move |conn| {
        Ok(refdb::list_opds(conn, &filter)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |r| encode_cursor(&r.code),
        Opd::from,
    )))
}

/// Create an OPD (admin).
///
/// Coordinates and a geofence radius let reports be marked as made inside or outside the
/// office.
#[utoipa::path(
    tag = "reference",
    request_body = NewOpd,
    responses(
        (status = 201, description = "Created", body = Opd, headers(("Location" = String))),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The code is taken", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/opds")]
pub async fn create_opd(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    body: Json<NewOpd>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let b = body.0;
    let fields = OpdFields {
        code: b.code,
        name: b.name,
        kind: b.kind,
        address: b.address,
        latitude: b.latitude,
        longitude: b.longitude,
        geofence_radius_m: radius(b.geofence_radius_m)?,
        active: true,
        work_week: b.work_week.unwrap_or(WorkWeek::MonFri),
    };
    let row = super::run(&state.pool, move |conn| {
        service::create(conn, fields, Some(caller.id), &ctx)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/opds/{}", row.id)))
        .json(Opd::from(row)))
}

/// Read an OPD.
///
/// Carries an `ETag`; `If-None-Match` gives `304` while unchanged.
#[utoipa::path(
    tag = "reference",
    params(("id" = Uuid, Path, description = "OPD id"), ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy the client holds: `304` while it is current")),
    responses(
        (status = 200, description = "The OPD", body = Opd, headers(("ETag" = String))),
        (status = 304, description = "Not modified since the given ETag (no body)", headers(("ETag" = String))),
    )
)]
#[get("/api/v1/opds/{id}")]
pub async fn get_opd(
    req: HttpRequest,
    state: Data<AppState>,
    _caller: AuthUser,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = DbUuid(id.into_inner());
    let row = super::run(&state.pool, move |conn| Ok(refdb::find_opd(conn, id)?)).await?;
    Ok(json_with_etag(&req, row.sync_seq, &Opd::from(row)))
}

/// Change an OPD (admin).
///
/// Changes the given fields. Deactivate with `{"active": false}`: the OPD receives no new
/// reports and keeps its history.
#[utoipa::path(
    tag = "reference",
    params(("id" = Uuid, Path, description = "OPD id")),
    request_body = OpdPatch,
    responses(
        (status = 200, description = "The OPD as it now stands", body = Opd),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The new code is taken", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api/v1/opds/{id}")]
pub async fn update_opd(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    id: Path<Uuid>,
    body: Json<OpdPatch>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let p = body.0;
    let new_radius = p.geofence_radius_m.map(|r| radius(Some(r))).transpose()?;
    let id = DbUuid(id.into_inner());
    let row = super::run(&state.pool, move |conn| {
        service::update(
            conn,
            id,
            |f| {
                if let Some(v) = &p.code {
                    f.code = v.clone();
                }
                if let Some(v) = &p.name {
                    f.name = v.clone();
                }
                if let Some(v) = p.kind {
                    f.kind = v;
                }
                if let Some(v) = &p.address {
                    f.address = v.clone();
                }
                if let Some(v) = p.latitude {
                    f.latitude = v;
                }
                if let Some(v) = p.longitude {
                    f.longitude = v;
                }
                if let Some(v) = new_radius {
                    f.geofence_radius_m = v;
                }
                if let Some(v) = p.active {
                    f.active = v;
                }
                if let Some(v) = p.work_week {
                    f.work_week = v;
                }
            },
            Some(caller.id),
            &ctx,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(Opd::from(row)))
}

/// Import OPDs from CSV (admin): creates new codes, updates existing ones.
///
/// Columns (header row, any order): `code, name, kind` and optionally `address, latitude,
/// longitude, geofence_radius_m`. All or nothing: when any line is wrong nothing is
/// written, `errors` lists the first 100 wrong lines and `error_count` counts them all.
#[utoipa::path(
    tag = "reference",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "CSV with a header row"),
    responses(
        (status = 200, description = "The import report; `applied` tells whether anything was written", body = ImportReport),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/opds/import")]
pub async fn import_opds(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    query: Query<ImportQuery>,
    body: CsvBody,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let dry_run = query.dry_run.unwrap_or(false);
    let report = super::run(&state.pool, move |conn| {
        import::import_opds(conn, &body.0, dry_run, Some(caller.id), &ctx)
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}
