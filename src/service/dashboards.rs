//! Dashboard figures, read from the rollups (never from the findings).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use crate::db::followups::FollowUpRow;
use crate::db::reference::OpdRow;
use crate::db::rollups::{self, GroupBy, SumRow, COUNTERS, COUNTER_COUNT};
use crate::db::schema::follow_ups;
use crate::db::{DbConnection, DbUuid};
use crate::error::ApiError;
use diesel::prelude::*;

pub const MAX_RANGE_DAYS: i64 = 3660;

#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Range {
    /// Default: the 30 days up to today (local).
    pub fn new(
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        today: NaiveDate,
    ) -> Result<Range, ApiError> {
        use crate::domain::dates::check_opt;
        let from = check_opt("from", from).map_err(|e| ApiError::Validation(vec![e]))?;
        let to = check_opt("to", to).map_err(|e| ApiError::Validation(vec![e]))?;
        let to = to.unwrap_or(today);
        let from = from.unwrap_or(to - Duration::days(29));
        if from > to {
            return Err(ApiError::invalid("from", "must not be after `to`"));
        }
        if (to - from).num_days() >= MAX_RANGE_DAYS {
            return Err(ApiError::invalid(
                "to",
                format!("a range is at most {MAX_RANGE_DAYS} days"),
            ));
        }
        Ok(Range { from, to })
    }
}

/// Sums of the counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals(pub [i64; COUNTER_COUNT]);

impl Totals {
    fn add(&mut self, row: &SumRow) {
        for (t, v) in self.0.iter_mut().zip(row.counters()) {
            *t += v;
        }
    }
    fn get(&self, name: &str) -> i64 {
        COUNTERS
            .iter()
            .position(|c| *c == name)
            .map(|i| self.0[i])
            .unwrap_or(0)
    }
    fn findings(&self) -> i64 {
        self.0[6..14].iter().sum()
    }
    fn rate(num: i64, den: i64) -> Option<f64> {
        (den > 0).then(|| ((num as f64 / den as f64) * 10_000.0).round() / 10_000.0)
    }
    fn attendance_rate(&self) -> Option<f64> {
        Self::rate(
            self.get("present") + self.get("late"),
            self.get("attendance_checked"),
        )
    }
    fn absence_rate(&self) -> Option<f64> {
        Self::rate(self.get("absent_unexcused"), self.get("attendance_checked"))
    }
    fn by_prefix(&self, prefix: &str) -> BTreeMap<String, i64> {
        COUNTERS
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.strip_prefix(prefix).map(|n| (n.to_string(), self.0[i])))
            .collect()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub inspections: i64,
    pub opds_visited: i64,
    /// Active OPDs with no inspection in the range.
    pub opds_never_visited: i64,
    pub findings: i64,
    pub findings_by_category: BTreeMap<String, i64>,
    pub findings_by_severity: BTreeMap<String, i64>,
    pub attendance_checked: i64,
    /// (present + late) / checked; `null` when nobody was checked.
    pub attendance_rate: Option<f64>,
    /// absent_unexcused / checked.
    pub absence_rate: Option<f64>,
    /// Reports made outside their OPD's geofence.
    pub reports_outside_geofence: i64,
    /// Follow-ups raised in the range, by their status now.
    pub follow_ups_by_status: BTreeMap<String, i64>,
    /// Open or in review and past due today (not limited to the range).
    pub overdue_follow_ups: i64,
    /// Median days from raising to decision, of follow-ups decided in the range.
    pub median_days_to_decision: Option<f64>,
}

fn follow_up_rows(conn: &mut DbConnection) -> QueryResult<Vec<FollowUpRow>> {
    follow_ups::table
        .select(FollowUpRow::as_select())
        .load(conn)
}

fn current_opd_of(conn: &mut DbConnection) -> QueryResult<HashMap<String, String>> {
    use crate::db::schema::official_assignments as a;
    let rows: Vec<(DbUuid, DbUuid)> = a::table
        .filter(a::effective_to.is_null())
        .select((a::official_id, a::opd_id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(o, p)| (o.to_string(), p.to_string()))
        .collect())
}

