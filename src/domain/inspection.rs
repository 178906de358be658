//! Inspection rules without I/O: vocabularies, limits, the report as the phone sends it,
//! its validation, what makes two sends "the same report" (the replay hash), and the
//! geofence distance.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::dates::truncate_micros;
use crate::error::FieldError;

use super::vocab::vocabulary;

vocabulary!(
    /// Where an official was when the inspection checked.
    AttendanceStatus {
        Present => "present" ["Hadir", "Present"],
        Late => "late" ["Terlambat", "Late"],
        LeftEarly => "left_early" ["Pulang sebelum waktunya", "Left early"],
        AbsentUnexcused => "absent_unexcused" ["Tanpa keterangan", "Absent without leave"],
        Leave => "leave" ["Cuti", "On leave"],
        Sick => "sick" ["Sakit", "Sick"],
        OfficialDuty => "official_duty" ["Dinas luar", "Official duty"],
    }
);

vocabulary!(
    /// What kind of thing a finding is.
    FindingCategory {
        Absence => "absence" ["Ketidakhadiran", "Absence"],
        Lateness => "lateness" ["Keterlambatan", "Lateness"],
        Idle => "idle" ["Tidak bekerja", "Idle"],
        PoorService => "poor_service" ["Pelayanan buruk", "Poor service"],
        Facility => "facility" ["Sarana dan prasarana", "Facility"],
        Administrative => "administrative" ["Administrasi", "Administrative"],
        Integrity => "integrity" ["Integritas", "Integrity"],
        Other => "other" ["Lainnya", "Other"],
    }
);

vocabulary!(
    Severity {
        Low => "low" ["Rendah", "Low"],
        Medium => "medium" ["Sedang", "Medium"],
        High => "high" ["Tinggi", "High"],
        Critical => "critical" ["Kritis", "Critical"],
    }
);

vocabulary!(
    /// Where a finding came from: written in the report, or derived from an attendance row.
    FindingSource {
        Report => "report" ["Laporan", "Report"],
        Attendance => "attendance" ["Daftar hadir", "Attendance"],
    }
);

vocabulary!(
    InspectionStatus {
        Draft => "draft" ["Draf", "Draft"],
        Submitted => "submitted" ["Terkirim", "Submitted"],
    }
);

pub const MAX_ATTENDANCE: usize = 500;
pub const MAX_FINDINGS: usize = 200;
pub const DESCRIPTION_MAX: usize = 2000;
pub const NOTES_MAX: usize = 5000;
pub const NOTE_MAX: usize = 1000;
pub const MAX_MINUTES_LATE: i64 = 1440;
/// Clock skew allowed for times sent by phones.
pub const FUTURE_TOLERANCE_MINUTES: i64 = 10;

/// Great-circle distance in metres (haversine, mean Earth radius).
pub fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const R: f64 = 6_371_008.8;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * R * a.sqrt().min(1.0).asin()
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    pub accuracy_m: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct AttendanceInput {
    pub id: Uuid,
    pub official_id: Uuid,
    pub status: AttendanceStatus,
    pub minutes_late: Option<i64>,
    pub minutes_early: Option<i64>,
    pub note: Option<String>,
}

impl AttendanceStatus {
    /// Leave, sickness and official duty: an absence with a reason.
    pub fn excuses(self) -> bool {
        matches!(
            self,
            AttendanceStatus::Leave | AttendanceStatus::Sick | AttendanceStatus::OfficialDuty
        )
    }
}

#[derive(Debug, Clone)]
pub struct FindingInput {
    pub id: Uuid,
    pub official_id: Option<Uuid>,
    pub category: FindingCategory,
    pub severity: Severity,
    pub description: String,
    pub observed_at: Option<DateTime<Utc>>,
    /// An absence the author states was without excuse: only such hand-written absences
    /// count towards discipline.
    pub unexcused: bool,
}

#[derive(Debug, Clone)]
pub struct ReportInput {
    pub id: Uuid,
    pub opd_id: Uuid,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
    pub location: Option<Location>,
    pub attendance: Vec<AttendanceInput>,
    pub findings: Vec<FindingInput>,
    pub submit: bool,
}

/// Times as stored: UTC, microseconds.
pub fn ts(t: DateTime<Utc>) -> NaiveDateTime {
    truncate_micros(t.naive_utc())
}

