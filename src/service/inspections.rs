//! Inspection reports: one whole report in one transaction, replay-safe by the phone's ids;
//! drafts edited with optimistic concurrency; submission makes a report read-only.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::db::audit;
use crate::db::inspections::{self as idb, AttendanceRow, EvidenceRow, FindingRow, InspectionRow};
use crate::db::reference as refdb;
use crate::db::{now, write_tx, DbConnection, DbUuid};
use crate::domain::dates::local_day;
use crate::domain::inspection::{
    self as rules, finding_hash, not_in_future, report_hash, text_limit, ts, validate_attendance,
    validate_finding, validate_location, validate_report, AttendanceInput, AttendanceStatus,
    FindingCategory, FindingInput, FindingSource, InspectionStatus, Location, ReportInput,
    Severity, MAX_ATTENDANCE, MAX_FINDINGS, NOTES_MAX,
};
use crate::error::{ApiError, FieldError};
use crate::service::access::{check_write, load_visible};
use crate::service::followups::{auto_flag, FlagWrites};
use crate::service::reference_cache::{read_posts, Learned, Posts, PostsOn, ReferenceCache};
pub use crate::service::Created;
use crate::service::{Caller, Ctx};

/// Namespace of the ids of absence findings derived from attendance rows.
const DERIVED_FINDING_NS: Uuid = Uuid::from_u128(0x5d1d_a4a7_7e0c_4c4e_9b7a_0a11_ce00_0001);

/// The distance from the OPD and whether the report was made inside its geofence.
fn geofence(opd: &refdb::OpdRow, loc: Option<Location>) -> (Option<f64>, Option<bool>) {
    match (opd.latitude, opd.longitude) {
        (Some(lat), Some(lon)) => rules::geofence((lat, lon), opd.geofence_radius_m, loc),
        _ => (None, None),
    }
}

/// Builds attendance rows after checking each official was placed at the inspected OPD
/// that day, with the absence findings derived from them.
fn attendance_rows(
    conn: &mut DbConnection,
    inspection: &InspectionRow,
    rows: &[AttendanceInput],
    tz: chrono_tz::Tz,
    placements: &mut Placements,
    errors: &mut Vec<FieldError>,
) -> Result<(Vec<AttendanceRow>, Vec<FindingRow>), ApiError> {
    let day = local_day(inspection.started_at, tz);
    let at = now();
    let mut pending = Vec::new();
    for (i, a) in rows.iter().enumerate() {
        match placements.on(conn, DbUuid(a.official_id), day)? {
            Some(posts) if posts.placement.opd_id == inspection.opd_id => pending.push((a, posts)),
            _ => errors.push(FieldError::new(
                format!("attendance[{i}].official_id"),
                format!("the official was not placed at the inspected OPD on {day}"),
            )),
        }
    }
    if !errors.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut attendance_rows = Vec::with_capacity(pending.len());
    let mut derived = Vec::new();
    for (a, posts) in pending {
        let asg = &posts.placement;
        let row = AttendanceRow {
            id: DbUuid(a.id),
            inspection_id: inspection.id,
            official_id: DbUuid(a.official_id),
            status: a.status,
            minutes_late: a.minutes_late.map(|m| m as i32),
            note: a.note.clone(),
            assignment_id: asg.id,
            opd_id: asg.opd_id,
            position_title: asg.position_title.clone(),
            position_kind: asg.position_kind,
            created_at: at,
            minutes_early: a.minutes_early.map(|m| m as i32),
        };
        if a.status == AttendanceStatus::AbsentUnexcused {
            let mut finding = FindingRow {
                id: DbUuid(Uuid::new_v5(&DERIVED_FINDING_NS, a.id.as_bytes())),
                inspection_id: inspection.id,
                official_id: Some(row.official_id),
                category: FindingCategory::Absence,
                severity: Severity::Medium,
                description: "Absent without excuse when the inspection checked attendance.".into(),
                observed_at: inspection.started_at,
                source: FindingSource::Attendance,
                attendance_id: Some(row.id),
                request_hash: String::new(),
                created_at: at,
                unexcused: true,
                ..FindingRow::about_nobody()
            };
            snapshot(&posts, &mut finding);
            derived.push(finding);
        }
        attendance_rows.push(row);
    }
    Ok((attendance_rows, derived))
}

