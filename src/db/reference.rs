//! Queries on reference data: OPDs, officials and their assignments, and the sync counter.

use crate::domain::calendar::WorkWeek;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::{
    acting_assignments, official_assignments, officials, opds, reference_version, sync_counter,
};
use super::{now, DbConnection, DbUuid};
use crate::domain::nip::EmploymentType;
use crate::domain::reference::{ActingKind, JfGrade, OpdKind, PositionKind};

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Takes `n` sequence numbers for changes in this transaction and returns the first. The
/// counter row stays locked until commit, so numbers are handed out in commit order.
pub fn take_seqs(conn: &mut DbConnection, n: i64) -> QueryResult<i64> {
    super::tx::debug_assert_writing();
    diesel::update(sync_counter::table.find(1))
        .set(sync_counter::last_seq.eq(sync_counter::last_seq + n))
        .execute(conn)?;
    let last: i64 = sync_counter::table
        .find(1)
        .select(sync_counter::last_seq)
        .first(conn)?;
    Ok(last - n + 1)
}

pub fn take_seq(conn: &mut DbConnection) -> QueryResult<i64> {
    take_seqs(conn, 1)
}

/// The version of the reference data (OPDs, officials, placements, acting posts): triggers
/// move it on with every change to those tables, in the change's own transaction.
pub fn reference_version(conn: &mut DbConnection) -> QueryResult<i64> {
    reference_version::table
        .find(1)
        .select(reference_version::version)
        .first(conn)
}

/// `%` and `_` in a user's search text are literal.
pub fn like_pattern(q: &str) -> String {
    let escaped = q
        .trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

// ---------- OPDs ----------

#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = opds)]
pub struct OpdRow {
    pub id: DbUuid,
    pub code: String,
    pub name: String,
    pub kind: OpdKind,
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub geofence_radius_m: i32,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub sync_seq: i64,
    pub work_week: WorkWeek,
}

/// The editable fields of an OPD.
#[derive(Debug, Clone, PartialEq)]
pub struct OpdFields {
    pub code: String,
    pub name: String,
    pub kind: OpdKind,
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub geofence_radius_m: i32,
    pub active: bool,
    pub work_week: WorkWeek,
}

impl OpdRow {
    pub fn fields(&self) -> OpdFields {
        OpdFields {
            code: self.code.clone(),
            name: self.name.clone(),
            kind: self.kind,
            address: self.address.clone(),
            latitude: self.latitude,
            longitude: self.longitude,
            geofence_radius_m: self.geofence_radius_m,
            active: self.active,
            work_week: self.work_week,
        }
    }
}

pub fn insert_opd(
    conn: &mut DbConnection,
    id: DbUuid,
    f: &OpdFields,
    seq: i64,
) -> QueryResult<OpdRow> {
    super::tx::debug_assert_writing();
    let at = now();
    diesel::insert_into(opds::table)
        .values((
            opds::id.eq(id),
            opds::code.eq(&f.code),
            opds::name.eq(&f.name),
            opds::kind.eq(&f.kind),
            opds::address.eq(&f.address),
            opds::latitude.eq(f.latitude),
            opds::longitude.eq(f.longitude),
            opds::geofence_radius_m.eq(f.geofence_radius_m),
            opds::active.eq(f.active),
            opds::work_week.eq(f.work_week),
            opds::created_at.eq(at),
            opds::updated_at.eq(at),
            opds::sync_seq.eq(seq),
        ))
        .execute(conn)?;
    find_opd(conn, id)
}

pub fn update_opd(
    conn: &mut DbConnection,
    id: DbUuid,
    f: &OpdFields,
    seq: i64,
) -> QueryResult<OpdRow> {
    super::tx::debug_assert_writing();
    diesel::update(opds::table.find(id))
        .set((
            opds::code.eq(&f.code),
            opds::name.eq(&f.name),
            opds::kind.eq(&f.kind),
            opds::address.eq(&f.address),
            opds::latitude.eq(f.latitude),
            opds::longitude.eq(f.longitude),
            opds::geofence_radius_m.eq(f.geofence_radius_m),
            opds::active.eq(f.active),
            opds::work_week.eq(f.work_week),
            opds::updated_at.eq(now()),
            opds::sync_seq.eq(seq),
        ))
        .execute(conn)?;
    find_opd(conn, id)
}

pub fn find_opd(conn: &mut DbConnection, id: DbUuid) -> QueryResult<OpdRow> {
    opds::table.find(id).select(OpdRow::as_select()).first(conn)
}

pub fn find_opd_by_code(conn: &mut DbConnection, code: &str) -> QueryResult<Option<OpdRow>> {
    opds::table
        .filter(opds::code.eq(code))
        .select(OpdRow::as_select())
        .first(conn)
        .optional()
}

pub fn all_opds(conn: &mut DbConnection) -> QueryResult<Vec<OpdRow>> {
    opds::table.select(OpdRow::as_select()).load(conn)
}

pub struct OpdFilter {
    pub q: Option<String>,
    pub kind: Option<OpdKind>,
    pub active: Option<bool>,
    pub after_code: Option<String>,
    pub limit: i64,
}

/// OPDs ordered by code; `limit + 1` rows.
pub fn list_opds(conn: &mut DbConnection, f: &OpdFilter) -> QueryResult<Vec<OpdRow>> {
    let mut query = opds::table.select(OpdRow::as_select()).into_boxed();
    if let Some(q) = &f.q {
        let pattern = like_pattern(q);
        query = query.filter(
            lower(opds::name)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(opds::code).like(pattern).escape('\\')),
        );
    }
    if let Some(kind) = &f.kind {
        query = query.filter(opds::kind.eq(*kind));
    }
    if let Some(active) = f.active {
        query = query.filter(opds::active.eq(active));
    }
    if let Some(after) = &f.after_code {
        query = query.filter(opds::code.gt(after.clone()));
    }
    query.order(opds::code.asc()).limit(f.limit + 1).load(conn)
}

