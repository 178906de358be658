//! Follow-ups: flags on officials, the supervisors' review, the official's record.

use actix_web::web::{Data, Path, Query};
use actix_web::{get, post, HttpRequest, HttpResponse};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::followups::{self as fdb, EventRow, FollowUpRow};
use crate::db::reference as refdb;
use crate::db::{self, DbUuid};
use crate::domain::discipline::{self as rules, Recommendation, SanctionCode};
use crate::domain::followup::{Action, FollowUpStatus};
use crate::domain::user::Role;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::conditional::{if_match_version, with_version};
use crate::http::extract::Json;
use crate::http::inspections::FindingOut;
use crate::http::paging::{check_limit, decode_time_cursor, encode_time_cursor, Page};
use crate::service::followups::{self as service, ActionInput, RaiseInput};
use crate::service::Created;
use crate::service::{Caller, Ctx};
use crate::state::AppState;

const READERS: [Role; 3] = [Role::Inspector, Role::Supervisor, Role::Admin];

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFollowUp {
    pub official_id: Uuid,
    /// Findings in submitted reports, about this official.
    #[schema(min_items = 1, max_items = 500)]
    pub finding_ids: Vec<Uuid>,
    /// 1–2000 characters.
    #[schema(max_length = 2000, pattern = r"\S")]
    pub reason: String,
    /// Default: today + `SIDAK_FOLLOW_UP_DUE_DAYS` (local).
    #[serde(default, deserialize_with = "crate::domain::dates::opt_date")]
    pub due_date: Option<NaiveDate>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    pub action: Action,
    /// Required for `decide`, `dismiss`, `reopen` and `comment`; at most 5000 characters.
    #[schema(max_length = 5000)]
    pub note: Option<String>,
    /// `decide` only: a PP 94/2021 sanction code or `none`.
    pub sanction: Option<SanctionCode>,
    /// `assign` only: an active supervisor or admin.
    pub assignee_id: Option<Uuid>,
    /// `assign` only: a new due date.
    #[serde(default, deserialize_with = "crate::domain::dates::opt_date")]
    pub due_date: Option<NaiveDate>,
    /// `decide` only: the number of the decree (surat keputusan) that imposed the sanction,
    /// 1–100 characters; required, with `decree_date`, for a berat sanction.
    #[schema(
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub decree_number: Option<String>,
    /// `decide` only: the decree's date (local), not in the future nor before the follow-up
    /// was raised.
    #[serde(default, deserialize_with = "crate::domain::dates::opt_date")]
    pub decree_date: Option<NaiveDate>,
}

/// The decree (surat keputusan) that imposed a decided sanction.
#[derive(Debug, Serialize, ToSchema)]
pub struct Decree {
    pub number: String,
    pub date: NaiveDate,
}

