//! Queries on inspections, attendance, findings and evidence.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::reference::AssignmentRow;
use super::schema::{
    attendance, evidence, findings, inspections, official_assignments, officials, opds,
    reference_version, users,
};
use super::{DbConnection, DbUuid};
use crate::domain::inspection::{
    AttendanceStatus, FindingCategory, FindingSource, InspectionStatus, Severity,
};
use crate::domain::reference::{ActingKind, JfGrade, PositionKind};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq)]
#[diesel(table_name = inspections, treat_none_as_default_value = false)]
pub struct InspectionRow {
    pub id: DbUuid,
    pub opd_id: DbUuid,
    pub inspector_id: DbUuid,
    pub status: InspectionStatus,
    pub started_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
    pub notes: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub accuracy_m: Option<f64>,
    pub distance_m: Option<f64>,
    pub within_geofence: Option<bool>,
    pub request_hash: String,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub submitted_at: Option<NaiveDateTime>,
    /// How many attendance rows and findings the report holds (kept with the rows: the
    /// list of reports shows them, [`recount`]).
    pub attendance_count: i64,
    pub findings_count: i64,
}

super::unnest::unnest_insert!(
    InspectionRow,
    inspections,
    [
        id,
        opd_id,
        inspector_id,
        status,
        started_at,
        ended_at,
        notes,
        latitude,
        longitude,
        accuracy_m,
        distance_m,
        within_geofence,
        request_hash,
        version,
        created_at,
        updated_at,
        submitted_at,
        attendance_count,
        findings_count
    ]
);

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq)]
#[diesel(table_name = attendance, treat_none_as_default_value = false)]
pub struct AttendanceRow {
    pub id: DbUuid,
    pub inspection_id: DbUuid,
    pub official_id: DbUuid,
    pub status: AttendanceStatus,
    pub minutes_late: Option<i32>,
    pub note: Option<String>,
    pub assignment_id: DbUuid,
    pub opd_id: DbUuid,
    pub position_title: String,
    pub position_kind: PositionKind,
    pub created_at: NaiveDateTime,
    pub minutes_early: Option<i32>,
}

super::unnest::unnest_insert!(
    AttendanceRow,
    attendance,
    [
        id,
        inspection_id,
        official_id,
        status,
        minutes_late,
        note,
        assignment_id,
        opd_id,
        position_title,
        position_kind,
        created_at,
        minutes_early
    ]
);

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq)]
#[diesel(table_name = findings, treat_none_as_default_value = false)]
pub struct FindingRow {
    pub id: DbUuid,
    pub inspection_id: DbUuid,
    pub official_id: Option<DbUuid>,
    pub category: FindingCategory,
    pub severity: Severity,
    pub description: String,
    pub observed_at: NaiveDateTime,
    pub source: FindingSource,
    pub attendance_id: Option<DbUuid>,
    pub request_hash: String,
    pub assignment_id: Option<DbUuid>,
    pub official_opd_id: Option<DbUuid>,
    pub official_position_title: Option<String>,
    pub official_position_kind: Option<PositionKind>,
    pub created_at: NaiveDateTime,
    pub unexcused: bool,
    pub excused_at: Option<NaiveDateTime>,
    pub excused_by: Option<DbUuid>,
    pub excuse_reason: Option<String>,
    pub official_jf_grade: Option<JfGrade>,
    pub acting_assignment_id: Option<DbUuid>,
    pub acting_kind: Option<ActingKind>,
    pub acting_opd_id: Option<DbUuid>,
    pub acting_position_title: Option<String>,
    pub acting_position_kind: Option<PositionKind>,
}

super::unnest::unnest_insert!(
    FindingRow,
    findings,
    [
        id,
        inspection_id,
        official_id,
        category,
        severity,
        description,
        observed_at,
        source,
        attendance_id,
        request_hash,
        assignment_id,
        official_opd_id,
        official_position_title,
        official_position_kind,
        created_at,
        unexcused,
        excused_at,
        excused_by,
        excuse_reason,
        official_jf_grade,
        acting_assignment_id,
        acting_kind,
        acting_opd_id,
        acting_position_title,
        acting_position_kind
    ]
);