pub fn summary(
    conn: &mut DbConnection,
    range: Range,
    opd: Option<&str>,
    today: NaiveDate,
    tz: chrono_tz::Tz,
) -> Result<Summary, ApiError> {
    let mut totals = Totals::default();
    let mut visited = BTreeSet::new();
    if opd.is_some() {
        for r in &rollups::sums(conn, range.from, range.to, opd, GroupBy::Opd)? {
            totals.add(r);
            if r.inspections > 0 {
                visited.insert(r.key.clone());
            }
        }
    } else {
        // Over all OPDs: one total row per day (at most 366 a year, however dense the data)
        // and the visited OPDs on their own, instead of every OPD's daily rows.
        for r in &rollups::sums(conn, range.from, range.to, None, GroupBy::Day)? {
            totals.add(r);
        }
        visited.extend(rollups::visited_opds(conn, range.from, range.to)?);
    }
    let active: Vec<OpdRow> = crate::db::reference::all_opds(conn)?
        .into_iter()
        .filter(|o| o.active && opd.is_none_or(|x| x == o.id.to_string()))
        .collect();
    let never = active
        .iter()
        .filter(|o| !visited.contains(&o.id.to_string()))
        .count() as i64;

    // Only an OPD filter needs each official's current OPD (5,000 rows for a city).
    let placements = if opd.is_some() {
        current_opd_of(conn)?
    } else {
        HashMap::new()
    };
    let mut by_status: BTreeMap<String, i64> = crate::domain::followup::FollowUpStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    let mut overdue = 0;
    let mut durations = Vec::new();
    for f in follow_up_rows(conn)? {
        if opd.is_some_and(|o| {
            placements
                .get(&f.official_id.to_string())
                .map(String::as_str)
                != Some(o)
        }) {
            continue;
        }
        let raised = crate::domain::dates::local_day(f.created_at, tz);
        if raised >= range.from && raised <= range.to {
            *by_status.entry(f.status.as_str().to_string()).or_default() += 1;
        }
        if f.status.is_active() && f.due_date < today {
            overdue += 1;
        }
        if let Some(decided) = f.decided_at {
            let day = crate::domain::dates::local_day(decided, tz);
            if day >= range.from && day <= range.to {
                durations.push((decided - f.created_at).num_seconds() as f64 / 86_400.0);
            }
        }
    }
    durations.sort_by(|a, b| a.total_cmp(b));
    let median = match durations.len() {
        0 => None,
        n if n % 2 == 1 => Some(durations[n / 2]),
        n => Some((durations[n / 2 - 1] + durations[n / 2]) / 2.0),
    }
    .map(|d| (d * 100.0).round() / 100.0);
    Ok(Summary {
        from: range.from,
        to: range.to,
        inspections: totals.get("inspections"),
        opds_visited: visited.len() as i64,
        opds_never_visited: never,
        findings: totals.findings(),
        findings_by_category: totals.by_prefix("f_"),
        findings_by_severity: totals.by_prefix("s_"),
        attendance_checked: totals.get("attendance_checked"),
        attendance_rate: totals.attendance_rate(),
        absence_rate: totals.absence_rate(),
        reports_outside_geofence: totals.get("outside_geofence"),
        follow_ups_by_status: by_status,
        overdue_follow_ups: overdue,
        median_days_to_decision: median,
    })
}

/// The summary as one flat row (CSV).
pub fn flatten(value: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(obj) = value.as_object() {
        for (k, v) in obj {
            match v {
                Value::Object(inner) => {
                    for (ik, iv) in inner {
                        out.insert(format!("{k}_{ik}"), iv.clone());
                    }
                }
                other => {
                    out.insert(k.clone(), other.clone());
                }
            }
        }
    }
    out
}

