//! Follow-ups: raising (by hand or by the flag rules on submission), the review state
//! machine, and the recommendation read from the official's record.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde_json::json;
use uuid::Uuid;

use crate::db::audit;
use crate::db::followups::{self as fdb, EventRow, FollowUpRow};
use crate::db::inspections::{FindingRow, InspectionRow};
use crate::db::{now, write_tx, DbConnection, DbUuid};
use crate::domain::authority::Post;
use crate::domain::calendar::{is_working_day, WorkWeek};
use crate::domain::dates::{local_day, year_bounds};
use crate::domain::discipline::{self as rules, Recommendation, SanctionCode};
use crate::domain::followup::{
    self as lifecycle, Action, FollowUpSource, FollowUpStatus, HistoryAction,
};
use crate::domain::inspection::{AttendanceStatus, FindingCategory};
use crate::domain::nip::EmploymentType;
use crate::domain::user::Role;
use crate::error::{ApiError, FieldError};
use crate::service::{Caller, Created, Ctx};

pub const REASON_MAX: usize = 2000;
pub const NOTE_MAX: usize = 5000;
pub const DECREE_NUMBER_MAX: usize = 100;

fn event(
    fu: &FollowUpRow,
    actor: Uuid,
    action: HistoryAction,
    from: Option<FollowUpStatus>,
    note: Option<String>,
) -> EventRow {
    EventRow {
        id: DbUuid(Uuid::new_v4()),
        follow_up_id: fu.id,
        at: now(),
        actor_id: DbUuid(actor),
        action,
        from_status: from,
        to_status: fu.status,
        note,
        sanction: None,
        assignee_id: None,
        due_date: None,
        decree_number: None,
        decree_date: None,
    }
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
        "follow_up",
        Some(id.to_string()),
        details,
    )
}

/// How the findings to attach stand.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Findings {
    /// Some may be attached to the follow-up already (a raise by hand).
    MaybeAttached,
    /// Just submitted: attached to nothing yet (the flag rules on submission).
    Fresh,
}

/// The rows that raising or attaching writes, gathered so that the flag rules on a submitted
/// report write every official's follow-up, attachments, history and audit entries in one
/// statement per table ([`crate::db::insert_rows`]) instead of a few per official. The
/// submission's own audit entries join them ([`FlagWrites::audit`]), in their order.
#[derive(Default)]
pub struct FlagWrites<'a> {
    follow_ups: Vec<FollowUpRow>,
    attachments: Vec<fdb::Attachment>,
    events: Vec<EventRow>,
    audit: Vec<audit::AuditEntry<'a>>,
    outbox: Vec<crate::db::outbox::NewEvent>,
}

impl<'a> FlagWrites<'a> {
    /// An audit entry to append after those gathered so far.
    pub fn audit(&mut self, entry: audit::AuditEntry<'a>) {
        self.audit.push(entry);
    }

    /// A webhook event to append with the rest.
    pub fn event(&mut self, event: crate::db::outbox::NewEvent) {
        self.outbox.push(event);
    }

    /// Follow-ups first: the attachments and history entries refer to them.
    pub fn write(self, conn: &mut DbConnection) -> Result<(), ApiError> {
        fdb::insert_many(conn, &self.follow_ups)?;
        fdb::attach_new_many(conn, &self.attachments)?;
        fdb::insert_events(conn, &self.events)?;
        audit::append_all(conn, self.audit)?;
        crate::db::outbox::append_all(conn, &self.outbox)?;
        Ok(())
    }
}

