//! Dashboard rollups: one row per local day and OPD (plus one per day and official),
//! added to in the transaction that submits a report, and rebuilt from the raw rows by
//! `sidak rollups rebuild` through the very same code; and the dashboards' change counter
//! (`dashboard_version`), moved in the transaction of every change a dashboard may show.

use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Text};

use super::inspections::{self as idb, InspectionRow};
use super::schema::{
    inspections, rollup_daily, rollup_day_total, rollup_monthly, rollup_official_daily,
    rollup_official_monthly,
};
use super::{DbConnection, DbUuid};
use crate::domain::inspection::{AttendanceStatus, FindingCategory, InspectionStatus, Severity};

/// Declares the counters once: their names (`COUNTERS`, in column order), the daily row
/// that holds them and the summed row the dashboards read. The tables (`schema.rs`, the
/// migrations) carry the same columns.
macro_rules! counters {
    ($($name:ident),+ $(,)?) => {
        /// The counters of one (day, OPD), in column order.
        pub const COUNTERS: [&str; COUNTER_COUNT] = [$(stringify!($name)),+];
        pub const COUNTER_COUNT: usize = <[&str]>::len(&[$(stringify!($name)),+]);

        #[derive(Debug, Clone, Default, PartialEq, Eq, Queryable, Selectable)]
        #[diesel(table_name = rollup_daily)]
        pub struct DailyRow {
            pub day: NaiveDate,
            pub opd_id: String,
            $(pub $name: i64),+
        }

        impl DailyRow {
            pub fn counters(&self) -> [i64; COUNTER_COUNT] {
                [$(self.$name),+]
            }
        }

        /// Sums of the counters over a range, grouped by `opd_id` or by `day` (as text),
        /// computed by the database: at most one row per OPD or per day comes back.
        #[derive(Debug, Clone, Default, QueryableByName)]
        pub struct SumRow {
            #[diesel(sql_type = Text)]
            pub key: String,
            $(#[diesel(sql_type = BigInt)] pub $name: i64),+
        }

        impl SumRow {
            pub fn counters(&self) -> [i64; COUNTER_COUNT] {
                [$(self.$name),+]
            }
        }
    };
}

counters!(
    inspections,
    outside_geofence,
    attendance_checked,
    present,
    late,
    absent_unexcused,
    f_absence,
    f_lateness,
    f_idle,
    f_poor_service,
    f_facility,
    f_administrative,
    f_integrity,
    f_other,
    s_low,
    s_medium,
    s_high,
    s_critical,
);

impl DailyRow {
    pub fn add_finding(&mut self, category: FindingCategory, severity: Severity) {
        match category {
            FindingCategory::Absence => self.f_absence += 1,
            FindingCategory::Lateness => self.f_lateness += 1,
            FindingCategory::Idle => self.f_idle += 1,
            FindingCategory::PoorService => self.f_poor_service += 1,
            FindingCategory::Facility => self.f_facility += 1,
            FindingCategory::Administrative => self.f_administrative += 1,
            FindingCategory::Integrity => self.f_integrity += 1,
            FindingCategory::Other => self.f_other += 1,
        }
        match severity {
            Severity::Low => self.s_low += 1,
            Severity::Medium => self.s_medium += 1,
            Severity::High => self.s_high += 1,
            Severity::Critical => self.s_critical += 1,
        }
    }

    /// An excused absence derived from attendance no longer counts as absent without excuse
    /// (the attendance row itself was checked and stays counted as checked).
    pub fn remove_excused(&mut self, f: &idb::FindingRow) {
        if f.attendance_id.is_some() {
            self.absent_unexcused -= 1;
        }
    }

    pub fn add_attendance(&mut self, status: AttendanceStatus) {
        self.attendance_checked += 1;
        match status {
            AttendanceStatus::Present => self.present += 1,
            AttendanceStatus::Late => self.late += 1,
            AttendanceStatus::AbsentUnexcused => self.absent_unexcused += 1,
            AttendanceStatus::LeftEarly
            | AttendanceStatus::Leave
            | AttendanceStatus::Sick
            | AttendanceStatus::OfficialDuty => {}
        }
    }
}

/// The first day of `day`'s month.
pub fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// `INSERT … ON CONFLICT DO UPDATE` adding the counters to one row of `table` (the same
/// text on both backends). `opd` is `None` for the all-OPD day totals.
fn upsert_counters(
    conn: &mut DbConnection,
    table: &'static str,
    date_column: &'static str,
    date: NaiveDate,
    opd: Option<&str>,
    counters: [i64; COUNTER_COUNT],
) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    CounterUpsert {
        table,
        date_column,
        date,
        opd: opd.map(str::to_string),
        counters,
    }
    .execute(conn)
    .map(|_| ())
}

