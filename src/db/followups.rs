//! Queries on follow-ups, their findings and their history.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::inspections::FindingRow;
use super::schema::{
    attendance, findings, follow_up_events, follow_up_findings, follow_ups, inspections,
    official_assignments,
};
use super::{now, DbConnection, DbUuid};
use crate::domain::discipline::SanctionCode;
use crate::domain::followup::{FollowUpSource, FollowUpStatus, HistoryAction};
use crate::domain::inspection::{AttendanceStatus, InspectionStatus};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq)]
#[diesel(table_name = follow_ups, treat_none_as_default_value = false)]
pub struct FollowUpRow {
    pub id: DbUuid,
    pub official_id: DbUuid,
    pub status: FollowUpStatus,
    pub source: FollowUpSource,
    pub reason: String,
    pub raised_by: DbUuid,
    pub assignee_id: Option<DbUuid>,
    pub due_date: NaiveDate,
    pub sanction: Option<SanctionCode>,
    pub decided_by: Option<DbUuid>,
    pub decided_at: Option<NaiveDateTime>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The decree (surat keputusan) of the decision: number and date.
    pub decree_number: Option<String>,
    pub decree_date: Option<NaiveDate>,
}

super::unnest::unnest_insert!(
    FollowUpRow,
    follow_ups,
    [
        id,
        official_id,
        status,
        source,
        reason,
        raised_by,
        assignee_id,
        due_date,
        sanction,
        decided_by,
        decided_at,
        version,
        created_at,
        updated_at,
        decree_number,
        decree_date
    ]
);

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq)]
#[diesel(table_name = follow_up_events, treat_none_as_default_value = false)]
pub struct EventRow {
    pub id: DbUuid,
    pub follow_up_id: DbUuid,
    pub at: NaiveDateTime,
    pub actor_id: DbUuid,
    pub action: HistoryAction,
    pub from_status: Option<FollowUpStatus>,
    pub to_status: FollowUpStatus,
    pub note: Option<String>,
    pub sanction: Option<SanctionCode>,
    pub assignee_id: Option<DbUuid>,
    pub due_date: Option<NaiveDate>,
    pub decree_number: Option<String>,
    pub decree_date: Option<NaiveDate>,
}

super::unnest::unnest_insert!(
    EventRow,
    follow_up_events,
    [
        id,
        follow_up_id,
        at,
        actor_id,
        action,
        from_status,
        to_status,
        note,
        sanction,
        assignee_id,
        due_date,
        decree_number,
        decree_date
    ]
);