/// Writes the posts into a finding about the official: they are kept as they were.
fn snapshot(posts: &Posts, row: &mut FindingRow) {
    let (p, a) = (&posts.placement, posts.acting.as_ref());
    row.assignment_id = Some(p.id);
    row.official_opd_id = Some(p.opd_id);
    row.official_position_title = Some(p.position_title.clone());
    row.official_position_kind = Some(p.position_kind);
    row.official_jf_grade = p.jf_grade;
    row.acting_assignment_id = a.map(|a| a.id);
    row.acting_kind = a.map(|a| a.kind);
    row.acting_opd_id = a.map(|a| a.opd_id);
    row.acting_position_title = a.map(|a| a.position_title.clone());
    row.acting_position_kind = a.map(|a| a.position_kind);
}

/// Posts held on a day, looked up once per official and day; a report's officials on its
/// own day are fetched together (one query for placements, one for acting posts), or
/// taken from the [`ReferenceCache`].
#[derive(Default)]
struct Placements(HashMap<(DbUuid, NaiveDate), Option<Posts>>);

impl Placements {
    /// Reads the posts of `officials` on `day`; returns what was read.
    fn prefetch(
        &mut self,
        conn: &mut DbConnection,
        officials: &[DbUuid],
        day: NaiveDate,
    ) -> Result<Vec<PostsOn>, ApiError> {
        let read: Vec<_> = read_posts(conn, officials, day)?
            .into_iter()
            .map(|(o, posts)| ((o, day), posts))
            .collect();
        for (key, posts) in &read {
            self.0.entry(*key).or_insert_with(|| posts.clone());
        }
        Ok(read)
    }

    fn on(
        &mut self,
        conn: &mut DbConnection,
        official: DbUuid,
        day: NaiveDate,
    ) -> Result<Option<Posts>, ApiError> {
        if !self.0.contains_key(&(official, day)) {
            self.prefetch(conn, &[official], day)?;
        }
        Ok(self.0.get(&(official, day)).cloned().flatten())
    }
}

/// Builds a finding row with the official's placement in force when it was observed.
fn finding_row(
    conn: &mut DbConnection,
    path: &str,
    inspection: &InspectionRow,
    f: &FindingInput,
    tz: chrono_tz::Tz,
    placements: &mut Placements,
    errors: &mut Vec<FieldError>,
) -> Result<Option<FindingRow>, ApiError> {
    let observed_at = f.observed_at.map(ts).unwrap_or(inspection.started_at);
    // A finding is of the sidak's day: the placement and the counts are read for it.
    let report_day = local_day(inspection.started_at, tz);
    if local_day(observed_at, tz) != report_day {
        errors.push(FieldError::new(
            format!("{path}observed_at"),
            format!("must be on the inspection's local day ({report_day})"),
        ));
        return Ok(None);
    }
    let mut row = FindingRow {
        id: DbUuid(f.id),
        inspection_id: inspection.id,
        official_id: f.official_id.map(DbUuid),
        category: f.category,
        severity: f.severity,
        description: f.description.trim().to_string(),
        observed_at,
        source: FindingSource::Report,
        attendance_id: None,
        request_hash: finding_hash(f),
        created_at: now(),
        unexcused: f.unexcused,
        ..FindingRow::about_nobody()
    };
    if let Some(official) = f.official_id {
        let day = local_day(observed_at, tz);
        match placements.on(conn, DbUuid(official), day)? {
            Some(posts) => snapshot(&posts, &mut row),
            None => {
                errors.push(FieldError::new(
                    format!("{path}official_id"),
                    format!("the official had no placement on {day}"),
                ));
                return Ok(None);
            }
        }
    }
    Ok(Some(row))
}