// ---------- officials ----------

#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = officials)]
pub struct OfficialRow {
    pub id: DbUuid,
    pub nip: String,
    pub full_name: String,
    pub employment_type: EmploymentType,
    pub rank: Option<String>,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub sync_seq: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = official_assignments)]
pub struct AssignmentRow {
    pub id: DbUuid,
    pub official_id: DbUuid,
    pub opd_id: DbUuid,
    pub position_title: String,
    pub position_kind: PositionKind,
    pub effective_from: NaiveDate,
    pub effective_to: Option<NaiveDate>,
    pub created_at: NaiveDateTime,
    pub jf_grade: Option<JfGrade>,
}

/// An assignment with the OPD's code and name.
#[derive(Debug, Clone, Queryable)]
pub struct AssignmentWithOpd {
    pub assignment: AssignmentRow,
    pub opd_code: String,
    pub opd_name: String,
}

/// An official with the current assignment.
#[derive(Debug, Clone, Queryable)]
pub struct OfficialWithCurrent {
    pub official: OfficialRow,
    pub current: AssignmentWithOpd,
}

pub struct NewPlacement<'a> {
    pub opd_id: DbUuid,
    pub position_title: &'a str,
    pub position_kind: PositionKind,
    pub jf_grade: Option<JfGrade>,
    pub effective_from: NaiveDate,
}

pub struct NewOfficial<'a> {
    pub id: DbUuid,
    pub nip: &'a str,
    pub full_name: &'a str,
    pub employment_type: EmploymentType,
    pub rank: Option<&'a str>,
}

fn insert_assignment(
    conn: &mut DbConnection,
    official_id: DbUuid,
    p: &NewPlacement<'_>,
) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::insert_into(official_assignments::table)
        .values((
            official_assignments::id.eq(DbUuid(uuid::Uuid::new_v4())),
            official_assignments::official_id.eq(official_id),
            official_assignments::opd_id.eq(p.opd_id),
            official_assignments::position_title.eq(p.position_title),
            official_assignments::position_kind.eq(p.position_kind),
            official_assignments::jf_grade.eq(p.jf_grade),
            official_assignments::effective_from.eq(p.effective_from),
            official_assignments::created_at.eq(now()),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn insert_official(
    conn: &mut DbConnection,
    o: &NewOfficial<'_>,
    placement: &NewPlacement<'_>,
    seq: i64,
) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    let at = now();
    diesel::insert_into(officials::table)
        .values((
            officials::id.eq(o.id),
            officials::nip.eq(o.nip),
            officials::full_name.eq(o.full_name),
            officials::employment_type.eq(o.employment_type),
            officials::rank.eq(o.rank),
            officials::active.eq(true),
            officials::created_at.eq(at),
            officials::updated_at.eq(at),
            officials::sync_seq.eq(seq),
        ))
        .execute(conn)?;
    insert_assignment(conn, o.id, placement)
}

/// Closes the current assignment on `placement.effective_from` and opens the new one.
pub fn transfer(
    conn: &mut DbConnection,
    official_id: DbUuid,
    placement: &NewPlacement<'_>,
) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::update(
        official_assignments::table
            .filter(official_assignments::official_id.eq(official_id))
            .filter(official_assignments::effective_to.is_null()),
    )
    .set(official_assignments::effective_to.eq(Some(placement.effective_from)))
    .execute(conn)?;
    insert_assignment(conn, official_id, placement)
}

