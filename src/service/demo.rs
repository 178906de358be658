//! Deterministic demo and benchmark data: OPDs, officials, submitted reports with
//! attendance and findings over the past year, written in bulk with the same rollups the
//! submit path maintains.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

use crate::db::inspections::{AttendanceRow, FindingRow, InspectionRow};
use crate::db::reference::{self as refdb, NewOfficial, NewPlacement, OpdFields};
use crate::db::rollups::{self, DailyRow};
use crate::db::{audit, schema, write_tx, DbConnection, DbUuid};
use crate::domain::inspection::{
    AttendanceStatus, FindingCategory, FindingSource, InspectionStatus, Severity,
};
use crate::domain::nip::EmploymentType;
use crate::domain::reference::{OpdKind, PositionKind};
use crate::domain::user::Role;
use diesel::prelude::*;

#[derive(Debug, Clone, Copy)]
pub struct DemoSize {
    pub opds: usize,
    pub officials: usize,
    pub inspections: usize,
    pub findings: usize,
    pub seed: u64,
}

#[derive(Debug, Default)]
pub struct DemoReport {
    pub opds: usize,
    pub officials: usize,
    pub inspections: usize,
    pub attendance: usize,
    pub findings: usize,
}

fn uuid_from(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

/// The NIP of the `i`-th demo official: a PNS born 1965–1999, appointed at 23, with a
/// sequence from 001 (BKN numbers no one 000).
fn demo_nip(i: usize) -> String {
    let year = 1965 + (i % 35);
    format!(
        "{year:04}{:02}{:02}{:04}{:02}{}{:03}",
        1 + i % 12,
        1 + i % 28,
        year + 23,
        1 + i % 12,
        1 + i % 2,
        1 + (i / 1000 + i) % 999
    )
}

pub fn generate(
    conn: &mut DbConnection,
    size: DemoSize,
    tz: chrono_tz::Tz,
    progress: impl Fn(&str),
) -> Result<DemoReport, diesel::result::Error> {
    let mut rng = StdRng::seed_from_u64(size.seed);
    let mut out = DemoReport::default();
    let today = crate::domain::dates::today(tz);
    let kinds = [
        OpdKind::Dinas,
        OpdKind::Badan,
        OpdKind::Kecamatan,
        OpdKind::Kelurahan,
        OpdKind::Sekretariat,
        OpdKind::Inspektorat,
    ];
    let batch = format!("{:04}", rng.random_range(0..10_000));

    // OPDs and the inspector.
    let (opds, inspector) = write_tx(conn, |conn| {
        let mut opds = Vec::new();
        for i in 0..size.opds {
            let seq = refdb::take_seq(conn)?;
            let fields = OpdFields {
                code: format!("DEMO{batch}-{i:03}"),
                name: format!("OPD Demo {i}"),
                kind: kinds[i % kinds.len()],
                address: None,
                latitude: Some(-6.12 + rng.random_range(-0.05..0.05)),
                longitude: Some(106.15 + rng.random_range(-0.05..0.05)),
                geofence_radius_m: 150,
                active: true,
                work_week: crate::domain::calendar::WorkWeek::MonFri,
            };
            opds.push(refdb::insert_opd(
                conn,
                DbUuid(uuid_from(&mut rng)),
                &fields,
                seq,
            )?);
        }
        let inspector = DbUuid(uuid_from(&mut rng));
        crate::db::users::insert(
            conn,
            &crate::db::users::NewUser {
                id: inspector,
                username: &format!("demo.inspector.{batch}"),
                full_name: "Demo Inspector",
                role: Role::Inspector,
                // Not a valid PHC string: nobody can log in as the demo inspector.
                password_hash: "!",
            },
        )?;
        Ok::<_, diesel::result::Error>((opds, inspector))
    })?;
    out.opds = opds.len();
    progress(&format!("{} OPDs", opds.len()));

    // Officials, placed since 2024.
    let mut staff: Vec<Vec<(DbUuid, DbUuid, String, PositionKind)>> =
        vec![Vec::new(); opds.len().max(1)];
    let mut made = 0;
    while made < size.officials {
        write_tx(conn, |conn| {
            let first = refdb::take_seqs(conn, 1000)?;
            for k in 0..1000.min(size.officials - made) {
                let i = made + k;
                let nip = demo_nip(i);
                let id = DbUuid(uuid_from(&mut rng));
                let opd = &opds[i % opds.len()];
                let title = ["Staf", "Kepala Seksi", "Analis", "Pengadministrasi"][i % 4];
                let kind = [
                    PositionKind::Pelaksana,
                    PositionKind::Pengawas,
                    PositionKind::Fungsional,
                    PositionKind::Pelaksana,
                ][i % 4];
                refdb::insert_official(
                    conn,
                    &NewOfficial {
                        id,
                        nip: &nip,
                        full_name: &format!("Pegawai Demo {i}"),
                        employment_type: EmploymentType::Pns,
                        rank: None,
                    },
                    &NewPlacement {
                        opd_id: opd.id,
                        position_title: title,
                        position_kind: kind,
                        jf_grade: (kind == crate::domain::reference::PositionKind::Fungsional)
                            .then_some(crate::domain::reference::JfGrade::AhliPertama),
                        effective_from: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap_or(today),
                    },
                    first + k as i64,
                )?;
                let asg = crate::db::inspections::assignment_on(conn, id, today)?
                    .map(|a| a.id)
                    .unwrap_or(id);
                staff[i % opds.len()].push((id, asg, title.to_string(), kind));
            }
            Ok::<_, diesel::result::Error>(())
        })?;
        made = (made + 1000).min(size.officials);
        progress(&format!("{made} officials"));
    }
    out.officials = made;

    // Reports, 1000 per transaction.
    let per_report = size.findings.checked_div(size.inspections).unwrap_or(0);
    let mut extra = size.findings.checked_rem(size.inspections).unwrap_or(0);
    let categories = FindingCategory::ALL;
    let severities = Severity::ALL;
    let mut daily: HashMap<(NaiveDate, String), DailyRow> = HashMap::new();
    let mut per_official: HashMap<(NaiveDate, String), i64> = HashMap::new();
    let mut done = 0;
    while done < size.inspections {
        let n = 1000.min(size.inspections - done);
        let mut reports = Vec::with_capacity(n);
        let mut attendance = Vec::new();
        let mut findings = Vec::new();
        for _ in 0..n {
            let o = rng.random_range(0..opds.len());
            let opd = &opds[o];
            let days_back = rng.random_range(0..365);
            let minutes = rng.random_range(0..(9 * 60));
            let started = (Utc::now() - Duration::days(days_back))
                .date_naive()
                .and_hms_opt(0, 30, 0)
                .unwrap_or_default()
                + Duration::minutes(minutes);
            let outside = rng.random_bool(0.05);
            let id = DbUuid(uuid_from(&mut rng));
            let day = crate::domain::dates::local_day(started, tz);
            let (attendance_before, findings_before) = (attendance.len(), findings.len());
            let mut row = InspectionRow {
                id,
                opd_id: opd.id,
                inspector_id: inspector,
                status: InspectionStatus::Submitted,
                started_at: started,
                ended_at: Some(started + Duration::minutes(40)),
                notes: None,
                latitude: opd.latitude,
                longitude: opd.longitude,
                accuracy_m: Some(10.0),
                distance_m: Some(if outside { 900.0 } else { 20.0 }),
                within_geofence: Some(!outside),
                request_hash: "demo".into(),
                version: 1,
                created_at: started,
                updated_at: started,
                submitted_at: Some(started + Duration::minutes(45)),
                attendance_count: 0,
                findings_count: 0,
            };
            let d = daily
                .entry((day, opd.id.to_string()))
                .or_insert_with(|| DailyRow {
                    day,
                    opd_id: opd.id.to_string(),
                    ..Default::default()
                });
            d.inspections += 1;
            d.outside_geofence += i64::from(outside);
            let people = &staff[o];
            for k in 0..3.min(people.len()) {
                let (official, asg, title, kind) = &people[rng.random_range(0..people.len())];
                if attendance
                    .iter()
                    .any(|a: &AttendanceRow| a.inspection_id == id && a.official_id == *official)
                {
                    continue;
                }
                let status = [
                    AttendanceStatus::Present,
                    AttendanceStatus::Present,
                    AttendanceStatus::Present,
                    AttendanceStatus::Late,
                    AttendanceStatus::AbsentUnexcused,
                    AttendanceStatus::Sick,
                ][rng.random_range(0..6)];
                attendance.push(AttendanceRow {
                    id: DbUuid(uuid_from(&mut rng)),
                    inspection_id: id,
                    official_id: *official,
                    status,
                    minutes_late: (status == AttendanceStatus::Late)
                        .then(|| rng.random_range(5..90)),
                    note: None,
                    assignment_id: *asg,
                    opd_id: opd.id,
                    position_title: title.clone(),
                    position_kind: *kind,
                    created_at: started,
                    minutes_early: None,
                });
                d.add_attendance(status);
                let _ = k;
            }
            let count = per_report + usize::from(extra > 0);
            extra = extra.saturating_sub(1);
            for _ in 0..count {
                let category = categories[rng.random_range(0..categories.len())];
                let severity = severities[rng.random_range(0..severities.len())];
                let who = (!people.is_empty() && rng.random_bool(0.7))
                    .then(|| &people[rng.random_range(0..people.len())]);
                findings.push(FindingRow {
                    id: DbUuid(uuid_from(&mut rng)),
                    inspection_id: id,
                    official_id: who.map(|w| w.0),
                    category,
                    severity,
                    description: "Temuan data demo".into(),
                    observed_at: started,
                    source: FindingSource::Report,
                    attendance_id: None,
                    request_hash: "demo".into(),
                    assignment_id: who.map(|w| w.1),
                    official_opd_id: who.map(|_| opd.id),
                    official_position_title: who.map(|w| w.2.clone()),
                    official_position_kind: who.map(|w| w.3),
                    created_at: started,
                    ..FindingRow::about_nobody()
                });
                d.add_finding(category, severity);
                if let Some(w) = who {
                    *per_official.entry((day, w.0.to_string())).or_default() += 1;
                }
            }
            row.attendance_count = (attendance.len() - attendance_before) as i64;
            row.findings_count = (findings.len() - findings_before) as i64;
            reports.push(row);
        }
        write_tx(conn, |conn| {
            for r in &reports {
                crate::db::inspections::insert(conn, r)?;
            }
            crate::db::bulk_insert!(conn, schema::attendance::table, attendance, 1000);
            crate::db::bulk_insert!(conn, schema::findings::table, findings, 1000);
            Ok::<_, diesel::result::Error>(())
        })?;
        out.inspections += n;
        out.attendance += attendance.len();
        out.findings += findings.len();
        done += n;
        if done % 10_000 == 0 || done == size.inspections {
            progress(&format!("{done} reports, {} findings", out.findings));
        }
    }

    // Rollups, as the submit path would have added them.
    write_tx(conn, |conn| {
        for row in daily.values() {
            rollups::add_daily(conn, row)?;
        }
        for ((day, official), n) in &per_official {
            rollups::add_official(conn, *day, official, *n)?;
        }
        crate::db::rollups::bump_dashboard_version(conn)?;
        audit::append(
            conn,
            audit::AuditEntry::new(
                None,
                "demo_data.generate",
                "demo_data",
                None,
                json!({
                    "seed": size.seed, "opds": out.opds, "officials": out.officials,
                    "inspections": out.inspections, "findings": out.findings,
                }),
            ),
        )?;
        Ok::<_, diesel::result::Error>(())
    })?;
    // A bulk load leaves PostgreSQL's planner with the statistics of empty tables until
    // autovacuum catches up; the first queries after it would pick plans for empty tables.
    if let DbConnection::Pg(pg) = conn {
        diesel::sql_query("ANALYZE").execute(pg)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::demo_nip;
    use crate::domain::nip::{self, EmploymentType};
    use chrono::NaiveDate;
    use std::collections::HashSet;

    #[test]
    fn demo_nips_follow_the_bkn_rules_and_are_distinct() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let mut seen = HashSet::new();
        for i in 0..20_000 {
            let n = demo_nip(i);
            assert!(
                nip::validate(&n, EmploymentType::Pns, today).is_ok(),
                "demo official {i} has NIP {n}"
            );
            assert!(!n.ends_with("000"), "{n}");
            assert!(seen.insert(n.clone()), "demo NIP {n} repeats");
        }
    }
}
