//! CSV imports of OPDs and officials: all or nothing.
//!
//! Every line is checked first — on its own, then against the database and the other lines
//! — and only when no line is wrong is anything written, in one transaction. With
//! `dry_run` nothing is ever written; the report says what would have happened.

use crate::domain::calendar::WorkWeek;
use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::audit;
use crate::db::reference::{self as refdb, OfficialWithCurrent, OpdFields};
use crate::db::{read_snapshot, write_tx, DbConnection, DbUuid};
use crate::domain::nip::{self, EmploymentType};
use crate::domain::reference::{JfGrade, OpdKind, PositionKind, DEFAULT_GEOFENCE_M};
use crate::error::{ApiError, FieldError};
use crate::service::officials::{self, OfficialInput, OfficialUpdate, Outcome};
use crate::service::opds;
use crate::service::Ctx;

pub const OFFICIAL_COLUMNS: [&str; 9] = [
    "nip",
    "full_name",
    "employment_type",
    "position_title",
    "position_kind",
    "rank",
    "opd_code",
    "effective_from",
    "jf_grade",
];
const OFFICIAL_REQUIRED: [&str; 6] = [
    "nip",
    "full_name",
    "employment_type",
    "position_title",
    "position_kind",
    "opd_code",
];
pub const OPD_COLUMNS: [&str; 8] = [
    "code",
    "name",
    "kind",
    "address",
    "latitude",
    "longitude",
    "geofence_radius_m",
    "work_week",
];
const OPD_REQUIRED: [&str; 3] = ["code", "name", "kind"];
pub const MAX_ROWS: usize = 20_000;

/// One wrong line. Line 1 is the header.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub message: String,
}

/// What an import did, or (dry run, or any error) would have done.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    /// Records created (or that would be created).
    pub created: usize,
    /// Records changed, transfers included (or that would be).
    pub updated: usize,
    /// Lines that match what is stored already.
    pub unchanged: usize,
    pub dry_run: bool,
    /// `true` only when the changes were written: no errors and not a dry run.
    pub applied: bool,
    /// The first wrong lines (at most 100, in line order); when not empty, nothing was
    /// written.
    pub errors: Vec<LineError>,
    /// How many wrong lines there are in all (`errors` lists the first 100 of them).
    pub error_count: usize,
    /// Lines taken (or that would be) with something an admin should check: a PPPK in an
    /// administrator or pengawas post (UU 20/2023), a functional position without its grade.
    /// At most 100.
    pub warnings: Vec<LineError>,
}

/// The most wrong lines an answer lists: a file that is wrong throughout would otherwise
/// make an answer many times its own size.
pub const MAX_LISTED_ERRORS: usize = 100;

struct Row {
    line: u64,
    values: HashMap<&'static str, String>,
}