/// The statement of [`upsert_counters`]. Written as a query fragment, not a
/// `diesel::sql_query` (which diesel never keeps prepared), so that each of its three
/// texts (one per table) is prepared once per connection: parsed anew for every
/// submitted report, the three took a tenth of its CPU on SQLite (BENCHMARKS.md).
struct CounterUpsert {
    table: &'static str,
    date_column: &'static str,
    date: NaiveDate,
    opd: Option<String>,
    counters: [i64; COUNTER_COUNT],
}

impl diesel::query_builder::QueryId for CounterUpsert {
    type QueryId = ();
    // The text depends on the table: statements are told apart by their text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB> diesel::query_builder::QueryFragment<DB> for CounterUpsert
where
    DB: diesel::backend::Backend
        + diesel::sql_types::HasSqlType<Date>
        + diesel::sql_types::HasSqlType<Text>
        + diesel::sql_types::HasSqlType<BigInt>,
    NaiveDate: diesel::serialize::ToSql<Date, DB>,
    String: diesel::serialize::ToSql<Text, DB>,
    i64: diesel::serialize::ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        let (table, date_column) = (self.table, self.date_column);
        let keys = match self.opd {
            Some(_) => format!("{date_column}, opd_id"),
            None => date_column.to_string(),
        };
        out.push_sql(&format!(
            "INSERT INTO {table} ({keys}, {}) VALUES (",
            COUNTERS.join(", ")
        ));
        out.push_bind_param::<Date, _>(&self.date)?;
        if let Some(opd) = &self.opd {
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(opd)?;
        }
        for c in &self.counters {
            out.push_sql(", ");
            out.push_bind_param::<BigInt, _>(c)?;
        }
        let updates: Vec<String> = COUNTERS
            .iter()
            .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
            .collect();
        out.push_sql(&format!(
            ") ON CONFLICT ({keys}) DO UPDATE SET {}",
            updates.join(", ")
        ));
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for CounterUpsert {}

/// Adds `row` to its day and OPD, its month and OPD, and its day's total.
pub fn add_daily(conn: &mut DbConnection, row: &DailyRow) -> QueryResult<()> {
    add_counters(conn, row.day, &row.opd_id, row.counters())
}

/// Adds `c` (negative to take away) to `day` and `opd`, its month, and the day's total.
fn add_counters(
    conn: &mut DbConnection,
    day: NaiveDate,
    opd: &str,
    c: [i64; COUNTER_COUNT],
) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    if super::deferred::hold_counters(day, opd, c) {
        return Ok(());
    }
    write_counters(conn, day, opd, c)
}

/// [`add_counters`], written now (also by [`super::deferred::flush`]).
pub(super) fn write_counters(
    conn: &mut DbConnection,
    day: NaiveDate,
    opd: &str,
    c: [i64; COUNTER_COUNT],
) -> QueryResult<()> {
    upsert_counters(conn, "rollup_daily", "day", day, Some(opd), c)?;
    upsert_counters(conn, "rollup_monthly", "month", month_of(day), Some(opd), c)?;
    upsert_counters(conn, "rollup_day_total", "day", day, None, c)
}

pub fn add_official(
    conn: &mut DbConnection,
    day: NaiveDate,
    official: &str,
    n: i64,
) -> QueryResult<()> {
    add_officials(conn, day, &[(official.to_string(), n)])
}

/// Adds each official's findings of `day` to their day and month: one statement per table
/// for all of them (each official once in `counts`).
pub fn add_officials(
    conn: &mut DbConnection,
    day: NaiveDate,
    counts: &[(String, i64)],
) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    if counts.is_empty() || super::deferred::hold_officials(day, counts) {
        return Ok(());
    }
    write_officials(conn, day, counts)
}

