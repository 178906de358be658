//! Officials (ASN): create, update, and transfers (mutasi) that keep the history.

use chrono::NaiveDate;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::db::audit;
use crate::db::reference::{
    self as refdb, NewOfficial, NewPlacement, OfficialChanges, OfficialWithCurrent,
};
use crate::db::{write_tx, DbConnection, DbUuid};
use crate::domain::nip::{self, EmploymentType};
use crate::domain::reference::{self as rules, ActingKind, JfGrade, PositionKind};
use crate::error::{ApiError, FieldError};
use crate::service::Ctx;

pub const POSITION_TITLE_MAX: usize = 200;

/// A new official and their first placement, as given by a client or a CSV line.
#[derive(Debug, Clone)]
pub struct OfficialInput {
    pub nip: String,
    pub full_name: String,
    /// `None`: the text given is not an employment type (reported by [`validate_input`]).
    pub employment_type: Option<EmploymentType>,
    pub position_title: String,
    /// `None`: the text given is not a position kind (reported by [`validate_input`]).
    pub position_kind: Option<PositionKind>,
    /// The grade of a functional position.
    pub jf_grade: Option<JfGrade>,
    pub rank: Option<String>,
    pub effective_from: Option<NaiveDate>,
}

/// The placement fields of a transfer, checked.
pub fn validate_placement(
    title: &str,
    kind: Option<PositionKind>,
    effective_from: Option<NaiveDate>,
    today: NaiveDate,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Err(e) = rules::validate_text("position_title", title, POSITION_TITLE_MAX) {
        errors.push(e);
    }
    if kind.is_none() {
        errors.push(FieldError::new(
            "position_kind",
            format!("must be one of {}", PositionKind::listed()),
        ));
    }
    if effective_from.is_some_and(|d| d > today) {
        errors.push(FieldError::new(
            "effective_from",
            "must not be in the future",
        ));
    }
    errors
}

/// Checks everything that needs no database; normalises the input in place.
pub fn validate_input(input: &mut OfficialInput, today: NaiveDate) -> Vec<FieldError> {
    input.nip = nip::normalize(&input.nip);
    input.full_name = input.full_name.trim().to_string();
    input.position_title = input.position_title.trim().to_string();
    input.rank = input
        .rank
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let mut errors = Vec::new();
    match input.employment_type {
        None => errors.push(FieldError::new(
            "employment_type",
            "must be `pns` or `pppk`",
        )),
        Some(kind) => {
            if let Err(reasons) = nip::validate(&input.nip, kind, today) {
                errors.extend(reasons.into_iter().map(|r| FieldError::new("nip", r)));
            }
            if let Some(rank) = &input.rank {
                if let Err(e) = nip::validate_rank(rank, kind) {
                    errors.push(FieldError::new("rank", e));
                }
            }
        }
    }
    if let Err(e) = rules::validate_text("full_name", &input.full_name, rules::NAME_MAX) {
        errors.push(e);
    }
    errors.extend(validate_placement(
        &input.position_title,
        input.position_kind,
        input.effective_from,
        today,
    ));
    if let Some(kind) = input.position_kind {
        if let Err(e) = rules::validate_jf_grade(kind, input.jf_grade) {
            errors.push(e);
        }
    }
    errors
}

/// Stores a new official with their first placement, inside the caller's write
/// transaction: the one way an official is created, by the API and by the CSV import.
pub fn store_new(
    conn: &mut DbConnection,
    input: &OfficialInput,
    opd_id: DbUuid,
    today: NaiveDate,
) -> diesel::QueryResult<DbUuid> {
    let (Some(employment_type), Some(position_kind)) = (input.employment_type, input.position_kind)
    else {
        return Err(diesel::result::Error::QueryBuilderError(
            "an official is stored only after validate_input accepted it".into(),
        ));
    };
    let id = DbUuid(Uuid::new_v4());
    let seq = refdb::take_seq(conn)?;
    refdb::insert_official(
        conn,
        &NewOfficial {
            id,
            nip: &input.nip,
            full_name: &input.full_name,
            employment_type,
            rank: input.rank.as_deref(),
        },
        &NewPlacement {
            opd_id,
            position_title: &input.position_title,
            position_kind,
            jf_grade: input.jf_grade,
            effective_from: input.effective_from.unwrap_or(today),
        },
        seq,
    )?;
    Ok(id)
}