/// The officials rows about them name, each once.
fn officials_named<'a>(
    attendance: &[AttendanceInput],
    findings: impl Iterator<Item = &'a FindingInput>,
) -> Vec<DbUuid> {
    let mut ids: Vec<DbUuid> = attendance
        .iter()
        .map(|a| DbUuid(a.official_id))
        .chain(findings.filter_map(|f| f.official_id.map(DbUuid)))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Unknown officials, by request path. `known` are officials already known to exist (from
/// the [`ReferenceCache`]); the others are read, and those found are added to `learned`.
fn check_officials(
    conn: &mut DbConnection,
    attendance: &[AttendanceInput],
    findings: &[(String, &FindingInput)],
    known: &HashSet<DbUuid>,
    learned: &mut Vec<DbUuid>,
    errors: &mut Vec<FieldError>,
) -> Result<(), ApiError> {
    let missing: Vec<DbUuid> = officials_named(attendance, findings.iter().map(|(_, f)| *f))
        .into_iter()
        .filter(|o| !known.contains(o))
        .collect();
    let read = if missing.is_empty() {
        Vec::new()
    } else {
        idb::existing_officials(conn, &missing)?
    };
    let exists = |o: Uuid| known.contains(&DbUuid(o)) || read.contains(&DbUuid(o));
    for (i, a) in attendance.iter().enumerate() {
        if !exists(a.official_id) {
            errors.push(FieldError::new(
                format!("attendance[{i}].official_id"),
                "no such official",
            ));
        }
    }
    for (path, f) in findings {
        if f.official_id.is_some_and(|o| !exists(o)) {
            errors.push(FieldError::new(
                format!("{path}official_id"),
                "no such official",
            ));
        }
    }
    learned.extend(read);
    Ok(())
}

fn check_ids_free(conn: &mut DbConnection, ids: &[(String, Uuid)]) -> Result<(), ApiError> {
    let wanted: Vec<DbUuid> = ids.iter().map(|(_, id)| DbUuid(*id)).collect();
    let taken = idb::taken_ids(conn, &wanted)?;
    if let Some((path, id)) = ids.iter().find(|(_, id)| taken.contains(&DbUuid(*id))) {
        return Err(ApiError::Conflict(format!(
            "{path} {id} already belongs to another report or record."
        )));
    }
    Ok(())
}

/// The OPD a new report is about, from the cache or else read (and added to `learned`);
/// refused when unknown or deactivated.
fn opd_for_report(
    conn: &mut DbConnection,
    opd_id: DbUuid,
    cached: Option<refdb::OpdRow>,
    learned: &mut Learned,
) -> Result<refdb::OpdRow, ApiError> {
    let opd = match cached {
        Some(opd) => opd,
        None => match refdb::find_opd(conn, opd_id) {
            Ok(opd) => {
                learned.opd = Some(opd.clone());
                opd
            }
            Err(diesel::result::Error::NotFound) => {
                return Err(ApiError::invalid("opd_id", "no such OPD"))
            }
            Err(e) => return Err(e.into()),
        },
    };
    if !opd.active {
        return Err(ApiError::invalid(
            "opd_id",
            "the OPD is deactivated and receives no new inspections",
        ));
    }
    Ok(opd)
}

fn audit_entry<'a>(
    ctx: &'a Ctx,
    actor: Uuid,
    action: &'a str,
    id: DbUuid,
    details: serde_json::Value,
) -> audit::AuditEntry<'a> {
    ctx.audit(
        Some(actor),
        action,
        "inspection",
        Some(id.to_string()),
        details,
    )
}

/// A new report's rows, built from the reference data it names (OPD, placements, acting
/// posts).
struct Built {
    opd: (String, String),
    row: InspectionRow,
    attendance: Vec<AttendanceRow>,
    findings: Vec<FindingRow>,
    details: serde_json::Value,
}

/// What a report needs before the write lock: its hash, what is wrong with it on its own,
/// and — on PostgreSQL, when it is new and acceptable as far as a read can tell — its rows.
/// Building them takes most of a report's reads; done beside other requests, they leave
/// the writer with the inserts (see [`create`]).
pub struct Prepared {
    hash: String,
    errors: Vec<FieldError>,
    /// The rows, with the version of the reference data they were built from.
    built: Option<(i64, Built)>,
}

