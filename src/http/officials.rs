//! Officials (ASN). Personal data: admins, supervisors and inspectors (for the phone's
//! attendance lists) may read; viewers may not; only admins write.

use actix_web::web::{Data, Path, Query};
use actix_web::{get, patch, post, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::reference::{self as refdb, AssignmentWithOpd, OfficialWithCurrent};
use crate::db::DbUuid;
use crate::domain::nip::{self, EmploymentType, Gender};
use crate::domain::reference::PositionKind;
use crate::domain::user::Role;
use crate::error::{ApiResult, Problem};
use crate::http::conditional::json_with_etag;
use crate::http::extract::{CsvBody, Json};
use crate::http::opds::ImportQuery;
use crate::http::paging::{check_limit, decode_cursor, encode_cursor, Page};
use crate::service::import::{self, ImportReport};
use crate::service::officials::{self as service, OfficialInput, OfficialUpdate};
use crate::service::Ctx;
use crate::state::AppState;

/// Roles that may see officials' personal data.
pub const READERS: [Role; 3] = [Role::Admin, Role::Supervisor, Role::Inspector];

/// A placement: where and as what an official served, from `effective_from` until the day
/// before `effective_to` (local dates; no end for the current one).
#[derive(Debug, Serialize, ToSchema)]
pub struct Assignment {
    pub id: Uuid,
    pub opd_id: Uuid,
    pub opd_code: String,
    pub opd_name: String,
    pub position_title: String,
    pub position_kind: PositionKind,
    pub effective_from: NaiveDate,
    pub effective_to: Option<NaiveDate>,
}

impl From<AssignmentWithOpd> for Assignment {
    fn from(a: AssignmentWithOpd) -> Self {
        Assignment {
            id: a.assignment.id.0,
            opd_id: a.assignment.opd_id.0,
            opd_code: a.opd_code,
            opd_name: a.opd_name,
            position_kind: a.assignment.position_kind,
            position_title: a.assignment.position_title,
            effective_from: a.assignment.effective_from,
            effective_to: a.assignment.effective_to,
        }
    }
}

/// An official (ASN). `birth_date` and `gender` are read from the NIP.
#[derive(Debug, Serialize, ToSchema)]
pub struct Official {
    pub id: Uuid,
    #[schema(example = "198503152010011002")]
    pub nip: String,
    pub full_name: String,
    pub employment_type: EmploymentType,
    /// PNS golongan (`III/a`) or PPPK grade (`IX`).
    pub rank: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub gender: Option<Gender>,
    pub active: bool,
    pub current_assignment: Assignment,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An official with every placement they held.
#[derive(Debug, Serialize, ToSchema)]
pub struct OfficialWithHistory {
    #[serde(flatten)]
    pub official: Official,
    /// Every placement, oldest first.
    pub assignments: Vec<Assignment>,
}

impl Official {
    pub fn new(o: OfficialWithCurrent) -> Self {
        let info = nip::info(&o.official.nip);
        Official {
            id: o.official.id.0,
            birth_date: info.map(|i| i.0),
            gender: info.map(|i| i.1),
            employment_type: o.official.employment_type,
            nip: o.official.nip,
            full_name: o.official.full_name,
            rank: o.official.rank,
            active: o.official.active,
            current_assignment: Assignment::from(o.current),
            created_at: Utc.from_utc_datetime(&o.official.created_at),
            updated_at: Utc.from_utc_datetime(&o.official.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOfficialRequest {
    /// 18 digits, checked against `employment_type`; typed as BKN prints it
    /// (`19850315 201001 1 002`, `19850315.201001.1.002`) or with a spreadsheet's leading `'`
    /// is taken too, and stored as the bare digits.
    #[schema(
        example = "198503152010011002",
        pattern = r"^\s*'?(?:[0-9][ .]?){17}[0-9]\s*$"
    )]
    pub nip: String,
    /// 1–200 characters.
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub full_name: String,
    pub employment_type: EmploymentType,
    /// 1–200 characters.
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub position_title: String,
    pub position_kind: PositionKind,
    pub rank: Option<String>,
    pub opd_id: Uuid,
    /// When the current placement began (local date); default today.
    #[serde(default, deserialize_with = "crate::domain::dates::opt_date")]
    pub effective_from: Option<NaiveDate>,
}

/// Fields to change. A different `opd_id`, `position_title` or `position_kind` is a
/// transfer (mutasi): the current placement ends on `effective_from` (default today) and a
/// new one begins; the history is kept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfficialPatch {
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub full_name: Option<String>,
    /// `null` clears the rank.
    #[serde(default, deserialize_with = "crate::http::nullable")]
    #[schema(value_type = Option<String>)]
    pub rank: Option<Option<String>>,
    pub active: Option<bool>,
    pub opd_id: Option<Uuid>,
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub position_title: Option<String>,
    pub position_kind: Option<PositionKind>,
    /// Date the transfer takes effect; not before the current placement began, not in the future.
    #[serde(default, deserialize_with = "crate::domain::dates::opt_date")]
    pub effective_from: Option<NaiveDate>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OfficialListQuery {
    /// Part of the name (any letter case) or of the NIP.
    pub q: Option<String>,
    /// Exact NIP (spaces, dots and a leading `'` are ignored).
    pub nip: Option<String>,
    /// Current OPD.
    pub opd_id: Option<Uuid>,
    /// Current position kind.
    pub position_kind: Option<PositionKind>,
    pub active: Option<bool>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List officials.
///
/// Ordered by NIP, one page at a time, each with their current placement; filter by name,
/// NIP, OPD, position kind or active.
#[utoipa::path(
    tag = "reference",
    params(OfficialListQuery),
    responses(
        (status = 200, description = "One page of officials", body = Page<Official>),
        (status = 403, description = "Viewers may not see personal data", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/officials")]
pub async fn list_officials(
    state: Data<AppState>,
    caller: AuthUser,
    query: Query<OfficialListQuery>,
) -> ApiResult<HttpResponse> {
    caller.require(&READERS)?;
    let query = query.into_inner();
    let limit = check_limit(query.limit)?;
    let filter = refdb::OfficialFilter {
        q: query.q.filter(|q| !q.trim().is_empty()),
        nip: query.nip.as_deref().map(nip::normalize),
        opd_id: query.opd_id.map(DbUuid),
        position_kind: query.position_kind,
        active: query.active,
        after_nip: query
            .cursor
            .as_deref()
            .map(|c| decode_cursor("cursor", c))
            .transpose()?,
        limit,
    };
    let rows = super::run(&state.pool, move |conn| {
        Ok(refdb::list_officials(conn, &filter)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |r| encode_cursor(&r.official.nip),
        Official::new,
    )))
}

async fn load_full(state: &AppState, id: DbUuid) -> ApiResult<(i64, OfficialWithHistory)> {
    super::run(&state.pool, move |conn| {
        let current = refdb::find_official(conn, id)?;
        let history = refdb::assignment_history(conn, id)?;
        Ok((
            current.official.sync_seq,
            OfficialWithHistory {
                official: Official::new(current),
                assignments: history.into_iter().map(Assignment::from).collect(),
            },
        ))
    })
    .await
}

/// Create an official (admin).
///
/// With their current placement. The NIP is checked against the employment type (birth
/// date, CPNS start and gender digit for PNS).
#[utoipa::path(
    tag = "reference",
    request_body = NewOfficialRequest,
    responses(
        (status = 201, description = "Created", body = OfficialWithHistory, headers(("Location" = String))),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The NIP is taken", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/officials")]
pub async fn create_official(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    body: Json<NewOfficialRequest>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let b = body.0;
    let input = OfficialInput {
        nip: b.nip,
        full_name: b.full_name,
        employment_type: Some(b.employment_type),
        position_title: b.position_title,
        position_kind: Some(b.position_kind),
        rank: b.rank,
        effective_from: b.effective_from,
    };
    let opd_id = DbUuid(b.opd_id);
    let id = super::run(&state.pool, move |conn| {
        service::create(conn, input, opd_id, Some(caller.id), &ctx)
    })
    .await?;
    let (_, official) = load_full(&state, id).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/officials/{id}")))
        .json(official))
}

/// Read an official.
///
/// With the current placement and every earlier one. Carries an `ETag`; `If-None-Match`
/// gives `304` while unchanged.
#[utoipa::path(
    tag = "reference",
    params(("id" = Uuid, Path, description = "Official id"), ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy the client holds: `304` while it is current")),
    responses(
        (status = 200, description = "The official", body = OfficialWithHistory, headers(("ETag" = String))),
        (status = 304, description = "Not modified since the given ETag (no body)", headers(("ETag" = String))),
        (status = 403, description = "Viewers may not see personal data", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/officials/{id}")]
pub async fn get_official(
    req: HttpRequest,
    state: Data<AppState>,
    caller: AuthUser,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require(&READERS)?;
    let (version, official) = load_full(&state, DbUuid(id.into_inner())).await?;
    Ok(json_with_etag(&req, version, &official))
}

/// Change an official (admin).
///
/// A change of OPD, position title or position kind is a transfer (mutasi): the current
/// placement ends on `effective_from` and a new one begins, so findings keep the placement
/// they were made in.
#[utoipa::path(
    tag = "reference",
    params(("id" = Uuid, Path, description = "Official id")),
    request_body = OfficialPatch,
    responses(
        (status = 200, description = "The official as it now stands", body = OfficialWithHistory),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api/v1/officials/{id}")]
pub async fn update_official(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    id: Path<Uuid>,
    body: Json<OfficialPatch>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let p = body.0;
    let update = OfficialUpdate {
        full_name: p.full_name,
        rank: p.rank,
        active: p.active,
        opd_id: p.opd_id.map(DbUuid),
        position_title: p.position_title,
        position_kind: p.position_kind,
        effective_from: p.effective_from,
    };
    let id = DbUuid(id.into_inner());
    super::run(&state.pool, move |conn| {
        service::update(conn, id, update, Some(caller.id), &ctx)
    })
    .await?;
    let (_, official) = load_full(&state, id).await?;
    Ok(HttpResponse::Ok().json(official))
}

/// Import officials from CSV (admin): new NIPs are created, known NIPs updated, and a
/// changed OPD or position is a transfer effective `effective_from` (default today).
///
/// Columns (header row, any order): `nip, full_name, employment_type, position_title,
/// position_kind, opd_code` and optionally `rank, effective_from`. All or nothing: when any
/// line is wrong nothing is written, `errors` lists the first 100 wrong lines with their
/// numbers and `error_count` counts them all.
#[utoipa::path(
    tag = "reference",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "CSV with a header row"),
    responses(
        (status = 200, description = "The import report; `applied` tells whether anything was written", body = ImportReport),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/officials/import")]
pub async fn import_officials(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    query: Query<ImportQuery>,
    body: CsvBody,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let dry_run = query.dry_run.unwrap_or(false);
    let report = super::run(&state.pool, move |conn| {
        import::import_officials(conn, &body.0, dry_run, Some(caller.id), &ctx)
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}