/// The OPD must exist and be active to receive an official.
pub fn check_opd(conn: &mut DbConnection, opd_id: DbUuid) -> Result<(), ApiError> {
    match refdb::find_opd(conn, opd_id) {
        Ok(opd) if opd.active => Ok(()),
        Ok(_) => Err(ApiError::invalid("opd_id", "the OPD is deactivated")),
        Err(diesel::result::Error::NotFound) => Err(ApiError::invalid("opd_id", "no such OPD")),
        Err(e) => Err(e.into()),
    }
}

pub fn official_json(o: &OfficialWithCurrent) -> Value {
    json!({
        "full_name": o.official.full_name,
        "rank": o.official.rank,
        "active": o.official.active,
        "opd_id": o.current.assignment.opd_id.to_string(),
        "position_title": o.current.assignment.position_title,
        "position_kind": o.current.assignment.position_kind,
        "jf_grade": o.current.assignment.jf_grade,
        "effective_from": o.current.assignment.effective_from.to_string(),
    })
}

pub fn create(
    conn: &mut DbConnection,
    mut input: OfficialInput,
    opd_id: DbUuid,
    actor: Option<Uuid>,
    ctx: &Ctx,
) -> Result<DbUuid, ApiError> {
    let today = ctx.today();
    let errors = validate_input(&mut input, today);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    write_tx(conn, |conn| {
        if refdb::nip_exists(conn, &input.nip)? {
            return Err(ApiError::Conflict(format!(
                "An official with NIP {} already exists.",
                input.nip
            )));
        }
        check_opd(conn, opd_id)?;
        let id = store_new(conn, &input, opd_id, today)?;
        let created = refdb::find_official(conn, id)?;
        let mut details = official_json(&created);
        details["nip"] = json!(input.nip);
        details["employment_type"] = json!(input.employment_type);
        audit::append(
            conn,
            ctx.audit(
                actor,
                "official.create",
                "official",
                Some(id.to_string()),
                details,
            ),
        )?;
        Ok(id)
    })
}

/// Changes to an official. A different OPD, position title or position kind is a transfer.
#[derive(Debug, Clone, Default)]
pub struct OfficialUpdate {
    pub full_name: Option<String>,
    /// `Some(None)` clears the rank.
    pub rank: Option<Option<String>>,
    pub active: Option<bool>,
    pub opd_id: Option<DbUuid>,
    pub position_title: Option<String>,
    pub position_kind: Option<PositionKind>,
    /// `None` keeps the grade (a position that is no longer functional drops it);
    /// `Some(None)` clears it.
    pub jf_grade: Option<Option<JfGrade>>,
    pub effective_from: Option<NaiveDate>,
}

/// What an update does to the current placement.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacementChange {
    pub opd_id: DbUuid,
    pub title: String,
    pub kind: PositionKind,
    pub jf_grade: Option<JfGrade>,
    /// A new placement: another OPD, title or kind, or another grade than the one recorded.
    pub transfer: bool,
    /// A grade recorded for the first time on the same placement: a correction of the
    /// record, not a promotion, so the placement keeps its dates.
    pub fills_grade: bool,
}