/// Attaches `findings` to the official's open or in-review follow-up (`active`, read by the
/// caller), or raises a new one; what is to be written goes into `writes`.
#[allow(clippy::too_many_arguments)]
fn raise_or_attach<'a>(
    conn: &mut DbConnection,
    writes: &mut FlagWrites<'a>,
    official: DbUuid,
    active: Option<FollowUpRow>,
    findings: &[DbUuid],
    state: Findings,
    reason: &str,
    source: FollowUpSource,
    due_date: NaiveDate,
    actor: Uuid,
    ctx: &'a Ctx,
) -> Result<(Created, DbUuid), ApiError> {
    let at = now();
    let attachment = |follow_up_id, finding_id| fdb::Attachment {
        follow_up_id,
        finding_id,
        added_at: at,
    };
    if let Some(active) = active {
        let mut added = 0;
        for f in findings {
            let new = match state {
                Findings::Fresh => {
                    writes.attachments.push(attachment(active.id, *f));
                    true
                }
                Findings::MaybeAttached => fdb::attach(conn, active.id, *f)?,
            };
            if new {
                added += 1;
            }
        }
        if added > 0 {
            let note = Some(format!("{added} finding(s) attached: {reason}"));
            writes.events.push(event(
                &active,
                actor,
                HistoryAction::AttachFindings,
                Some(active.status),
                note,
            ));
            writes.audit.push(audit_entry(
                ctx,
                actor,
                "follow_up.attach",
                active.id,
                json!({"findings": added, "source": source}),
            ));
        }
        return Ok((Created::Replay, active.id));
    }
    let row = FollowUpRow {
        id: DbUuid(Uuid::new_v4()),
        official_id: official,
        status: FollowUpStatus::Open,
        source,
        reason: reason.into(),
        raised_by: DbUuid(actor),
        assignee_id: None,
        due_date,
        sanction: None,
        decided_by: None,
        decided_at: None,
        version: 1,
        created_at: at,
        updated_at: at,
        decree_number: None,
        decree_date: None,
    };
    // A new follow-up has nothing attached yet.
    writes
        .attachments
        .extend(findings.iter().map(|f| attachment(row.id, *f)));
    let mut e = event(
        &row,
        actor,
        HistoryAction::Raise,
        None,
        Some(reason.to_string()),
    );
    e.due_date = Some(due_date);
    writes.events.push(e);
    writes.audit.push(audit_entry(
        ctx,
        actor,
        "follow_up.raise",
        row.id,
        json!({"official_id": official.to_string(), "findings": findings.len(), "source": source}),
    ));
    let official_row = crate::db::reference::find_official(conn, official)?;
    writes.outbox.push(crate::service::events::follow_up_raised(
        &row,
        Some((&official_row.official.nip, &official_row.official.full_name)),
        findings,
    ));
    let id = row.id;
    writes.follow_ups.push(row);
    Ok((Created::New, id))
}

/// The flag rules, applied in the transaction that submits a report: what they write is
/// gathered into `writes`, which the caller writes. Returns how many officials were flagged.
pub fn auto_flag<'a>(
    conn: &mut DbConnection,
    report: &InspectionRow,
    findings: &[FindingRow],
    actor: Uuid,
    ctx: &'a Ctx,
    writes: &mut FlagWrites<'a>,
) -> Result<usize, ApiError> {
    let cfg = ctx.follow_ups();
    let mut by_official: BTreeMap<DbUuid, Vec<DbUuid>> = BTreeMap::new();
    for f in findings {
        let Some(official) = f.official_id else {
            continue;
        };
        let flagged =
            cfg.flag_categories.contains(&f.category) || cfg.flag_severities.contains(&f.severity);
        if flagged {
            by_official.entry(official).or_default().push(f.id);
        }
    }
    let due = ctx.today() + chrono::Duration::days(i64::from(cfg.due_days));
    let reason = format!(
        "Raised by the flag rules when report {} was submitted.",
        report.id
    );
    let officials: Vec<DbUuid> = by_official.keys().copied().collect();
    let mut active = fdb::active_for_each(conn, &officials)?;
    for (official, ids) in &by_official {
        raise_or_attach(
            conn,
            writes,
            *official,
            active.remove(official),
            ids,
            Findings::Fresh,
            &reason,
            FollowUpSource::Auto,
            due,
            actor,
            ctx,
        )?;
    }
    Ok(by_official.len())
}

pub struct RaiseInput {
    pub official_id: Uuid,
    pub finding_ids: Vec<Uuid>,
    pub reason: String,
    pub due_date: Option<NaiveDate>,
}