/// Prepares `input`, reading on `conn` when given one (a connection of its own, outside
/// any transaction; see `http::run_prepared_grouped` for when it is). Nothing here refuses
/// the report: a report that a read finds fault with is decided under the write lock by
/// [`create`], as a concurrent write may have changed the answer meanwhile. A replay needs
/// no look of its own here: its row ids are taken (by itself), so it is not built, and
/// one with no rows is recognised under the lock by the check that finds its id stored.
pub fn prepare(
    conn: Option<&mut DbConnection>,
    input: &ReportInput,
    caller: &Caller,
    ctx: &Ctx,
    reference: &ReferenceCache,
) -> Result<Prepared, ApiError> {
    let hash = report_hash(input, caller.id);
    let errors = validate_report(input, Utc::now());
    let built = match conn {
        Some(conn) if errors.is_empty() => {
            // The version first: a change of reference data committed after it moves it
            // on, so rows built from anything read later are written only if nothing
            // changed.
            let version = refdb::reference_version(conn)?;
            build(conn, input, caller, ctx.tz(), &hash, (reference, version))
                .ok()
                .map(|b| (version, b))
        }
        _ => None,
    };
    Ok(Prepared {
        hash,
        errors,
        built,
    })
}

/// Reads what a new report refers to, refuses it if any of it is wrong, and builds its rows.
/// `reference` is the cache and the version of the reference data the caller read on
/// `conn` before (see [`ReferenceCache`]): what the cache holds at that version is not read
/// again, and what is read is offered to it.
fn build(
    conn: &mut DbConnection,
    input: &ReportInput,
    caller: &Caller,
    tz: chrono_tz::Tz,
    hash: &str,
    reference: (&ReferenceCache, i64),
) -> Result<Built, ApiError> {
    let (cache, version) = reference;
    let day = local_day(ts(input.started_at), tz);
    let officials = officials_named(&input.attendance, input.findings.iter());
    let found = cache.lookup(version, DbUuid(input.opd_id), &officials, day);
    let mut learned = Learned::default();
    let opd = opd_for_report(conn, DbUuid(input.opd_id), found.opd, &mut learned)?;
    let mut errors = Vec::new();
    let finding_paths: Vec<(String, &FindingInput)> = input
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| (format!("findings[{i}]."), f))
        .collect();
    check_officials(
        conn,
        &input.attendance,
        &finding_paths,
        &found.officials,
        &mut learned.officials,
        &mut errors,
    )?;
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut ids: Vec<(String, Uuid)> = input
        .attendance
        .iter()
        .enumerate()
        .map(|(i, a)| (format!("attendance[{i}].id"), a.id))
        .collect();
    ids.extend(
        input
            .findings
            .iter()
            .enumerate()
            .map(|(i, f)| (format!("findings[{i}].id"), f.id)),
    );
    check_ids_free(conn, &ids)?;

    let (distance_m, within_geofence) = geofence(&opd, input.location);
    let at = now();
    // A report sent with `submit` is stored submitted at once (no second write of its
    // row); its version counts the creation and the submission, as a draft submitted
    // later would.
    let mut row = InspectionRow {
        id: DbUuid(input.id),
        opd_id: opd.id,
        inspector_id: DbUuid(caller.id),
        status: if input.submit {
            InspectionStatus::Submitted
        } else {
            InspectionStatus::Draft
        },
        started_at: ts(input.started_at),
        ended_at: input.ended_at.map(ts),
        notes: input.notes.clone(),
        latitude: input.location.map(|l| l.latitude),
        longitude: input.location.map(|l| l.longitude),
        accuracy_m: input.location.and_then(|l| l.accuracy_m),
        distance_m,
        within_geofence,
        request_hash: hash.to_string(),
        version: if input.submit { 2 } else { 1 },
        created_at: at,
        updated_at: at,
        submitted_at: input.submit.then_some(at),
        // set below, from the rows built
        attendance_count: 0,
        findings_count: 0,
    };
    let mut placements = Placements::default();
    let mut missing = Vec::new();
    for o in officials {
        match found.posts.get(&o) {
            Some(posts) => {
                placements.0.insert((o, day), posts.clone());
            }
            None => missing.push(o),
        }
    }
    if !missing.is_empty() {
        learned.posts = placements.prefetch(conn, &missing, day)?;
    }
    cache.learn(conn, version, learned)?;
    let (attendance, derived) = attendance_rows(
        conn,
        &row,
        &input.attendance,
        tz,
        &mut placements,
        &mut errors,
    )?;
    let mut finding_rows = Vec::new();
    for (path, f) in &finding_paths {
        if let Some(r) = finding_row(conn, path, &row, f, tz, &mut placements, &mut errors)? {
            finding_rows.push(r);
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut findings = derived;
    findings.extend(finding_rows);
    row.attendance_count = attendance.len() as i64;
    row.findings_count = findings.len() as i64;
    let details = json!({
        "opd_id": row.opd_id.to_string(), "attendance": input.attendance.len(),
        "findings": input.findings.len(), "within_geofence": within_geofence,
    });
    Ok(Built {
        opd: (opd.code, opd.name),
        row,
        attendance,
        findings,
        details,
    })
}

/// Writes a built report: its rows, the creation's audit entry and, when it is sent
/// submitted, the submission's effects. Answers with the report as stored.
fn write(
    conn: &mut DbConnection,
    built: &Built,
    submit: bool,
    caller: &Caller,
    author: &(String, String),
    ctx: &Ctx,
) -> Result<(Created, Option<FullReport>), ApiError> {
    let row = &built.row;
    idb::insert(conn, row)?;
    idb::insert_attendance_rows(conn, &built.attendance)?;
    idb::insert_finding_rows(conn, &built.findings)?;
    let created = audit_entry(
        ctx,
        caller.id,
        "inspection.create",
        row.id,
        built.details.clone(),
    );
    if submit {
        // The creation's audit entry goes in with the submission's.
        let mut writes = FlagWrites::default();
        writes.audit(created);
        on_submitted(
            conn,
            row,
            &built.attendance,
            &built.findings,
            caller.id,
            ctx,
            writes,
        )?;
    } else {
        audit::append(conn, created)?;
    }
    // The labels come from rows already read: the OPD's with the rest of the reference
    // data, the author's with their session.
    let mut attendance = built.attendance.clone();
    let mut findings = built.findings.clone();
    attendance.sort_by_key(|a| (a.created_at, a.id));
    findings.sort_by_key(|f| (f.observed_at, f.id));
    Ok((
        Created::New,
        Some(FullReport {
            row: row.clone(),
            opd: built.opd.clone(),
            inspector: author.clone(),
            attendance,
            findings,
            evidence: Vec::new(),
        }),
    ))
}

/// Stores a whole report in one transaction, or recognises a replay of one. A new report
/// comes back as stored (built from the rows just written, in the order a read gives
/// them); a replay is read back by the caller.
///
/// `prepared` is what [`prepare`] made of `input`. When it holds the rows and neither the
/// reference data has changed since they were built nor a report with the same id has
/// been stored meanwhile (one statement checks both), the rows are written as built: under
/// the write lock, a new report costs its inserts only. Otherwise the report is checked
/// and built again here, under the lock, and that decides.
///
/// `author` is the caller's (username, full name) as their session was checked for this
/// request, for the answer. `reference` is the process's cache of the reference data
/// reports are built from (see [`ReferenceCache`]).
pub fn create(
    conn: &mut DbConnection,
    input: &ReportInput,
    prepared: &Prepared,
    caller: &Caller,
    author: &(String, String),
    ctx: &Ctx,
    reference: &ReferenceCache,
) -> Result<(Created, Option<FullReport>), ApiError> {
    let hash = &prepared.hash;
    // Posted through the group commit: a refused report fails its batch's first attempt,
    // and its savepoint in the second is what rolls it back alone. In the first attempt the
    // batch's rows are held until it commits (`db::deferred`).
    crate::db::tx::in_write_tx(conn, |conn| {
        // One statement (in a batch, one for all its reports): the reference data's
        // version, unless a report with this id is stored. Nothing below reads the rows
        // a batch holds but a replay, which that statement writes first.
        let version = idb::version_if_new(conn, DbUuid(input.id))?;
        if let (Some(now), Some((version, built))) = (version, &prepared.built) {
            if now == *version {
                return write(conn, built, input.submit, caller, author, ctx);
            }
        }
        let version = match version {
            Some(version) => version,
            None => {
                let Some(existing) = idb::find(conn, DbUuid(input.id))? else {
                    return Err(ApiError::ServiceUnavailable(
                        "The reference data's version is missing; run the migrations.".into(),
                    ));
                };
                if existing.request_hash != *hash {
                    return Err(ApiError::Conflict(format!(
                        "A report with id {} already exists with different content (or by another author); \
                         a replay must send exactly the same report.",
                        input.id
                    )));
                }
                if input.submit && existing.status == InspectionStatus::Draft {
                    submit_row(conn, existing, caller.id, ctx)?;
                }
                return Ok((Created::Replay, None));
            }
        };
        if !prepared.errors.is_empty() {
            return Err(ApiError::Validation(prepared.errors.clone()));
        }
        let built = build(conn, input, caller, ctx.tz(), hash, (reference, version))?;
        write(conn, &built, input.submit, caller, author, ctx)
    })
}

/// Submits a draft and, in the same transaction, applies the flag rules to its findings
/// (`rows`, attendance and findings, when the caller holds them, else they are read);
/// returns the row as stored.
fn submit_row(
    conn: &mut DbConnection,
    mut row: InspectionRow,
    actor: Uuid,
    ctx: &Ctx,
) -> Result<InspectionRow, ApiError> {
    let version = row.version;
    let at = now();
    row.status = InspectionStatus::Submitted;
    row.submitted_at = Some(at);
    row.updated_at = at;
    if !idb::update(conn, &row, version)? {
        return Err(ApiError::Conflict(
            "The report changed while it was being submitted; retry.".into(),
        ));
    }
    row.version = version + 1;
    let attendance = idb::attendance_of(conn, row.id)?;
    let findings = idb::findings_of(conn, row.id)?;
    on_submitted(
        conn,
        &row,
        &attendance,
        &findings,
        actor,
        ctx,
        FlagWrites::default(),
    )?;
    Ok(row)
}

/// What a submission does beside the report's own row: the officials' rollups, the flag
/// rules and the audit entry, written after what `writes` already holds.
fn on_submitted<'a>(
    conn: &mut DbConnection,
    row: &InspectionRow,
    attendance: &[AttendanceRow],
    findings: &[FindingRow],
    actor: Uuid,
    ctx: &'a Ctx,
    mut writes: FlagWrites<'a>,
) -> Result<(), ApiError> {
    crate::db::rollups::on_submit_rows(conn, row, attendance, findings, ctx.tz())?;
    let flagged = auto_flag(conn, row, findings, actor, ctx, &mut writes)?;
    writes.event(crate::service::events::inspection_submitted(
        row,
        attendance.len(),
        findings.len(),
    ));
    writes.audit(audit_entry(
        ctx,
        actor,
        "inspection.submit",
        row.id,
        json!({ "officials_flagged": flagged }),
    ));
    writes.write(conn)
}