/// One row per OPD (every active OPD, and inactive ones with data in the range).
pub fn opds(
    conn: &mut DbConnection,
    range: Range,
    opd: Option<&str>,
) -> Result<Vec<Map<String, Value>>, ApiError> {
    let rows = rollups::sums(conn, range.from, range.to, opd, GroupBy::Opd)?;
    let mut per: HashMap<String, Totals> = HashMap::new();
    for r in &rows {
        per.entry(r.key.clone()).or_default().add(r);
    }
    let mut all = crate::db::reference::all_opds(conn)?;
    all.sort_by(|a, b| a.code.cmp(&b.code));
    let mut out = Vec::new();
    for o in all {
        let id = o.id.to_string();
        if opd.is_some_and(|x| x != id) {
            continue;
        }
        let t = per.get(&id).copied().unwrap_or_default();
        if !o.active && t.get("inspections") == 0 {
            continue;
        }
        let row = json!({
            "opd_id": id, "code": o.code, "name": o.name, "kind": o.kind, "active": o.active,
            "inspections": t.get("inspections"), "visited": t.get("inspections") > 0,
            "findings": t.findings(), "findings_high_or_critical": t.get("s_high") + t.get("s_critical"),
            "absence_findings": t.get("f_absence"),
            "attendance_checked": t.get("attendance_checked"), "attendance_rate": t.attendance_rate(),
            "absence_rate": t.absence_rate(), "reports_outside_geofence": t.get("outside_geofence"),
        });
        if let Value::Object(m) = row {
            out.push(m);
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Day,
    Week,
    Month,
}

/// The first day of the bucket `day` falls in.
pub fn bucket_start(day: NaiveDate, interval: Interval) -> NaiveDate {
    match interval {
        Interval::Day => day,
        Interval::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
        Interval::Month => NaiveDate::from_ymd_opt(day.year(), day.month(), 1).unwrap_or(day),
    }
}

fn bucket_label(start: NaiveDate, interval: Interval) -> String {
    match interval {
        Interval::Day => start.to_string(),
        Interval::Week => {
            let w = start.iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        }
        Interval::Month => format!("{}-{:02}", start.year(), start.month()),
    }
}

fn next_bucket(start: NaiveDate, interval: Interval) -> NaiveDate {
    match interval {
        Interval::Day => start + Duration::days(1),
        Interval::Week => start + Duration::days(7),
        Interval::Month => start
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(start + Duration::days(31)),
    }
}

/// Buckets covering the range (the first and last may be partial), empty ones as zeros.
pub fn trends(
    conn: &mut DbConnection,
    range: Range,
    opd: Option<&str>,
    interval: Interval,
) -> Result<Vec<Map<String, Value>>, ApiError> {
    let rows = rollups::sums(conn, range.from, range.to, opd, GroupBy::Day)?;
    let mut per: BTreeMap<NaiveDate, Totals> = BTreeMap::new();
    for r in &rows {
        let day = NaiveDate::parse_from_str(&r.key, "%Y-%m-%d").map_err(ApiError::internal)?;
        per.entry(bucket_start(day, interval)).or_default().add(r);
    }
    let mut out = Vec::new();
    let mut start = bucket_start(range.from, interval);
    while start <= range.to {
        let end = (next_bucket(start, interval) - Duration::days(1)).min(range.to);
        let t = per.get(&start).copied().unwrap_or_default();
        let row = json!({
            "bucket": bucket_label(start, interval), "start": start.max(range.from), "end": end,
            "inspections": t.get("inspections"), "findings": t.findings(),
            "absence_findings": t.get("f_absence"), "findings_high_or_critical": t.get("s_high") + t.get("s_critical"),
            "attendance_checked": t.get("attendance_checked"), "attendance_rate": t.attendance_rate(),
            "reports_outside_geofence": t.get("outside_geofence"),
        });
        if let Value::Object(m) = row {
            out.push(m);
        }
        start = next_bucket(start, interval);
    }
    Ok(out)
}

/// Repeat offenders: officials with at least `min` findings in the range.
pub fn officials(
    conn: &mut DbConnection,
    range: Range,
    opd: Option<&str>,
    min: i64,
) -> Result<Vec<Map<String, Value>>, ApiError> {
    let counts = rollups::officials_with(conn, range.from, range.to, min)?;
    let ids: Vec<DbUuid> = counts
        .iter()
        .filter_map(|(o, _)| uuid::Uuid::parse_str(o).ok().map(DbUuid))
        .collect();
    let found: HashMap<String, crate::db::reference::OfficialWithCurrent> =
        crate::db::reference::find_officials_by_ids(conn, &ids)?
            .into_iter()
            .map(|o| (o.official.id.to_string(), o))
            .collect();
    let mut open: HashMap<String, i64> = HashMap::new();
    for chunk in ids.chunks(500) {
        let active: Vec<DbUuid> = follow_ups::table
            .filter(follow_ups::official_id.eq_any(chunk))
            .filter(follow_ups::status.eq_any(["open", "in_review"]))
            .select(follow_ups::official_id)
            .load(conn)?;
        for a in active {
            *open.entry(a.to_string()).or_default() += 1;
        }
    }
    let mut out = Vec::new();
    for (official, n) in counts {
        let Some(o) = found.get(&official) else {
            continue;
        };
        if opd.is_some_and(|x| x != o.current.assignment.opd_id.to_string()) {
            continue;
        }
        let row = json!({
            "official_id": official, "nip": o.official.nip, "full_name": o.official.full_name,
            "current_opd_id": o.current.assignment.opd_id.to_string(), "current_opd_code": o.current.opd_code,
            "findings": n, "open_follow_ups": open.get(&official).copied().unwrap_or(0),
        });
        if let Value::Object(m) = row {
            out.push(m);
        }
    }
    Ok(out)
}