/// Raises a follow-up by hand. The findings must be in submitted reports and about the
/// official. An official with an open or in-review follow-up gets the findings attached to
/// it instead (`Replay`).
pub fn raise(
    conn: &mut DbConnection,
    caller: &Caller,
    input: &RaiseInput,
    ctx: &Ctx,
) -> Result<(Created, DbUuid), ApiError> {
    let cfg = ctx.follow_ups();
    let mut errors = Vec::new();
    let reason = input.reason.trim();
    if reason.is_empty() || reason.chars().count() > REASON_MAX {
        errors.push(FieldError::new(
            "reason",
            format!("must be 1–{REASON_MAX} characters"),
        ));
    }
    if input.finding_ids.is_empty() {
        errors.push(FieldError::new(
            "finding_ids",
            "must name at least one finding",
        ));
    }
    if input.finding_ids.len() > 500 {
        errors.push(FieldError::new("finding_ids", "at most 500 findings"));
    }
    let today = ctx.today();
    if input.due_date.is_some_and(|d| d < today) {
        errors.push(FieldError::new("due_date", "must not be in the past"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    write_tx(conn, |conn| {
        match crate::db::reference::find_official(conn, DbUuid(input.official_id)) {
            Ok(_) => {}
            Err(diesel::result::Error::NotFound) => {
                return Err(ApiError::invalid("official_id", "no such official"))
            }
            Err(e) => return Err(e.into()),
        }
        // Refused before anything is written: findings go only to a follow-up the caller
        // may see (an inspector's own), never into someone else's behind their back.
        if let Some(active) = fdb::active_for(conn, DbUuid(input.official_id))? {
            if check_read(caller, &active).is_err() {
                return Err(ApiError::Forbidden(
                    "The official already has a follow-up under review that you did not raise; \
                     a supervisor attaches further findings to it."
                        .into(),
                ));
            }
        }
        let ids: Vec<DbUuid> = input.finding_ids.iter().copied().map(DbUuid).collect();
        let found = fdb::findings_with_status(conn, &ids)?;
        let mut errors = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            match found.iter().find(|(f, _)| f.id == *id) {
                None => errors.push(FieldError::new(
                    format!("finding_ids[{i}]"),
                    "no such finding",
                )),
                Some((_, status)) if status != "submitted" => errors.push(FieldError::new(
                    format!("finding_ids[{i}]"),
                    "belongs to a report that is not submitted",
                )),
                Some((f, _)) if f.official_id != Some(DbUuid(input.official_id)) => errors.push(
                    FieldError::new(format!("finding_ids[{i}]"), "is not about this official"),
                ),
                Some(_) => {}
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let due = input
            .due_date
            .unwrap_or(today + chrono::Duration::days(i64::from(cfg.due_days)));
        let active = fdb::active_for(conn, DbUuid(input.official_id))?;
        let mut writes = FlagWrites::default();
        let raised = raise_or_attach(
            conn,
            &mut writes,
            DbUuid(input.official_id),
            active,
            &ids,
            Findings::MaybeAttached,
            reason,
            FollowUpSource::Manual,
            due,
            caller.id,
            ctx,
        )?;
        writes.write(conn)?;
        Ok(raised)
    })
}

/// Who may see a follow-up: supervisors and admins all; inspectors those they raised.
pub fn check_read(caller: &Caller, row: &FollowUpRow) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin | Role::Supervisor => Ok(()),
        Role::Inspector if row.raised_by.0 == caller.id => Ok(()),
        _ => Err(ApiError::NotFound),
    }
}

pub fn load_visible(
    conn: &mut DbConnection,
    caller: &Caller,
    id: DbUuid,
) -> Result<FollowUpRow, ApiError> {
    let row = fdb::find(conn, id)?.ok_or(ApiError::NotFound)?;
    check_read(caller, &row)?;
    Ok(row)
}

pub struct ActionInput {
    pub action: Action,
    pub note: Option<String>,
    pub sanction: Option<SanctionCode>,
    pub assignee_id: Option<Uuid>,
    pub due_date: Option<NaiveDate>,
    /// `decide`: the decree (surat keputusan) that imposed the sanction, number and date;
    /// required for a berat sanction.
    pub decree_number: Option<String>,
    pub decree_date: Option<NaiveDate>,
}

/// Checks the decree of a decision: both parts or neither, and both for a berat sanction;
/// a number of 1–100 characters on one line; a date not after today nor before the
/// follow-up was raised (local days).
fn check_decree(
    input: &ActionInput,
    level: rules::Level,
    raised: NaiveDate,
    today: NaiveDate,
    errors: &mut Vec<FieldError>,
) -> Option<(String, NaiveDate)> {
    let number = input
        .decree_number
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if let Some(n) = number {
        if n.chars().count() > DECREE_NUMBER_MAX || n.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "decree_number",
                format!("must be 1–{DECREE_NUMBER_MAX} characters on one line"),
            ));
        }
    }
    if let Some(d) = input.decree_date {
        if d > today {
            errors.push(FieldError::new("decree_date", "must not be in the future"));
        } else if d < raised {
            errors.push(FieldError::new(
                "decree_date",
                format!("must not be before the follow-up was raised ({raised})"),
            ));
        }
    }
    match (number, input.decree_date) {
        (Some(n), Some(d)) => return Some((n.to_string(), d)),
        (Some(_), None) => errors.push(FieldError::new(
            "decree_date",
            "is required with decree_number",
        )),
        (None, Some(_)) => errors.push(FieldError::new(
            "decree_number",
            "is required with decree_date",
        )),
        (None, None) if level == rules::Level::Berat => {
            for field in ["decree_number", "decree_date"] {
                errors.push(FieldError::new(
                    field,
                    "is required for a berat sanction (the surat keputusan that imposed it)",
                ));
            }
        }
        (None, None) => {}
    }
    None
}