/// [`add_officials`], written now (also by [`super::deferred::flush`]).
pub(super) fn write_officials(
    conn: &mut DbConnection,
    day: NaiveDate,
    counts: &[(String, i64)],
) -> QueryResult<()> {
    let values: Vec<String> = (0..counts.len())
        .map(|i| format!("($1, ${}, ${})", 2 + 2 * i, 3 + 2 * i))
        .collect();
    for (table, column, date) in [
        ("rollup_official_daily", "day", day),
        ("rollup_official_monthly", "month", month_of(day)),
    ] {
        let mut q = diesel::sql_query(format!(
            "INSERT INTO {table} ({column}, official_id, findings) VALUES {} \
             ON CONFLICT ({column}, official_id) DO UPDATE SET findings = {table}.findings + excluded.findings",
            values.join(", ")
        ))
        .into_boxed::<super::MultiBackend>()
        .bind::<Date, _>(date);
        for (official, n) in counts {
            q = q.bind::<Text, _>(official.clone()).bind::<BigInt, _>(*n);
        }
        q.execute(conn)?;
    }
    Ok(())
}

/// Adds a submitted report, in the submitting transaction.
pub fn on_submit(
    conn: &mut DbConnection,
    report: &InspectionRow,
    tz: chrono_tz::Tz,
) -> QueryResult<()> {
    let attendance = idb::attendance_of(conn, report.id)?;
    let findings = idb::findings_of(conn, report.id)?;
    on_submit_rows(conn, report, &attendance, &findings, tz)
}

/// [`on_submit`] with the report's rows as the caller holds them.
pub fn on_submit_rows(
    conn: &mut DbConnection,
    report: &InspectionRow,
    attendance: &[idb::AttendanceRow],
    findings: &[idb::FindingRow],
    tz: chrono_tz::Tz,
) -> QueryResult<()> {
    let day = crate::domain::dates::local_day(report.started_at, tz);
    let mut row = DailyRow {
        day,
        opd_id: report.opd_id.to_string(),
        inspections: 1,
        outside_geofence: i64::from(report.within_geofence == Some(false)),
        ..Default::default()
    };
    for a in attendance {
        row.add_attendance(a.status);
    }
    let mut per_official: std::collections::BTreeMap<String, i64> = Default::default();
    for f in findings {
        // An excused absence counts nowhere (a rebuild meets it already excused).
        if f.excused_at.is_some() {
            row.remove_excused(f);
            continue;
        }
        row.add_finding(f.category, f.severity);
        if let Some(o) = f.official_id {
            *per_official.entry(o.to_string()).or_default() += 1;
        }
    }
    add_daily(conn, &row)?;
    add_officials(conn, day, &per_official.into_iter().collect::<Vec<_>>())?;
    bump_dashboard_version(conn)
}

/// Takes an absence excused after submission out of the counts it was added to.
pub fn on_excuse(
    conn: &mut DbConnection,
    report: &InspectionRow,
    finding: &idb::FindingRow,
    tz: chrono_tz::Tz,
) -> QueryResult<()> {
    let day = crate::domain::dates::local_day(report.started_at, tz);
    let mut row = DailyRow {
        day,
        opd_id: report.opd_id.to_string(),
        ..Default::default()
    };
    // What submission added for this finding, taken away.
    row.add_finding(finding.category, finding.severity);
    if finding.attendance_id.is_some() {
        row.absent_unexcused += 1;
    }
    let delta = row.counters().map(|c| -c);
    add_counters(conn, day, &row.opd_id, delta)?;
    if let Some(o) = finding.official_id {
        add_official(conn, day, &o.to_string(), -1)?;
    }
    bump_dashboard_version(conn)
}

/// Recomputes every rollup from the raw rows (run inside a write transaction).
pub fn rebuild(conn: &mut DbConnection, tz: chrono_tz::Tz) -> QueryResult<usize> {
    super::tx::debug_assert_writing();
    bump_dashboard_version(conn)?;
    diesel::delete(rollup_official_daily::table).execute(conn)?;
    diesel::delete(rollup_daily::table).execute(conn)?;
    diesel::delete(rollup_official_monthly::table).execute(conn)?;
    diesel::delete(rollup_monthly::table).execute(conn)?;
    diesel::delete(rollup_day_total::table).execute(conn)?;
    let mut after: Option<DbUuid> = None;
    let mut n = 0;
    loop {
        let mut q = inspections::table
            .filter(inspections::status.eq(InspectionStatus::Submitted))
            .select(InspectionRow::as_select())
            .order(inspections::id.asc())
            .limit(1000)
            .into_boxed();
        if let Some(a) = after {
            q = q.filter(inspections::id.gt(a));
        }
        let batch: Vec<InspectionRow> = q.load(conn)?;
        if batch.is_empty() {
            break;
        }
        for row in &batch {
            on_submit(conn, row, tz)?;
            n += 1;
        }
        after = batch.last().map(|r| r.id);
    }
    Ok(n)
}

