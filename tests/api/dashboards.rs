//! Dashboards: figures from rollups, zeros, buckets, CSV, roles; rollups equal a rebuild.

use serde_json::{json, Value};
use sidak::db::{ConnectionManager, DatabaseUrl, SqliteSynchronous};

use crate::both_backends;
use crate::helpers::{assert_problem, Backend};
use crate::inspections::Field;

both_backends!(dashboards_add_up, rollups_equal_a_rebuild);

fn today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive()
}

async fn dashboards_add_up(backend: Backend) {
    let f = Field::new(backend).await;
    // A second OPD that nobody visits.
    f.app
        .post(
            "/api/v1/opds",
            Some(&f.admin),
            &json!({"code": "SEPI", "name": "Dinas Sepi", "kind": "dinas"}),
        )
        .await;
    // Two submitted reports and a draft (drafts do not count); one outside the geofence.
    for (i, submit) in [(0, true), (1, true), (2, false)] {
        let mut body = f.report();
        body["submit"] = json!(submit);
        if i == 1 {
            body["location"] = json!({"latitude": -6.2, "longitude": 106.2});
        }
        assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    }
    let t = today();
    let from = t - chrono::Duration::days(6);
    let q = format!("?from={from}&to={t}");
    let s: Value = f
        .app
        .get(&format!("/api/v1/dashboard/summary{q}"), Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["inspections"], 2, "{s}");
    assert_eq!(s["opds_visited"], 1);
    assert_eq!(s["opds_never_visited"], 1);
    // Per report: 2 sent findings + 1 absence from attendance.
    assert_eq!(s["findings"], 6);
    assert_eq!(s["findings_by_category"]["absence"], 2);
    assert_eq!(s["findings_by_category"]["idle"], 2);
    assert_eq!(s["findings_by_severity"]["high"], 2);
    assert_eq!(s["attendance_checked"], 6);
    assert_eq!(s["attendance_rate"], 0.6667);
    assert_eq!(s["absence_rate"], 0.3333);
    assert_eq!(s["reports_outside_geofence"], 1);
    assert_eq!(s["follow_ups_by_status"]["open"], 2);
    assert_eq!(s["overdue_follow_ups"], 0);

    let o: Value = f
        .app
        .get(&format!("/api/v1/dashboard/opds{q}"), Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    let items = o["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "never-visited OPDs are listed");
    let sepi = items.iter().find(|r| r["code"] == "SEPI").unwrap();
    assert_eq!(
        (sepi["inspections"].as_i64(), sepi["visited"].as_bool()),
        (Some(0), Some(false))
    );
    assert!(sepi["attendance_rate"].is_null());
    let dinkes = items.iter().find(|r| r["code"] == "DINKES").unwrap();
    assert_eq!(dinkes["findings"], 6);
    assert!(items.iter().all(|r| r
        .as_object()
        .unwrap()
        .values()
        .all(|v| !v.is_object() && !v.is_array())));

    let tr: Value = f
        .app
        .get(
            &format!("/api/v1/dashboard/trends{q}&interval=day"),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let buckets = tr["items"].as_array().unwrap();
    assert_eq!(buckets.len(), 7, "empty days are zeros");
    let total: i64 = buckets
        .iter()
        .map(|b| b["inspections"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 2);
    let week: Value = f
        .app
        .get(
            "/api/v1/dashboard/trends?from=2026-01-01&to=2026-01-31&interval=week",
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let labels: Vec<&str> = week["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["bucket"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        ["2026-W01", "2026-W02", "2026-W03", "2026-W04", "2026-W05"]
    );
    assert_eq!(week["items"][0]["start"], "2026-01-01");
    let month: Value = f
        .app
        .get(
            "/api/v1/dashboard/trends?from=2025-11-15&to=2026-02-10&interval=month",
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let labels: Vec<&str> = month["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["bucket"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["2025-11", "2025-12", "2026-01", "2026-02"]);

    // CSV, by parameter or by Accept.
    let resp = f
        .app
        .get(
            &format!("/api/v1/dashboard/opds{q}&format=csv"),
            Some(&f.admin),
        )
        .await;
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("sidak-opds-"));
    let text = resp.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].contains("code") && lines[0].contains("inspections"));
    let resp = f
        .app
        .client
        .get(f.app.url(&format!("/api/v1/dashboard/summary{q}")))
        .bearer_auth(&f.admin)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    assert!(text
        .lines()
        .next()
        .unwrap()
        .contains("findings_by_category_absence"));

    // Viewers get aggregates, never names; repeat offenders are for supervisors and admins.
    let viewer = f.app.token_for_role(&f.admin, "viewer").await;
    for path in ["summary", "opds", "trends"] {
        let body = f
            .app
            .get(&format!("/api/v1/dashboard/{path}{q}"), Some(&viewer))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            !body.contains("Pegawai") && !body.contains("nip"),
            "{path}: {body}"
        );
    }
    assert_problem(
        f.app
            .get(&format!("/api/v1/dashboard/officials{q}"), Some(&viewer))
            .await,
        403,
    )
    .await;
    assert_problem(
        f.app
            .get(
                &format!("/api/v1/dashboard/officials{q}"),
                Some(&f.inspector),
            )
            .await,
        403,
    )
    .await;
    let off: Value = f
        .app
        .get(
            &format!("/api/v1/dashboard/officials{q}&min_findings=2"),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let rows = off["items"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{off}");
    assert!(rows
        .iter()
        .all(|r| r["findings"] == 2 && r["open_follow_ups"] == 1));
    // A report in an earlier, whole month: long ranges read it from the monthly rollups.
    let mut old = f.report();
    old["started_at"] = json!((chrono::Utc::now() - chrono::Duration::days(45)).to_rfc3339());
    old["submit"] = json!(true);
    assert_eq!(f.post_report(&f.inspector, &old).await.status(), 201);
    let year = format!("?from={}&to={t}", t - chrono::Duration::days(364));
    let s: Value = f
        .app
        .get(&format!("/api/v1/dashboard/summary{year}"), Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (s["inspections"].as_i64(), s["findings"].as_i64()),
        (Some(3), Some(9)),
        "{s}"
    );
    let o: Value = f
        .app
        .get(
            &format!("/api/v1/dashboard/opds{year}&opd_id={}", f.opd),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(o["items"][0]["inspections"], 3);
    let m: Value = f
        .app
        .get(
            &format!("/api/v1/dashboard/trends{year}&interval=month"),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let total: i64 = m["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["inspections"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 3);
    let d: Value = f
        .app
        .get(
            &format!(
                "/api/v1/dashboard/trends{year}&interval=day&opd_id={}",
                f.opd
            ),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["items"].as_array().unwrap().len(), 365);
    let total: i64 = d["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["findings"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 9);
    let off: Value = f
        .app
        .get(
            &format!("/api/v1/dashboard/officials{year}&min_findings=3"),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(off["items"].as_array().unwrap().len(), 2, "{off}");
    // Bad ranges.
    assert_problem(
        f.app
            .get(
                &format!("/api/v1/dashboard/summary?from={t}&to={from}"),
                Some(&f.admin),
            )
            .await,
        422,
    )
    .await;
    assert_problem(
        f.app
            .get(
                "/api/v1/dashboard/summary?from=2000-01-01&to=2026-01-01",
                Some(&f.admin),
            )
            .await,
        422,
    )
    .await;
    assert_problem(
        f.app
            .get("/api/v1/dashboard/trends?interval=hour", Some(&f.admin))
            .await,
        400,
    )
    .await;
}

async fn rollups_equal_a_rebuild(backend: Backend) {
    let f = Field::new(backend).await;
    // A mixed workload: submitted at once, submitted later, drafts, edits before submitting.
    for i in 0..6 {
        let mut body = f.report();
        body["started_at"] =
            json!((chrono::Utc::now() - chrono::Duration::hours(20 * i)).to_rfc3339());
        body["submit"] = json!(i % 3 == 0);
        let id = body["id"].as_str().unwrap().to_string();
        f.post_report(&f.inspector, &body).await;
        if i % 3 == 1 {
            let rows = json!([{"id": uuid::Uuid::new_v4(), "official_id": f.officials[0], "status": "absent_unexcused"}]);
            f.app
                .patch(
                    &format!("/api/v1/inspections/{id}"),
                    Some(&f.inspector),
                    &json!({"attendance": rows}),
                )
                .await;
            f.app
                .post(
                    &format!("/api/v1/inspections/{id}/submit"),
                    Some(&f.inspector),
                    &json!({}),
                )
                .await;
        }
    }
    // Plus bulk demo data, which maintains the same rollups.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sidak"))
        .args([
            "demo-data",
            "--opds",
            "3",
            "--officials",
            "30",
            "--inspections",
            "40",
            "--findings",
            "410",
            "--seed",
            "7",
        ])
        .env("DATABASE_URL", f.app.database_url())
        .env("SIDAK_DATA_DIR", f.app.data_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("410 findings"));
    let url = f.app.database_url();
    let (before, after) = tokio::task::spawn_blocking(move || {
        let manager =
            ConnectionManager::new(DatabaseUrl::parse(&url).unwrap(), SqliteSynchronous::Full);
        let mut conn = manager.establish().unwrap();
        let before = sidak::db::rollups::snapshot(&mut conn).unwrap();
        sidak::db::write_tx(&mut conn, |c| {
            sidak::db::rollups::rebuild(c, chrono_tz::Asia::Jakarta)
        })
        .unwrap();
        let after = sidak::db::rollups::snapshot(&mut conn).unwrap();
        (before, after)
    })
    .await
    .unwrap();
    assert!(!before.0.is_empty());
    assert_eq!(before, after);

    // Over a year of demo data (whole months and partial months at the ends), the summary of
    // all OPDs (read from the daily totals) equals the per-OPD summaries added up (read from
    // each OPD's monthly and daily rows).
    let t = today();
    let year = format!("from={}&to={t}", t - chrono::Duration::days(364));
    let all: Value = f
        .app
        .get(&format!("/api/v1/dashboard/summary?{year}"), Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    let opds: Value = f
        .app
        .get("/api/v1/opds?limit=200", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    let mut added: std::collections::BTreeMap<String, i64> = Default::default();
    let mut visited = 0;
    for o in opds["items"].as_array().unwrap() {
        let one: Value = f
            .app
            .get(
                &format!(
                    "/api/v1/dashboard/summary?{year}&opd_id={}",
                    o["id"].as_str().unwrap()
                ),
                Some(&f.admin),
            )
            .await
            .json()
            .await
            .unwrap();
        visited += one["opds_visited"].as_i64().unwrap();
        for (k, v) in one["items"][0].as_object().unwrap() {
            if let Some(n) = v.as_i64() {
                *added.entry(k.clone()).or_default() += n;
            }
        }
    }
    assert!(all["inspections"].as_i64().unwrap() > 40, "{all}");
    assert_eq!(all["opds_visited"], visited);
    for key in [
        "inspections",
        "findings",
        "attendance_checked",
        "reports_outside_geofence",
        "findings_by_category_absence",
        "findings_by_category_idle",
        "findings_by_severity_high",
    ] {
        assert_eq!(all["items"][0][key].as_i64().unwrap(), added[key], "{key}");
    }
    // The command line does the same.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sidak"))
        .args(["rollups", "rebuild"])
        .env("DATABASE_URL", f.app.database_url())
        .env("SIDAK_DATA_DIR", f.app.data_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("44 submitted"));
    assert_eq!(
        f.app
            .get("/api/v1/audit/verify", Some(&f.admin))
            .await
            .json::<Value>()
            .await
            .unwrap()["ok"],
        true
    );
}
