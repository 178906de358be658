//! Dashboard rollups: one row per local day and OPD (plus one per day and official),
//! added to in the transaction that submits a report, and rebuilt from the raw rows by
//! `sidak rollups rebuild` through the very same code.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Text};

use super::inspections::{self as idb, InspectionRow};
use super::schema::{inspections, rollup_daily, rollup_official_daily};
use super::{DbConnection, DbUuid};
use crate::domain::inspection::{FindingCategory, Severity};

/// The counters of one (day, OPD), in column order.
pub const COUNTERS: [&str; 18] = [
    "inspections",
    "outside_geofence",
    "attendance_checked",
    "present",
    "late",
    "absent_unexcused",
    "f_absence",
    "f_lateness",
    "f_idle",
    "f_poor_service",
    "f_facility",
    "f_administrative",
    "f_integrity",
    "f_other",
    "s_low",
    "s_medium",
    "s_high",
    "s_critical",
];

#[derive(Debug, Clone, Default, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = rollup_daily)]
pub struct DailyRow {
    pub day: NaiveDate,
    pub opd_id: String,
    pub inspections: i64,
    pub outside_geofence: i64,
    pub attendance_checked: i64,
    pub present: i64,
    pub late: i64,
    pub absent_unexcused: i64,
    pub f_absence: i64,
    pub f_lateness: i64,
    pub f_idle: i64,
    pub f_poor_service: i64,
    pub f_facility: i64,
    pub f_administrative: i64,
    pub f_integrity: i64,
    pub f_other: i64,
    pub s_low: i64,
    pub s_medium: i64,
    pub s_high: i64,
    pub s_critical: i64,
}

impl DailyRow {
    pub fn counters(&self) -> [i64; 18] {
        [
            self.inspections,
            self.outside_geofence,
            self.attendance_checked,
            self.present,
            self.late,
            self.absent_unexcused,
            self.f_absence,
            self.f_lateness,
            self.f_idle,
            self.f_poor_service,
            self.f_facility,
            self.f_administrative,
            self.f_integrity,
            self.f_other,
            self.s_low,
            self.s_medium,
            self.s_high,
            self.s_critical,
        ]
    }

    pub fn add_finding(&mut self, category: &str, severity: &str) {
        match FindingCategory::parse(category) {
            Some(FindingCategory::Absence) => self.f_absence += 1,
            Some(FindingCategory::Lateness) => self.f_lateness += 1,
            Some(FindingCategory::Idle) => self.f_idle += 1,
            Some(FindingCategory::PoorService) => self.f_poor_service += 1,
            Some(FindingCategory::Facility) => self.f_facility += 1,
            Some(FindingCategory::Administrative) => self.f_administrative += 1,
            Some(FindingCategory::Integrity) => self.f_integrity += 1,
            Some(FindingCategory::Other) | None => self.f_other += 1,
        }
        match Severity::parse(severity) {
            Some(Severity::Low) | None => self.s_low += 1,
            Some(Severity::Medium) => self.s_medium += 1,
            Some(Severity::High) => self.s_high += 1,
            Some(Severity::Critical) => self.s_critical += 1,
        }
    }

    pub fn add_attendance(&mut self, status: &str) {
        self.attendance_checked += 1;
        match status {
            "present" => self.present += 1,
            "late" => self.late += 1,
            "absent_unexcused" => self.absent_unexcused += 1,
            _ => {}
        }
    }
}

/// Adds `row` to the stored (day, OPD) row (`INSERT … ON CONFLICT DO UPDATE`, the same text
/// on both backends).
pub fn add_daily(conn: &mut DbConnection, row: &DailyRow) -> QueryResult<()> {
    let columns = COUNTERS.join(", ");
    let placeholders: Vec<String> = (3..=20).map(|i| format!("${i}")).collect();
    let updates: Vec<String> = COUNTERS
        .iter()
        .map(|c| format!("{c} = rollup_daily.{c} + excluded.{c}"))
        .collect();
    let sql = format!(
        "INSERT INTO rollup_daily (day, opd_id, {columns}) VALUES ($1, $2, {}) ON CONFLICT (day, opd_id) DO UPDATE SET {}",
        placeholders.join(", "),
        updates.join(", ")
    );
    let c = row.counters();
    diesel::sql_query(sql)
        .bind::<Date, _>(row.day)
        .bind::<Text, _>(&row.opd_id)
        .bind::<BigInt, _>(c[0])
        .bind::<BigInt, _>(c[1])
        .bind::<BigInt, _>(c[2])
        .bind::<BigInt, _>(c[3])
        .bind::<BigInt, _>(c[4])
        .bind::<BigInt, _>(c[5])
        .bind::<BigInt, _>(c[6])
        .bind::<BigInt, _>(c[7])
        .bind::<BigInt, _>(c[8])
        .bind::<BigInt, _>(c[9])
        .bind::<BigInt, _>(c[10])
        .bind::<BigInt, _>(c[11])
        .bind::<BigInt, _>(c[12])
        .bind::<BigInt, _>(c[13])
        .bind::<BigInt, _>(c[14])
        .bind::<BigInt, _>(c[15])
        .bind::<BigInt, _>(c[16])
        .bind::<BigInt, _>(c[17])
        .execute(conn)
        .map(|_| ())
}

pub fn add_official(
    conn: &mut DbConnection,
    day: NaiveDate,
    official: &str,
    n: i64,
) -> QueryResult<()> {
    diesel::sql_query(
        "INSERT INTO rollup_official_daily (day, official_id, findings) VALUES ($1, $2, $3) \
         ON CONFLICT (day, official_id) DO UPDATE SET findings = rollup_official_daily.findings + excluded.findings",
    )
    .bind::<Date, _>(day)
    .bind::<Text, _>(official)
    .bind::<BigInt, _>(n)
    .execute(conn)
    .map(|_| ())
}