pub fn ts_text(t: DateTime<Utc>) -> String {
    ts(t)
        .and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub fn finding_json(f: &FindingInput) -> serde_json::Value {
    let mut v = json!({
        "id": f.id, "official_id": f.official_id, "category": f.category.as_str(),
        "severity": f.severity.as_str(), "description": f.description,
        "observed_at": f.observed_at.map(ts_text),
    });
    // Only when set, so that reports sent before the field existed keep their hash.
    if f.unexcused {
        v["unexcused"] = json!(true);
    }
    v
}

pub fn hash_of(value: &serde_json::Value) -> String {
    // serde_json's maps are sorted by key, so this text is canonical.
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
}

/// What "the same report" means: the same author and the same content once parsed —
/// key order, white space, absent vs. `null` optional fields, the offset a time is written
/// in (an instant is an instant) and `submit` do not matter; array order does.
pub fn report_hash(input: &ReportInput, author: Uuid) -> String {
    hash_of(&json!({
        "author": author,
        "id": input.id,
        "opd_id": input.opd_id,
        "started_at": ts_text(input.started_at),
        "ended_at": input.ended_at.map(ts_text),
        "notes": input.notes,
        "location": input.location.map(|l| json!({"latitude": l.latitude, "longitude": l.longitude, "accuracy_m": l.accuracy_m})),
        "attendance": input.attendance.iter().map(|a| {
            let mut v = json!({
                "id": a.id, "official_id": a.official_id, "status": a.status.as_str(),
                "minutes_late": a.minutes_late, "note": a.note,
            });
            // Only when set, so that reports sent before the field existed keep their hash.
            if let Some(m) = a.minutes_early {
                v["minutes_early"] = json!(m);
            }
            v
        }).collect::<Vec<_>>(),
        "findings": input.findings.iter().map(finding_json).collect::<Vec<_>>(),
    }))
}

pub fn finding_hash(f: &FindingInput) -> String {
    hash_of(&finding_json(f))
}

pub fn not_in_future(
    field: &str,
    t: DateTime<Utc>,
    now: DateTime<Utc>,
    errors: &mut Vec<FieldError>,
) {
    if t > now + Duration::minutes(FUTURE_TOLERANCE_MINUTES) {
        errors.push(FieldError::new(
            field,
            format!("is more than {FUTURE_TOLERANCE_MINUTES} minutes in the future"),
        ));
    }
}

pub fn text_limit(field: &str, value: &Option<String>, max: usize, errors: &mut Vec<FieldError>) {
    if let Some(v) = value {
        if v.chars().count() > max {
            errors.push(FieldError::new(
                field,
                format!("must be at most {max} characters"),
            ));
        }
    }
}

pub fn validate_location(loc: &Option<Location>, errors: &mut Vec<FieldError>) {
    if let Some(l) = loc {
        if !l.latitude.is_finite() || !(-90.0..=90.0).contains(&l.latitude) {
            errors.push(FieldError::new(
                "location.latitude",
                "must be between -90 and 90",
            ));
        }
        if !l.longitude.is_finite() || !(-180.0..=180.0).contains(&l.longitude) {
            errors.push(FieldError::new(
                "location.longitude",
                "must be between -180 and 180",
            ));
        }
        if l.accuracy_m
            .is_some_and(|a| !a.is_finite() || !(0.0..=100_000.0).contains(&a))
        {
            errors.push(FieldError::new(
                "location.accuracy_m",
                "must be between 0 and 100000 metres",
            ));
        }
    }
}

pub fn validate_finding(
    path: &str,
    f: &FindingInput,
    now: DateTime<Utc>,
    errors: &mut Vec<FieldError>,
) {
    let d = f.description.trim();
    if d.is_empty() {
        errors.push(FieldError::new(
            format!("{path}description"),
            "must not be empty",
        ));
    } else if d.chars().count() > DESCRIPTION_MAX {
        errors.push(FieldError::new(
            format!("{path}description"),
            format!("must be at most {DESCRIPTION_MAX} characters"),
        ));
    }
    if let Some(t) = f.observed_at {
        not_in_future(&format!("{path}observed_at"), t, now, errors);
    }
    if f.unexcused && (f.category != FindingCategory::Absence || f.official_id.is_none()) {
        errors.push(FieldError::new(
            format!("{path}unexcused"),
            "is only for an `absence` finding about an official",
        ));
    }
}

pub fn validate_attendance(rows: &[AttendanceInput], errors: &mut Vec<FieldError>) {
    if rows.len() > MAX_ATTENDANCE {
        errors.push(FieldError::new(
            "attendance",
            format!("at most {MAX_ATTENDANCE} rows per report"),
        ));
    }
    let mut officials = std::collections::HashMap::new();
    for (i, a) in rows.iter().enumerate() {
        if let Some(first) = officials.insert(a.official_id, i) {
            errors.push(FieldError::new(
                format!("attendance[{i}].official_id"),
                format!("the same official is already on attendance[{first}]"),
            ));
        }
        match (a.status, a.minutes_late) {
            (AttendanceStatus::Late, Some(m)) if !(0..=MAX_MINUTES_LATE).contains(&m) => errors
                .push(FieldError::new(
                    format!("attendance[{i}].minutes_late"),
                    format!("must be between 0 and {MAX_MINUTES_LATE}"),
                )),
            (AttendanceStatus::Late, _) | (_, None) => {}
            (_, Some(_)) => errors.push(FieldError::new(
                format!("attendance[{i}].minutes_late"),
                "is allowed only with status `late`",
            )),
        }
        match (a.status, a.minutes_early) {
            (AttendanceStatus::LeftEarly, Some(m)) if !(0..=MAX_MINUTES_LATE).contains(&m) => {
                errors.push(FieldError::new(
                    format!("attendance[{i}].minutes_early"),
                    format!("must be between 0 and {MAX_MINUTES_LATE}"),
                ))
            }
            (AttendanceStatus::LeftEarly, _) | (_, None) => {}
            (_, Some(_)) => errors.push(FieldError::new(
                format!("attendance[{i}].minutes_early"),
                "is allowed only with status `left_early`",
            )),
        }
        text_limit(&format!("attendance[{i}].note"), &a.note, NOTE_MAX, errors);
    }
}

/// Checks everything that needs no database.
pub fn validate_report(input: &ReportInput, now: DateTime<Utc>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    not_in_future("started_at", input.started_at, now, &mut errors);
    if let Some(end) = input.ended_at {
        not_in_future("ended_at", end, now, &mut errors);
        if end < input.started_at {
            errors.push(FieldError::new("ended_at", "must not be before started_at"));
        }
    }
    text_limit("notes", &input.notes, NOTES_MAX, &mut errors);
    validate_location(&input.location, &mut errors);
    validate_attendance(&input.attendance, &mut errors);
    if input.findings.len() > MAX_FINDINGS {
        errors.push(FieldError::new(
            "findings",
            format!("at most {MAX_FINDINGS} findings per report"),
        ));
    }
    for (i, f) in input.findings.iter().enumerate() {
        validate_finding(&format!("findings[{i}]."), f, now, &mut errors);
    }
    let mut ids = std::collections::HashSet::from([input.id]);
    for (i, a) in input.attendance.iter().enumerate() {
        if !ids.insert(a.id) {
            errors.push(FieldError::new(
                format!("attendance[{i}].id"),
                "is used twice in this report",
            ));
        }
    }
    for (i, f) in input.findings.iter().enumerate() {
        if !ids.insert(f.id) {
            errors.push(FieldError::new(
                format!("findings[{i}].id"),
                "is used twice in this report",
            ));
        }
    }
    errors
}

/// The distance (metres, to one decimal) from an OPD at `opd` to where the report was made,
/// and whether that is inside the OPD's geofence of `radius_m`; `None`s without a location.
pub fn geofence(
    opd: (f64, f64),
    radius_m: i32,
    loc: Option<Location>,
) -> (Option<f64>, Option<bool>) {
    match loc {
        Some(l) => {
            let d = distance_m(opd.0, opd.1, l.latitude, l.longitude);
            let d = (d * 10.0).round() / 10.0;
            (Some(d), Some(d <= f64::from(radius_m)))
        }
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine() {
        assert!(distance_m(-6.12, 106.15, -6.12, 106.15) < 1e-6);
        // One thousandth of a degree of latitude is about 111 m.
        let d = distance_m(-6.120, 106.15, -6.121, 106.15);
        assert!((d - 111.2).abs() < 0.5, "{d}");
        // Serang to Jakarta, about 75 km.
        let d = distance_m(-6.1149, 106.1503, -6.1754, 106.8272);
        assert!((74_000.0..76_000.0).contains(&d), "{d}");
    }

    #[test]
    fn vocabularies() {
        assert_eq!(
            AttendanceStatus::parse("absent_unexcused"),
            Some(AttendanceStatus::AbsentUnexcused)
        );
        assert_eq!(
            FindingCategory::parse("poor_service"),
            Some(FindingCategory::PoorService)
        );
        assert_eq!(Severity::parse("urgent"), None);
    }
}