/// Counts a change to what the dashboards show; call it in the transaction that makes it.
pub fn bump_dashboard_version(conn: &mut DbConnection) -> QueryResult<()> {
    super::tx::debug_assert_writing();
    if super::deferred::hold_bump() {
        return Ok(());
    }
    write_dashboard_bump(conn)
}

/// [`bump_dashboard_version`], written now (also by [`super::deferred::flush`]).
pub(super) fn write_dashboard_bump(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::update(super::schema::dashboard_version::table.find(1))
        .set(
            super::schema::dashboard_version::version
                .eq(super::schema::dashboard_version::version + 1),
        )
        .execute(conn)
        .map(|_| ())
}

/// The dashboards' change counter and the reference data's sync counter (OPD and official
/// names, placements): together they change whenever a dashboard answer may.
pub fn dashboard_versions(conn: &mut DbConnection) -> QueryResult<(i64, i64)> {
    let dashboards: i64 = super::schema::dashboard_version::table
        .find(1)
        .select(super::schema::dashboard_version::version)
        .first(conn)?;
    let reference: i64 = super::schema::sync_counter::table
        .find(1)
        .select(super::schema::sync_counter::last_seq)
        .first(conn)?;
    Ok((dashboards, reference))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Opd,
    Day,
}

/// How a range splits: whole months (read from the monthly rollups) and the days before
/// and after them (read from the daily ones). Empty parts are empty ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub head: (NaiveDate, NaiveDate),
    pub months: (NaiveDate, NaiveDate),
    pub tail: (NaiveDate, NaiveDate),
}