/// Adds a submitted report, in the submitting transaction.
pub fn on_submit(
    conn: &mut DbConnection,
    report: &InspectionRow,
    tz: chrono_tz::Tz,
) -> QueryResult<()> {
    let day = report.started_at.and_utc().with_timezone(&tz).date_naive();
    let mut row = DailyRow {
        day,
        opd_id: report.opd_id.to_string(),
        inspections: 1,
        outside_geofence: i64::from(report.within_geofence == Some(false)),
        ..Default::default()
    };
    for a in idb::attendance_of(conn, report.id)? {
        row.add_attendance(&a.status);
    }
    let mut per_official: std::collections::BTreeMap<String, i64> = Default::default();
    for f in idb::findings_of(conn, report.id)? {
        row.add_finding(&f.category, &f.severity);
        if let Some(o) = f.official_id {
            *per_official.entry(o.to_string()).or_default() += 1;
        }
    }
    add_daily(conn, &row)?;
    for (official, n) in per_official {
        add_official(conn, day, &official, n)?;
    }
    Ok(())
}

/// Recomputes every rollup from the raw rows (run inside a write transaction).
pub fn rebuild(conn: &mut DbConnection, tz: chrono_tz::Tz) -> QueryResult<usize> {
    diesel::delete(rollup_official_daily::table).execute(conn)?;
    diesel::delete(rollup_daily::table).execute(conn)?;
    let mut after: Option<DbUuid> = None;
    let mut n = 0;
    loop {
        let mut q = inspections::table
            .filter(inspections::status.eq("submitted"))
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

/// Sums of the counters over a range, grouped by `opd_id` or by `day` (as text), computed
/// by the database: at most one row per OPD or per day comes back.
#[derive(Debug, Clone, Default, QueryableByName)]
pub struct SumRow {
    #[diesel(sql_type = Text)]
    pub key: String,
    #[diesel(sql_type = BigInt)]
    pub inspections: i64,
    #[diesel(sql_type = BigInt)]
    pub outside_geofence: i64,
    #[diesel(sql_type = BigInt)]
    pub attendance_checked: i64,
    #[diesel(sql_type = BigInt)]
    pub present: i64,
    #[diesel(sql_type = BigInt)]
    pub late: i64,
    #[diesel(sql_type = BigInt)]
    pub absent_unexcused: i64,
    #[diesel(sql_type = BigInt)]
    pub f_absence: i64,
    #[diesel(sql_type = BigInt)]
    pub f_lateness: i64,
    #[diesel(sql_type = BigInt)]
    pub f_idle: i64,
    #[diesel(sql_type = BigInt)]
    pub f_poor_service: i64,
    #[diesel(sql_type = BigInt)]
    pub f_facility: i64,
    #[diesel(sql_type = BigInt)]
    pub f_administrative: i64,
    #[diesel(sql_type = BigInt)]
    pub f_integrity: i64,
    #[diesel(sql_type = BigInt)]
    pub f_other: i64,
    #[diesel(sql_type = BigInt)]
    pub s_low: i64,
    #[diesel(sql_type = BigInt)]
    pub s_medium: i64,
    #[diesel(sql_type = BigInt)]
    pub s_high: i64,
    #[diesel(sql_type = BigInt)]
    pub s_critical: i64,
}

impl SumRow {
    pub fn counters(&self) -> [i64; 18] {
        [
            self.inspections,
            self.outside_geofence,
            self.attendance_checked,
            self.present,
            self.late,
            self.absent_unexcused,
            self.f_absence,
            self.f_lateness,
            self.f_idle,
            self.f_poor_service,
            self.f_facility,
            self.f_administrative,
            self.f_integrity,
            self.f_other,
            self.s_low,
            self.s_medium,
            self.s_high,
            self.s_critical,
        ]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Opd,
    Day,
}

pub fn sums(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
    opd: Option<&str>,
    group: GroupBy,
) -> QueryResult<Vec<SumRow>> {
    let key = match group {
        GroupBy::Opd => "opd_id",
        GroupBy::Day => "CAST(day AS TEXT)",
    };
    let sums: Vec<String> = COUNTERS
        .iter()
        .map(|c| format!("CAST(SUM({c}) AS BIGINT) AS {c}"))
        .collect();
    let opd_filter = if opd.is_some() {
        " AND opd_id = $3"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {key} AS key, {} FROM rollup_daily WHERE day >= $1 AND day <= $2{opd_filter} GROUP BY {key}",
        sums.join(", ")
    );
    let q = diesel::sql_query(sql)
        .bind::<Date, _>(from)
        .bind::<Date, _>(to);
    match opd {
        Some(o) => q.bind::<Text, _>(o.to_string()).load(conn),
        None => q.load(conn),
    }
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
    let rows: Vec<OfficialSum> = diesel::sql_query(
        "SELECT official_id, CAST(SUM(findings) AS BIGINT) AS findings FROM rollup_official_daily \
         WHERE day >= $1 AND day <= $2 GROUP BY official_id HAVING SUM(findings) >= $3 \
         ORDER BY 2 DESC, 1 ASC",
    )
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .bind::<BigInt, _>(min)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| (r.official_id, r.findings))
        .collect())
}

/// Every rollup row, sorted: (per day and OPD, per day and official).
pub type Snapshot = (Vec<DailyRow>, Vec<(NaiveDate, String, i64)>);

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
    Ok((a, b))
}
