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
use crate::domain::reference::{self as rules, ActingKind, JfGrade, PositionKind};
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
    /// The grade (jenjang) of a functional position, when recorded.
    pub jf_grade: Option<JfGrade>,
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
            jf_grade: a.assignment.jf_grade,
            effective_from: a.assignment.effective_from,
            effective_to: a.assignment.effective_to,
        }
    }
}

/// An acting post (Plt: the post is vacant; Plh: its holder is away) held beside the
/// definitive placement, from `effective_from` until the day before `effective_to` (local
/// dates; no end while it lasts).
#[derive(Debug, Serialize, ToSchema)]
pub struct ActingAssignment {
    pub id: Uuid,
    pub kind: ActingKind,
    pub opd_id: Uuid,
    pub opd_code: String,
    pub opd_name: String,
    pub position_title: String,
    pub position_kind: PositionKind,
    pub effective_from: NaiveDate,
    pub effective_to: Option<NaiveDate>,
}

impl From<(refdb::ActingRow, String, String)> for ActingAssignment {
    fn from((a, opd_code, opd_name): (refdb::ActingRow, String, String)) -> Self {
        ActingAssignment {
            id: a.id.0,
            kind: a.kind,
            opd_id: a.opd_id.0,
            opd_code,
            opd_name,
            position_title: a.position_title,
            position_kind: a.position_kind,
            effective_from: a.effective_from,
            effective_to: a.effective_to,
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
    /// Every acting post (Plt, Plh), oldest first.
    pub acting_assignments: Vec<ActingAssignment>,
    /// What an admin should check about the current posts: a PPPK in an administrator or
    /// pengawas post (UU 20/2023), a functional position whose grade is not recorded.
    pub warnings: Vec<String>,
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
    /// Only for a functional position: its grade (jenjang).
    pub jf_grade: Option<JfGrade>,
    pub rank: Option<String>,
    pub opd_id: Uuid,
    /// When the current placement began (local date); default today.
    #[serde(default, deserialize_with = "crate::domain::dates::opt_date")]
    pub effective_from: Option<NaiveDate>,
}

/// Fields to change. A different `opd_id`, `position_title`, `position_kind` or a
/// different recorded `jf_grade` is a transfer (mutasi): the current placement ends on `effective_from` (default today) and a
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
    /// The grade of a functional position. Recording it where none was recorded corrects
    /// the current placement; another grade than the one recorded is a promotion, i.e. a
    /// transfer. `null` clears it (only when the position is no longer functional).
    #[serde(default, deserialize_with = "crate::http::nullable")]
    #[schema(value_type = Option<JfGrade>)]
    pub jf_grade: Option<Option<JfGrade>>,
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

/// An official with every placement and acting post, and its version (the roles that may
/// read it are the caller's to check).
pub async fn load_full(
    state: &AppState,
    ctx: &Ctx,
    id: DbUuid,
) -> ApiResult<(i64, OfficialWithHistory)> {
    let ctx = ctx.clone();
    super::run(&state.pool, move |conn| {
        let current = refdb::find_official(conn, id)?;
        let history = refdb::assignment_history(conn, id)?;
        let acting = refdb::acting_history(conn, id)?;
        let today = ctx.today();
        let a = &current.current.assignment;
        let who = current.official.employment_type;
        let mut warnings = rules::placement_warnings(who, a.position_kind, a.jf_grade);
        for (post, _, _) in acting.iter().filter(|(r, _, _)| {
            r.effective_from <= today && r.effective_to.is_none_or(|end| today < end)
        }) {
            warnings.extend(
                rules::pppk_post_warning(who, post.position_kind)
                    .map(|w| format!("Acting post ({}): {w}", post.kind)),
            );
        }
        Ok((
            current.official.sync_seq,
            OfficialWithHistory {
                official: Official::new(current),
                assignments: history.into_iter().map(Assignment::from).collect(),
                acting_assignments: acting.into_iter().map(ActingAssignment::from).collect(),
                warnings,
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
        jf_grade: b.jf_grade,
        rank: b.rank,
        effective_from: b.effective_from,
    };
    let opd_id = DbUuid(b.opd_id);
    let run_ctx = ctx.clone();
    let id = super::run(&state.pool, move |conn| {
        service::create(conn, input, opd_id, Some(caller.id), &run_ctx)
    })
    .await?;
    let (_, official) = load_full(&state, &ctx, id).await?;
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
    ctx: Ctx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require(&READERS)?;
    let (version, official) = load_full(&state, &ctx, DbUuid(id.into_inner())).await?;
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
        jf_grade: p.jf_grade,
        effective_from: p.effective_from,
    };
    let id = DbUuid(id.into_inner());
    let run_ctx = ctx.clone();
    super::run(&state.pool, move |conn| {
        service::update(conn, id, update, Some(caller.id), &run_ctx)
    })
    .await?;
    let (_, official) = load_full(&state, &ctx, id).await?;
    Ok(HttpResponse::Ok().json(official))
}

/// Import officials from CSV (admin): new NIPs are created, known NIPs updated, and a
/// changed OPD or position is a transfer effective `effective_from` (default today).
///
/// Columns (header row, any order): `nip, full_name, employment_type, position_title,
/// position_kind, opd_code` and optionally `rank, effective_from, jf_grade` (an empty
/// `jf_grade` keeps the grade recorded). All or nothing: when any
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

/// An acting post to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActingRequest {
    /// `plt` (pelaksana tugas: the post is vacant) or `plh` (pelaksana harian: its holder is
    /// away).
    pub kind: ActingKind,
    pub opd_id: Uuid,
    /// 1–200 characters.
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub position_title: String,
    pub position_kind: PositionKind,
    /// The first day of the acting post (local date; a Plh may be recorded ahead).
    #[serde(deserialize_with = "crate::domain::dates::date")]
    pub effective_from: NaiveDate,
    /// When known: the day the post is no longer held (after `effective_from`).
    #[serde(default, deserialize_with = "crate::domain::dates::opt_date")]
    pub effective_to: Option<NaiveDate>,
}

/// The end of an acting post.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActingEndRequest {
    /// The first day the post is no longer held (local date); default today. Not before a
    /// day on which a finding recorded the official in the post.
    #[serde(default, deserialize_with = "crate::domain::dates::opt_date")]
    pub effective_to: Option<NaiveDate>,
}

/// Record an acting post (admin).
///
/// A Plt or Plh post held beside the definitive placement, which stays as it is. Findings
/// made while it is held keep both posts. One acting post at a time: periods may not
/// overlap. Audited as `official.acting_start`.
#[utoipa::path(
    tag = "reference",
    params(("id" = Uuid, Path, description = "Official id")),
    request_body = ActingRequest,
    responses(
        (status = 201, description = "The official with the acting post", body = OfficialWithHistory, headers(("Location" = String))),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such official", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The official is deactivated", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong, or the period overlaps another acting post", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/officials/{id}/acting")]
pub async fn start_acting(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    id: Path<Uuid>,
    body: Json<ActingRequest>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let b = body.0;
    let input = service::ActingInput {
        kind: b.kind,
        opd_id: DbUuid(b.opd_id),
        position_title: b.position_title,
        position_kind: b.position_kind,
        effective_from: b.effective_from,
        effective_to: b.effective_to,
    };
    let id = DbUuid(id.into_inner());
    let run_ctx = ctx.clone();
    super::run(&state.pool, move |conn| {
        service::start_acting(conn, id, input, caller.id, &run_ctx)
    })
    .await?;
    let (_, official) = load_full(&state, &ctx, id).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/officials/{id}")))
        .json(official))
}

/// End an acting post (admin).
///
/// Sets the first day the post is no longer held (default today), or moves a planned end.
/// A post that has ended is `409`. Audited as `official.acting_end`.
#[utoipa::path(
    tag = "reference",
    params(
        ("id" = Uuid, Path, description = "Official id"),
        ("acting_id" = Uuid, Path, description = "Acting post id"),
    ),
    request_body = ActingEndRequest,
    responses(
        (status = 200, description = "The official as it now stands", body = OfficialWithHistory),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such official or acting post", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The acting post has ended", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The end is not after the start or cuts off a recorded finding", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/officials/{id}/acting/{acting_id}/end")]
pub async fn end_acting(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    path: Path<(Uuid, Uuid)>,
    body: Json<ActingEndRequest>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let (id, acting) = path.into_inner();
    let (id, acting) = (DbUuid(id), DbUuid(acting));
    let effective_to = body.0.effective_to;
    let run_ctx = ctx.clone();
    super::run(&state.pool, move |conn| {
        service::end_acting(conn, id, acting, effective_to, caller.id, &run_ctx)
    })
    .await?;
    let (_, official) = load_full(&state, &ctx, id).await?;
    Ok(HttpResponse::Ok().json(official))
}