impl FindingRow {
    /// A finding about no official, with blank fields: the base the builders fill in.
    pub fn about_nobody() -> Self {
        FindingRow {
            id: DbUuid(uuid::Uuid::nil()),
            inspection_id: DbUuid(uuid::Uuid::nil()),
            official_id: None,
            category: FindingCategory::Other,
            severity: Severity::Low,
            description: String::new(),
            observed_at: NaiveDateTime::default(),
            source: FindingSource::Report,
            attendance_id: None,
            request_hash: String::new(),
            assignment_id: None,
            official_opd_id: None,
            official_position_title: None,
            official_position_kind: None,
            created_at: NaiveDateTime::default(),
            unexcused: false,
            excused_at: None,
            excused_by: None,
            excuse_reason: None,
            official_jf_grade: None,
            acting_assignment_id: None,
            acting_kind: None,
            acting_opd_id: None,
            acting_position_title: None,
            acting_position_kind: None,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq)]
#[diesel(table_name = evidence, treat_none_as_default_value = false)]
pub struct EvidenceRow {
    pub id: DbUuid,
    pub inspection_id: DbUuid,
    pub finding_id: Option<DbUuid>,
    pub sha256: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub captured_at: Option<NaiveDateTime>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub uploaded_by: DbUuid,
    pub created_at: NaiveDateTime,
}

pub fn find(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<InspectionRow>> {
    inspections::table
        .find(id)
        .select(InspectionRow::as_select())
        .first(conn)
        .optional()
}

/// The version of the reference data, if no report `id` is stored: the two things a report
/// prepared outside the write lock asks under it, in one statement.
pub fn version_if_new(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<i64>> {
    use diesel::dsl::{exists, not};
    // In a batch's first attempt, asked once for all its reports (`super::deferred`).
    if let Some(answer) = super::deferred::version_if_new(conn, id)? {
        return Ok(answer);
    }
    reference_version::table
        .find(1)
        .filter(not(exists(inspections::table.find(id))))
        .select(reference_version::version)
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut DbConnection, row: &InspectionRow) -> QueryResult<()> {
    if !super::deferred::hold_inspection(row) {
        super::insert_rows!(conn, inspections::table, std::slice::from_ref(row));
    }
    Ok(())
}

/// Writes the editable fields and bumps the version, only if the version is still
/// `expected_version`; `false` when another change came first.
pub fn update(
    conn: &mut DbConnection,
    row: &InspectionRow,
    expected_version: i64,
) -> QueryResult<bool> {
    super::tx::debug_assert_writing();
    let n = diesel::update(
        inspections::table
            .find(row.id)
            .filter(inspections::version.eq(expected_version)),
    )
    .set((
        inspections::status.eq(&row.status),
        inspections::started_at.eq(row.started_at),
        inspections::ended_at.eq(row.ended_at),
        inspections::notes.eq(&row.notes),
        inspections::latitude.eq(row.latitude),
        inspections::longitude.eq(row.longitude),
        inspections::accuracy_m.eq(row.accuracy_m),
        inspections::distance_m.eq(row.distance_m),
        inspections::within_geofence.eq(row.within_geofence),
        inspections::version.eq(expected_version + 1),
        inspections::updated_at.eq(row.updated_at),
        inspections::submitted_at.eq(row.submitted_at),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// A report's attendance rows, in one statement on PostgreSQL ([`super::insert_rows`]).
pub fn insert_attendance_rows(conn: &mut DbConnection, rows: &[AttendanceRow]) -> QueryResult<()> {
    if !super::deferred::hold_attendance(rows) {
        super::insert_rows!(conn, attendance::table, rows);
    }
    Ok(())
}

/// A report's findings, written as [`insert_attendance_rows`] writes attendance.
pub fn insert_finding_rows(conn: &mut DbConnection, rows: &[FindingRow]) -> QueryResult<()> {
    if !super::deferred::hold_findings(rows) {
        super::insert_rows!(conn, findings::table, rows);
    }
    Ok(())
}

pub fn insert_finding(conn: &mut DbConnection, row: &FindingRow) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::insert_into(findings::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn insert_evidence(conn: &mut DbConnection, row: &EvidenceRow) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::insert_into(evidence::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn attendance_of(
    conn: &mut DbConnection,
    inspection: DbUuid,
) -> QueryResult<Vec<AttendanceRow>> {
    attendance::table
        .filter(attendance::inspection_id.eq(inspection))
        .order((attendance::created_at.asc(), attendance::id.asc()))
        .select(AttendanceRow::as_select())
        .load(conn)
}

pub fn findings_of(conn: &mut DbConnection, inspection: DbUuid) -> QueryResult<Vec<FindingRow>> {
    findings::table
        .filter(findings::inspection_id.eq(inspection))
        .order((findings::observed_at.asc(), findings::id.asc()))
        .select(FindingRow::as_select())
        .load(conn)
}

pub fn evidence_of(conn: &mut DbConnection, inspection: DbUuid) -> QueryResult<Vec<EvidenceRow>> {
    evidence::table
        .filter(evidence::inspection_id.eq(inspection))
        .order((evidence::created_at.asc(), evidence::id.asc()))
        .select(EvidenceRow::as_select())
        .load(conn)
}

pub fn find_finding(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<FindingRow>> {
    findings::table
        .find(id)
        .select(FindingRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_evidence(conn: &mut DbConnection, id: DbUuid) -> QueryResult<Option<EvidenceRow>> {
    evidence::table
        .find(id)
        .select(EvidenceRow::as_select())
        .first(conn)
        .optional()
}

/// Which of `ids` are already attendance rows or findings (of any report), including the
/// rows a group-commit batch holds (`super::deferred`). One `IN (…)` list per table, in
/// one round trip; on PostgreSQL sent unprepared (see [`IdsIn`]).
pub fn taken_ids(conn: &mut DbConnection, ids: &[DbUuid]) -> QueryResult<Vec<DbUuid>> {
    let mut taken = IdsIn::find(conn, &["attendance", "findings"], ids)?;
    taken.extend(super::deferred::held_row_ids(ids));
    taken.sort_unstable();
    taken.dedup();
    Ok(taken)
}

/// The statement of [`taken_ids`] and [`stored_among`]: the ids of the rows of `tables`
/// among the given ones, in one round trip, and whether it is kept prepared.
///
/// On SQLite it is: the list is padded (with its first id again) to one of a few lengths,
/// so the statement takes a few texts, each prepared once per connection (a list of each
/// caller's own length would be a text per length). On PostgreSQL it is not: a prepared
/// statement soon runs on a generic plan, chosen while the tables were small (a scan of
/// the whole table) and kept as they grow (measured: a fifth of the speed).
struct IdsIn {
    tables: &'static [&'static str],
    ids: Vec<DbUuid>,
    prepared: bool,
}

impl IdsIn {
    const SIZES: [usize; 4] = [8, 32, 128, 512];

    /// The ids among `ids` of rows in `tables`, in lists of at most the largest size.
    fn find(
        conn: &mut DbConnection,
        tables: &'static [&'static str],
        ids: &[DbUuid],
    ) -> QueryResult<Vec<DbUuid>> {
        let mut found = Vec::new();
        for chunk in ids.chunks(Self::SIZES[Self::SIZES.len() - 1]) {
            found.extend(Self::find_some(conn, tables, chunk)?);
        }
        Ok(found)
    }

    fn find_some(
        conn: &mut DbConnection,
        tables: &'static [&'static str],
        ids: &[DbUuid],
    ) -> QueryResult<Vec<DbUuid>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        match conn {
            DbConnection::Sqlite(c) => {
                let size = Self::SIZES
                    .iter()
                    .copied()
                    .find(|s| *s >= ids.len())
                    .unwrap_or(ids.len());
                let mut padded = ids.to_vec();
                padded.resize(size, ids[0]);
                IdsIn {
                    tables,
                    ids: padded,
                    prepared: true,
                }
                .load::<DbUuid>(c)
            }
            DbConnection::Pg(c) => IdsIn {
                tables,
                ids: ids.to_vec(),
                prepared: false,
            }
            .load::<DbUuid>(c),
        }
    }
}

impl diesel::query_builder::QueryId for IdsIn {
    type QueryId = ();
    // The text depends on the list's length: statements are told apart by their text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for IdsIn {
    type SqlType = diesel::sql_types::Text;
}

impl<DB> diesel::query_builder::QueryFragment<DB> for IdsIn
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<diesel::sql_types::Text>,
    DbUuid: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(self.prepared)
    }

    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        if !self.prepared {
            out.unsafe_to_cache_prepared();
        }
        for (i, table) in self.tables.iter().enumerate() {
            if i > 0 {
                out.push_sql(" UNION ALL ");
            }
            out.push_sql(&format!("SELECT id FROM {table} WHERE id IN ("));
            for (j, id) in self.ids.iter().enumerate() {
                if j > 0 {
                    out.push_sql(", ");
                }
                out.push_bind_param::<diesel::sql_types::Text, _>(id)?;
            }
            out.push_sql(")");
        }
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for IdsIn {}

/// Which of the reports `ids` are stored (a group commit's batch asks for all of its
/// reports at once, `super::deferred`).
pub fn stored_among(conn: &mut DbConnection, ids: &[DbUuid]) -> QueryResult<Vec<DbUuid>> {
    IdsIn::find(conn, &["inspections"], ids)
}

/// Removes a draft's attendance rows and the absence findings derived from them.
pub fn delete_attendance(conn: &mut DbConnection, inspection: DbUuid) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::delete(
        findings::table
            .filter(findings::inspection_id.eq(inspection))
            .filter(findings::source.eq(FindingSource::Attendance)),
    )
    .execute(conn)?;
    diesel::delete(attendance::table.filter(attendance::inspection_id.eq(inspection)))
        .execute(conn)?;
    Ok(())
}

/// Whether evidence points at any finding derived from this report's attendance.
pub fn derived_findings_have_evidence(
    conn: &mut DbConnection,
    inspection: DbUuid,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        evidence::table
            .inner_join(findings::table.on(evidence::finding_id.eq(findings::id.nullable())))
            .filter(
                findings::inspection_id
                    .eq(inspection)
                    .and(findings::source.eq(FindingSource::Attendance)),
            ),
    ))
    .get_result(conn)
}

/// The placements the officials held on local date `day` (one query for all of them);
/// officials without one are absent from the map.
pub fn assignments_on(
    conn: &mut DbConnection,
    officials: &[DbUuid],
    day: NaiveDate,
) -> QueryResult<std::collections::HashMap<DbUuid, AssignmentRow>> {
    let mut out = std::collections::HashMap::new();
    for chunk in officials.chunks(500) {
        let rows: Vec<AssignmentRow> = official_assignments::table
            .filter(official_assignments::official_id.eq_any(chunk))
            .filter(official_assignments::effective_from.le(day))
            .filter(
                official_assignments::effective_to
                    .is_null()
                    .or(official_assignments::effective_to.gt(day)),
            )
            .order((
                official_assignments::official_id,
                official_assignments::effective_from.desc(),
                official_assignments::created_at.desc(),
            ))
            .select(AssignmentRow::as_select())
            .load(conn)?;
        for r in rows {
            // The first row per official is the latest placement in force (as `assignment_on`).
            out.entry(r.official_id).or_insert(r);
        }
    }
    Ok(out)
}

/// The placement an official held on local date `day`, if any.
pub fn assignment_on(
    conn: &mut DbConnection,
    official: DbUuid,
    day: NaiveDate,
) -> QueryResult<Option<AssignmentRow>> {
    Ok(assignments_on(conn, &[official], day)?.remove(&official))
}

/// Which of `ids` are known officials.
pub fn existing_officials(conn: &mut DbConnection, ids: &[DbUuid]) -> QueryResult<Vec<DbUuid>> {
    let mut found = Vec::new();
    for chunk in ids.chunks(500) {
        found.extend(
            officials::table
                .filter(officials::id.eq_any(chunk))
                .select(officials::id)
                .load::<DbUuid>(conn)?,
        );
    }
    Ok(found)
}

/// Names for display: OPD (code, name) and inspector (username, full name).
pub fn labels(
    conn: &mut DbConnection,
    opd: DbUuid,
    inspector: DbUuid,
) -> QueryResult<((String, String), (String, String))> {
    // One round trip: the OPD's row joined with the inspector's.
    let (code, name, username, full_name) = opds::table
        .inner_join(users::table.on(users::id.eq(inspector)))
        .filter(opds::id.eq(opd))
        .select((opds::code, opds::name, users::username, users::full_name))
        .first::<(String, String, String, String)>(conn)?;
    Ok(((code, name), (username, full_name)))
}

/// Display names for many reports at once: OPD (code, name) and inspector (username, full
/// name), in the order of `rows`.
#[allow(clippy::type_complexity)]
pub fn labels_for(
    conn: &mut DbConnection,
    rows: &[InspectionRow],
) -> QueryResult<Vec<((String, String), (String, String))>> {
    let opd_ids: Vec<DbUuid> = rows.iter().map(|r| r.opd_id).collect();
    let user_ids: Vec<DbUuid> = rows.iter().map(|r| r.inspector_id).collect();
    let opd_names: std::collections::HashMap<DbUuid, (String, String)> = opds::table
        .filter(opds::id.eq_any(&opd_ids))
        .select((opds::id, opds::code, opds::name))
        .load::<(DbUuid, String, String)>(conn)?
        .into_iter()
        .map(|(id, c, n)| (id, (c, n)))
        .collect();
    let user_names: std::collections::HashMap<DbUuid, (String, String)> = users::table
        .filter(users::id.eq_any(&user_ids))
        .select((users::id, users::username, users::full_name))
        .load::<(DbUuid, String, String)>(conn)?
        .into_iter()
        .map(|(id, u, n)| (id, (u, n)))
        .collect();
    Ok(rows
        .iter()
        .map(|r| {
            (
                opd_names.get(&r.opd_id).cloned().unwrap_or_default(),
                user_names.get(&r.inspector_id).cloned().unwrap_or_default(),
            )
        })
        .collect())
}

pub struct ListFilter {
    pub opd_id: Option<DbUuid>,
    pub status: Option<InspectionStatus>,
    pub inspector_id: Option<DbUuid>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Inspectors: only submitted reports and their own drafts.
    pub visible_to_inspector: Option<DbUuid>,
    /// Keyset: strictly older than (started_at, id).
    pub before: Option<(NaiveDateTime, DbUuid)>,
    pub limit: i64,
}

/// Newest first; `limit + 1` rows.
pub fn list(conn: &mut DbConnection, f: &ListFilter) -> QueryResult<Vec<InspectionRow>> {
    let mut q = inspections::table
        .select(InspectionRow::as_select())
        .into_boxed();
    if let Some(v) = f.opd_id {
        q = q.filter(inspections::opd_id.eq(v));
    }
    if let Some(v) = &f.status {
        q = q.filter(inspections::status.eq(*v));
    }
    if let Some(v) = f.inspector_id {
        q = q.filter(inspections::inspector_id.eq(v));
    }
    if let Some(v) = f.from {
        q = q.filter(inspections::started_at.ge(v));
    }
    if let Some(v) = f.to {
        q = q.filter(inspections::started_at.lt(v));
    }
    if let Some(me) = f.visible_to_inspector {
        q = q.filter(
            inspections::status
                .eq(InspectionStatus::Submitted)
                .or(inspections::inspector_id.eq(me)),
        );
    }
    if let Some((at, id)) = f.before {
        q = q.filter(
            inspections::started_at
                .lt(at)
                .or(inspections::started_at.eq(at).and(inspections::id.lt(id))),
        );
    }
    q.order((inspections::started_at.desc(), inspections::id.desc()))
        .limit(f.limit + 1)
        .load(conn)
}

/// Stores a report's counts of attendance rows and findings ([`InspectionRow`]) as its rows
/// now stand; called wherever a stored report's rows change (a report's creation writes
/// them with its row).
pub fn recount(conn: &mut DbConnection, inspection: DbUuid) -> QueryResult<()> {
    use diesel::dsl::count_star;
    super::tx::debug_assert_writing();
    let attendance = attendance::table
        .filter(attendance::inspection_id.eq(inspection))
        .select(count_star())
        .single_value()
        .assume_not_null();
    let findings = findings::table
        .filter(findings::inspection_id.eq(inspection))
        .select(count_star())
        .single_value()
        .assume_not_null();
    diesel::update(inspections::table.find(inspection))
        .set((
            inspections::attendance_count.eq(attendance),
            inspections::findings_count.eq(findings),
        ))
        .execute(conn)?;
    Ok(())
}

/// Which of these hashes some evidence record points at.
pub fn shas_in_use(
    conn: &mut DbConnection,
    shas: &[String],
) -> QueryResult<std::collections::HashSet<String>> {
    Ok(evidence::table
        .filter(evidence::sha256.eq_any(shas))
        .select(evidence::sha256)
        .distinct()
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// Every hash an evidence record points at, once each, in order.
pub fn stored_shas(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    evidence::table
        .select(evidence::sha256)
        .distinct()
        .order(evidence::sha256)
        .load(conn)
}

/// Whether any evidence record points at these bytes.
pub fn sha_in_use(conn: &mut DbConnection, sha256: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        evidence::table.filter(evidence::sha256.eq(sha256)),
    ))
    .get_result(conn)
}