/// Reads the CSV: header (case-insensitive, any order) and rows keyed by column, with the
/// lines that cannot be read. `Err` when the header itself is wrong.
fn parse(
    bytes: &[u8],
    columns: &[&'static str],
    required: &[&str],
) -> Result<(Vec<Row>, Vec<LineError>), Vec<LineError>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(bytes);
    let header_err = |message: String| vec![LineError { line: 1, message }];
    let headers = reader
        .headers()
        .map_err(|e| header_err(format!("the header row cannot be read: {e}")))?
        .clone();
    let mut index: Vec<(usize, &'static str)> = Vec::new();
    let mut errors = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let name = h.trim_start_matches('\u{feff}').trim().to_ascii_lowercase();
        match columns.iter().find(|c| **c == name) {
            Some(c) if index.iter().any(|(_, seen)| seen == c) => errors.push(LineError {
                line: 1,
                message: format!("column `{c}` appears twice"),
            }),
            Some(c) => index.push((i, c)),
            None => errors.push(LineError {
                line: 1,
                message: format!(
                    "unknown column `{name}`; the columns are {}",
                    columns.join(", ")
                ),
            }),
        }
    }
    for r in required {
        if !index.iter().any(|(_, c)| c == r) {
            errors.push(LineError {
                line: 1,
                message: format!("required column `{r}` is missing"),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = record.position().map(|p| p.line()).unwrap_or(0);
                if record.iter().all(str::is_empty) {
                    continue;
                }
                if record.len() != headers.len() {
                    errors.push(LineError {
                        line,
                        message: format!(
                            "has {} fields, the header has {}",
                            record.len(),
                            headers.len()
                        ),
                    });
                    continue;
                }
                let values = index
                    .iter()
                    .map(|(i, c)| (*c, record.get(*i).unwrap_or("").to_string()))
                    .collect();
                rows.push(Row { line, values });
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(LineError {
                    line,
                    message: format!("cannot be read: {e}"),
                });
            }
        }
        if rows.len() > MAX_ROWS {
            return Err(vec![LineError {
                line: 0,
                message: format!("more than {MAX_ROWS} rows; split the file"),
            }]);
        }
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(LineError {
            line: 2,
            message: "the file has no data rows".into(),
        });
    }
    Ok((rows, errors))
}

fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

fn optional(row: &Row, col: &str) -> Option<String> {
    row.values.get(col).filter(|v| !v.is_empty()).cloned()
}

/// The answer when there are wrong lines: nothing is written, the first
/// [`MAX_LISTED_ERRORS`] are listed and all are counted.
fn report(dry_run: bool, mut errors: Vec<LineError>) -> ImportReport {
    let error_count = errors.len();
    errors.truncate(MAX_LISTED_ERRORS);
    ImportReport {
        created: 0,
        updated: 0,
        unchanged: 0,
        dry_run,
        applied: false,
        errors,
        error_count,
        warnings: Vec::new(),
    }
}

/// Runs `plan_and_apply` in a write transaction, or (dry run) in a read snapshot with
/// `apply = false`.
fn run<F>(conn: &mut DbConnection, dry_run: bool, f: F) -> Result<ImportReport, ApiError>
where
    F: FnMut(&mut DbConnection, bool) -> Result<ImportReport, ApiError>,
{
    let mut f = f;
    if dry_run {
        read_snapshot(conn, |conn| f(conn, false))
    } else {
        write_tx(conn, |conn| f(conn, true))
    }
}

enum OfficialPlan {
    Create {
        line: u64,
        warnings: Vec<String>,
        input: OfficialInput,
        opd_id: DbUuid,
    },
    Update {
        line: u64,
        warnings: Vec<String>,
        current: Box<OfficialWithCurrent>,
        update: OfficialUpdate,
    },
}

pub fn import_officials(
    conn: &mut DbConnection,
    bytes: &[u8],
    dry_run: bool,
    actor: Option<Uuid>,
    ctx: &Ctx,
) -> Result<ImportReport, ApiError> {
    let today = ctx.today();
    let (rows, unreadable) = match parse(bytes, &OFFICIAL_COLUMNS, &OFFICIAL_REQUIRED) {
        Ok(parsed) => parsed,
        Err(errors) => return Ok(report(dry_run, errors)),
    };
    run(conn, dry_run, |conn, apply| {
        let opds: HashMap<String, (DbUuid, bool)> = refdb::all_opds(conn)?
            .into_iter()
            .map(|o| (o.code.clone(), (o.id, o.active)))
            .collect();
        let nips: Vec<String> = rows
            .iter()
            .filter_map(|r| r.values.get("nip").map(|n| nip::normalize(n)))
            .collect();
        let mut existing: HashMap<String, OfficialWithCurrent> =
            refdb::find_officials_by_nip(conn, &nips)?
                .into_iter()
                .map(|o| (o.official.nip.clone(), o))
                .collect();
        let placements: Vec<DbUuid> = existing.values().map(|o| o.current.assignment.id).collect();
        let recorded = refdb::last_recorded_each(conn, &placements)?;

        let mut errors = unreadable.clone();
        let mut plans = Vec::new();
        let mut seen: HashMap<String, u64> = HashMap::new();
        for row in &rows {
            let effective_from = match optional(row, "effective_from") {
                None => None,
                Some(s) => match NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
                    Ok(d) if !crate::domain::dates::in_range(d) => {
                        errors.push(LineError {
                            line: row.line,
                            message: format!(
                                "effective_from: `{s}` {}",
                                crate::domain::dates::OUT_OF_RANGE
                            ),
                        });
                        continue;
                    }
                    Ok(d) => Some(d),
                    Err(_) => {
                        errors.push(LineError {
                            line: row.line,
                            message: format!("effective_from: `{s}` is not a date (YYYY-MM-DD)"),
                        });
                        continue;
                    }
                },
            };
            let jf_grade = match optional(row, "jf_grade") {
                None => None,
                Some(g) => match JfGrade::parse(&g) {
                    Some(g) => Some(g),
                    None => {
                        errors.push(LineError {
                            line: row.line,
                            message: format!("jf_grade: `{g}` is not one of {}", JfGrade::listed()),
                        });
                        continue;
                    }
                },
            };
            let mut input = OfficialInput {
                nip: row.values["nip"].clone(),
                full_name: row.values["full_name"].clone(),
                employment_type: EmploymentType::parse(&row.values["employment_type"]),
                position_title: row.values["position_title"].clone(),
                position_kind: PositionKind::parse(&row.values["position_kind"]),
                jf_grade,
                rank: optional(row, "rank"),
                effective_from,
            };
            let mut problems = officials::validate_input(&mut input, today);
            let code = crate::domain::reference::normalize_code(&row.values["opd_code"]);
            let opd_id = match opds.get(&code) {
                Some((id, true)) => Some(*id),
                Some((_, false)) => {
                    problems.push(FieldError::new(
                        "opd_code",
                        format!("OPD `{code}` is deactivated"),
                    ));
                    None
                }
                None => {
                    problems.push(FieldError::new(
                        "opd_code",
                        format!("no OPD has the code `{code}`"),
                    ));
                    None
                }
            };
            if let Some(first) = seen.get(&input.nip) {
                problems.push(FieldError::new(
                    "nip",
                    format!("appears already on line {first}"),
                ));
            } else {
                seen.insert(input.nip.clone(), row.line);
            }
            if !problems.is_empty() {
                errors.push(LineError {
                    line: row.line,
                    message: describe(&problems),
                });
                continue;
            }
            let Some(opd_id) = opd_id else { continue };
            match existing.remove(&input.nip) {
                // The placement's date is the decree's, not the day of the import.
                None if input.effective_from.is_none() => errors.push(LineError {
                    line: row.line,
                    message: "effective_from: required for a new official (the date the placement took effect, from the decree)".into(),
                }),
                None => plans.push(OfficialPlan::Create {
                    warnings: match (input.employment_type, input.position_kind) {
                        (Some(who), Some(kind)) => {
                            crate::domain::reference::placement_warnings(who, kind, input.jf_grade)
                        }
                        _ => Vec::new(),
                    },
                    line: row.line,
                    input,
                    opd_id,
                }),
                Some(current) => {
                    if Some(current.official.employment_type) != input.employment_type {
                        errors.push(LineError {
                            line: row.line,
                            message: format!(
                                "employment_type: the official with this NIP is `{}`",
                                current.official.employment_type
                            ),
                        });
                        continue;
                    }
                    let update = OfficialUpdate {
                        full_name: Some(input.full_name),
                        rank: Some(input.rank),
                        active: None,
                        opd_id: Some(opd_id),
                        position_title: Some(input.position_title),
                        position_kind: input.position_kind,
                        // An empty cell keeps the grade recorded.
                        jf_grade: input.jf_grade.map(Some),
                        effective_from: None,
                    };
                    // The placement the line leads to (its date aside).
                    let after =
                        officials::PlacementChange::of(&current.current.assignment, &update);
                    let transfer = after.transfer;
                    let update = OfficialUpdate {
                        effective_from: if transfer { input.effective_from } else { None },
                        ..update
                    };
                    if transfer {
                        let Some(from) = update.effective_from else {
                            errors.push(LineError {
                                line: row.line,
                                message: "effective_from: required when the placement changes (the date of the transfer decree)".into(),
                            });
                            continue;
                        };
                        if from < current.current.assignment.effective_from {
                            errors.push(LineError {
                                line: row.line,
                                message: format!(
                                    "effective_from: the transfer date {from} is before the current placement began ({})",
                                    current.current.assignment.effective_from
                                ),
                            });
                            continue;
                        }
                        let seen = recorded
                            .get(&current.current.assignment.id)
                            .map(|t| crate::domain::dates::local_day(*t, ctx.tz()));
                        if let Some(seen) = seen.filter(|seen| from < *seen) {
                            errors.push(LineError {
                                line: row.line,
                                message: format!(
                                    "effective_from: the transfer date {from} is before {seen}, when a report last recorded the official in the current placement"
                                ),
                            });
                            continue;
                        }
                    }
                    plans.push(OfficialPlan::Update {
                        line: row.line,
                        warnings: crate::domain::reference::placement_warnings(
                            current.official.employment_type,
                            after.kind,
                            after.jf_grade,
                        ),
                        current: Box::new(current),
                        update,
                    });
                }
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.line);
            return Ok(report(!apply, errors));
        }

        let mut out = ImportReport {
            created: 0,
            updated: 0,
            unchanged: 0,
            dry_run: !apply,
            applied: apply,
            errors,
            error_count: 0,
            warnings: Vec::new(),
        };
        let mut created_ids = Vec::new();
        let mut updated_ids = Vec::new();
        for plan in plans {
            let (OfficialPlan::Create { line, warnings, .. }
            | OfficialPlan::Update { line, warnings, .. }) = &plan;
            for message in warnings {
                if out.warnings.len() < MAX_LISTED_ERRORS {
                    out.warnings.push(LineError {
                        line: *line,
                        message: message.clone(),
                    });
                }
            }
            match plan {
                OfficialPlan::Create {
                    line,
                    input,
                    opd_id,
                    ..
                } => {
                    out.created += 1;
                    if !apply {
                        continue;
                    }
                    let id = crate::service::officials::store_new(conn, &input, opd_id, today)
                        .map_err(|e| match ApiError::from(e) {
                            ApiError::Conflict(_) => ApiError::Conflict(format!(
                                "line {line}: NIP {} was created concurrently",
                                input.nip
                            )),
                            other => other,
                        })?;
                    created_ids.push(id.to_string());
                }
                OfficialPlan::Update {
                    current, update, ..
                } => {
                    if apply {
                        match officials::apply_update(conn, &current, &update, today, ctx.tz())? {
                            Outcome::Updated => {
                                out.updated += 1;
                                updated_ids.push(current.official.id.to_string());
                            }
                            Outcome::Unchanged => out.unchanged += 1,
                        }
                    } else if would_change(&current, &update) {
                        out.updated += 1;
                    } else {
                        out.unchanged += 1;
                    }
                }
            }
        }
        if apply && (out.created + out.updated) > 0 {
            audit::append(
                conn,
                ctx.audit(actor, "official.import", "official", None, json!({ "created": created_ids, "updated": updated_ids, "unchanged": out.unchanged })),
            )?;
        }
        Ok(out)
    })
}

