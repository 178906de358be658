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
use crate::domain::reference::{self as rules, PositionKind};
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
    pub effective_from: Option<NaiveDate>,
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

    let opd_id = update.opd_id.unwrap_or(assignment.opd_id);
    let title = update
        .position_title
        .as_deref()
        .map(str::trim)
        .unwrap_or(&assignment.position_title)
        .to_string();
    let position_kind = update.position_kind.unwrap_or(assignment.position_kind);
    errors.extend(validate_placement(
        &title,
        Some(position_kind),
        update.effective_from,
        today,
    ));
    let transfer = opd_id != assignment.opd_id
        || title != assignment.position_title
        || position_kind != assignment.position_kind;
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
            "applies only to a transfer (a change of opd_id, position_title or position_kind)",
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
    if !fields_changed && !transfer {
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
                effective_from,
            },
        )?;
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
