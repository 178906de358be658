//! The database ceiling for `bench/run.py`: the rows of one report (the inspection, 10
//! attendance rows, 10 findings and its audit entry) written in one transaction, directly
//! through diesel with Sidak's own connection settings and inserts (multi-row, as the API
//! writes them), with no HTTP, no JSON and no checks. Each connection is a thread that writes reports back to back.
//!
//!     cargo run --release --example diesel_ceiling -- <DATABASE_URL> <OPD code> <inspector username> <seconds> <connections>...
//!
//! Prints one JSON line per connection count: `{"connections": 4, "reports_per_s": 123.4}`.
//! The OPD must have at least 10 officials placed today (`sidak demo-data` makes such OPDs).

use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
use sidak::db::audit::{self, AuditEntry};
use sidak::db::inspections::{self as idb, AttendanceRow, FindingRow, InspectionRow};
use sidak::db::reference::AssignmentRow;
use sidak::db::schema::{official_assignments, users};
use sidak::db::{self, ConnectionManager, DatabaseUrl, DbConnection, DbUuid, SqliteSynchronous};
use sidak::domain::inspection::{
    AttendanceStatus, FindingCategory, FindingSource, InspectionStatus, Severity,
};

type Fallible<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

struct Target {
    inspector: DbUuid,
    opd: DbUuid,
    placements: Vec<AssignmentRow>,
}

fn target(conn: &mut DbConnection, opd_code: &str, inspector: &str) -> Fallible<Target> {
    let inspector: DbUuid = users::table
        .filter(users::username.eq(inspector))
        .select(users::id)
        .first(conn)?;
    let opd = sidak::db::reference::find_opd_by_code(conn, opd_code)?
        .ok_or_else(|| format!("no OPD with code {opd_code}"))?;
    let officials: Vec<DbUuid> = official_assignments::table
        .filter(official_assignments::opd_id.eq(opd.id))
        .filter(official_assignments::effective_to.is_null())
        .select(official_assignments::official_id)
        .limit(10)
        .load(conn)?;
    let today = Utc::now().date_naive();
    let mut placements = Vec::new();
    for o in officials {
        if let Some(a) = idb::assignment_on(conn, o, today)? {
            placements.push(a);
        }
    }
    if placements.len() < 10 {
        return Err(format!(
            "OPD {opd_code} has only {} officials placed today",
            placements.len()
        )
        .into());
    }
    Ok(Target {
        inspector,
        opd: opd.id,
        placements,
    })
}

fn write_report(conn: &mut DbConnection, t: &Target) -> Fallible<()> {
    let at = db::now();
    let inspection = DbUuid(uuid::Uuid::new_v4());
    db::write_tx(conn, |c| {
        idb::insert(
            c,
            &InspectionRow {
                id: inspection,
                opd_id: t.opd,
                inspector_id: t.inspector,
                status: InspectionStatus::Draft,
                started_at: at,
                ended_at: None,
                notes: None,
                latitude: Some(-6.1171),
                longitude: Some(106.1531),
                accuracy_m: None,
                distance_m: Some(14.0),
                within_geofence: Some(true),
                request_hash: "x".repeat(64),
                version: 1,
                created_at: at,
                updated_at: at,
                submitted_at: None,
                attendance_count: t.placements.len() as i64,
                findings_count: t.placements.len() as i64,
            },
        )?;
        let attendance: Vec<AttendanceRow> = t
            .placements
            .iter()
            .map(|a| AttendanceRow {
                id: DbUuid(uuid::Uuid::new_v4()),
                inspection_id: inspection,
                official_id: a.official_id,
                status: AttendanceStatus::Present,
                minutes_late: None,
                note: None,
                assignment_id: a.id,
                opd_id: a.opd_id,
                position_title: a.position_title.clone(),
                position_kind: a.position_kind,
                created_at: at,
                minutes_early: None,
            })
            .collect();
        idb::insert_attendance_rows(c, &attendance)?;
        let findings: Vec<FindingRow> = t
            .placements
            .iter()
            .map(|a| FindingRow {
                id: DbUuid(uuid::Uuid::new_v4()),
                inspection_id: inspection,
                official_id: Some(a.official_id),
                category: FindingCategory::Idle,
                severity: Severity::Medium,
                description: "Tidak berada di meja kerja pada jam pelayanan".into(),
                observed_at: at,
                source: FindingSource::Report,
                attendance_id: None,
                request_hash: "y".repeat(64),
                assignment_id: Some(a.id),
                official_opd_id: Some(a.opd_id),
                official_position_title: Some(a.position_title.clone()),
                official_position_kind: Some(a.position_kind),
                created_at: at,
                ..FindingRow::about_nobody()
            })
            .collect();
        idb::insert_finding_rows(c, &findings)?;
        audit::append(
            c,
            AuditEntry::new(
                Some(t.inspector.0),
                "inspection.create",
                "inspection",
                Some(inspection.to_string()),
                serde_json::json!({"attendance": 10, "findings": 10}),
            ),
        )?;
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(())
}

fn main() -> Fallible<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, opd_code, inspector, seconds, connections @ ..] = args.as_slice() else {
        return Err("usage: diesel_ceiling <DATABASE_URL> <OPD code> <inspector> <seconds> <connections>...".into());
    };
    let seconds: f64 = seconds.parse()?;
    let manager = ConnectionManager::new(DatabaseUrl::parse(url)?, SqliteSynchronous::Full);
    let t = std::sync::Arc::new(target(&mut manager.establish()?, opd_code, inspector)?);
    for n in connections {
        let n: usize = n.parse()?;
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        let started = Instant::now();
        let mut threads = Vec::new();
        for _ in 0..n {
            let mut conn = manager.establish()?;
            let t = t.clone();
            threads.push(std::thread::spawn(move || -> Fallible<u64> {
                let mut written = 0;
                while Instant::now() < deadline {
                    write_report(&mut conn, &t)?;
                    written += 1;
                }
                Ok(written)
            }));
        }
        let mut total = 0;
        for th in threads {
            total += th.join().map_err(|_| "a writer thread panicked")??;
        }
        println!(
            "{{\"connections\": {n}, \"reports_per_s\": {:.1}}}",
            total as f64 / started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