/// Applies one action. A move the state does not allow is `409` naming the state; a stale
/// `If-Match` version is `412`; two concurrent decisions cannot both win.
#[allow(clippy::too_many_arguments)]
pub fn act(
    conn: &mut DbConnection,
    caller: &Caller,
    id: DbUuid,
    input: &ActionInput,
    if_match: Option<i64>,
    ctx: &Ctx,
) -> Result<(), ApiError> {
    let note = input
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    if note.as_ref().is_some_and(|n| n.chars().count() > NOTE_MAX) {
        return Err(ApiError::invalid(
            "note",
            format!("must be at most {NOTE_MAX} characters"),
        ));
    }
    write_tx(conn, |conn| {
        let mut row = load_visible(conn, caller, id)?;
        let reviewer = matches!(caller.role, Role::Admin | Role::Supervisor);
        let allowed = match input.action {
            Action::Comment => reviewer || row.raised_by.0 == caller.id,
            Action::Reopen => caller.role == Role::Admin,
            _ => reviewer,
        };
        if !allowed {
            return Err(ApiError::Forbidden(format!(
                "The action `{}` is not allowed for your role.",
                input.action.as_str()
            )));
        }
        if if_match.is_some_and(|v| v != row.version) {
            return Err(ApiError::PreconditionFailed(
                "The follow-up changed since you read it; read it again.".into(),
            ));
        }
        let from = row.status;
        let Some(to) = lifecycle::transition(from, input.action) else {
            return Err(ApiError::Conflict(format!(
                "The follow-up is `{}`; `{}` is not allowed in that state.",
                from.as_str(),
                input.action.as_str()
            )));
        };
        let mut errors = Vec::new();
        let needs_note = matches!(
            input.action,
            Action::Decide | Action::Dismiss | Action::Reopen | Action::Comment
        );
        if needs_note && note.is_none() {
            errors.push(FieldError::new(
                "note",
                format!("is required for `{}`", input.action.as_str()),
            ));
        }
        if input.sanction.is_some() && input.action != Action::Decide {
            errors.push(FieldError::new("sanction", "is given only with `decide`"));
        }
        if input.assignee_id.is_some() && input.action != Action::Assign {
            errors.push(FieldError::new(
                "assignee_id",
                "is given only with `assign`",
            ));
        }
        if input.due_date.is_some() && input.action != Action::Assign {
            errors.push(FieldError::new("due_date", "is given only with `assign`"));
        }
        if input.action != Action::Decide {
            if input.decree_number.is_some() {
                errors.push(FieldError::new(
                    "decree_number",
                    "is given only with `decide`",
                ));
            }
            if input.decree_date.is_some() {
                errors.push(FieldError::new(
                    "decree_date",
                    "is given only with `decide`",
                ));
            }
        }
        let mut ev = event(
            &row,
            caller.id,
            input.action.into(),
            Some(from),
            note.clone(),
        );
        match input.action {
            Action::Assign => {
                match input.assignee_id {
                    None => errors.push(FieldError::new("assignee_id", "is required for `assign`")),
                    Some(a) => match crate::db::users::find(conn, DbUuid(a)) {
                        Ok(u) if u.active && matches!(u.role, Role::Supervisor | Role::Admin) => {
                            row.assignee_id = Some(u.id);
                            ev.assignee_id = Some(u.id);
                        }
                        Ok(_) => errors.push(FieldError::new(
                            "assignee_id",
                            "must be an active supervisor or admin",
                        )),
                        Err(diesel::result::Error::NotFound) => {
                            errors.push(FieldError::new("assignee_id", "no such user"))
                        }
                        Err(e) => return Err(e.into()),
                    },
                }
                if let Some(d) = input.due_date {
                    if d < ctx.today() {
                        errors.push(FieldError::new("due_date", "must not be in the past"));
                    }
                    row.due_date = d;
                    ev.due_date = Some(d);
                }
            }
            Action::Decide => match input.sanction.map(|code| {
                let who = crate::db::reference::find_official(conn, row.official_id)
                    .map(|o| o.official.employment_type);
                who.map(|who| (who, rules::sanction_for(code, who)))
            }) {
                None => errors.push(FieldError::new("sanction", "is required for `decide`")),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok((who, None))) => errors.push(FieldError::new(
                    "sanction",
                    format!("is not a sanction for {who} (or `none`)"),
                )),
                Some(Ok((_, Some(s)))) => {
                    let raised = local_day(row.created_at, ctx.tz());
                    let decree = check_decree(input, s.level, raised, ctx.today(), &mut errors);
                    row.sanction = Some(s.code);
                    row.decided_by = Some(DbUuid(caller.id));
                    row.decided_at = Some(now());
                    row.decree_number = decree.as_ref().map(|d| d.0.clone());
                    row.decree_date = decree.as_ref().map(|d| d.1);
                    ev.sanction = Some(s.code);
                    ev.decree_number = row.decree_number.clone();
                    ev.decree_date = row.decree_date;
                }
            },
            Action::Reopen => {
                row.sanction = None;
                row.decided_by = None;
                row.decided_at = None;
                row.decree_number = None;
                row.decree_date = None;
            }
            _ => {}
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let mut deviates = false;
        if input.action == Action::Decide {
            let rec = recommendation_for(conn, &row, ctx)?;
            deviates = row.sanction != Some(rec.sanction);
        }
        let version = row.version;
        row.status = to;
        row.updated_at = now();
        ev.to_status = row.status;
        if !fdb::update(conn, &row, version)? {
            return Err(ApiError::Conflict(
                "The follow-up was changed by someone else at the same moment; read it again."
                    .into(),
            ));
        }
        fdb::insert_event(conn, &ev)?;
        if let Some(event) =
            crate::service::events::follow_up_action(input.action, &row, caller.id, note.as_deref())
        {
            crate::db::outbox::append_all(conn, &[event])?;
        }
        audit::append(
            conn,
            audit_entry(
                ctx,
                caller.id,
                "follow_up.action",
                id,
                json!({"action": input.action.as_str(), "from": from.as_str(), "to": to.as_str(),
                       "sanction": row.sanction, "deviates_from_recommendation": deviates,
                       "decree_number": ev.decree_number, "decree_date": ev.decree_date}),
            ),
        )?;
        Ok(())
    })
}

