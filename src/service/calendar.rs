//! The holiday calendar in force (shipped, configured, and the admins' changes) and the
//! admins' changes to it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use serde_json::json;

use crate::db::calendar::{self as cdb, HolidayRow};
use crate::db::{now, write_tx, DbConnection, DbUuid};
use crate::domain::calendar::{self as cal, Holiday, HolidayKind, HolidaySource};
use crate::error::{ApiError, FieldError};
use crate::service::{Caller, Ctx};

pub const NAME_MAX: usize = 200;

/// Every holiday in force, by date.
pub fn holidays(
    conn: &mut DbConnection,
    ctx: &Ctx,
) -> Result<BTreeMap<NaiveDate, Holiday>, ApiError> {
    let changes = cdb::all(conn)?.into_iter().map(|r| {
        if r.cancelled {
            Err(r.day)
        } else {
            Ok(Holiday {
                date: r.day,
                name: r.name,
                kind: r.kind,
                provisional: false,
                source: HolidaySource::Admin,
            })
        }
    });
    Ok(cal::merge(
        cal::shipped(),
        &ctx.follow_ups().public_holidays,
        changes,
    ))
}

/// The dates of [`holidays`].
pub fn holiday_days(conn: &mut DbConnection, ctx: &Ctx) -> Result<BTreeSet<NaiveDate>, ApiError> {
    Ok(holidays(conn, ctx)?.into_keys().collect())
}

/// Adds a day off, or renames one (an admin's word replaces a shipped or configured one).
pub fn put(
    conn: &mut DbConnection,
    caller: &Caller,
    day: NaiveDate,
    name: &str,
    kind: HolidayKind,
    ctx: &Ctx,
) -> Result<Holiday, ApiError> {
    caller.require_admin()?;
    crate::domain::dates::check("date", day).map_err(|e| ApiError::Validation(vec![e]))?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "name",
            format!("must be 1–{NAME_MAX} characters without control characters"),
        )]));
    }
    let row = HolidayRow {
        day,
        name: name.to_string(),
        kind,
        cancelled: false,
        updated_by: DbUuid(caller.id),
        updated_at: now(),
    };
    write_tx(conn, |conn| {
        let before = cdb::find(conn, day)?;
        cdb::put(conn, &row)?;
        crate::db::audit::append(
            conn,
            ctx.audit(
                Some(caller.id),
                "holiday.put",
                "holiday",
                Some(day.to_string()),
                json!({"name": row.name, "kind": kind, "before": before.map(|b| json!({
                    "name": b.name, "kind": b.kind, "cancelled": b.cancelled,
                }))}),
            ),
        )?;
        Ok::<_, ApiError>(())
    })?;
    Ok(Holiday {
        date: day,
        name: row.name,
        kind,
        provisional: false,
        source: HolidaySource::Admin,
    })
}

/// Takes a day back: from then on it is a working day again. `404` when it is not a day off.
pub fn cancel(
    conn: &mut DbConnection,
    caller: &Caller,
    day: NaiveDate,
    ctx: &Ctx,
) -> Result<(), ApiError> {
    caller.require_admin()?;
    write_tx(conn, |conn| {
        let current = holidays(conn, ctx)?;
        let Some(h) = current.get(&day) else {
            return Err(ApiError::NotFound);
        };
        cdb::put(
            conn,
            &HolidayRow {
                day,
                name: h.name.clone(),
                kind: h.kind,
                cancelled: true,
                updated_by: DbUuid(caller.id),
                updated_at: now(),
            },
        )?;
        crate::db::audit::append(
            conn,
            ctx.audit(
                Some(caller.id),
                "holiday.cancel",
                "holiday",
                Some(day.to_string()),
                json!({"name": h.name, "kind": h.kind, "source": h.source}),
            ),
        )?;
        Ok(())
    })
}

/// What the operator should hear at start-up about the calendar of `year`: no holidays at
/// all, or dates still provisional.
pub fn warnings(conn: &mut DbConnection, ctx: &Ctx, year: i32) -> Result<Vec<String>, ApiError> {
    let all = holidays(conn, ctx)?;
    let of_year: Vec<&Holiday> = all.values().filter(|h| h.date.year() == year).collect();
    let mut out = Vec::new();
    if of_year.is_empty() {
        out.push(format!(
            "the holiday calendar has no day off in {year}: every weekday counts as a working \
             day. Add the SKB 3 Menteri days with PUT /api/v1/holidays/{{date}} or \
             SIDAK_PUBLIC_HOLIDAYS"
        ));
    } else {
        let provisional: Vec<String> = of_year
            .iter()
            .filter(|h| h.provisional)
            .map(|h| h.date.to_string())
            .collect();
        if !provisional.is_empty() {
            out.push(format!(
                "the holiday calendar of {year} holds estimated dates ({}); check them \
                 against the SKB 3 Menteri and correct them with PUT /api/v1/holidays/{{date}}",
                provisional.join(", ")
            ));
        }
        if !of_year.iter().any(|h| h.kind == HolidayKind::CutiBersama) {
            out.push(format!(
                "the holiday calendar of {year} has no cuti bersama; add the SKB's days with \
                 PUT /api/v1/holidays/{{date}}"
            ));
        }
    }
    Ok(out)
}