/// Records the grade of a placement that had none.
pub fn set_jf_grade(
    conn: &mut DbConnection,
    assignment: DbUuid,
    grade: Option<JfGrade>,
) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::update(official_assignments::table.find(assignment))
        .set(official_assignments::jf_grade.eq(grade))
        .execute(conn)
        .map(|_| ())
}

/// When a report last recorded the official in placement `assignment`: the latest start of
/// an inspection whose attendance row, or observation of a finding, keeps that placement.
pub fn last_recorded(
    conn: &mut DbConnection,
    assignment: DbUuid,
) -> QueryResult<Option<NaiveDateTime>> {
    Ok(last_recorded_each(conn, &[assignment])?.remove(&assignment))
}

/// [`last_recorded`] for many placements at once (two grouped queries per 500), for the
/// CSV import; placements never recorded are absent.
pub fn last_recorded_each(
    conn: &mut DbConnection,
    assignments: &[DbUuid],
) -> QueryResult<std::collections::HashMap<DbUuid, NaiveDateTime>> {
    use super::schema::{attendance, findings, inspections};
    use diesel::dsl::max;
    let mut latest = std::collections::HashMap::new();
    let mut note = |a: DbUuid, at: Option<NaiveDateTime>| {
        if let Some(at) = at {
            let seen = latest.entry(a).or_insert(at);
            *seen = (*seen).max(at);
        }
    };
    for chunk in assignments.chunks(500) {
        let attended: Vec<(DbUuid, Option<NaiveDateTime>)> = attendance::table
            .inner_join(inspections::table.on(inspections::id.eq(attendance::inspection_id)))
            .filter(attendance::assignment_id.eq_any(chunk))
            .group_by(attendance::assignment_id)
            .select((attendance::assignment_id, max(inspections::started_at)))
            .load(conn)?;
        let observed: Vec<(Option<DbUuid>, Option<NaiveDateTime>)> = findings::table
            .filter(findings::assignment_id.eq_any(chunk))
            .group_by(findings::assignment_id)
            .select((findings::assignment_id, max(findings::observed_at)))
            .load(conn)?;
        for (a, at) in attended {
            note(a, at);
        }
        for (a, at) in observed {
            if let Some(a) = a {
                note(a, at);
            }
        }
    }
    Ok(latest)
}

// ---------- acting posts (Plt, Plh) ----------

/// An acting post held beside the definitive placement, [effective_from, effective_to).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq)]
#[diesel(table_name = acting_assignments)]
pub struct ActingRow {
    pub id: DbUuid,
    pub official_id: DbUuid,
    pub kind: ActingKind,
    pub opd_id: DbUuid,
    pub position_title: String,
    pub position_kind: PositionKind,
    pub effective_from: NaiveDate,
    pub effective_to: Option<NaiveDate>,
    pub created_by: Option<DbUuid>,
    pub created_at: NaiveDateTime,
}

pub fn insert_acting(conn: &mut DbConnection, row: &ActingRow) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::insert_into(acting_assignments::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Sets the end of an acting post.
pub fn end_acting(conn: &mut DbConnection, id: DbUuid, effective_to: NaiveDate) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::update(acting_assignments::table.find(id))
        .set(acting_assignments::effective_to.eq(Some(effective_to)))
        .execute(conn)
        .map(|_| ())
}

/// Every acting post of an official with its OPD's code and name, oldest first.
pub fn acting_history(
    conn: &mut DbConnection,
    official_id: DbUuid,
) -> QueryResult<Vec<(ActingRow, String, String)>> {
    acting_assignments::table
        .inner_join(opds::table)
        .filter(acting_assignments::official_id.eq(official_id))
        .order((
            acting_assignments::effective_from.asc(),
            acting_assignments::created_at.asc(),
        ))
        .select((ActingRow::as_select(), opds::code, opds::name))
        .load(conn)
}