/// The recommendation for an official's record in `year`.
///
/// What counts: absences recorded as unexcused and not excused since, on the working days
/// of the OPD the official was placed at (its work week, the holiday calendar); a day
/// another sidak recorded as leave, sickness or official duty is not counted and is shown
/// as a conflict; per day the largest lateness (no more than the minutes since work
/// started when the sidak saw it) and the largest early leave.
pub fn recommendation(
    conn: &mut DbConnection,
    official: DbUuid,
    year: i32,
    ctx: &Ctx,
) -> Result<Recommendation, ApiError> {
    let (cfg, tz) = (ctx.follow_ups(), ctx.tz());
    let o = crate::db::reference::find_official(conn, official)?;
    let (from, to) = year_bounds(year, tz);
    // The days around the year too: a run of consecutive absences does not stop at
    // 31 December (45 days hold any run long enough to reach the threshold).
    let margin = chrono::Duration::days(45);
    let (from, to) = (from - margin, to + margin);
    let findings = fdb::official_findings(conn, official, from, to)?;
    let seen = fdb::attendance_seen(conn, official, from, to)?;
    let holidays = crate::service::calendar::holiday_days(conn, ctx)?;
    // Each day's work week is that of the OPD the official was recorded at; a day with no
    // record takes the week of the last record before it (or of the current placement).
    let mut opd_on: BTreeMap<NaiveDate, DbUuid> = BTreeMap::new();
    for f in &findings {
        if let Some(opd) = f.official_opd_id {
            opd_on.insert(local_day(f.observed_at, tz), opd);
        }
    }
    for (at, _, _, _, opd) in &seen {
        opd_on.insert(local_day(*at, tz), *opd);
    }
    let current_opd = o.current.assignment.opd_id;
    let mut opd_ids: Vec<DbUuid> = opd_on.values().copied().collect();
    opd_ids.push(current_opd);
    opd_ids.sort();
    opd_ids.dedup();
    let weeks = crate::db::calendar::work_weeks(conn, &opd_ids)?;
    let week_of = |opd: &DbUuid| weeks.get(opd).copied().unwrap_or(WorkWeek::MonFri);
    let week_on: BTreeMap<NaiveDate, WorkWeek> =
        opd_on.iter().map(|(d, opd)| (*d, week_of(opd))).collect();
    let fallback = week_of(&current_opd);
    let working = |day: NaiveDate| {
        let week = week_on
            .range(..=day)
            .next_back()
            .map(|(_, w)| *w)
            .unwrap_or(fallback);
        is_working_day(day, week, &holidays)
    };
    let mut record = rules::Record::default();
    for f in &findings {
        if f.category == FindingCategory::Absence && f.unexcused && f.excused_at.is_none() {
            record.absences.insert(local_day(f.observed_at, tz));
        }
    }
    for (at, status, late, early, _) in &seen {
        let day = local_day(*at, tz);
        let local = at.and_utc().with_timezone(&tz).time();
        let minutes = |m: &Option<i32>| m.and_then(|m| u32::try_from(m).ok()).unwrap_or(0);
        match status {
            s if s.excuses() => {
                record.excusing.insert(day);
            }
            AttendanceStatus::Late => record.time_lost.push(rules::TimeLost {
                day,
                late: minutes(late).min(cfg.work_hours.minutes_since_start(day, local)),
                early: 0,
            }),
            AttendanceStatus::LeftEarly => record.time_lost.push(rules::TimeLost {
                day,
                late: 0,
                early: minutes(early),
            }),
            _ => {}
        }
    }
    let table = if o.official.employment_type == EmploymentType::Pppk {
        &cfg.pppk_table
    } else {
        &cfg.pns_table
    };
    let mut rec = rules::recommend(year, &record, cfg.late_minutes_per_day, &working, table);
    // Who imposes it: by the position the official holds now (PP 94/2021 Bab IV).
    let placement = &o.current.assignment;
    rec.competent_official = Post::of(placement.position_kind, placement.jf_grade)
        .zip(rules::sanction(rec.sanction))
        .and_then(|(post, s)| cfg.competence.competent(post, &s));
    Ok(rec)
}

