//! The discipline rules through the API: what counts towards an official's record (working
//! days of the OPD, the holiday calendar, lateness and early leave, excuses), the PPPK
//! catalogue, and the admins' holiday calendar.

use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{assert_problem, Backend};
use crate::inspections::Field;

both_backends!(
    lateness_and_early_leave_count_together,
    an_excused_absence_leaves_every_count,
    two_supervisors_excuse_at_once,
    holidays_and_work_weeks_decide_the_working_days,
    pppk_have_their_own_sanctions,
);

/// A submitted report at `at` (local time as written) with `attendance` and `findings`.
pub(crate) async fn report_at(f: &Field, at: &str, attendance: Value, findings: Value) -> Value {
    let body = json!({
        "id": uuid::Uuid::new_v4(),
        "opd_id": f.opd,
        "started_at": at,
        "attendance": attendance,
        "findings": findings,
        "submit": true,
    });
    let resp = f.post_report(&f.inspector, &body).await;
    assert_eq!(resp.status(), 201, "{at}");
    resp.json().await.unwrap()
}

pub(crate) fn seen(official: &str, status: &str, extra: Value) -> Value {
    let mut row = json!({"id": uuid::Uuid::new_v4(), "official_id": official, "status": status});
    if let (Some(row), Some(extra)) = (row.as_object_mut(), extra.as_object()) {
        row.extend(extra.clone());
    }
    row
}

