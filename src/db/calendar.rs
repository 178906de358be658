//! The admins' holiday changes and the OPDs' work weeks.

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::{holidays, opds};
use super::{DbConnection, DbUuid};
use crate::domain::calendar::{HolidayKind, WorkWeek};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq)]
#[diesel(table_name = holidays)]
pub struct HolidayRow {
    pub day: NaiveDate,
    pub name: String,
    pub kind: HolidayKind,
    pub cancelled: bool,
    pub updated_by: DbUuid,
    pub updated_at: NaiveDateTime,
}

pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<HolidayRow>> {
    holidays::table
        .order(holidays::day.asc())
        .select(HolidayRow::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConnection, day: NaiveDate) -> QueryResult<Option<HolidayRow>> {
    holidays::table
        .find(day)
        .select(HolidayRow::as_select())
        .first(conn)
        .optional()
}

/// Inserts or replaces the row of `row.day`.
pub fn put(conn: &mut DbConnection, row: &HolidayRow) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    diesel::delete(holidays::table.find(row.day)).execute(conn)?;
    diesel::insert_into(holidays::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// The work week of each of `ids` (unknown ids are left out).
pub fn work_weeks(
    conn: &mut DbConnection,
    ids: &[DbUuid],
) -> QueryResult<HashMap<DbUuid, WorkWeek>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        out.extend(
            opds::table
                .filter(opds::id.eq_any(chunk))
                .select((opds::id, opds::work_week))
                .load::<(DbUuid, WorkWeek)>(conn)?,
        );
    }
    Ok(out)
}