pub struct ExcuseInput {
    pub reason: String,
}

/// A supervisor excuses a counted absence afterwards (a doctor's note, a travel order): it
/// leaves every count — the recommendation, the dashboards — and the audit log keeps who
/// did it and why. Only an absence that counts can be excused, and only once.
pub fn excuse(
    conn: &mut DbConnection,
    caller: &Caller,
    finding: DbUuid,
    input: &ExcuseInput,
    ctx: &Ctx,
) -> Result<FindingRow, ApiError> {
    if !matches!(caller.role, Role::Admin | Role::Supervisor) {
        return Err(ApiError::Forbidden(
            "Only a supervisor or an admin excuses an absence.".into(),
        ));
    }
    let reason = input.reason.trim();
    if reason.is_empty() || reason.chars().count() > REASON_MAX {
        return Err(ApiError::invalid(
            "reason",
            format!("must be 1–{REASON_MAX} characters"),
        ));
    }
    write_tx(conn, |conn| {
        let Some((mut row, status)) = fdb::findings_with_status(conn, &[finding])?.pop() else {
            return Err(ApiError::NotFound);
        };
        if status != "submitted" {
            return Err(ApiError::Conflict(
                "The finding belongs to a report that is not submitted; its author changes the draft instead."
                    .into(),
            ));
        }
        if row.category != FindingCategory::Absence || !row.unexcused {
            return Err(ApiError::Conflict(
                "Only an absence recorded as without excuse counts, so only such an absence is excused."
                    .into(),
            ));
        }
        if row.excused_at.is_some() {
            return Err(ApiError::Conflict("The absence is already excused.".into()));
        }
        let at = now();
        if !fdb::set_excused(conn, row.id, at, DbUuid(caller.id), reason)? {
            return Err(ApiError::Conflict(
                "The absence was excused by someone else at the same moment.".into(),
            ));
        }
        let report =
            crate::db::inspections::find(conn, row.inspection_id)?.ok_or(ApiError::NotFound)?;
        crate::db::rollups::on_excuse(conn, &report, &row, ctx.tz())?;
        audit::append(
            conn,
            ctx.audit(
                Some(caller.id),
                "finding.excuse",
                "finding",
                Some(row.id.to_string()),
                json!({"official_id": row.official_id.map(|o| o.to_string()),
                       "observed_at": row.observed_at, "reason": reason}),
            ),
        )?;
        row.excused_at = Some(at);
        row.excused_by = Some(DbUuid(caller.id));
        row.excuse_reason = Some(reason.to_string());
        Ok(row)
    })
}