impl PlacementChange {
    pub fn of(a: &refdb::AssignmentRow, update: &OfficialUpdate) -> Self {
        let opd_id = update.opd_id.unwrap_or(a.opd_id);
        let title = update
            .position_title
            .as_deref()
            .map(str::trim)
            .unwrap_or(&a.position_title)
            .to_string();
        let kind = update.position_kind.unwrap_or(a.position_kind);
        let jf_grade = match update.jf_grade {
            Some(g) => g,
            None if kind == PositionKind::Fungsional => a.jf_grade,
            None => None,
        };
        let moved = opd_id != a.opd_id || title != a.position_title || kind != a.position_kind;
        let regraded = a.jf_grade.is_some() && jf_grade != a.jf_grade;
        PlacementChange {
            transfer: moved || regraded,
            fills_grade: !moved && a.jf_grade.is_none() && jf_grade.is_some(),
            opd_id,
            title,
            kind,
            jf_grade,
        }
    }
}

/// What an update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    Updated,
}

/// Applies `update` inside the caller's transaction; `seq` is taken only when something
/// changes. Errors name the field.
pub fn apply_update(
    conn: &mut DbConnection,
    current: &OfficialWithCurrent,
    update: &OfficialUpdate,
    today: NaiveDate,
    tz: chrono_tz::Tz,
) -> Result<Outcome, ApiError> {
    let official = &current.official;
    let assignment = &current.current.assignment;
    let kind = official.employment_type;
    let mut errors = Vec::new();

    let full_name = update
        .full_name
        .as_deref()
        .map(str::trim)
        .unwrap_or(&official.full_name)
        .to_string();
    if let Err(e) = rules::validate_text("full_name", &full_name, rules::NAME_MAX) {
        errors.push(e);
    }
    let rank = match &update.rank {
        Some(r) => r
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string),
        None => official.rank.clone(),
    };
    if let Some(r) = &rank {
        if let Err(e) = nip::validate_rank(r, kind) {
            errors.push(FieldError::new("rank", e));
        }
    }
    let active = update.active.unwrap_or(official.active);

    let PlacementChange {
        opd_id,
        title,
        kind: position_kind,
        jf_grade,
        transfer,
        fills_grade,
    } = PlacementChange::of(assignment, update);
    errors.extend(validate_placement(
        &title,
        Some(position_kind),
        update.effective_from,
        today,
    ));
    if let Err(e) = rules::validate_jf_grade(position_kind, jf_grade) {
        errors.push(e);
    } else if position_kind == PositionKind::Fungsional
        && assignment.jf_grade.is_some()
        && jf_grade.is_none()
    {
        errors.push(FieldError::new(
            "jf_grade",
            "a recorded grade is changed (a promotion is a transfer), not removed",
        ));
    }
    let effective_from = update.effective_from.unwrap_or(today);
    if transfer && effective_from < assignment.effective_from {
        errors.push(FieldError::new(
            "effective_from",
            format!(
                "must not be before the current placement began ({})",
                assignment.effective_from
            ),
        ));
    }
    if transfer {
        // A back-dated transfer must not contradict what reports recorded: an official seen at
        // the current placement on a day stays there on that day.
        if let Some(seen) = refdb::last_recorded(conn, assignment.id)? {
            let seen_day = crate::domain::dates::local_day(seen, tz);
            if effective_from < seen_day {
                errors.push(FieldError::new(
                    "effective_from",
                    format!(
                        "must not be before {seen_day}, when a report last recorded the official \
                         in the current placement"
                    ),
                ));
            }
        }
    }
    if !transfer && update.effective_from.is_some() {
        errors.push(FieldError::new(
            "effective_from",
            "applies only to a transfer (a change of opd_id, position_title, position_kind or jf_grade)",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    if transfer && opd_id != assignment.opd_id {
        check_opd(conn, opd_id)?;
    }
    let fields_changed =
        full_name != official.full_name || rank != official.rank || active != official.active;
    if !fields_changed && !transfer && !fills_grade {
        return Ok(Outcome::Unchanged);
    }
    let seq = refdb::take_seq(conn)?;
    refdb::update_official(
        conn,
        official.id,
        &OfficialChanges {
            full_name: &full_name,
            rank: rank.as_deref(),
            active,
        },
        seq,
    )?;
    if transfer {
        refdb::transfer(
            conn,
            official.id,
            &NewPlacement {
                opd_id,
                position_title: &title,
                position_kind,
                jf_grade,
                effective_from,
            },
        )?;
        let from = json!({
            "opd_id": assignment.opd_id.to_string(),
            "opd_code": current.current.opd_code,
            "position_title": assignment.position_title,
            "position_kind": assignment.position_kind,
            "effective_from": assignment.effective_from.to_string(),
        });
        let to = json!({
            "opd_id": opd_id.to_string(),
            "position_title": title,
            "position_kind": position_kind,
            "effective_from": effective_from.to_string(),
        });
        crate::db::outbox::append_all(
            conn,
            &[crate::service::events::official_transferred(
                official.id,
                &official.nip,
                &full_name,
                from,
                to,
            )],
        )?;
    } else if fills_grade {
        refdb::set_jf_grade(conn, assignment.id, jf_grade)?;
    }
    Ok(Outcome::Updated)
}

pub fn update(
    conn: &mut DbConnection,
    id: DbUuid,
    update: OfficialUpdate,
    actor: Option<Uuid>,
    ctx: &Ctx,
) -> Result<(), ApiError> {
    let today = ctx.today();
    write_tx(conn, |conn| {
        let current = refdb::find_official(conn, id)?;
        if apply_update(conn, &current, &update, today, ctx.tz())? == Outcome::Unchanged {
            return Ok(());
        }
        let after = refdb::find_official(conn, id)?;
        let changes = super::diff(&official_json(&current), &official_json(&after));
        audit::append(
            conn,
            ctx.audit(
                actor,
                "official.update",
                "official",
                Some(id.to_string()),
                json!({ "changes": changes }),
            ),
        )?;
        Ok(())
    })
}

/// An acting post to record: Plt or Plh, where, as what, from when (and, when known, until
/// when).
#[derive(Debug, Clone)]
pub struct ActingInput {
    pub kind: ActingKind,
    pub opd_id: DbUuid,
    pub position_title: String,
    pub position_kind: PositionKind,
    pub effective_from: NaiveDate,
    pub effective_to: Option<NaiveDate>,
}

/// An acting post of `rows` (other than `except`) whose period shares a day with [from, to).
fn overlapping(
    rows: &[(refdb::ActingRow, String, String)],
    from: NaiveDate,
    to: Option<NaiveDate>,
    except: Option<DbUuid>,
) -> Option<&refdb::ActingRow> {
    rows.iter().map(|r| &r.0).find(|r| {
        Some(r.id) != except
            && to.is_none_or(|to| r.effective_from < to)
            && r.effective_to.is_none_or(|end| from < end)
    })
}

fn acting_json(r: &refdb::ActingRow) -> Value {
    json!({
        "acting_id": r.id.to_string(),
        "kind": r.kind,
        "opd_id": r.opd_id.to_string(),
        "position_title": r.position_title,
        "position_kind": r.position_kind,
        "effective_from": r.effective_from.to_string(),
        "effective_to": r.effective_to.map(|d| d.to_string()),
    })
}

/// Records an acting post beside the official's definitive placement. One acting post at a
/// time: periods may not overlap. Changes to one official's posts are checked one after the
/// other (the official's row is written first).
pub fn start_acting(
    conn: &mut DbConnection,
    official: DbUuid,
    mut input: ActingInput,
    actor: Uuid,
    ctx: &Ctx,
) -> Result<DbUuid, ApiError> {
    input.position_title = input.position_title.trim().to_string();
    let mut errors = Vec::new();
    if let Err(e) =
        rules::validate_text("position_title", &input.position_title, POSITION_TITLE_MAX)
    {
        errors.push(e);
    }
    if input
        .effective_to
        .is_some_and(|to| to <= input.effective_from)
    {
        errors.push(FieldError::new(
            "effective_to",
            "must be after effective_from (the post is held until the day before)",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    write_tx(conn, |conn| {
        let current = refdb::find_official(conn, official)?;
        if !current.official.active {
            return Err(ApiError::Conflict(
                "The official is deactivated; an acting post is not recorded for them.".into(),
            ));
        }
        check_opd(conn, input.opd_id)?;
        let seq = refdb::take_seq(conn)?;
        refdb::touch_official(conn, official, seq)?;
        let held = refdb::acting_history(conn, official)?;
        if let Some(other) = overlapping(&held, input.effective_from, input.effective_to, None) {
            return Err(ApiError::invalid(
                "effective_from",
                format!(
                    "the official holds another acting post ({} {}) from {}{}; end it first",
                    other.kind,
                    other.position_title,
                    other.effective_from,
                    other
                        .effective_to
                        .map(|d| format!(" until the day before {d}"))
                        .unwrap_or_default()
                ),
            ));
        }
        let row = refdb::ActingRow {
            id: DbUuid(Uuid::new_v4()),
            official_id: official,
            kind: input.kind,
            opd_id: input.opd_id,
            position_title: input.position_title.clone(),
            position_kind: input.position_kind,
            effective_from: input.effective_from,
            effective_to: input.effective_to,
            created_by: Some(DbUuid(actor)),
            created_at: crate::db::now(),
        };
        refdb::insert_acting(conn, &row)?;
        audit::append(
            conn,
            ctx.audit(
                Some(actor),
                "official.acting_start",
                "official",
                Some(official.to_string()),
                acting_json(&row),
            ),
        )?;
        Ok(row.id)
    })
}

/// Ends (or moves the planned end of) an acting post. The end may not cut off a day on which
/// a finding recorded the official in the post.
pub fn end_acting(
    conn: &mut DbConnection,
    official: DbUuid,
    acting: DbUuid,
    effective_to: Option<NaiveDate>,
    actor: Uuid,
    ctx: &Ctx,
) -> Result<(), ApiError> {
    let today = ctx.today();
    let effective_to = effective_to.unwrap_or(today);
    write_tx(conn, |conn| {
        refdb::find_official(conn, official)?;
        let seq = refdb::take_seq(conn)?;
        refdb::touch_official(conn, official, seq)?;
        let held = refdb::acting_history(conn, official)?;
        let Some(row) = held.iter().map(|r| &r.0).find(|r| r.id == acting).cloned() else {
            return Err(ApiError::NotFound);
        };
        if row.effective_to.is_some_and(|end| end <= today) {
            return Err(ApiError::Conflict(format!(
                "The acting post ended already (it was held until the day before {}).",
                row.effective_to.unwrap_or(today)
            )));
        }
        if effective_to <= row.effective_from {
            return Err(ApiError::invalid(
                "effective_to",
                format!(
                    "must be after the day the post began ({}); the post is held until the day before",
                    row.effective_from
                ),
            ));
        }
        if let Some(seen) = refdb::acting_last_recorded(conn, acting)? {
            let seen_day = crate::domain::dates::local_day(seen, ctx.tz());
            if effective_to <= seen_day {
                return Err(ApiError::invalid(
                    "effective_to",
                    format!(
                        "must be after {seen_day}, when a finding recorded the official in this acting post"
                    ),
                ));
            }
        }
        if let Some(other) =
            overlapping(&held, row.effective_from, Some(effective_to), Some(acting))
        {
            return Err(ApiError::invalid(
                "effective_to",
                format!(
                    "would overlap the acting post that begins on {}",
                    other.effective_from
                ),
            ));
        }
        refdb::end_acting(conn, acting, effective_to)?;
        let mut details = acting_json(&row);
        details["effective_to"] = json!(effective_to.to_string());
        details["previous_effective_to"] = json!(row.effective_to.map(|d| d.to_string()));
        audit::append(
            conn,
            ctx.audit(
                Some(actor),
                "official.acting_end",
                "official",
                Some(official.to_string()),
                details,
            ),
        )?;
        Ok(())
    })
}