pub(crate) async fn recommendation(f: &Field, official: &str, year: i32) -> Value {
    let record: Value = f
        .app
        .get(
            &format!("/api/v1/officials/{official}/record?year={year}"),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    record["recommendation"].clone()
}

async fn lateness_and_early_leave_count_together(backend: Backend) {
    let f = Field::new(backend).await;
    let o = &f.officials[1];
    // Monday 2 November 2026, 09:00: "300 minutes late" — work started at 07:30, so 90.
    report_at(
        &f,
        "2026-11-02T09:00:00+07:00",
        json!([seen(o, "late", json!({"minutes_late": 300}))]),
        json!([]),
    )
    .await;
    // The same day, 14:00: gone 100 minutes early. Late and early add up.
    let r = report_at(
        &f,
        "2026-11-02T14:00:00+07:00",
        json!([seen(o, "left_early", json!({"minutes_early": 100}))]),
        json!([]),
    )
    .await;
    assert_eq!(r["attendance"][0]["minutes_early"], 100, "{r}");
    assert_eq!(r["attendance"][0]["status"], "left_early");
    // Tuesday 3 November, 15:00: 449 minutes late is possible (450 since work started).
    report_at(
        &f,
        "2026-11-03T15:00:00+07:00",
        json!([seen(o, "late", json!({"minutes_late": 449}))]),
        json!([]),
    )
    .await;
    // Monday 2 March 2026 is in Ramadan: work starts at 08:00, so 08:30 is 30 minutes late.
    report_at(
        &f,
        "2026-03-02T08:30:00+07:00",
        json!([seen(o, "late", json!({"minutes_late": 60}))]),
        json!([]),
    )
    .await;
    // Saturday 7 November is not a working day: nothing counts.
    report_at(
        &f,
        "2026-11-07T10:00:00+07:00",
        json!([seen(o, "late", json!({"minutes_late": 60}))]),
        json!([]),
    )
    .await;
    let rec = recommendation(&f, o, 2026).await;
    assert_eq!(rec["late_minutes"], 90 + 100 + 449 + 30, "{rec}");
    assert_eq!(rec["late_days"], 1, "{rec}");
    assert_eq!(rec["total_days"], 1);
    assert_eq!(rec["unexcused_absence_days"], 0);

    // Minutes go with their own status only, and stay within a day.
    for (row, field) in [
        (
            seen(o, "late", json!({"minutes_early": 10})),
            "attendance[0].minutes_early",
        ),
        (
            seen(o, "left_early", json!({"minutes_late": 10})),
            "attendance[0].minutes_late",
        ),
        (
            seen(o, "left_early", json!({"minutes_early": 2000})),
            "attendance[0].minutes_early",
        ),
    ] {
        let body = json!({"id": uuid::Uuid::new_v4(), "opd_id": f.opd,
            "started_at": "2026-11-04T09:00:00+07:00", "attendance": [row], "findings": []});
        let p = assert_problem(f.post_report(&f.inspector, &body).await, 422).await;
        assert_eq!(p["errors"][0]["field"], field, "{p}");
    }
}

async fn an_excused_absence_leaves_every_count(backend: Backend) {
    let f = Field::new(backend).await;
    let o = f.officials[2].clone();
    // Absent without excuse on Monday to Wednesday, 2–4 November 2026.
    let mut derived = Vec::new();
    for day in 2..=4 {
        let r = report_at(
            &f,
            &format!("2026-11-0{day}T09:00:00+07:00"),
            json!([seen(&o, "absent_unexcused", json!({}))]),
            json!([]),
        )
        .await;
        let finding = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["source"] == "attendance")
            .unwrap()
            .clone();
        assert_eq!(finding["unexcused"], true, "{finding}");
        assert_eq!(finding["excused"], Value::Null);
        derived.push(finding["id"].as_str().unwrap().to_string());
    }
    // A hand-written absence counts only when marked unexcused (Thursday: not; Friday: yes).
    let r = report_at(
        &f,
        "2026-11-05T09:00:00+07:00",
        json!([]),
        json!([{"id": uuid::Uuid::new_v4(), "official_id": o, "category": "absence",
                "severity": "medium", "description": "Tidak di tempat, alasan belum jelas"}]),
    )
    .await;
    assert_eq!(r["findings"][0]["unexcused"], false);
    let manual = r["findings"][0]["id"].as_str().unwrap().to_string();
    report_at(
        &f,
        "2026-11-06T09:00:00+07:00",
        json!([]),
        json!([{"id": uuid::Uuid::new_v4(), "official_id": o, "category": "absence",
                "severity": "medium", "description": "Mangkir", "unexcused": true}]),
    )
    .await;
    let rec = recommendation(&f, &o, 2026).await;
    assert_eq!(rec["unexcused_absence_days"], 4, "{rec}");
    assert_eq!(rec["sanction"], "teguran_tertulis");
    // `unexcused` is only for an absence about an official.
    let body = json!({"id": uuid::Uuid::new_v4(), "opd_id": f.opd,
        "started_at": "2026-11-06T10:00:00+07:00", "attendance": [],
        "findings": [{"id": uuid::Uuid::new_v4(), "category": "facility", "severity": "low",
                      "description": "Atap bocor", "unexcused": true}]});
    let p = assert_problem(f.post_report(&f.inspector, &body).await, 422).await;
    assert_eq!(p["errors"][0]["field"], "findings[0].unexcused", "{p}");

    // Another sidak on Monday recorded the official sick: the excuse wins, shown as a conflict.
    report_at(
        &f,
        "2026-11-02T13:00:00+07:00",
        json!([seen(&o, "sick", json!({"note": "Surat dokter"}))]),
        json!([]),
    )
    .await;
    let rec = recommendation(&f, &o, 2026).await;
    assert_eq!(rec["unexcused_absence_days"], 3, "{rec}");
    assert_eq!(rec["conflicting_days"], json!(["2026-11-02"]));

    // Tuesday's absence is excused by a supervisor: a travel order came later.
    let excuse = |id: &str, token: &str, reason: &str| {
        let (app, path, token, body) = (
            &f.app,
            format!("/api/v1/findings/{id}/excuse"),
            token.to_string(),
            json!({"reason": reason}),
        );
        async move { app.post(&path, Some(&token), &body).await }
    };
    let supervisor = f.app.token_for_role(&f.admin, "supervisor").await;
    let before = summary(&f).await;
    let audit_before = f.app.audit_count(&f.admin).await;
    assert_problem(excuse(&derived[1], &f.inspector, "SPT").await, 403).await;
    assert_problem(excuse(&derived[1], &supervisor, "  ").await, 422).await;
    let resp = excuse(&derived[1], &supervisor, "Surat perintah tugas menyusul").await;
    assert_eq!(resp.status(), 200);
    let excused: Value = resp.json().await.unwrap();
    assert_eq!(
        excused["excused"]["reason"],
        "Surat perintah tugas menyusul"
    );
    let p = assert_problem(excuse(&derived[1], &supervisor, "lagi").await, 409).await;
    assert!(p["detail"].as_str().unwrap().contains("already"), "{p}");
    // Only a counted absence is excused.
    assert_problem(excuse(&manual, &supervisor, "x").await, 409).await;
    assert_problem(
        excuse(&uuid::Uuid::new_v4().to_string(), &supervisor, "x").await,
        404,
    )
    .await;

    let rec = recommendation(&f, &o, 2026).await;
    assert_eq!(rec["unexcused_absence_days"], 2, "{rec}");
    assert_eq!(rec["sanction"], "none");
    let after = summary(&f).await;
    assert_eq!(
        after["findings_by_category"]["absence"].as_i64().unwrap(),
        before["findings_by_category"]["absence"].as_i64().unwrap() - 1,
        "{before} {after}"
    );
    assert_eq!(
        after["findings"].as_i64().unwrap(),
        before["findings"].as_i64().unwrap() - 1
    );
    assert_eq!(f.app.audit_count(&f.admin).await, audit_before + 1);
    let audit: Value = f
        .app
        .get("/api/v1/audit?entity=finding", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"][0]["entity_id"], json!(derived[1]), "{audit}");
    // The report still shows what the inspector saw, and that it was excused.
    let record: Value = f
        .app
        .get(
            &format!("/api/v1/officials/{o}/record?year=2026"),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let shown = record["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == json!(derived[1]))
        .unwrap();
    let me: Value = f
        .app
        .get("/api/v1/me", Some(&supervisor))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["excused"]["by"], me["id"], "{shown} {me}");
}

async fn two_supervisors_excuse_at_once(backend: Backend) {
    let f = Field::new(backend).await;
    let o = f.officials[2].clone();
    let r = report_at(
        &f,
        "2026-11-02T09:00:00+07:00",
        json!([seen(&o, "absent_unexcused", json!({}))]),
        json!([]),
    )
    .await;
    let id = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["source"] == "attendance")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut tokens = Vec::new();
    for _ in 0..6 {
        tokens.push(f.app.token_for_role(&f.admin, "supervisor").await);
    }
    let path = format!("/api/v1/findings/{id}/excuse");
    let answers = futures_util::future::join_all(tokens.iter().map(|t| {
        let body = json!({"reason": "Cuti sakit, surat menyusul"});
        let (app, path) = (&f.app, path.clone());
        async move { app.post(&path, Some(t), &body).await.status().as_u16() }
    }))
    .await;
    assert_eq!(
        answers.iter().filter(|s| **s == 200).count(),
        1,
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|s| **s == 409).count(),
        5,
        "{answers:?}"
    );
    let s: Value = f
        .app
        .get(
            "/api/v1/dashboard/summary?from=2026-11-02&to=2026-11-02",
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["findings_by_category"]["absence"], 0, "{s}");
    let audit: Value = f
        .app
        .get("/api/v1/audit?entity=finding", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}

async fn holidays_and_work_weeks_decide_the_working_days(backend: Backend) {
    let f = Field::new(backend).await;
    let o = f.officials[2].clone();
    // The shipped calendar: 2026 has 17 national holidays and 8 cuti bersama.
    let list: Value = f
        .app
        .get("/api/v1/holidays?year=2026", Some(&f.inspector))
        .await
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    let count = |kind: &str| items.iter().filter(|h| h["kind"] == kind).count();
    assert_eq!((count("libur_nasional"), count("cuti_bersama")), (17, 8));
    assert!(items.iter().all(|h| h["source"] == "shipped"));

    // Absent on Monday 9 (a working day) and Saturday 14 November.
    for at in ["2026-11-09T09:00:00+07:00", "2026-11-14T09:00:00+07:00"] {
        report_at(
            &f,
            at,
            json!([seen(&o, "absent_unexcused", json!({}))]),
            json!([]),
        )
        .await;
    }
    assert_eq!(
        recommendation(&f, &o, 2026).await["unexcused_absence_days"],
        1
    );

    // The city declares 9 November a regional holiday: that absence no longer counts.
    let put = |token: &str, date: &str, body: Value| {
        let (app, path, token) = (
            &f.app,
            format!("/api/v1/holidays/{date}"),
            token.to_string(),
        );
        async move {
            app.request(Method::PUT, &path, Some(&token), Some(&body))
                .await
        }
    };
    let body = json!({"name": "Hari Jadi Kota Serang", "kind": "libur_daerah"});
    assert_problem(put(&f.inspector, "2026-11-09", body.clone()).await, 403).await;
    assert_problem(put(&f.admin, "2026-13-09", body.clone()).await, 422).await;
    assert_problem(
        put(
            &f.admin,
            "2026-11-09",
            json!({"name": "", "kind": "libur_daerah"}),
        )
        .await,
        422,
    )
    .await;
    let resp = put(&f.admin, "2026-11-09", body).await;
    assert_eq!(resp.status(), 200);
    let h: Value = resp.json().await.unwrap();
    assert_eq!(
        (h["source"].as_str(), h["kind"].as_str()),
        (Some("admin"), Some("libur_daerah"))
    );
    assert_eq!(
        recommendation(&f, &o, 2026).await["unexcused_absence_days"],
        0
    );
    // Taken back: it counts again. A day that is no holiday cannot be taken back.
    let delete = |date: &str| {
        let (app, path, token) = (&f.app, format!("/api/v1/holidays/{date}"), f.admin.clone());
        async move { app.request(Method::DELETE, &path, Some(&token), None).await }
    };
    assert_eq!(delete("2026-11-09").await.status(), 204);
    assert_eq!(
        recommendation(&f, &o, 2026).await["unexcused_absence_days"],
        1
    );
    assert_problem(delete("2026-11-10").await, 404).await;
    // A shipped day can be taken back too (the SKB moved it), and it leaves the list.
    assert_eq!(delete("2026-12-24").await.status(), 204);
    let list: Value = f
        .app
        .get("/api/v1/holidays?year=2026", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 24);
    let audit: Value = f
        .app
        .get("/api/v1/audit?entity=holiday", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"].as_array().unwrap().len(), 3, "{audit}");

    // The OPD works six days: the Saturday absence now counts.
    let resp = f
        .app
        .patch(
            &format!("/api/v1/opds/{}", f.opd),
            Some(&f.admin),
            &json!({"work_week": "mon_sat"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["work_week"], "mon_sat");
    assert_eq!(
        recommendation(&f, &o, 2026).await["unexcused_absence_days"],
        2
    );
    let p = assert_problem(
        f.app
            .patch(
                &format!("/api/v1/opds/{}", f.opd),
                Some(&f.admin),
                &json!({"work_week": "sometimes"}),
            )
            .await,
        422,
    )
    .await;
    assert!(p.to_string().contains("work_week"), "{p}");
}

async fn pppk_have_their_own_sanctions(backend: Backend) {
    let f = Field::new(backend).await;
    let resp = f
        .app
        .post(
            "/api/v1/officials",
            Some(&f.admin),
            &json!({"nip": "199505052023211001", "full_name": "Hendra Gunawan",
                    "employment_type": "pppk", "rank": "IX", "position_title": "Guru",
                    "position_kind": "fungsional", "opd_id": f.opd,
                    "effective_from": "2024-01-02"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let pppk = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Ten working days in a row, 2–13 November 2026.
    let days = [2, 3, 4, 5, 6, 9, 10, 11, 12, 13];
    for day in days {
        report_at(
            &f,
            &format!("2026-11-{day:02}T09:00:00+07:00"),
            json!([
                seen(&pppk, "absent_unexcused", json!({})),
                seen(&f.officials[2], "absent_unexcused", json!({}))
            ]),
            json!([]),
        )
        .await;
    }
    let rec = recommendation(&f, &pppk, 2026).await;
    assert_eq!(
        rec["sanction"], "phpk_dengan_hormat_tidak_atas_permintaan_sendiri",
        "{rec}"
    );
    assert_eq!(rec["level"], "berat");
    assert_eq!(rec["salary_stops_from"], Value::Null);
    let rec = recommendation(&f, &f.officials[2], 2026).await;
    assert_eq!(rec["sanction"], "pemberhentian", "{rec}");
    assert_eq!(rec["salary_stops_from"], "2026-12-01");

    // Each employment type is decided with its own sanctions only.
    let supervisor = f.app.token_for_role(&f.admin, "supervisor").await;
    for (official, wrong, right) in [
        (
            pppk.as_str(),
            "pemberhentian",
            "phpk_dengan_hormat_tidak_atas_permintaan_sendiri",
        ),
        (
            f.officials[2].as_str(),
            "phpk_tidak_dengan_hormat",
            "pemberhentian",
        ),
    ] {
        let list: Value = f
            .app
            .get(
                &format!("/api/v1/follow-ups?official_id={official}"),
                Some(&f.admin),
            )
            .await
            .json()
            .await
            .unwrap();
        let id = list["items"][0]["id"].as_str().unwrap().to_string();
        let act = |body: Value| {
            let (app, path, token) = (
                &f.app,
                format!("/api/v1/follow-ups/{id}/actions"),
                supervisor.clone(),
            );
            async move { app.post(&path, Some(&token), &body).await }
        };
        assert_eq!(act(json!({"action": "start_review"})).await.status(), 200);
        let p = assert_problem(
            act(json!({"action": "decide", "sanction": wrong, "note": "Putusan"})).await,
            422,
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "sanction", "{p}");
        // Both are berat: the decree is recorded with the decision.
        let today = chrono::Utc::now()
            .with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).unwrap())
            .date_naive();
        let resp = act(json!({"action": "decide", "sanction": right, "note": "Putusan",
                              "decree_number": "800.1.6/17/BKPSDM", "decree_date": today.to_string()}))
        .await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }
}

async fn summary(f: &Field) -> Value {
    f.app
        .get(
            "/api/v1/dashboard/summary?from=2026-11-01&to=2026-11-30",
            Some(&f.admin),
        )
        .await
        .json::<Value>()
        .await
        .unwrap()
}