pub fn find(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<FollowUpRow>> {
    follow_ups::table
        .find(id)
        .select(FollowUpRow::as_select())
        .first(conn)
        .optional()
}

pub fn active_for(conn: &mut DbConnection, official: DbUuid) -> QueryResult<Option<FollowUpRow>> {
    follow_ups::table
        .filter(follow_ups::official_id.eq(official))
        .filter(follow_ups::status.eq_any([FollowUpStatus::Open, FollowUpStatus::InReview]))
        .select(FollowUpRow::as_select())
        .first(conn)
        .optional()
}

/// The open or in-review follow-up of each of `officials` that has one.
pub fn active_for_each(
    conn: &mut DbConnection,
    officials: &[DbUuid],
) -> QueryResult<std::collections::HashMap<DbUuid, FollowUpRow>> {
    // In a batch's first attempt, each official is looked up once (`super::deferred`).
    let (mut out, missing) = super::deferred::known_active(officials);
    let mut read = std::collections::HashMap::new();
    for chunk in missing.chunks(500) {
        for row in follow_ups::table
            .filter(follow_ups::official_id.eq_any(chunk))
            .filter(follow_ups::status.eq_any([FollowUpStatus::Open, FollowUpStatus::InReview]))
            .select(FollowUpRow::as_select())
            .load::<FollowUpRow>(conn)?
        {
            read.insert(row.official_id, row);
        }
    }
    super::deferred::learn_active(&missing, &read);
    out.extend(read);
    Ok(out)
}

/// Writes the row's state, only if its version is still `expected`.
pub fn update(conn: &mut DbConnection, row: &FollowUpRow, expected: i64) -> QueryResult<bool> {
    super::tx::debug_assert_writing();
    let n = diesel::update(
        follow_ups::table
            .find(row.id)
            .filter(follow_ups::version.eq(expected)),
    )
    .set((
        follow_ups::status.eq(&row.status),
        follow_ups::assignee_id.eq(row.assignee_id),
        follow_ups::due_date.eq(row.due_date),
        follow_ups::sanction.eq(&row.sanction),
        follow_ups::decided_by.eq(row.decided_by),
        follow_ups::decided_at.eq(row.decided_at),
        follow_ups::decree_number.eq(&row.decree_number),
        follow_ups::decree_date.eq(row.decree_date),
        follow_ups::version.eq(expected + 1),
        follow_ups::updated_at.eq(row.updated_at),
    ))
    .execute(conn)?;
    if n == 1 {
        super::rollups::bump_dashboard_version(conn)?;
    }
    Ok(n == 1)
}

/// Attaches a finding unless it is attached already; `true` when new.
pub fn attach(conn: &mut DbConnection, follow_up: DbUuid, finding: DbUuid) -> QueryResult<bool> {
    super::tx::debug_assert_writing();
    let exists: bool = diesel::select(diesel::dsl::exists(
        follow_up_findings::table
            .filter(follow_up_findings::follow_up_id.eq(follow_up))
            .filter(follow_up_findings::finding_id.eq(finding)),
    ))
    .get_result(conn)?;
    if exists {
        return Ok(false);
    }
    let attachment = Attachment {
        follow_up_id: follow_up,
        finding_id: finding,
        added_at: now(),
    };
    attach_new_many(conn, &[attachment])?;
    Ok(true)
}

/// New follow-ups (the flag rules on a submitted report raise one per official), written
/// together ([`super::insert_rows`]).
pub fn insert_many(conn: &mut DbConnection, rows: &[FollowUpRow]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    super::insert_rows!(conn, follow_ups::table, rows);
    super::deferred::learn_raised(rows);
    super::rollups::bump_dashboard_version(conn)
}

/// A finding attached to a follow-up.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = follow_up_findings)]
pub struct Attachment {
    pub follow_up_id: DbUuid,
    pub finding_id: DbUuid,
    pub added_at: NaiveDateTime,
}

super::unnest::unnest_insert!(
    Attachment,
    follow_up_findings,
    [follow_up_id, finding_id, added_at]
);

/// Attaches findings known not to be attached, together ([`super::insert_rows`]).
pub fn attach_new_many(conn: &mut DbConnection, rows: &[Attachment]) -> QueryResult<()> {
    if !super::deferred::hold(rows, |h| &mut h.attachments) {
        super::insert_rows!(conn, follow_up_findings::table, rows);
    }
    Ok(())
}

/// History entries, together ([`super::insert_rows`]).
pub fn insert_events(conn: &mut DbConnection, rows: &[EventRow]) -> QueryResult<()> {
    if !super::deferred::hold(rows, |h| &mut h.events) {
        super::insert_rows!(conn, follow_up_events::table, rows);
    }
    Ok(())
}

pub fn insert_event(conn: &mut DbConnection, e: &EventRow) -> QueryResult<()> {
    insert_events(conn, std::slice::from_ref(e))
}

pub fn events_of(conn: &mut DbConnection, follow_up: DbUuid) -> QueryResult<Vec<EventRow>> {
    follow_up_events::table
        .filter(follow_up_events::follow_up_id.eq(follow_up))
        .order((follow_up_events::at.asc(), follow_up_events::id.asc()))
        .select(EventRow::as_select())
        .load(conn)
}

pub fn findings_of(conn: &mut DbConnection, follow_up: DbUuid) -> QueryResult<Vec<FindingRow>> {
    findings::table
        .inner_join(follow_up_findings::table.on(follow_up_findings::finding_id.eq(findings::id)))
        .filter(follow_up_findings::follow_up_id.eq(follow_up))
        .order((findings::observed_at.asc(), findings::id.asc()))
        .select(FindingRow::as_select())
        .load(conn)
}

/// Findings with the status of their report.
pub fn findings_with_status(
    conn: &mut DbConnection,
    ids: &[DbUuid],
) -> QueryResult<Vec<(FindingRow, String)>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(
            findings::table
                .inner_join(inspections::table.on(inspections::id.eq(findings::inspection_id)))
                .filter(findings::id.eq_any(chunk))
                .select((FindingRow::as_select(), inspections::status))
                .load::<(FindingRow, String)>(conn)?,
        );
    }
    Ok(out)
}

