//! Follow-ups: raising, the review state machine, concurrency, overdue, the recommendation.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{assert_problem, Backend};
use crate::inspections::Field;

both_backends!(
    submission_flags_officials_once,
    raising_by_hand_checks_the_findings,
    the_review_follows_the_state_machine,
    concurrent_decisions_never_both_win,
    overdue_is_judged_in_local_time,
    the_recommendation_counts_days_once,
    a_run_of_absences_over_the_new_year_stops_the_salary,
    follow_up_roles,
);

async fn list(f: &Field, token: &str, query: &str) -> Vec<Value> {
    let v: Value = f
        .app
        .get(&format!("/api/v1/follow-ups{query}"), Some(token))
        .await
        .json()
        .await
        .unwrap();
    v["items"].as_array().unwrap().clone()
}

async fn act(f: &Field, token: &str, id: &str, body: Value) -> reqwest::Response {
    f.app
        .post(
            &format!("/api/v1/follow-ups/{id}/actions"),
            Some(token),
            &body,
        )
        .await
}

async fn submission_flags_officials_once(backend: Backend) {
    let f = Field::new(backend).await;
    // A draft flags nobody.
    let body = f.report();
    assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    assert!(list(&f, &f.admin, "").await.is_empty());
    // Submitting: official 2 was absent (attendance), official 3 had a `high` finding.
    let id = body["id"].as_str().unwrap();
    f.app
        .post(
            &format!("/api/v1/inspections/{id}/submit"),
            Some(&f.inspector),
            &json!({}),
        )
        .await;
    let items = list(&f, &f.admin, "").await;
    assert_eq!(items.len(), 2, "{items:?}");
    let officials: Vec<&str> = items
        .iter()
        .map(|i| i["official"]["id"].as_str().unwrap())
        .collect();
    assert!(
        officials.contains(&f.officials[2].as_str())
            && officials.contains(&f.officials[3].as_str())
    );
    assert!(items
        .iter()
        .all(|i| i["source"] == "auto" && i["status"] == "open"));
    // Replays of the submission create nothing.
    f.app
        .post(
            &format!("/api/v1/inspections/{id}/submit"),
            Some(&f.inspector),
            &json!({}),
        )
        .await;
    let mut replay = body.clone();
    replay["submit"] = json!(true);
    assert_eq!(f.post_report(&f.inspector, &replay).await.status(), 200);
    assert_eq!(list(&f, &f.admin, "").await.len(), 2);
    // Another report with official 2 absent again: attached to the open follow-up.
    let mut again = f.report();
    again["submit"] = json!(true);
    assert_eq!(f.post_report(&f.inspector, &again).await.status(), 201);
    let items = list(&f, &f.admin, &format!("?official_id={}", f.officials[2])).await;
    assert_eq!(items.len(), 1);
    let full: Value = f
        .app
        .get(
            &format!("/api/v1/follow-ups/{}", items[0]["id"].as_str().unwrap()),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(full["findings"].as_array().unwrap().len(), 2);
    let actions: Vec<&str> = full["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["raise", "attach_findings"]);
    // Low findings and present officials are not flagged.
    assert_eq!(
        list(&f, &f.admin, &format!("?official_id={}", f.officials[0]))
            .await
            .len(),
        0
    );
}

async fn raising_by_hand_checks_the_findings(backend: Backend) {
    let f = Field::new(backend).await;
    let mut draft = f.report();
    draft["findings"][0]["severity"] = json!("low");
    f.post_report(&f.inspector, &draft).await;
    let draft_finding = draft["findings"][0]["id"].clone();
    let problem = assert_problem(
        f.app.post("/api/v1/follow-ups", Some(&f.inspector), &json!({"official_id": f.officials[3], "finding_ids": [draft_finding], "reason": "Sering tidak di meja"})).await,
        422,
    )
    .await;
    assert!(problem["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("not submitted"));
    let id = draft["id"].as_str().unwrap();
    f.app
        .post(
            &format!("/api/v1/inspections/{id}/submit"),
            Some(&f.inspector),
            &json!({}),
        )
        .await;
    // Not about this official; unknown finding; empty reason.
    let wrong =
        json!({"official_id": f.officials[0], "finding_ids": [draft_finding], "reason": "x"});
    assert_problem(
        f.app
            .post("/api/v1/follow-ups", Some(&f.inspector), &wrong)
            .await,
        422,
    )
    .await;
    let unknown = json!({"official_id": f.officials[3], "finding_ids": [uuid::Uuid::new_v4()], "reason": "x"});
    assert_problem(
        f.app
            .post("/api/v1/follow-ups", Some(&f.inspector), &unknown)
            .await,
        422,
    )
    .await;
    let empty =
        json!({"official_id": f.officials[3], "finding_ids": [draft_finding], "reason": "  "});
    assert_problem(
        f.app
            .post("/api/v1/follow-ups", Some(&f.inspector), &empty)
            .await,
        422,
    )
    .await;
    let good = json!({"official_id": f.officials[3], "finding_ids": [draft_finding], "reason": "Bermain gim di jam kerja"});
    let resp = f
        .app
        .post("/api/v1/follow-ups", Some(&f.inspector), &good)
        .await;
    assert_eq!(resp.status(), 201);
    let fu: Value = resp.json().await.unwrap();
    assert_eq!(fu["source"], "manual");
    assert_eq!(fu["findings"].as_array().unwrap().len(), 1);
    assert!(fu["recommendation"]["legal_basis"]
        .as_str()
        .unwrap()
        .contains("PP 94/2021"));
    // Raising again while it is open attaches (nothing new here) and answers 200.
    let resp = f
        .app
        .post("/api/v1/follow-ups", Some(&f.inspector), &good)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["id"], fu["id"]);
}

async fn the_review_follows_the_state_machine(backend: Backend) {
    let f = Field::new(backend).await;
    let mut body = f.report();
    body["submit"] = json!(true);
    f.post_report(&f.inspector, &body).await;
    let supervisor_id = {
        let v: Value = f.app.post("/api/v1/users", Some(&f.admin), &json!({"username": "kabag.a", "full_name": "Kabag A", "role": "supervisor", "password": crate::helpers::PASSWORD})).await.json().await.unwrap();
        v["id"].as_str().unwrap().to_string()
    };
    let supervisor =
        crate::helpers::token_of(&f.app.login_ok("kabag.a", crate::helpers::PASSWORD).await);
    let items = list(&f, &f.admin, &format!("?official_id={}", f.officials[2])).await;
    let id = items[0]["id"].as_str().unwrap().to_string();

    // Moves the state does not allow name the state.
    let problem = assert_problem(
        act(
            &f,
            &supervisor,
            &id,
            json!({"action": "decide", "sanction": "teguran_lisan", "note": "x"}),
        )
        .await,
        409,
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("`open`"));
    assert_problem(
        act(&f, &supervisor, &id, json!({"action": "close"})).await,
        409,
    )
    .await;
    // Assign to a supervisor with a due date; not to an inspector.
    let inspector_id: Value = f
        .app
        .get("/api/v1/me", Some(&f.inspector))
        .await
        .json()
        .await
        .unwrap();
    assert_problem(
        act(
            &f,
            &supervisor,
            &id,
            json!({"action": "assign", "assignee_id": inspector_id["id"]}),
        )
        .await,
        422,
    )
    .await;
    let due = (chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive()
        + chrono::Duration::days(3))
    .to_string();
    let r: Value = act(
        &f,
        &supervisor,
        &id,
        json!({"action": "assign", "assignee_id": supervisor_id, "due_date": due}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r["assignee_id"], json!(supervisor_id));
    assert_eq!(r["due_date"], json!(due));
    assert_eq!(
        act(&f, &supervisor, &id, json!({"action": "start_review"}))
            .await
            .status(),
        200
    );
    assert_problem(
        act(&f, &supervisor, &id, json!({"action": "start_review"})).await,
        409,
    )
    .await;
    // Decide: sanction and note required, sanction from the table.
    assert_problem(
        act(
            &f,
            &supervisor,
            &id,
            json!({"action": "decide", "sanction": "teguran_lisan"}),
        )
        .await,
        422,
    )
    .await;
    assert_problem(
        act(
            &f,
            &supervisor,
            &id,
            json!({"action": "decide", "note": "x"}),
        )
        .await,
        422,
    )
    .await;
    assert_problem(
        act(
            &f,
            &supervisor,
            &id,
            json!({"action": "decide", "sanction": "hukuman_mati", "note": "x"}),
        )
        .await,
        422,
    )
    .await;
    let r: Value = act(&f, &supervisor, &id, json!({"action": "decide", "sanction": "teguran_lisan", "note": "Pertama kali; teguran lisan dinilai cukup."})).await.json().await.unwrap();
    assert_eq!(r["status"], "decided");
    assert_eq!(r["sanction"], "teguran_lisan");
    assert_eq!(r["sanction_label"], "Teguran lisan");
    assert_eq!(r["decided_by"], json!(supervisor_id));
    assert_problem(
        act(
            &f,
            &supervisor,
            &id,
            json!({"action": "dismiss", "note": "x"}),
        )
        .await,
        409,
    )
    .await;
    // Reopen is for admins, with a note.
    assert_problem(
        act(
            &f,
            &supervisor,
            &id,
            json!({"action": "reopen", "note": "Bukti baru"}),
        )
        .await,
        403,
    )
    .await;
    assert_problem(
        act(&f, &f.admin, &id, json!({"action": "reopen"})).await,
        422,
    )
    .await;
    let r: Value = act(
        &f,
        &f.admin,
        &id,
        json!({"action": "reopen", "note": "Bukti baru"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r["status"], "open");
    assert!(r["sanction"].is_null());
    assert_problem(
        act(&f, &supervisor, &id, json!({"action": "dismiss"})).await,
        422,
    )
    .await;
    assert_eq!(
        act(
            &f,
            &supervisor,
            &id,
            json!({"action": "dismiss", "note": "Ternyata cuti resmi"})
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        act(
            &f,
            &supervisor,
            &id,
            json!({"action": "comment", "note": "Dicatat"})
        )
        .await
        .status(),
        200
    );
    let r: Value = f
        .app
        .get(&format!("/api/v1/follow-ups/{id}"), Some(&supervisor))
        .await
        .json()
        .await
        .unwrap();
    let steps: Vec<(String, String, String)> = r["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["action"].as_str().unwrap().to_string(),
                h["from_status"].as_str().unwrap_or("-").to_string(),
                h["to_status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("raise", "-", "open"),
        ("assign", "open", "open"),
        ("start_review", "open", "in_review"),
        ("decide", "in_review", "decided"),
        ("reopen", "decided", "open"),
        ("dismiss", "open", "dismissed"),
        ("comment", "dismissed", "dismissed"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(steps, expected);
    // Stale If-Match.
    let resp = f
        .app
        .client
        .post(f.app.url(&format!("/api/v1/follow-ups/{id}/actions")))
        .bearer_auth(&supervisor)
        .header("if-match", "\"1\"")
        .json(&json!({"action": "comment", "note": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 412).await;
}

async fn concurrent_decisions_never_both_win(backend: Backend) {
    let f = Field::new(backend).await;
    let mut body = f.report();
    body["submit"] = json!(true);
    f.post_report(&f.inspector, &body).await;
    let a = f.app.token_for_role(&f.admin, "supervisor").await;
    let b = f.app.token_for_role(&f.admin, "supervisor").await;
    for official in [&f.officials[2], &f.officials[3]] {
        let id = list(&f, &f.admin, &format!("?official_id={official}")).await[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            act(&f, &a, &id, json!({"action": "start_review"}))
                .await
                .status(),
            200
        );
        let (ra, rb) = tokio::join!(
            act(
                &f,
                &a,
                &id,
                json!({"action": "decide", "sanction": "teguran_lisan", "note": "A memutuskan"})
            ),
            act(
                &f,
                &b,
                &id,
                json!({"action": "decide", "sanction": "teguran_tertulis", "note": "B memutuskan"})
            ),
        );
        let mut statuses = [ra.status().as_u16(), rb.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 409]);
        let r: Value = f
            .app
            .get(&format!("/api/v1/follow-ups/{id}"), Some(&a))
            .await
            .json()
            .await
            .unwrap();
        let decisions = r["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["action"] == "decide")
            .count();
        assert_eq!(decisions, 1);
    }
}

async fn overdue_is_judged_in_local_time(backend: Backend) {
    let f = Field::new(backend).await;
    let mut body = f.report();
    body["submit"] = json!(true);
    f.post_report(&f.inspector, &body).await;
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive();
    let items = list(&f, &f.admin, "").await;
    assert_eq!(items.len(), 2);
    // Set one due yesterday and one due today (local) directly in the database.
    let url = f.app.database_url();
    let (late, on_time) = (
        items[0]["id"].as_str().unwrap().to_string(),
        items[1]["id"].as_str().unwrap().to_string(),
    );
    let (l, o) = (late.clone(), on_time.clone());
    tokio::task::spawn_blocking(move || {
        use diesel::prelude::*;
        use sidak::db::schema::follow_ups::dsl::*;
        let manager = sidak::db::ConnectionManager::new(
            sidak::db::DatabaseUrl::parse(&url).unwrap(),
            sidak::db::SqliteSynchronous::Full,
        );
        let mut conn = manager.establish().unwrap();
        diesel::update(follow_ups.filter(id.eq(l)))
            .set(due_date.eq(today - chrono::Duration::days(1)))
            .execute(&mut conn)
            .unwrap();
        diesel::update(follow_ups.filter(id.eq(o)))
            .set(due_date.eq(today))
            .execute(&mut conn)
            .unwrap();
    })
    .await
    .unwrap();
    let overdue = list(&f, &f.admin, "?overdue=true").await;
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0]["id"], json!(late));
    assert_eq!(overdue[0]["overdue"], true);
    let r: Value = f
        .app
        .get(&format!("/api/v1/follow-ups/{on_time}"), Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["overdue"], false);
    // Dismissed ones are never overdue.
    act(
        &f,
        &f.admin,
        &late,
        json!({"action": "dismiss", "note": "Salah input"}),
    )
    .await;
    assert!(list(&f, &f.admin, "?overdue=true").await.is_empty());
}

async fn the_recommendation_counts_days_once(backend: Backend) {
    let f = Field::new(backend).await;
    // Four inspections: two on Tuesday 3 November 2026, then Wednesday and Thursday;
    // official 2 absent each time, official 1 25 minutes late (all after 08:00, so the
    // lateness is possible).
    let days = ["2026-11-03", "2026-11-04", "2026-11-05"];
    for at in [
        "2026-11-03T09:00:00+07:00",
        "2026-11-03T10:30:00+07:00",
        "2026-11-04T09:00:00+07:00",
        "2026-11-05T09:00:00+07:00",
    ] {
        let mut body = f.report();
        body["started_at"] = json!(at);
        body["findings"] = json!([]);
        body["submit"] = json!(true);
        assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    }
    let items = list(&f, &f.admin, &format!("?official_id={}", f.officials[2])).await;
    assert_eq!(items.len(), 1);
    let r: Value = f
        .app
        .get(
            &format!("/api/v1/follow-ups/{}", items[0]["id"].as_str().unwrap()),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let rec = &r["recommendation"];
    assert_eq!(rec["unexcused_absence_days"], days.len(), "{rec}");
    assert_eq!(r["findings"].as_array().unwrap().len(), 4);
    // Official 1 was 25 minutes late at each sidak: counted once per working day.
    let record: Value = f
        .app
        .get(
            &format!("/api/v1/officials/{}/record?year=2026", f.officials[1]),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        record["recommendation"]["late_minutes"],
        25 * days.len(),
        "{days:?} {record}"
    );
    assert_eq!(record["recommendation"]["late_days"], 0);
    assert_eq!(record["recommendation"]["sanction"], "none");
    let record: Value = f
        .app
        .get(
            &format!("/api/v1/officials/{}/record?year=2026", f.officials[2]),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(record["findings"].as_array().unwrap().len(), 4);
    assert_eq!(record["follow_ups"].as_array().unwrap().len(), 1);
    assert_eq!(record["findings"][0]["official_opd_id"], json!(f.opd));
    if days.len() >= 3 {
        assert_eq!(rec["sanction"], "teguran_lisan");
        assert_eq!(rec["level"], "ringan");
    }
    let last_year: Value = f
        .app
        .get(
            &format!("/api/v1/officials/{}/record?year=2001", f.officials[2]),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(last_year["recommendation"]["unexcused_absence_days"], 0);
    assert_problem(
        f.app
            .get(
                &format!("/api/v1/officials/{}/record?year=20000", f.officials[2]),
                Some(&f.admin),
            )
            .await,
        422,
    )
    .await;
}

async fn follow_up_roles(backend: Backend) {
    let f = Field::new(backend).await;
    let mut body = f.report();
    body["submit"] = json!(true);
    f.post_report(&f.inspector, &body).await;
    let id = list(&f, &f.admin, "").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/follow-ups/{id}");
    let viewer = f.app.token_for_role(&f.admin, "viewer").await;
    assert_problem(f.app.get("/api/v1/follow-ups", Some(&viewer)).await, 403).await;
    assert_problem(f.app.get(&path, Some(&viewer)).await, 403).await;
    assert_problem(
        act(&f, &viewer, &id, json!({"action": "comment", "note": "x"})).await,
        403,
    )
    .await;
    assert_problem(
        f.app
            .get(
                &format!("/api/v1/officials/{}/record", f.officials[2]),
                Some(&viewer),
            )
            .await,
        403,
    )
    .await;
    assert_problem(
        f.app
            .get(
                &format!("/api/v1/officials/{}/record", f.officials[2]),
                Some(&f.inspector),
            )
            .await,
        403,
    )
    .await;
    // The inspector whose submission raised it reads it and may comment, not review.
    assert_eq!(f.app.get(&path, Some(&f.inspector)).await.status(), 200);
    assert_eq!(list(&f, &f.inspector, "").await.len(), 2);
    assert_eq!(
        act(
            &f,
            &f.inspector,
            &id,
            json!({"action": "comment", "note": "Sudah dikonfirmasi ke atasan"})
        )
        .await
        .status(),
        200
    );
    assert_problem(
        act(&f, &f.inspector, &id, json!({"action": "start_review"})).await,
        403,
    )
    .await;
    // Another inspector knows nothing of it.
    assert_problem(f.app.get(&path, Some(&f.other_inspector)).await, 404).await;
    assert_problem(
        act(
            &f,
            &f.other_inspector,
            &id,
            json!({"action": "comment", "note": "x"}),
        )
        .await,
        404,
    )
    .await;
    assert!(list(&f, &f.other_inspector, "").await.is_empty());
    assert_problem(
        f.app
            .get(
                &format!("/api/v1/follow-ups/{}", uuid::Uuid::new_v4()),
                Some(&f.admin),
            )
            .await,
        404,
    )
    .await;
}

async fn a_run_of_absences_over_the_new_year_stops_the_salary(backend: Backend) {
    let f = Field::new(backend).await;
    // Ten working days from Monday 22 December 2025, official 2 absent without excuse at
    // each sidak (08:00 WIB). Christmas, the cuti bersama of 26 December and New Year's Day
    // are holidays in the shipped calendar: they neither count nor break the run, which
    // ends on Wednesday 7 January 2026.
    let mut holidays = std::collections::BTreeSet::new();
    for year in [2025, 2026] {
        let list: Value = f
            .app
            .get(&format!("/api/v1/holidays?year={year}"), Some(&f.admin))
            .await
            .json()
            .await
            .unwrap();
        for h in list["items"].as_array().unwrap() {
            holidays.insert(
                h["date"]
                    .as_str()
                    .unwrap()
                    .parse::<chrono::NaiveDate>()
                    .unwrap(),
            );
        }
    }
    for d in ["2025-12-25", "2025-12-26", "2026-01-01"] {
        assert!(holidays.contains(&d.parse().unwrap()), "{d}");
    }
    let mut days = Vec::new();
    let mut day = chrono::NaiveDate::from_ymd_opt(2025, 12, 22).unwrap();
    while days.len() < 10 {
        let weekend = matches!(
            chrono::Datelike::weekday(&day),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        );
        if !weekend && !holidays.contains(&day) {
            days.push(day);
        }
        day = day.succ_opt().unwrap();
    }
    assert_eq!(
        days[9],
        chrono::NaiveDate::from_ymd_opt(2026, 1, 7).unwrap()
    );
    for d in &days {
        let mut body = f.report();
        body["started_at"] = json!(format!("{d}T08:00:00+07:00"));
        body["findings"] = json!([]);
        body["submit"] = json!(true);
        assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    }
    for year in [2025, 2026] {
        let record: Value = f
            .app
            .get(
                &format!("/api/v1/officials/{}/record?year={year}", f.officials[2]),
                Some(&f.admin),
            )
            .await
            .json()
            .await
            .unwrap();
        let rec = &record["recommendation"];
        assert_eq!(
            rec["longest_consecutive_absence_working_days"], 10,
            "{year}: {rec}"
        );
        assert_eq!(rec["sanction"], "pemberhentian", "{year}");
        // The tenth day is 7 January 2026: no salary from February.
        assert_eq!(rec["salary_stops_from"], "2026-02-01", "{year}");
        let days_in_year = days
            .iter()
            .filter(|d| chrono::Datelike::year(*d) == year)
            .count();
        assert_eq!(rec["unexcused_absence_days"], days_in_year, "{year}");
        assert!(rec["legal_basis"]
            .as_str()
            .unwrap()
            .contains("konfirmasi dengan data presensi"));
    }
}