pub fn submit(
    conn: &mut DbConnection,
    caller: &Caller,
    id: DbUuid,
    ctx: &Ctx,
) -> Result<(), ApiError> {
    write_tx(conn, |conn| {
        let row = load_visible(conn, caller, id)?;
        if row.status == InspectionStatus::Submitted {
            // A retried submit.
            return Ok(());
        }
        check_write(caller, &row)?;
        submit_row(conn, row, caller.id, ctx).map(|_| ())
    })
}

/// The fields a draft edit may change, for the audit entry's before/after.
fn editable_json(row: &InspectionRow) -> serde_json::Value {
    json!({
        "started_at": row.started_at.and_utc().to_rfc3339(),
        "ended_at": row.ended_at.map(|t| t.and_utc().to_rfc3339()),
        "notes": row.notes,
        "latitude": row.latitude,
        "longitude": row.longitude,
        "accuracy_m": row.accuracy_m,
        "within_geofence": row.within_geofence,
    })
}

#[derive(Debug, Clone, Default)]
pub struct ReportPatch {
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<Option<DateTime<Utc>>>,
    pub notes: Option<Option<String>>,
    pub location: Option<Option<Location>>,
    pub attendance: Option<Vec<AttendanceInput>>,
}

pub fn patch(
    conn: &mut DbConnection,
    caller: &Caller,
    id: DbUuid,
    patch: &ReportPatch,
    if_match: Option<i64>,
    ctx: &Ctx,
) -> Result<(), ApiError> {
    write_tx(conn, |conn| {
        let mut row = load_visible(conn, caller, id)?;
        check_write(caller, &row)?;
        let before = editable_json(&row);
        if if_match.is_some_and(|v| v != row.version) {
            return Err(ApiError::PreconditionFailed(
                "The report has changed since you read it (If-Match is stale); read it again."
                    .into(),
            ));
        }
        let version = row.version;
        let mut errors = Vec::new();
        let now_utc = Utc::now();
        let old_day = local_day(row.started_at, ctx.tz());
        if let Some(s) = patch.started_at {
            not_in_future("started_at", s, now_utc, &mut errors);
            row.started_at = ts(s);
        }
        let new_day = local_day(row.started_at, ctx.tz());
        if new_day != old_day {
            // Rows are of the sidak's day (placements, counts): a report moves to another day
            // only with its attendance sent again for that day, and no findings of the old one.
            let observed = idb::findings_of(conn, id)?
                .iter()
                .any(|f| f.source == FindingSource::Report);
            if observed {
                errors.push(FieldError::new(
                    "started_at",
                    format!(
                        "would move the report from {old_day} to {new_day}, but its findings \
                         were observed on {old_day}; post a new report for {new_day}"
                    ),
                ));
            } else if patch.attendance.is_none() && !idb::attendance_of(conn, id)?.is_empty() {
                errors.push(FieldError::new(
                    "started_at",
                    format!(
                        "moves the report from {old_day} to {new_day}: send `attendance` again \
                         in the same change, to be checked for {new_day}"
                    ),
                ));
            }
        }
        if let Some(e) = patch.ended_at {
            if let Some(e) = e {
                not_in_future("ended_at", e, now_utc, &mut errors);
            }
            row.ended_at = e.map(ts);
        }
        if row.ended_at.is_some_and(|e| e < row.started_at) {
            errors.push(FieldError::new("ended_at", "must not be before started_at"));
        }
        if let Some(n) = &patch.notes {
            text_limit("notes", n, NOTES_MAX, &mut errors);
            row.notes = n.clone();
        }
        if let Some(loc) = patch.location {
            validate_location(&loc, &mut errors);
            row.latitude = loc.map(|l| l.latitude);
            row.longitude = loc.map(|l| l.longitude);
            row.accuracy_m = loc.and_then(|l| l.accuracy_m);
        }
        if let Some(rows) = &patch.attendance {
            validate_attendance(rows, &mut errors);
            let mut seen = std::collections::HashSet::new();
            for (i, a) in rows.iter().enumerate() {
                if !seen.insert(a.id) || a.id == id.0 {
                    errors.push(FieldError::new(
                        format!("attendance[{i}].id"),
                        "is used twice in this report",
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let opd = refdb::find_opd(conn, row.opd_id)?;
        let location = match (row.latitude, row.longitude) {
            (Some(latitude), Some(longitude)) => Some(Location {
                latitude,
                longitude,
                accuracy_m: row.accuracy_m,
            }),
            _ => None,
        };
        (row.distance_m, row.within_geofence) = geofence(&opd, location);
        row.updated_at = now();
        if patch.attendance.is_some() && idb::derived_findings_have_evidence(conn, id)? {
            return Err(ApiError::Conflict(
                "Evidence is attached to an absence recorded by this attendance list; it cannot be replaced.".into(),
            ));
        }
        if !idb::update(conn, &row, version)? {
            return Err(ApiError::PreconditionFailed(
                "The report changed concurrently; read it again.".into(),
            ));
        }
        if let Some(rows) = &patch.attendance {
            idb::delete_attendance(conn, id)?;
            check_officials(
                conn,
                rows,
                &[],
                &HashSet::new(),
                &mut Vec::new(),
                &mut errors,
            )?;
            if !errors.is_empty() {
                return Err(ApiError::Validation(errors));
            }
            let ids: Vec<(String, Uuid)> = rows
                .iter()
                .enumerate()
                .map(|(i, a)| (format!("attendance[{i}].id"), a.id))
                .collect();
            check_ids_free(conn, &ids)?;
            let (attendance, derived) = attendance_rows(
                conn,
                &row,
                rows,
                ctx.tz(),
                &mut Placements::default(),
                &mut errors,
            )?;
            if !errors.is_empty() {
                return Err(ApiError::Validation(errors));
            }
            idb::insert_attendance_rows(conn, &attendance)?;
            idb::insert_finding_rows(conn, &derived)?;
            idb::recount(conn, id)?;
        }
        audit::append(
            conn,
            audit_entry(
                ctx,
                caller.id,
                "inspection.update",
                id,
                json!({
                    "version": version + 1,
                    "changes": crate::service::diff(&before, &editable_json(&row)),
                    "attendance_replaced": patch.attendance.as_ref().map(|rows| rows.len()),
                }),
            ),
        )?;
        Ok(())
    })
}

/// Adds one finding to a draft; a replay of the same finding is recognised.
pub fn add_finding(
    conn: &mut DbConnection,
    caller: &Caller,
    id: DbUuid,
    f: &FindingInput,
    ctx: &Ctx,
) -> Result<(Created, FindingRow), ApiError> {
    write_tx(conn, |conn| {
        let row = load_visible(conn, caller, id)?;
        if let Some(existing) = idb::find_finding(conn, DbUuid(f.id))? {
            if existing.inspection_id == id && existing.request_hash == finding_hash(f) {
                return Ok((Created::Replay, existing));
            }
            return Err(ApiError::Conflict(format!(
                "Finding {} already exists with different content or in another report.",
                f.id
            )));
        }
        check_write(caller, &row)?;
        let mut errors = Vec::new();
        validate_finding("", f, Utc::now(), &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let mut count_check = idb::findings_of(conn, id)?.len();
        count_check += 1;
        if count_check > MAX_FINDINGS + MAX_ATTENDANCE {
            return Err(ApiError::invalid(
                "findings",
                "this report holds the most findings allowed",
            ));
        }
        check_officials(
            conn,
            &[],
            &[(String::new(), f)],
            &HashSet::new(),
            &mut Vec::new(),
            &mut errors,
        )?;
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        check_ids_free(conn, &[("id".into(), f.id)])?;
        let Some(new) = finding_row(
            conn,
            "",
            &row,
            f,
            ctx.tz(),
            &mut Placements::default(),
            &mut errors,
        )?
        else {
            return Err(ApiError::Validation(errors));
        };
        idb::insert_finding(conn, &new)?;
        let mut bumped = row.clone();
        bumped.updated_at = now();
        if !idb::update(conn, &bumped, row.version)? {
            return Err(ApiError::Conflict(
                "The report changed concurrently; retry.".into(),
            ));
        }
        idb::recount(conn, id)?;
        audit::append(
            conn,
            audit_entry(
                ctx,
                caller.id,
                "inspection.add_finding",
                id,
                json!({ "finding_id": f.id.to_string() }),
            ),
        )?;
        Ok((Created::New, new))
    })
}

/// The whole report, for output.
pub struct FullReport {
    pub row: InspectionRow,
    pub opd: (String, String),
    pub inspector: (String, String),
    pub attendance: Vec<AttendanceRow>,
    pub findings: Vec<FindingRow>,
    pub evidence: Vec<EvidenceRow>,
}

pub fn load_full(conn: &mut DbConnection, row: InspectionRow) -> Result<FullReport, ApiError> {
    let (opd, inspector) = idb::labels(conn, row.opd_id, row.inspector_id)?;
    Ok(FullReport {
        attendance: idb::attendance_of(conn, row.id)?,
        findings: idb::findings_of(conn, row.id)?,
        evidence: idb::evidence_of(conn, row.id)?,
        row,
        opd,
        inspector,
    })
}