fn decree(number: Option<String>, date: Option<NaiveDate>) -> Option<Decree> {
    number
        .zip(date)
        .map(|(number, date)| Decree { number, date })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FollowUpListQuery {
    pub status: Option<FollowUpStatus>,
    /// The official's current OPD.
    pub opd_id: Option<Uuid>,
    pub official_id: Option<Uuid>,
    /// Only those assigned to this supervisor.
    pub assignee_id: Option<Uuid>,
    /// Only open or in-review follow-ups past their due date (local).
    pub overdue: Option<bool>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecordQuery {
    /// Calendar year (local); default this year.
    #[param(minimum = 1900, maximum = 2100)]
    pub year: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfficialRef {
    pub id: Uuid,
    pub nip: String,
    pub full_name: String,
    pub employment_type: crate::domain::nip::EmploymentType,
    pub current_opd_id: Uuid,
    pub current_opd_code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub actor_id: Uuid,
    pub action: crate::domain::followup::HistoryAction,
    pub from_status: Option<FollowUpStatus>,
    pub to_status: FollowUpStatus,
    pub note: Option<String>,
    pub sanction: Option<SanctionCode>,
    pub assignee_id: Option<Uuid>,
    #[serde(default, deserialize_with = "crate::domain::dates::opt_date")]
    pub due_date: Option<NaiveDate>,
    /// `decide`: the decree recorded with the decision.
    pub decree: Option<Decree>,
}

impl From<EventRow> for HistoryEntry {
    fn from(e: EventRow) -> Self {
        HistoryEntry {
            at: Utc.from_utc_datetime(&e.at),
            actor_id: e.actor_id.0,
            action: e.action,
            from_status: e.from_status,
            to_status: e.to_status,
            note: e.note,
            sanction: e.sanction,
            assignee_id: e.assignee_id.map(|i| i.0),
            due_date: e.due_date,
            decree: decree(e.decree_number, e.decree_date),
        }
    }
}

/// A follow-up, as lists show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpSummary {
    pub id: Uuid,
    pub official: OfficialRef,
    pub status: FollowUpStatus,
    /// `manual` or `auto` (raised by the flag rules on submission).
    pub source: crate::domain::followup::FollowUpSource,
    pub reason: String,
    pub raised_by: Uuid,
    pub assignee_id: Option<Uuid>,
    pub due_date: NaiveDate,
    /// Open or in review and past `due_date` (local).
    pub overdue: bool,
    pub sanction: Option<SanctionCode>,
    pub sanction_label: Option<String>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The decree of the decision (always for a berat sanction).
    pub decree: Option<Decree>,
    /// Sent as the `ETag`; `If-Match` on actions.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A follow-up with its findings, its history and the recommendation read from the
/// official's record.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUp {
    #[serde(flatten)]
    pub summary: FollowUpSummary,
    pub findings: Vec<FindingOut>,
    pub history: Vec<HistoryEntry>,
    pub recommendation: Recommendation,
}

fn summary(row: FollowUpRow, official: OfficialRef, today: NaiveDate) -> FollowUpSummary {
    let status = row.status;
    FollowUpSummary {
        id: row.id.0,
        official,
        overdue: status.is_active() && row.due_date < today,
        status,
        source: row.source,
        reason: row.reason,
        raised_by: row.raised_by.0,
        assignee_id: row.assignee_id.map(|i| i.0),
        due_date: row.due_date,
        sanction_label: row
            .sanction
            .and_then(rules::sanction)
            .map(|s| s.label.to_string()),
        sanction: row.sanction,
        decided_by: row.decided_by.map(|i| i.0),
        decided_at: row.decided_at.map(|t| Utc.from_utc_datetime(&t)),
        decree: decree(row.decree_number, row.decree_date),
        version: row.version,
        created_at: Utc.from_utc_datetime(&row.created_at),
        updated_at: Utc.from_utc_datetime(&row.updated_at),
    }
}

fn official_ref(conn: &mut db::DbConnection, id: DbUuid) -> ApiResult<OfficialRef> {
    Ok(to_ref(refdb::find_official(conn, id)?))
}

fn to_ref(o: refdb::OfficialWithCurrent) -> OfficialRef {
    OfficialRef {
        id: o.official.id.0,
        nip: o.official.nip,
        full_name: o.official.full_name,
        employment_type: o.official.employment_type,
        current_opd_id: o.current.assignment.opd_id.0,
        current_opd_code: o.current.opd_code,
    }
}

/// A follow-up as `caller` may read it, with everything the API and the console show.
pub async fn load_full(
    state: &Data<AppState>,
    caller: Caller,
    ctx: Ctx,
    id: DbUuid,
) -> ApiResult<FollowUp> {
    super::run(&state.pool, move |conn| {
        let row = service::load_visible(conn, &caller, id)?;
        let recommendation = service::recommendation_for(conn, &row, &ctx)?;
        let findings = fdb::findings_of(conn, id)?;
        let history = fdb::events_of(conn, id)?;
        let official = official_ref(conn, row.official_id)?;
        Ok(FollowUp {
            summary: summary(row, official, ctx.today()),
            findings: findings.into_iter().map(FindingOut::from).collect(),
            history: history.into_iter().map(HistoryEntry::from).collect(),
            recommendation,
        })
    })
    .await
}

fn with_etag(status: actix_web::http::StatusCode, f: FollowUp) -> HttpResponse {
    with_version(HttpResponse::build(status), f.summary.version, &f)
}

/// Raise a follow-up on an official (inspector, supervisor, admin).
///
/// Names findings from submitted reports about the official. When the official already has
/// an open or in-review follow-up, the findings are attached to it and the answer is `200`
/// with that follow-up.
#[utoipa::path(
    operation_id = "raise_follow_up",
    tag = "follow-ups",
    request_body = NewFollowUp,
    responses(
        (status = 201, description = "Raised", body = FollowUp, headers(("ETag" = String, description = "The follow-up's version, for `If-Match`"))),
        (status = 200, description = "Attached to the official's open follow-up", body = FollowUp, headers(("ETag" = String, description = "The follow-up's version, for `If-Match`"))),
        (status = 403, description = "Viewers may not raise follow-ups", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/follow-ups")]
pub async fn raise(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    body: Json<NewFollowUp>,
) -> ApiResult<HttpResponse> {
    caller.require(&READERS)?;
    let b = body.0;
    let input = RaiseInput {
        official_id: b.official_id,
        finding_ids: b.finding_ids,
        reason: b.reason,
        due_date: b.due_date,
    };
    let (who, run_ctx) = (caller.clone(), ctx.clone());
    let (created, id) = super::run(&state.pool, move |conn| {
        service::raise(conn, &who, &input, &run_ctx)
    })
    .await?;
    if created == Created::New {
        state.metrics.count("follow_ups", 1);
    }
    let f = load_full(&state, caller.caller, ctx, id).await?;
    let status = if created == Created::New {
        actix_web::http::StatusCode::CREATED
    } else {
        actix_web::http::StatusCode::OK
    };
    Ok(with_etag(status, f))
}

/// List follow-ups.
///
/// Newest first, one page at a time; filter by status, official, OPD or overdue. Inspectors
/// see the follow-ups they raised; supervisors and admins all.
#[utoipa::path(
    operation_id = "list_follow_ups",
    tag = "follow-ups",
    params(FollowUpListQuery),
    responses(
        (status = 200, description = "One page", body = Page<FollowUpSummary>),
        (status = 403, description = "Viewers see no follow-ups", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/follow-ups")]
pub async fn list(
    state: Data<AppState>,
    caller: AuthUser,
    query: Query<FollowUpListQuery>,
) -> ApiResult<HttpResponse> {
    let page = list_page(&state, &caller, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// The list as `caller` may read it: the filter of the query, newest first, one page.
pub fn list_filter(
    state: &AppState,
    caller: &Caller,
    q: &FollowUpListQuery,
) -> ApiResult<fdb::ListFilter> {
    caller.require(&READERS)?;
    let limit = check_limit(q.limit)?;
    let today = crate::domain::dates::today(state.config.timezone);
    let before = q.cursor.as_deref().map(decode_time_cursor).transpose()?;
    Ok(fdb::ListFilter {
        status: q.status,
        official_id: q.official_id.map(DbUuid),
        opd_id: q.opd_id.map(DbUuid),
        overdue_before: q.overdue.unwrap_or(false).then_some(today),
        raised_by: (caller.role == Role::Inspector).then_some(DbUuid(caller.id)),
        assignee_id: q.assignee_id.map(DbUuid),
        before,
        limit,
    })
}

/// One page of follow-ups for `caller`.
pub async fn list_page(
    state: &Data<AppState>,
    caller: &Caller,
    q: FollowUpListQuery,
) -> ApiResult<Page<FollowUpSummary>> {
    let filter = list_filter(state, caller, &q)?;
    let limit = filter.limit;
    let today = crate::domain::dates::today(state.config.timezone);
    let rows = super::run(&state.pool, move |conn| {
        let rows = fdb::list(conn, &filter)?;
        let ids: Vec<DbUuid> = rows.iter().map(|r| r.official_id).collect();
        let mut officials: std::collections::HashMap<DbUuid, OfficialRef> =
            refdb::find_officials_by_ids(conn, &ids)?
                .into_iter()
                .map(|o| (o.official.id, to_ref(o)))
                .collect();
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let o = match officials.remove(&r.official_id) {
                Some(o) => o,
                // The same official twice on a page.
                None => official_ref(conn, r.official_id)?,
            };
            out.push((r, o));
        }
        Ok(out)
    })
    .await?;
    Ok(Page::from_rows(
        rows,
        limit,
        |(row, _)| encode_time_cursor(row.created_at, row.id),
        |(row, official)| summary(row, official, today),
    ))
}

/// Read a follow-up.
///
/// With its findings, its history and the PP 94/2021 recommendation read from the
/// official's record for the year of its newest finding. Carries an `ETag` for `If-Match`
/// on actions.
#[utoipa::path(
    operation_id = "get_follow_up",
    tag = "follow-ups",
    params(("id" = Uuid, Path, description = "Follow-up id")),
    responses(
        (status = 200, description = "The follow-up", body = FollowUp, headers(("ETag" = String))),
        (status = 403, description = "Viewers see no follow-ups", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/follow-ups/{id}")]
pub async fn get_one(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require(&READERS)?;
    let f = load_full(&state, caller.caller, ctx, DbUuid(id.into_inner())).await?;
    Ok(with_etag(actix_web::http::StatusCode::OK, f))
}

/// Act on a follow-up.
///
/// `assign`, `start_review`, `decide` (with a sanction code; a berat sanction with the
/// decree's number and date), `dismiss`, `reopen` (admin),
/// `close` or `comment`. A move the state does not allow is `409`; with `If-Match`, a
/// follow-up changed since it was read is `412`. Two concurrent decisions cannot both win.
#[utoipa::path(
    operation_id = "act_on_follow_up",
    tag = "follow-ups",
    params(
        ("id" = Uuid, Path, description = "Follow-up id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read"),
    ),
    request_body = ActionRequest,
    responses(
        (status = 200, description = "The follow-up as it now stands", body = FollowUp, headers(("ETag" = String, description = "The follow-up's version, for `If-Match`"))),
        (status = 403, description = "The role may not take this action", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The state does not allow the action, or a concurrent action won", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the given ETag", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/follow-ups/{id}/actions")]
pub async fn act(
    req: HttpRequest,
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    id: Path<Uuid>,
    body: Json<ActionRequest>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let input = ActionInput {
        action: b.action,
        note: b.note,
        sanction: b.sanction,
        assignee_id: b.assignee_id,
        due_date: b.due_date,
        decree_number: b.decree_number,
        decree_date: b.decree_date,
    };
    let if_match = if_match_version(&req);
    let f = act_on(
        &state,
        caller.caller,
        ctx,
        DbUuid(id.into_inner()),
        input,
        if_match,
    )
    .await?;
    Ok(with_etag(actix_web::http::StatusCode::OK, f))
}

/// Takes `input` on the follow-up `id` for `caller` (based on the version `if_match` when
/// given) and reads it back as it now stands.
pub async fn act_on(
    state: &Data<AppState>,
    caller: Caller,
    ctx: Ctx,
    id: DbUuid,
    input: ActionInput,
    if_match: Option<i64>,
) -> ApiResult<FollowUp> {
    caller.require(&READERS)?;
    let (who, run_ctx) = (caller.clone(), ctx.clone());
    super::run(&state.pool, move |conn| {
        service::act(conn, &who, id, &input, if_match, &run_ctx)
    })
    .await?;
    load_full(state, caller, ctx, id).await
}

/// What a supervisor reads before deciding.
#[derive(Debug, Serialize, ToSchema)]
pub struct OfficialRecord {
    pub official: OfficialRef,
    pub year: i32,
    /// Every finding about the official that year in submitted reports, with the OPD and
    /// position held at the time.
    pub findings: Vec<FindingOut>,
    pub follow_ups: Vec<FollowUpSummary>,
    pub recommendation: Recommendation,
}

/// An official's record for a year (supervisor, admin).
///
/// Every finding about the official that year in submitted reports, their follow-ups, and
/// the PP 94/2021 recommendation the record points to.
#[utoipa::path(
    operation_id = "official_record",
    tag = "follow-ups",
    params(("id" = Uuid, Path, description = "Official id"), RecordQuery),
    responses(
        (status = 200, description = "The record", body = OfficialRecord),
        (status = 403, description = "Supervisors and admins only", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/officials/{id}/record")]
pub async fn record(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    id: Path<Uuid>,
    query: Query<RecordQuery>,
) -> ApiResult<HttpResponse> {
    let out = load_record(&state, &caller, ctx, id.into_inner(), query.year).await?;
    Ok(HttpResponse::Ok().json(out))
}

/// An official's record for `year` (default this year) as `caller` may read it.
pub async fn load_record(
    state: &AppState,
    caller: &Caller,
    ctx: Ctx,
    id: Uuid,
    year: Option<i32>,
) -> ApiResult<OfficialRecord> {
    caller.require(&[Role::Supervisor, Role::Admin])?;
    let tz = ctx.tz();
    let today = ctx.today();
    let year = year.unwrap_or(today.year());
    use crate::domain::dates::{EARLIEST_YEAR, LATEST_YEAR};
    if !(EARLIEST_YEAR..=LATEST_YEAR).contains(&year) {
        return Err(ApiError::invalid(
            "year",
            format!("must be between {EARLIEST_YEAR} and {LATEST_YEAR}"),
        ));
    }
    let id = DbUuid(id);
    super::run(&state.pool, move |conn| {
        let official = official_ref(conn, id)?;
        let (from, to) = crate::domain::dates::year_bounds(year, tz);
        let findings = fdb::official_findings(conn, id, from, to)?;
        let recommendation = service::recommendation(conn, id, year, &ctx)?;
        let mut follow_ups = Vec::new();
        for row in fdb::for_official(conn, id)? {
            let o = official_ref(conn, id)?;
            follow_ups.push(summary(row, o, today));
        }
        Ok(OfficialRecord {
            official,
            year,
            findings: findings.into_iter().map(FindingOut::from).collect(),
            follow_ups,
            recommendation,
        })
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExcuseBody {
    /// Why the absence is excused (a doctor's note, a travel order, …); 1–2000 characters.
    #[schema(max_length = 2000, pattern = r"^[^\u0000]*\S[^\u0000]*$")]
    pub reason: String,
}

/// Excuse a counted absence (supervisor, admin).
///
/// For an absence recorded as without excuse that turns out to have had one (a doctor's
/// note, a travel order that came later): it leaves every count — the recommendation and
/// the dashboards — while the report keeps what the inspector saw. The audit log records
/// who excused it and why. Only once per absence.
#[utoipa::path(
    operation_id = "excuse_finding",
    tag = "follow-ups",
    params(("id" = Uuid, Path, description = "The finding")),
    request_body = ExcuseBody,
    responses(
        (status = 200, description = "The finding, excused", body = FindingOut),
        (status = 403, description = "Only supervisors and admins excuse", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such finding", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a counted absence of a submitted report, or already excused", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/findings/{id}/excuse")]
pub async fn excuse(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    id: Path<Uuid>,
    body: Json<ExcuseBody>,
) -> ApiResult<HttpResponse> {
    let input = service::ExcuseInput {
        reason: body.0.reason,
    };
    let id = DbUuid(id.into_inner());
    let row = super::run(&state.pool, move |conn| {
        service::excuse(conn, &caller, id, &input, &ctx)
    })
    .await?;
    Ok(HttpResponse::Ok().json(FindingOut::from(row)))
}