/// For a follow-up: the calendar year (local) of its newest finding.
pub fn recommendation_for(
    conn: &mut DbConnection,
    row: &FollowUpRow,
    ctx: &Ctx,
) -> Result<Recommendation, ApiError> {
    let newest = fdb::findings_of(conn, row.id)?
        .iter()
        .map(|f| f.observed_at)
        .max();
    let year = newest
        .map(|t| local_day(t, ctx.tz()).year())
        .unwrap_or_else(|| ctx.today().year());
    recommendation(conn, row.official_id, year, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_year_turns_at_local_midnight() {
        let tz = chrono_tz::Asia::Jakarta;
        // 23:30 UTC on 31 December is 06:30 WIB on 1 January.
        let t = NaiveDate::from_ymd_opt(2026, 12, 31)
            .unwrap()
            .and_hms_opt(23, 30, 0)
            .unwrap();
        assert_eq!(
            local_day(t, tz),
            NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
        );
        let (start, end) = year_bounds(2027, tz);
        assert!(start <= t && t < end);
        assert_eq!(
            start,
            NaiveDate::from_ymd_opt(2026, 12, 31)
                .unwrap()
                .and_hms_opt(17, 0, 0)
                .unwrap()
        );
        let (_, end_2026) = year_bounds(2026, tz);
        assert!(t >= end_2026);
    }
}