/// An empty range, in dates both databases can store.
const EMPTY: (NaiveDate, NaiveDate) = (FAR_FUTURE, FAR_PAST);
const FAR_FUTURE: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(d) => d,
    None => NaiveDate::MAX,
};
const FAR_PAST: NaiveDate = match NaiveDate::from_ymd_opt(1, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

pub fn split(from: NaiveDate, to: NaiveDate) -> Split {
    let first_full = if from.day() == 1 {
        from
    } else {
        month_of(from)
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(FAR_FUTURE)
    };
    let after_last_full = month_of(to.succ_opt().unwrap_or(to));
    if first_full >= after_last_full {
        return Split {
            head: (from, to),
            months: EMPTY,
            tail: EMPTY,
        };
    }
    let last_month = after_last_full
        .checked_sub_months(chrono::Months::new(1))
        .unwrap_or(first_full);
    Split {
        head: if from < first_full {
            (from, first_full.pred_opt().unwrap_or(from))
        } else {
            EMPTY
        },
        months: (first_full, last_month),
        tail: if after_last_full <= to {
            (after_last_full, to)
        } else {
            EMPTY
        },
    }
}

fn sum_columns() -> String {
    COUNTERS
        .iter()
        .map(|c| format!("CAST(SUM({c}) AS BIGINT) AS {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn plain_columns() -> String {
    COUNTERS.join(", ")
}

/// Sums of the counters over `[from, to]`, grouped by OPD or by day, computed by the
/// database from whole months and the days around them.
pub fn sums(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
    opd: Option<&str>,
    group: GroupBy,
) -> QueryResult<Vec<SumRow>> {
    let cols = plain_columns();
    let (sql, sp) = match (group, opd) {
        (GroupBy::Opd, _) => {
            let sp = split(from, to);
            let opd_filter = if opd.is_some() { " AND opd_id = $7" } else { "" };
            (
                format!(
                    "SELECT opd_id AS key, {} FROM (\
                     SELECT opd_id, {cols} FROM rollup_daily WHERE ((day >= $1 AND day <= $2) OR (day >= $3 AND day <= $4)) \
                     UNION ALL SELECT opd_id, {cols} FROM rollup_monthly WHERE month >= $5 AND month <= $6\
                     ) AS r WHERE 1 = 1{opd_filter} GROUP BY opd_id",
                    sum_columns()
                ),
                sp,
            )
        }
        (GroupBy::Day, None) => (
            format!("SELECT CAST(day AS TEXT) AS key, {cols} FROM rollup_day_total WHERE day >= $1 AND day <= $2"),
            Split { head: (from, to), months: EMPTY, tail: EMPTY },
        ),
        (GroupBy::Day, Some(_)) => (
            format!("SELECT CAST(day AS TEXT) AS key, {cols} FROM rollup_daily WHERE day >= $1 AND day <= $2 AND opd_id = $3"),
            Split { head: (from, to), months: EMPTY, tail: EMPTY },
        ),
    };
    let mut q = diesel::sql_query(sql)
        .into_boxed::<super::MultiBackend>()
        .bind::<Date, _>(sp.head.0)
        .bind::<Date, _>(sp.head.1);
    if group == GroupBy::Opd {
        q = q
            .bind::<Date, _>(sp.tail.0)
            .bind::<Date, _>(sp.tail.1)
            .bind::<Date, _>(sp.months.0)
            .bind::<Date, _>(sp.months.1);
    }
    if let Some(o) = opd {
        q = q.bind::<Text, _>(o.to_string());
    }
    q.load(conn)
}

#[derive(Debug, QueryableByName)]
struct Key {
    #[diesel(sql_type = Text)]
    key: String,
}

/// The OPDs with at least one submitted report in the range: per OPD, an index probe into
/// the monthly rows of the whole months, then (only if none) into the daily rows of the
/// partial months at the ends.
pub fn visited_opds(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<String>> {
    let sp = split(from, to);
    let rows: Vec<Key> = diesel::sql_query(
        "SELECT o.id AS key FROM opds o \
         WHERE EXISTS (SELECT 1 FROM rollup_monthly m WHERE m.opd_id = o.id \
                       AND m.month >= $1 AND m.month <= $2 AND m.inspections > 0) \
            OR EXISTS (SELECT 1 FROM rollup_daily d WHERE d.opd_id = o.id \
                       AND ((d.day >= $3 AND d.day <= $4) OR (d.day >= $5 AND d.day <= $6)) \
                       AND d.inspections > 0)",
    )
    .into_boxed::<super::MultiBackend>()
    .bind::<Date, _>(sp.months.0)
    .bind::<Date, _>(sp.months.1)
    .bind::<Date, _>(sp.head.0)
    .bind::<Date, _>(sp.head.1)
    .bind::<Date, _>(sp.tail.0)
    .bind::<Date, _>(sp.tail.1)
    .load(conn)?;
    Ok(rows.into_iter().map(|k| k.key).collect())
}

#[derive(Debug, QueryableByName)]
struct OfficialSum {
    #[diesel(sql_type = Text)]
    official_id: String,
    #[diesel(sql_type = BigInt)]
    findings: i64,
}

/// Findings per official over the range, for officials with at least `min` of them, most
/// first (summed by the database).
pub fn officials_with(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
    min: i64,
) -> QueryResult<Vec<(String, i64)>> {
    let sp = split(from, to);
    let rows: Vec<OfficialSum> = diesel::sql_query(
        "SELECT official_id, CAST(SUM(findings) AS BIGINT) AS findings FROM (\
         SELECT official_id, findings FROM rollup_official_daily \
         WHERE (day >= $1 AND day <= $2) OR (day >= $3 AND day <= $4) \
         UNION ALL SELECT official_id, findings FROM rollup_official_monthly WHERE month >= $5 AND month <= $6\
         ) AS r GROUP BY official_id HAVING SUM(findings) >= $7 ORDER BY 2 DESC, 1 ASC",
    )
    .bind::<Date, _>(sp.head.0)
    .bind::<Date, _>(sp.head.1)
    .bind::<Date, _>(sp.tail.0)
    .bind::<Date, _>(sp.tail.1)
    .bind::<Date, _>(sp.months.0)
    .bind::<Date, _>(sp.months.1)
    .bind::<BigInt, _>(min)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| (r.official_id, r.findings))
        .collect())
}

/// Every rollup row, sorted: per day and OPD, per day and official, and the monthly and
/// day-total sums as they come back from [`sums`]-like queries.
pub type Snapshot = (
    Vec<DailyRow>,
    Vec<(NaiveDate, String, i64)>,
    Vec<(NaiveDate, String, i64)>,
    Vec<(String, [i64; COUNTER_COUNT])>,
    Vec<(String, [i64; COUNTER_COUNT])>,
);

/// Every rollup row, sorted, for comparing with a rebuild.
pub fn snapshot(conn: &mut DbConnection) -> QueryResult<Snapshot> {
    let a = rollup_daily::table
        .order((rollup_daily::day, rollup_daily::opd_id))
        .select(DailyRow::as_select())
        .load(conn)?;
    let b = rollup_official_daily::table
        .order((
            rollup_official_daily::day,
            rollup_official_daily::official_id,
        ))
        .load(conn)?;
    let c = rollup_official_monthly::table
        .order((
            rollup_official_monthly::month,
            rollup_official_monthly::official_id,
        ))
        .load(conn)?;
    let cols = plain_columns();
    let monthly: Vec<SumRow> = diesel::sql_query(format!(
        "SELECT CAST(month AS TEXT) || ' ' || opd_id AS key, {cols} FROM rollup_monthly ORDER BY month, opd_id"
    ))
    .load(conn)?;
    let totals: Vec<SumRow> = diesel::sql_query(format!(
        "SELECT CAST(day AS TEXT) AS key, {cols} FROM rollup_day_total ORDER BY day"
    ))
    .load(conn)?;
    Ok((
        a,
        b,
        c,
        monthly
            .into_iter()
            .map(|r| (r.key.clone(), r.counters()))
            .collect(),
        totals
            .into_iter()
            .map(|r| (r.key.clone(), r.counters()))
            .collect(),
    ))
}

/// How [`check`] ends its transaction: with what it found, or with a database error.
enum CheckEnd {
    Found(Vec<String>),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for CheckEnd {
    fn from(e: diesel::result::Error) -> Self {
        CheckEnd::Db(e)
    }
}

impl super::TxError for CheckEnd {
    fn is_retryable(&self) -> bool {
        matches!(self, CheckEnd::Db(e) if super::tx::is_retryable(e))
    }
}

/// Compares every stored rollup with a rebuild from the reports, in a write transaction
/// that is rolled back (nothing changes; writers wait while it runs). Returns what differs,
/// nothing when the rollups are right.
pub fn check(conn: &mut DbConnection, tz: chrono_tz::Tz) -> QueryResult<Vec<String>> {
    let ended = super::write_tx(conn, |conn| {
        let stored = snapshot(conn)?;
        rebuild(conn, tz)?;
        let rebuilt = snapshot(conn)?;
        Err::<(), _>(CheckEnd::Found(differences(&stored, &rebuilt)))
    });
    match ended {
        Ok(()) => Ok(Vec::new()),
        Err(CheckEnd::Found(found)) => Ok(found),
        Err(CheckEnd::Db(e)) => Err(e),
    }
}

/// The rows of two snapshots that differ, table by table (at most five per table).
fn differences(stored: &Snapshot, rebuilt: &Snapshot) -> Vec<String> {
    fn table<T: PartialEq + std::fmt::Debug>(
        name: &str,
        stored: &[T],
        rebuilt: &[T],
        out: &mut Vec<String>,
    ) {
        if stored == rebuilt {
            return;
        }
        out.push(format!(
            "{name}: {} stored row(s), {} after a rebuild",
            stored.len(),
            rebuilt.len()
        ));
        let missing = rebuilt.iter().filter(|r| !stored.contains(r));
        let extra = stored.iter().filter(|r| !rebuilt.contains(r));
        for r in missing.take(5) {
            out.push(format!("  {name}: expected {r:?}"));
        }
        for r in extra.take(5) {
            out.push(format!("  {name}: stored {r:?}"));
        }
    }
    let mut out = Vec::new();
    table("rollup_daily", &stored.0, &rebuilt.0, &mut out);
    table("rollup_official_daily", &stored.1, &rebuilt.1, &mut out);
    table("rollup_official_monthly", &stored.2, &rebuilt.2, &mut out);
    table("rollup_monthly", &stored.3, &rebuilt.3, &mut out);
    table("rollup_day_total", &stored.4, &rebuilt.4, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn ranges_split_into_whole_months_and_days() {
        let s = split(d(2025, 11, 28), d(2026, 11, 27));
        assert_eq!(s.head, (d(2025, 11, 28), d(2025, 11, 30)));
        assert_eq!(s.months, (d(2025, 12, 1), d(2026, 10, 1)));
        assert_eq!(s.tail, (d(2026, 11, 1), d(2026, 11, 27)));
        let s = split(d(2026, 1, 1), d(2026, 12, 31));
        assert_eq!(
            (s.head, s.months, s.tail),
            (EMPTY, (d(2026, 1, 1), d(2026, 12, 1)), EMPTY)
        );
        let s = split(d(2026, 3, 5), d(2026, 3, 20));
        assert_eq!(
            (s.head, s.months, s.tail),
            ((d(2026, 3, 5), d(2026, 3, 20)), EMPTY, EMPTY)
        );
        let s = split(d(2026, 3, 5), d(2026, 4, 30));
        assert_eq!(
            (s.head, s.months, s.tail),
            (
                (d(2026, 3, 5), d(2026, 3, 31)),
                (d(2026, 4, 1), d(2026, 4, 1)),
                EMPTY
            )
        );
    }
}