/// An official's findings in submitted reports observed in `[from, to)` (UTC).
pub fn official_findings(
    conn: &mut DbConnection,
    official: DbUuid,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<FindingRow>> {
    findings::table
        .inner_join(inspections::table.on(inspections::id.eq(findings::inspection_id)))
        .filter(findings::official_id.eq(official))
        .filter(inspections::status.eq(InspectionStatus::Submitted))
        .filter(findings::observed_at.ge(from))
        .filter(findings::observed_at.lt(to))
        .order((findings::observed_at.asc(), findings::id.asc()))
        .select(FindingRow::as_select())
        .load(conn)
}

/// Marks a finding excused unless it already is; `false` when it was.
pub fn set_excused(
    conn: &mut DbConnection,
    id: DbUuid,
    at: NaiveDateTime,
    by: DbUuid,
    reason: &str,
) -> QueryResult<bool> {
    super::tx::debug_assert_writing();
    diesel::update(
        findings::table
            .filter(findings::id.eq(id))
            .filter(findings::excused_at.is_null()),
    )
    .set((
        findings::excused_at.eq(at),
        findings::excused_by.eq(by),
        findings::excuse_reason.eq(reason),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// When, the status, the minutes late, the minutes early, the placement's OPD.
pub type AttendanceSeen = (
    NaiveDateTime,
    AttendanceStatus,
    Option<i32>,
    Option<i32>,
    DbUuid,
);

/// What submitted inspections recorded of an official's attendance, started in `[from, to)`
/// (UTC): when, the status, the minutes late or early, and the OPD of the placement.
pub fn attendance_seen(
    conn: &mut DbConnection,
    official: DbUuid,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<AttendanceSeen>> {
    attendance::table
        .inner_join(inspections::table.on(inspections::id.eq(attendance::inspection_id)))
        .filter(attendance::official_id.eq(official))
        .filter(inspections::status.eq(InspectionStatus::Submitted))
        .filter(inspections::started_at.ge(from))
        .filter(inspections::started_at.lt(to))
        .select((
            inspections::started_at,
            attendance::status,
            attendance::minutes_late,
            attendance::minutes_early,
            attendance::opd_id,
        ))
        .load(conn)
}

/// Follow-ups an official has had, newest first.
pub fn for_official(conn: &mut DbConnection, official: DbUuid) -> QueryResult<Vec<FollowUpRow>> {
    follow_ups::table
        .filter(follow_ups::official_id.eq(official))
        .order((follow_ups::created_at.desc(), follow_ups::id.desc()))
        .select(FollowUpRow::as_select())
        .load(conn)
}

pub struct ListFilter {
    pub status: Option<FollowUpStatus>,
    pub official_id: Option<DbUuid>,
    /// The official's current OPD.
    pub opd_id: Option<DbUuid>,
    /// Open or in review, due before this local date.
    pub overdue_before: Option<NaiveDate>,
    pub raised_by: Option<DbUuid>,
    pub assignee_id: Option<DbUuid>,
    pub before: Option<(NaiveDateTime, DbUuid)>,
    pub limit: i64,
}

/// The follow-ups `f` selects, whatever their status when `with_status` is false (for the
/// counts per status), without its page bounds.
fn filtered<'a>(
    f: &ListFilter,
    with_status: bool,
) -> follow_ups::BoxedQuery<'a, super::MultiBackend> {
    let mut q = follow_ups::table.into_boxed::<super::MultiBackend>();
    if let Some(s) = f.status.filter(|_| with_status) {
        q = q.filter(follow_ups::status.eq(s));
    }
    if let Some(o) = f.official_id {
        q = q.filter(follow_ups::official_id.eq(o));
    }
    if let Some(opd) = f.opd_id {
        q = q.filter(
            follow_ups::official_id.eq_any(
                official_assignments::table
                    .filter(official_assignments::opd_id.eq(opd))
                    .filter(official_assignments::effective_to.is_null())
                    .select(official_assignments::official_id),
            ),
        );
    }
    if let Some(day) = f.overdue_before {
        q = q
            .filter(follow_ups::status.eq_any([FollowUpStatus::Open, FollowUpStatus::InReview]))
            .filter(follow_ups::due_date.lt(day));
    }
    if let Some(me) = f.raised_by {
        q = q.filter(follow_ups::raised_by.eq(me));
    }
    if let Some(a) = f.assignee_id {
        q = q.filter(follow_ups::assignee_id.eq(a));
    }
    q
}

/// Newest first; `limit + 1` rows.
pub fn list(conn: &mut DbConnection, f: &ListFilter) -> QueryResult<Vec<FollowUpRow>> {
    let mut q = filtered(f, true).select(FollowUpRow::as_select());
    if let Some((at, id)) = f.before {
        q = q.filter(
            follow_ups::created_at
                .lt(at)
                .or(follow_ups::created_at.eq(at).and(follow_ups::id.lt(id))),
        );
    }
    q.order((follow_ups::created_at.desc(), follow_ups::id.desc()))
        .limit(f.limit + 1)
        .load(conn)
}

/// How many follow-ups `f` selects in each status (its own status filter, cursor and limit
/// left aside).
pub fn count_by_status(
    conn: &mut DbConnection,
    f: &ListFilter,
) -> QueryResult<Vec<(FollowUpStatus, i64)>> {
    FollowUpStatus::ALL
        .iter()
        .map(|s| {
            filtered(f, false)
                .filter(follow_ups::status.eq(*s))
                .count()
                .get_result::<i64>(conn)
                .map(|n| (*s, n))
        })
        .collect()
}