fn would_change(current: &OfficialWithCurrent, u: &OfficialUpdate) -> bool {
    let o = &current.official;
    let placement = officials::PlacementChange::of(&current.current.assignment, u);
    u.full_name.as_deref().is_some_and(|n| n != o.full_name)
        || u.rank.as_ref().is_some_and(|r| *r != o.rank)
        || placement.transfer
        || placement.fills_grade
}

pub fn import_opds(
    conn: &mut DbConnection,
    bytes: &[u8],
    dry_run: bool,
    actor: Option<Uuid>,
    ctx: &Ctx,
) -> Result<ImportReport, ApiError> {
    let (rows, unreadable) = match parse(bytes, &OPD_COLUMNS, &OPD_REQUIRED) {
        Ok(parsed) => parsed,
        Err(errors) => return Ok(report(dry_run, errors)),
    };
    run(conn, dry_run, |conn, apply| {
        let existing: HashMap<String, refdb::OpdRow> = refdb::all_opds(conn)?
            .into_iter()
            .map(|o| (o.code.clone(), o))
            .collect();
        let mut errors = unreadable.clone();
        let mut plans: Vec<(Option<refdb::OpdRow>, OpdFields)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for row in &rows {
            let mut problems = Vec::new();
            let number = |col: &str, problems: &mut Vec<FieldError>| -> Option<f64> {
                optional(row, col).and_then(|s| match s.parse::<f64>() {
                    Ok(v) => Some(v),
                    Err(_) => {
                        problems.push(FieldError::new(col, format!("`{s}` is not a number")));
                        None
                    }
                })
            };
            let latitude = number("latitude", &mut problems);
            let longitude = number("longitude", &mut problems);
            let radius = number("geofence_radius_m", &mut problems);
            let radius = match radius {
                Some(r) if r.fract() != 0.0 || r.abs() > 1e6 => {
                    problems.push(FieldError::new(
                        "geofence_radius_m",
                        "must be a whole number of metres",
                    ));
                    DEFAULT_GEOFENCE_M
                }
                Some(r) => r as i32,
                None => DEFAULT_GEOFENCE_M,
            };
            let code = crate::domain::reference::normalize_code(&row.values["code"]);
            let current = existing.get(&code).cloned();
            let kind = OpdKind::parse(&row.values["kind"]);
            if kind.is_none() {
                problems.push(FieldError::new(
                    "kind",
                    format!("must be one of {}", OpdKind::listed()),
                ));
            }
            let mut fields = OpdFields {
                code: code.clone(),
                name: row.values["name"].clone(),
                // A line with an unknown kind is refused above and never stored.
                kind: kind.unwrap_or(OpdKind::Other),
                address: optional(row, "address"),
                latitude,
                longitude,
                geofence_radius_m: radius,
                active: current.as_ref().map(|c| c.active).unwrap_or(true),
                // Blank keeps what the OPD has (a new one works Monday to Friday).
                work_week: match optional(row, "work_week") {
                    None => current
                        .as_ref()
                        .map(|c| c.work_week)
                        .unwrap_or(WorkWeek::MonFri),
                    Some(w) => WorkWeek::parse(&w).unwrap_or_else(|| {
                        problems.push(FieldError::new(
                            "work_week",
                            format!("must be one of {}", WorkWeek::listed()),
                        ));
                        WorkWeek::MonFri
                    }),
                },
            };
            problems.extend(opds::normalize_and_validate(&mut fields));
            if !seen.insert(code.clone()) {
                problems.push(FieldError::new(
                    "code",
                    format!("`{code}` appears on an earlier line"),
                ));
            }
            if problems.is_empty() {
                plans.push((current, fields));
            } else {
                errors.push(LineError {
                    line: row.line,
                    message: describe(&problems),
                });
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| e.line);
            return Ok(report(!apply, errors));
        }
        let mut out = ImportReport {
            created: 0,
            updated: 0,
            unchanged: 0,
            dry_run: !apply,
            applied: apply,
            errors,
            error_count: 0,
            warnings: Vec::new(),
        };
        let mut created_ids = Vec::new();
        let mut updated_ids = Vec::new();
        for (current, fields) in plans {
            match current {
                None => {
                    out.created += 1;
                    if apply {
                        let seq = refdb::take_seq(conn)?;
                        let row = refdb::insert_opd(conn, DbUuid(Uuid::new_v4()), &fields, seq)?;
                        created_ids.push(row.id.to_string());
                    }
                }
                Some(c) if c.fields() == fields => out.unchanged += 1,
                Some(c) => {
                    out.updated += 1;
                    if apply {
                        let seq = refdb::take_seq(conn)?;
                        refdb::update_opd(conn, c.id, &fields, seq)?;
                        updated_ids.push(c.id.to_string());
                    }
                }
            }
        }
        if apply && (out.created + out.updated) > 0 {
            audit::append(
                conn,
                ctx.audit(actor, "opd.import", "opd", None, json!({ "created": created_ids, "updated": updated_ids, "unchanged": out.unchanged })),
            )?;
        }
        Ok(out)
    })
}
