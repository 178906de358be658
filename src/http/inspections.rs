//! Inspection reports from the field.

use actix_web::http::header;
use actix_web::web::{Data, Path, Query};
use actix_web::{get, patch, post, HttpRequest, HttpResponse};
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::inspections::{self as idb, AttendanceRow, EvidenceRow, FindingRow, InspectionRow};
use crate::db::DbUuid;
use crate::domain::inspection::{AttendanceInput, FindingInput, Location, ReportInput};
use crate::domain::inspection::{AttendanceStatus, FindingCategory, InspectionStatus, Severity};
use crate::domain::reference::PositionKind;
use crate::domain::user::Role;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::conditional::{if_match_version, with_version};
use crate::http::extract::Json;
use crate::http::paging::{check_limit, decode_time_cursor, encode_time_cursor, Page};
use crate::service::inspections::{self as service, Created, FullReport, ReportPatch};
use crate::service::{Caller, Ctx};
use crate::state::AppState;

/// Reports may be large: 500 attendance rows and 200 findings.
pub const REPORT_LIMIT: usize = 2 * 1024 * 1024;

// ---------- requests ----------

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationBody {
    /// −90..90
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub latitude: f64,
    /// −180..180
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub longitude: f64,
    /// Reported accuracy of the phone's fix, 0–100000 metres.
    #[schema(minimum = 0.0, maximum = 100000.0)]
    pub accuracy_m: Option<f64>,
}