/// The acting post each of `officials` held on `day`, if any.
pub fn acting_on(
    conn: &mut DbConnection,
    officials: &[DbUuid],
    day: NaiveDate,
) -> QueryResult<std::collections::HashMap<DbUuid, ActingRow>> {
    let mut out = std::collections::HashMap::new();
    for chunk in officials.chunks(500) {
        let rows: Vec<ActingRow> = acting_assignments::table
            .filter(acting_assignments::official_id.eq_any(chunk))
            .filter(acting_assignments::effective_from.le(day))
            .filter(
                acting_assignments::effective_to
                    .is_null()
                    .or(acting_assignments::effective_to.gt(day)),
            )
            .order((
                acting_assignments::official_id,
                acting_assignments::effective_from.desc(),
            ))
            .select(ActingRow::as_select())
            .load(conn)?;
        for r in rows {
            out.entry(r.official_id).or_insert(r);
        }
    }
    Ok(out)
}

/// The latest observation of a finding that recorded the official in acting post `id`.
pub fn acting_last_recorded(
    conn: &mut DbConnection,
    id: DbUuid,
) -> QueryResult<Option<NaiveDateTime>> {
    use super::schema::findings;
    findings::table
        .filter(findings::acting_assignment_id.eq(id))
        .select(diesel::dsl::max(findings::observed_at))
        .first(conn)
}

/// Marks the official changed (for the phones' sync) and, on PostgreSQL, holds the row
/// lock until commit, so that two changes to one official's posts are checked one after
/// the other.
pub fn touch_official(conn: &mut DbConnection, id: DbUuid, seq: i64) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::update(officials::table.find(id))
        .set((officials::updated_at.eq(now()), officials::sync_seq.eq(seq)))
        .execute(conn)
        .map(|_| ())
}

pub struct OfficialChanges<'a> {
    pub full_name: &'a str,
    pub rank: Option<&'a str>,
    pub active: bool,
}

pub fn update_official(
    conn: &mut DbConnection,
    id: DbUuid,
    c: &OfficialChanges<'_>,
    seq: i64,
) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::update(officials::table.find(id))
        .set((
            officials::full_name.eq(c.full_name),
            officials::rank.eq(c.rank),
            officials::active.eq(c.active),
            officials::updated_at.eq(now()),
            officials::sync_seq.eq(seq),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Officials joined with their current assignment and its OPD.
#[diesel::dsl::auto_type(no_type_alias)]
fn with_current() -> _ {
    officials::table
        .inner_join(
            official_assignments::table.on(official_assignments::official_id
                .eq(officials::id)
                .and(official_assignments::effective_to.is_null())),
        )
        .inner_join(opds::table.on(official_assignments::opd_id.eq(opds::id)))
}

type CurrentTuple = (OfficialRow, (AssignmentRow, String, String));

fn from_tuple((official, (assignment, opd_code, opd_name)): CurrentTuple) -> OfficialWithCurrent {
    OfficialWithCurrent {
        official,
        current: AssignmentWithOpd {
            assignment,
            opd_code,
            opd_name,
        },
    }
}

pub fn find_official(conn: &mut DbConnection, id: DbUuid) -> QueryResult<OfficialWithCurrent> {
    with_current()
        .filter(officials::id.eq(id))
        .select((
            OfficialRow::as_select(),
            (AssignmentRow::as_select(), opds::code, opds::name),
        ))
        .first::<CurrentTuple>(conn)
        .map(from_tuple)
}

/// Officials by NIP (for imports), with their current assignment.
pub fn find_officials_by_nip(
    conn: &mut DbConnection,
    nips: &[String],
) -> QueryResult<Vec<OfficialWithCurrent>> {
    let mut out = Vec::with_capacity(nips.len());
    for chunk in nips.chunks(500) {
        let rows = with_current()
            .filter(officials::nip.eq_any(chunk))
            .select((
                OfficialRow::as_select(),
                (AssignmentRow::as_select(), opds::code, opds::name),
            ))
            .load::<CurrentTuple>(conn)?;
        out.extend(rows.into_iter().map(from_tuple));
    }
    Ok(out)
}

/// Officials by id, with their current assignment.
pub fn find_officials_by_ids(
    conn: &mut DbConnection,
    ids: &[DbUuid],
) -> QueryResult<Vec<OfficialWithCurrent>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let rows = with_current()
            .filter(officials::id.eq_any(chunk))
            .select((
                OfficialRow::as_select(),
                (AssignmentRow::as_select(), opds::code, opds::name),
            ))
            .load::<CurrentTuple>(conn)?;
        out.extend(rows.into_iter().map(from_tuple));
    }
    Ok(out)
}