impl From<LocationBody> for Location {
    fn from(l: LocationBody) -> Self {
        Location {
            latitude: l.latitude,
            longitude: l.longitude,
            accuracy_m: l.accuracy_m,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceBody {
    /// The phone's id for this row.
    pub id: Uuid,
    pub official_id: Uuid,
    pub status: AttendanceStatus,
    /// Only with `late`; 0–1440.
    #[schema(minimum = 0, maximum = 1440)]
    #[serde(default, deserialize_with = "crate::http::whole_number")]
    pub minutes_late: Option<i64>,
    /// Only with `left_early` (pulang sebelum waktunya): how long before the end of work
    /// the official left; 0–1440.
    #[schema(minimum = 0, maximum = 1440)]
    #[serde(default, deserialize_with = "crate::http::whole_number")]
    pub minutes_early: Option<i64>,
    /// At most 1000 characters.
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

impl From<AttendanceBody> for AttendanceInput {
    fn from(a: AttendanceBody) -> Self {
        AttendanceInput {
            id: a.id,
            official_id: a.official_id,
            status: a.status,
            minutes_late: a.minutes_late,
            minutes_early: a.minutes_early,
            note: a.note,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingBody {
    /// The phone's id for this finding.
    pub id: Uuid,
    /// The official it is about, if any.
    pub official_id: Option<Uuid>,
    pub category: FindingCategory,
    pub severity: Severity,
    /// 1–2000 characters.
    #[schema(max_length = 2000, pattern = r"\S")]
    pub description: String,
    /// Default: the inspection's `started_at`.
    #[serde(default, deserialize_with = "crate::domain::dates::opt_time")]
    pub observed_at: Option<DateTime<FixedOffset>>,
    /// Only for an `absence` about an official: `true` states the absence was without
    /// excuse. A hand-written absence counts towards discipline only then (an
    /// `absent_unexcused` attendance row always does).
    #[serde(default)]
    pub unexcused: bool,
}

impl From<FindingBody> for FindingInput {
    fn from(f: FindingBody) -> Self {
        FindingInput {
            id: f.id,
            official_id: f.official_id,
            category: f.category,
            severity: f.severity,
            description: f.description,
            observed_at: f.observed_at.map(|t| t.with_timezone(&Utc)),
            unexcused: f.unexcused,
        }
    }
}

/// One whole report as the phone queued it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInspection {
    /// The phone's id for the report: sending it again is a replay.
    pub id: Uuid,
    pub opd_id: Uuid,
    #[serde(deserialize_with = "crate::domain::dates::time")]
    pub started_at: DateTime<FixedOffset>,
    #[serde(default, deserialize_with = "crate::domain::dates::opt_time")]
    pub ended_at: Option<DateTime<FixedOffset>>,
    /// At most 5000 characters.
    #[schema(max_length = 5000)]
    pub notes: Option<String>,
    pub location: Option<LocationBody>,
    /// At most 500 rows; each official at most once.
    #[schema(max_items = 500)]
    pub attendance: Option<Vec<AttendanceBody>>,
    /// At most 200.
    #[schema(max_items = 200)]
    pub findings: Option<Vec<FindingBody>>,
    /// Submit at once (the report becomes read-only).
    pub submit: Option<bool>,
}

/// Changes to a draft. `attendance`, when present, replaces the whole list. `null` clears
/// `ended_at`, `notes` or `location`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectionPatch {
    #[serde(default, deserialize_with = "crate::domain::dates::opt_time")]
    pub started_at: Option<DateTime<FixedOffset>>,
    #[serde(default, deserialize_with = "crate::domain::dates::nullable_time")]
    #[schema(value_type = Option<DateTime<FixedOffset>>)]
    pub ended_at: Option<Option<DateTime<FixedOffset>>>,
    #[serde(default, deserialize_with = "crate::http::nullable")]
    #[schema(value_type = Option<String>, max_length = 5000)]
    pub notes: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::nullable")]
    #[schema(value_type = Option<LocationBody>)]
    pub location: Option<Option<LocationBody>>,
    #[schema(max_items = 500)]
    pub attendance: Option<Vec<AttendanceBody>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InspectionListQuery {
    pub opd_id: Option<Uuid>,
    pub status: Option<InspectionStatus>,
    pub inspector_id: Option<Uuid>,
    /// First local day (inclusive) of `started_at`, `YYYY-MM-DD` in the deployment's time zone.
    pub from: Option<NaiveDate>,
    /// Last local day (inclusive).
    pub to: Option<NaiveDate>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

// ---------- responses ----------

#[derive(Debug, Serialize, ToSchema)]
pub struct PersonRef {
    pub id: Uuid,
    pub username: String,
    pub full_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttendanceOut {
    pub id: Uuid,
    pub official_id: Uuid,
    pub status: AttendanceStatus,
    pub minutes_late: Option<i32>,
    pub minutes_early: Option<i32>,
    pub note: Option<String>,
    /// The official's placement on the day of the inspection (kept as it was).
    pub opd_id: Uuid,
    pub position_title: String,
    pub position_kind: PositionKind,
}

impl From<AttendanceRow> for AttendanceOut {
    fn from(a: AttendanceRow) -> Self {
        AttendanceOut {
            id: a.id.0,
            official_id: a.official_id.0,
            status: a.status,
            minutes_late: a.minutes_late,
            minutes_early: a.minutes_early,
            note: a.note,
            opd_id: a.opd_id.0,
            position_kind: a.position_kind,
            position_title: a.position_title,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FindingOut {
    pub id: Uuid,
    pub inspection_id: Uuid,
    pub official_id: Option<Uuid>,
    pub category: FindingCategory,
    pub severity: Severity,
    pub description: String,
    pub observed_at: DateTime<Utc>,
    /// `report` (sent as a finding) or `attendance` (an `absent_unexcused` row).
    pub source: crate::domain::inspection::FindingSource,
    pub attendance_id: Option<Uuid>,
    /// The OPD and position the official held when it was observed; never rewritten.
    pub official_opd_id: Option<Uuid>,
    pub official_position_title: Option<String>,
    pub official_position_kind: Option<PositionKind>,
    /// The grade of the functional position held, when it was recorded.
    pub official_jf_grade: Option<crate::domain::reference::JfGrade>,
    /// The acting post (Plt, Plh) the official held beside the definitive one when it was
    /// observed; never rewritten.
    pub official_acting: Option<ActingSnapshot>,
    pub created_at: DateTime<Utc>,
    /// An absence recorded as without excuse (every `attendance` absence; a hand-written
    /// one when its author said so): it counts towards discipline unless `excused`.
    pub unexcused: bool,
    /// Set when a supervisor excused the absence afterwards: it then counts nowhere.
    pub excused: Option<Excuse>,
}

/// An acting post as a finding recorded it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActingSnapshot {
    /// The acting post's id (see the official's `acting_assignments`).
    pub id: Uuid,
    pub kind: crate::domain::reference::ActingKind,
    pub opd_id: Uuid,
    pub position_title: String,
    pub position_kind: PositionKind,
}

/// A supervisor's excuse of a counted absence.
#[derive(Debug, Serialize, ToSchema)]
pub struct Excuse {
    pub at: DateTime<Utc>,
    pub by: Uuid,
    pub reason: String,
}

impl From<FindingRow> for FindingOut {
    fn from(f: FindingRow) -> Self {
        FindingOut {
            id: f.id.0,
            inspection_id: f.inspection_id.0,
            official_id: f.official_id.map(|i| i.0),
            category: f.category,
            severity: f.severity,
            description: f.description,
            observed_at: Utc.from_utc_datetime(&f.observed_at),
            source: f.source,
            attendance_id: f.attendance_id.map(|i| i.0),
            official_opd_id: f.official_opd_id.map(|i| i.0),
            official_position_title: f.official_position_title,
            official_position_kind: f.official_position_kind,
            official_jf_grade: f.official_jf_grade,
            official_acting: match (
                f.acting_assignment_id,
                f.acting_kind,
                f.acting_opd_id,
                f.acting_position_title,
                f.acting_position_kind,
            ) {
                (Some(id), Some(kind), Some(opd), Some(title), Some(position_kind)) => {
                    Some(ActingSnapshot {
                        id: id.0,
                        kind,
                        opd_id: opd.0,
                        position_title: title,
                        position_kind,
                    })
                }
                _ => None,
            },
            created_at: Utc.from_utc_datetime(&f.created_at),
            unexcused: f.unexcused,
            excused: match (f.excused_at, f.excused_by, f.excuse_reason) {
                (Some(at), Some(by), Some(reason)) => Some(Excuse {
                    at: Utc.from_utc_datetime(&at),
                    by: by.0,
                    reason,
                }),
                _ => None,
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceOut {
    pub id: Uuid,
    pub inspection_id: Uuid,
    pub finding_id: Option<Uuid>,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub captured_at: Option<DateTime<Utc>>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub uploaded_by: Uuid,
    pub created_at: DateTime<Utc>,
    /// Where the bytes are served.
    pub content_url: String,
}

impl From<EvidenceRow> for EvidenceOut {
    fn from(e: EvidenceRow) -> Self {
        EvidenceOut {
            content_url: format!("/api/v1/evidence/{}/content", e.id),
            id: e.id.0,
            inspection_id: e.inspection_id.0,
            finding_id: e.finding_id.map(|i| i.0),
            sha256: e.sha256,
            content_type: e.content_type,
            size_bytes: e.size_bytes,
            captured_at: e.captured_at.map(|t| Utc.from_utc_datetime(&t)),
            latitude: e.latitude,
            longitude: e.longitude,
            uploaded_by: e.uploaded_by.0,
            created_at: Utc.from_utc_datetime(&e.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LocationOut {
    pub latitude: f64,
    pub longitude: f64,
    pub accuracy_m: Option<f64>,
}

/// What every answer about a report holds. `distance_m` and `within_geofence` are set when
/// both the OPD and the report have coordinates; a report outside the geofence is kept and
/// marked, never refused.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportHead {
    pub id: Uuid,
    pub opd_id: Uuid,
    pub opd_code: String,
    pub opd_name: String,
    pub inspector: PersonRef,
    pub status: InspectionStatus,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
    pub location: Option<LocationOut>,
    pub distance_m: Option<f64>,
    pub within_geofence: Option<bool>,
    /// Changes with every edit; sent as the `ETag` for `If-Match`.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
}

/// A whole report: its attendance rows, findings and photos.
#[derive(Debug, Serialize, ToSchema)]
pub struct Inspection {
    #[serde(flatten)]
    pub head: ReportHead,
    pub attendance: Vec<AttendanceOut>,
    pub findings: Vec<FindingOut>,
    pub evidence: Vec<EvidenceOut>,
}

/// A report in a list: without its rows, with their counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct InspectionSummary {
    #[serde(flatten)]
    pub head: ReportHead,
    pub attendance_count: i64,
    pub findings_count: i64,
}

fn head(row: InspectionRow, opd: (String, String), inspector: (String, String)) -> ReportHead {
    ReportHead {
        id: row.id.0,
        opd_id: row.opd_id.0,
        opd_code: opd.0,
        opd_name: opd.1,
        inspector: PersonRef {
            id: row.inspector_id.0,
            username: inspector.0,
            full_name: inspector.1,
        },
        status: row.status,
        started_at: Utc.from_utc_datetime(&row.started_at),
        ended_at: row.ended_at.map(|t| Utc.from_utc_datetime(&t)),
        notes: row.notes,
        location: match (row.latitude, row.longitude) {
            (Some(latitude), Some(longitude)) => Some(LocationOut {
                latitude,
                longitude,
                accuracy_m: row.accuracy_m,
            }),
            _ => None,
        },
        distance_m: row.distance_m,
        within_geofence: row.within_geofence,
        version: row.version,
        created_at: Utc.from_utc_datetime(&row.created_at),
        updated_at: Utc.from_utc_datetime(&row.updated_at),
        submitted_at: row.submitted_at.map(|t| Utc.from_utc_datetime(&t)),
    }
}

impl From<FullReport> for Inspection {
    fn from(r: FullReport) -> Self {
        Inspection {
            head: head(r.row, r.opd, r.inspector),
            attendance: r.attendance.into_iter().map(AttendanceOut::from).collect(),
            findings: r.findings.into_iter().map(FindingOut::from).collect(),
            evidence: r.evidence.into_iter().map(EvidenceOut::from).collect(),
        }
    }
}

fn report_response(status: actix_web::http::StatusCode, report: FullReport) -> HttpResponse {
    let version = report.row.version;
    with_version(
        HttpResponse::build(status),
        version,
        &Inspection::from(report),
    )
}

const AUTHORS: [Role; 2] = [Role::Inspector, Role::Admin];
const READERS: [Role; 3] = [Role::Inspector, Role::Supervisor, Role::Admin];

/// A report as `caller` may read it (someone else's draft is `404` to an inspector).
pub async fn full(state: &AppState, caller: Caller, id: DbUuid) -> ApiResult<FullReport> {
    super::run(&state.pool, move |conn| {
        let row = crate::service::access::load_visible(conn, &caller, id)?;
        service::load_full(conn, row)
    })
    .await
}

/// Post a whole report (inspector or admin).
///
/// The report with its attendance and findings, stored in one transaction; `submit: true`
/// submits it in the same one. The same `id` with the same report again is a replay (`200`,
/// nothing written twice); with different content, `409`.
#[utoipa::path(
    tag = "inspections",
    request_body = NewInspection,
    responses(
        (status = 201, description = "Stored", body = Inspection, headers(("ETag" = String), ("Location" = String))),
        (status = 200, description = "A replay of a stored report: the report as it stands", body = Inspection, headers(("ETag" = String))),
        (status = 403, description = "Only inspectors and admins post reports", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The id (or a row id) belongs to a different report", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/inspections")]
pub async fn create_inspection(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    body: Json<NewInspection, REPORT_LIMIT>,
) -> ApiResult<HttpResponse> {
    caller.require(&AUTHORS)?;
    let b = body.0;
    let input = ReportInput {
        id: b.id,
        opd_id: b.opd_id,
        started_at: b.started_at.with_timezone(&Utc),
        ended_at: b.ended_at.map(|t| t.with_timezone(&Utc)),
        notes: b.notes,
        location: b.location.map(Location::from),
        attendance: b
            .attendance
            .unwrap_or_default()
            .into_iter()
            .map(AttendanceInput::from)
            .collect(),
        findings: b
            .findings
            .unwrap_or_default()
            .into_iter()
            .map(FindingInput::from)
            .collect(),
        submit: b.submit.unwrap_or(false),
    };
    let id = DbUuid(input.id);
    let who = caller.clone();
    // Two phones sending the same report at once need no retry here: the write lock
    // (`db::tx`) makes the second see the first's report, and answer it as a replay — also
    // when both are written in one batch of the group commit.
    let (writer, write_ctx) = (who.clone(), ctx.clone());
    let author = (who.username.clone(), who.full_name.clone());
    let input = std::sync::Arc::new(input);
    let (prepare_input, preparer, prepare_ctx) = (input.clone(), who.clone(), ctx.clone());
    let (prepare_state, write_state) = (state.clone(), state.clone());
    let (created, written) = super::run_prepared_grouped(
        &state,
        id,
        move |conn| {
            let reference = &prepare_state.reference;
            service::prepare(conn, &prepare_input, &preparer, &prepare_ctx, reference)
        },
        move |conn, prepared| {
            let reference = &write_state.reference;
            service::create(
                conn, &input, prepared, &writer, &author, &write_ctx, reference,
            )
        },
    )
    .await?;
    // A new report is answered from the rows just written; a replay is read back once the
    // write has committed, outside the write lock.
    let report = match written {
        Some(report) => report,
        None => {
            super::run(&state.pool, move |conn| {
                let row = crate::service::access::load_visible(conn, &who, id)?;
                service::load_full(conn, row)
            })
            .await?
        }
    };
    Ok(match created {
        Created::New => {
            state.metrics.count("inspections", 1);
            state
                .metrics
                .count("findings", report.findings.len() as u64);
            let mut resp = report_response(actix_web::http::StatusCode::CREATED, report);
            if let Ok(v) = header::HeaderValue::from_str(&format!("/api/v1/inspections/{id}")) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Created::Replay => report_response(actix_web::http::StatusCode::OK, report),
    })
}

/// List reports.
///
/// Newest first, one page at a time, without their rows but with their counts; filter by
/// OPD, status, inspector or local dates. Inspectors see submitted reports and their own
/// drafts.
#[utoipa::path(
    tag = "inspections",
    params(InspectionListQuery),
    responses(
        (status = 200, description = "One page of reports (without rows; with counts)", body = Page<InspectionSummary>),
        (status = 403, description = "Viewers see no individual reports", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/inspections")]
pub async fn list_inspections(
    state: Data<AppState>,
    caller: AuthUser,
    query: Query<InspectionListQuery>,
) -> ApiResult<HttpResponse> {
    let page = list_page(&state, &caller, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One page of reports as `caller` may list them (an inspector: their own and submitted
/// ones), newest first.
pub async fn list_page(
    state: &AppState,
    caller: &Caller,
    q: InspectionListQuery,
) -> ApiResult<Page<InspectionSummary>> {
    caller.require(&READERS)?;
    let limit = check_limit(q.limit)?;
    let tz = state.config.timezone;
    let local_start = |d: NaiveDate| crate::domain::dates::day_start(d, tz);
    let before = q.cursor.as_deref().map(decode_time_cursor).transpose()?;
    let bounded = |field, d| {
        crate::domain::dates::check_opt(field, d).map_err(|e| ApiError::Validation(vec![e]))
    };
    let (from, to) = (bounded("from", q.from)?, bounded("to", q.to)?);
    let filter = idb::ListFilter {
        opd_id: q.opd_id.map(DbUuid),
        status: q.status,
        inspector_id: q.inspector_id.map(DbUuid),
        from: from.map(local_start),
        to: to.and_then(|d| d.succ_opt()).map(local_start),
        visible_to_inspector: (caller.role == Role::Inspector).then_some(DbUuid(caller.id)),
        before,
        limit,
    };
    let (rows, labels) = super::run(&state.pool, move |conn| {
        let rows = idb::list(conn, &filter)?;
        let labels = idb::labels_for(conn, &rows)?;
        Ok((rows, labels))
    })
    .await?;
    let rows: Vec<_> = rows.into_iter().zip(labels).collect();
    Ok(Page::from_rows(
        rows,
        limit,
        |(row, _)| encode_time_cursor(row.started_at, row.id),
        |(row, (opd, who))| InspectionSummary {
            attendance_count: row.attendance_count,
            findings_count: row.findings_count,
            head: head(row, opd, who),
        },
    ))
}

/// Read a report.
///
/// With its attendance, findings and photos. Carries an `ETag` for `If-Match` on edits.
/// Someone else's draft is `404` to an inspector.
#[utoipa::path(
    tag = "inspections",
    params(("id" = Uuid, Path, description = "Report id")),
    responses(
        (status = 200, description = "The report", body = Inspection, headers(("ETag" = String))),
        (status = 403, description = "Viewers see no individual reports", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/inspections/{id}")]
pub async fn get_inspection(
    state: Data<AppState>,
    caller: AuthUser,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require(&READERS)?;
    let report = full(&state, caller.caller, DbUuid(id.into_inner())).await?;
    Ok(report_response(actix_web::http::StatusCode::OK, report))
}

/// Edit a draft (author or admin).
///
/// Changes the given fields; a new attendance list replaces the old one with its derived
/// absence findings. With `If-Match: "<version>"`, a stale version is `412`. A submitted
/// report is `409`.
#[utoipa::path(
    tag = "inspections",
    params(
        ("id" = Uuid, Path, description = "Report id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read"),
    ),
    request_body = InspectionPatch,
    responses(
        (status = 200, description = "The report as it now stands", body = Inspection, headers(("ETag" = String))),
        (status = 403, description = "Not the author", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The report is submitted", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The report changed since the given ETag", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api/v1/inspections/{id}")]
pub async fn update_inspection(
    req: HttpRequest,
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    id: Path<Uuid>,
    body: Json<InspectionPatch, REPORT_LIMIT>,
) -> ApiResult<HttpResponse> {
    caller.require(&AUTHORS)?;
    let p = body.0;
    let patch = ReportPatch {
        started_at: p.started_at.map(|t| t.with_timezone(&Utc)),
        ended_at: p.ended_at.map(|o| o.map(|t| t.with_timezone(&Utc))),
        notes: p.notes,
        location: p.location.map(|o| o.map(Location::from)),
        attendance: p
            .attendance
            .map(|rows| rows.into_iter().map(AttendanceInput::from).collect()),
    };
    let expected = if_match_version(&req);
    let id = DbUuid(id.into_inner());
    let who = caller.clone();
    super::run(&state.pool, move |conn| {
        service::patch(conn, &who, id, &patch, expected, &ctx)
    })
    .await?;
    let report = full(&state, caller.caller, id).await?;
    Ok(report_response(actix_web::http::StatusCode::OK, report))
}

/// Add a finding to a draft (author or admin).
///
/// The same finding (same `id`, same content) again is a replay (`200`); the same `id` with
/// other content is `409`.
#[utoipa::path(
    tag = "inspections",
    params(("id" = Uuid, Path, description = "Report id")),
    request_body = FindingBody,
    responses(
        (status = 201, description = "Added", body = FindingOut),
        (status = 200, description = "A replay: the finding as stored", body = FindingOut),
        (status = 403, description = "Not the author", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The report is submitted, or the finding id is taken", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/inspections/{id}/findings")]
pub async fn add_finding(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    id: Path<Uuid>,
    body: Json<FindingBody>,
) -> ApiResult<HttpResponse> {
    caller.require(&AUTHORS)?;
    let finding = FindingInput::from(body.0);
    let id = DbUuid(id.into_inner());
    let (created, row) = super::run(&state.pool, move |conn| {
        service::add_finding(conn, &caller, id, &finding, &ctx)
    })
    .await?;
    Ok(match created {
        Created::New => HttpResponse::Created().json(FindingOut::from(row)),
        Created::Replay => HttpResponse::Ok().json(FindingOut::from(row)),
    })
}

/// Submit a draft (author or admin).
///
/// The report becomes read-only, is counted in the dashboards and its findings are checked
/// against the flag rules, which raise follow-ups, all in one transaction. Submitting again
/// changes nothing.
#[utoipa::path(
    tag = "inspections",
    params(("id" = Uuid, Path, description = "Report id")),
    responses(
        (status = 200, description = "The report as it now stands", body = Inspection, headers(("ETag" = String))),
        (status = 403, description = "Not the author", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/inspections/{id}/submit")]
pub async fn submit_inspection(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require(&AUTHORS)?;
    let id = DbUuid(id.into_inner());
    let who = caller.clone();
    super::run(&state.pool, move |conn| {
        service::submit(conn, &who, id, &ctx)
    })
    .await?;
    let report = full(&state, caller.caller, id).await?;
    Ok(report_response(actix_web::http::StatusCode::OK, report))
}