pub fn nip_exists(conn: &mut DbConnection, nip: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        officials::table.filter(officials::nip.eq(nip)),
    ))
    .get_result(conn)
}

/// Every assignment of an official, oldest first.
pub fn assignment_history(
    conn: &mut DbConnection,
    official_id: DbUuid,
) -> QueryResult<Vec<AssignmentWithOpd>> {
    official_assignments::table
        .inner_join(opds::table)
        .filter(official_assignments::official_id.eq(official_id))
        .order((
            official_assignments::effective_from.asc(),
            official_assignments::created_at.asc(),
        ))
        .select((AssignmentRow::as_select(), opds::code, opds::name))
        .load::<(AssignmentRow, String, String)>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(assignment, opd_code, opd_name)| AssignmentWithOpd {
                    assignment,
                    opd_code,
                    opd_name,
                })
                .collect()
        })
}

pub struct OfficialFilter {
    pub q: Option<String>,
    pub nip: Option<String>,
    pub opd_id: Option<DbUuid>,
    pub position_kind: Option<PositionKind>,
    pub active: Option<bool>,
    pub after_nip: Option<String>,
    pub limit: i64,
}

/// Officials ordered by NIP, with their current assignment; `limit + 1` rows.
pub fn list_officials(
    conn: &mut DbConnection,
    f: &OfficialFilter,
) -> QueryResult<Vec<OfficialWithCurrent>> {
    let mut query = with_current()
        .select((
            OfficialRow::as_select(),
            (AssignmentRow::as_select(), opds::code, opds::name),
        ))
        .into_boxed();
    if let Some(q) = &f.q {
        let pattern = like_pattern(q);
        query = query.filter(
            lower(officials::full_name)
                .like(pattern.clone())
                .escape('\\')
                .or(officials::nip.like(pattern).escape('\\')),
        );
    }
    if let Some(nip) = &f.nip {
        query = query.filter(officials::nip.eq(nip.clone()));
    }
    if let Some(opd) = f.opd_id {
        query = query.filter(official_assignments::opd_id.eq(opd));
    }
    if let Some(kind) = &f.position_kind {
        query = query.filter(official_assignments::position_kind.eq(*kind));
    }
    if let Some(active) = f.active {
        query = query.filter(officials::active.eq(active));
    }
    if let Some(after) = &f.after_nip {
        query = query.filter(officials::nip.gt(after.clone()));
    }
    query
        .order(officials::nip.asc())
        .limit(f.limit + 1)
        .load::<CurrentTuple>(conn)
        .map(|rows| rows.into_iter().map(from_tuple).collect())
}

// ---------- sync ----------

/// Reference rows changed after `since`, merged in sequence order, at most `limit` of them
/// (`limit + 1` read to tell whether more follow). Call inside one read transaction so both
/// tables are read from the same snapshot.
pub fn changes_since(
    conn: &mut DbConnection,
    since: i64,
    limit: i64,
) -> QueryResult<(Vec<OpdRow>, Vec<OfficialWithCurrent>, bool)> {
    let opd_rows: Vec<OpdRow> = opds::table
        .filter(opds::sync_seq.gt(since))
        .order(opds::sync_seq.asc())
        .limit(limit + 1)
        .select(OpdRow::as_select())
        .load(conn)?;
    let official_rows: Vec<OfficialWithCurrent> = with_current()
        .filter(officials::sync_seq.gt(since))
        .order(officials::sync_seq.asc())
        .limit(limit + 1)
        .select((
            OfficialRow::as_select(),
            (AssignmentRow::as_select(), opds::code, opds::name),
        ))
        .load::<CurrentTuple>(conn)?
        .into_iter()
        .map(from_tuple)
        .collect();
    // Keep the `limit` smallest sequence numbers of the two lists.
    let mut seqs: Vec<i64> = opd_rows
        .iter()
        .map(|o| o.sync_seq)
        .chain(official_rows.iter().map(|o| o.official.sync_seq))
        .collect();
    seqs.sort_unstable();
    let has_more = seqs.len() as i64 > limit;
    let cutoff = if has_more {
        seqs[limit as usize - 1]
    } else {
        i64::MAX
    };
    let opd_rows = opd_rows
        .into_iter()
        .filter(|o| o.sync_seq <= cutoff)
        .collect();
    let official_rows = official_rows
        .into_iter()
        .filter(|o| o.official.sync_seq <= cutoff)
        .collect();
    Ok((opd_rows, official_rows, has_more))
}
