//! Positions and who decides: the functional grade on a placement, acting posts (Plt, Plh)
//! kept on findings, the competent official named by the recommendation (PP 94/2021
//! Bab IV, configurable), and the decree a berat decision records.

use serde_json::{json, Value};

use crate::both_backends;
use crate::discipline::{recommendation, report_at, seen};
use crate::helpers::{assert_problem, Backend};
use crate::inspections::Field;

both_backends!(
    the_competent_official_follows_position_and_level,
    a_city_replaces_a_competent_official,
    grades_are_recorded_and_promotions_are_transfers,
    acting_posts_are_kept_on_findings,
    two_admins_record_acting_posts_at_once,
    a_berat_decision_records_its_decree,
);

/// Absent without excuse on each of `days` (November 2026, 09:00 WIB).
async fn absent_on(f: &Field, official: &str, days: &[u32]) {
    for day in days {
        report_at(
            f,
            &format!("2026-11-{day:02}T09:00:00+07:00"),
            json!([seen(official, "absent_unexcused", json!({}))]),
            json!([]),
        )
        .await;
    }
}

async fn patch_official(f: &Field, official: &str, body: Value) -> reqwest::Response {
    f.app
        .patch(
            &format!("/api/v1/officials/{official}"),
            Some(&f.admin),
            &body,
        )
        .await
}

/// `POST path body` as an admin is `422` on `field`.
async fn refused(f: &Field, path: &str, body: Value, field: &str) {
    let p = assert_problem(f.app.post(path, Some(&f.admin), &body).await, 422).await;
    assert_eq!(p["errors"][0]["field"], field, "{body}: {p}");
}

/// Today's date in WIB, the server's zone.
fn today_wib() -> chrono::NaiveDate {
    let wib = chrono::FixedOffset::east_opt(7 * 3600).unwrap();
    chrono::Utc::now().with_timezone(&wib).date_naive()
}

async fn the_competent_official_follows_position_and_level(backend: Backend) {
    let f = Field::new(backend).await;
    // A pelaksana absent on three working days: teguran lisan, from the pejabat pengawas
    // one level up.
    let o = &f.officials[0];
    absent_on(&f, o, &[2, 4, 6]).await;
    let rec = recommendation(&f, o, 2026).await;
    assert_eq!(rec["sanction"], "teguran_lisan", "{rec}");
    let who = &rec["competent_official"];
    assert_eq!(who["authority"], "pejabat_pengawas", "{rec}");
    assert_eq!(who["post"], "pelaksana");
    assert!(
        who["basis"].as_str().unwrap().contains("PP 94/2021"),
        "{who}"
    );
    assert!(!who["title"].as_str().unwrap().is_empty());

    // Ten working days in a row: dismissal, by the Wali Kota as PPK.
    let o = &f.officials[1];
    absent_on(&f, o, &[2, 3, 4, 5, 6, 9, 10, 11, 12, 13]).await;
    let rec = recommendation(&f, o, 2026).await;
    assert_eq!(rec["sanction"], "pemberhentian", "{rec}");
    assert_eq!(rec["competent_official"]["authority"], "ppk", "{rec}");

    // Nothing to impose: nobody named.
    let rec = recommendation(&f, &f.officials[3], 2026).await;
    assert_eq!(rec["sanction"], "none");
    assert_eq!(rec["competent_official"], Value::Null, "{rec}");

    // Moved to a functional position without its grade: the official cannot be named, and
    // the official's record says why.
    let o = &f.officials[0];
    let resp = patch_official(
        &f,
        o,
        json!({"position_kind": "fungsional", "position_title": "Pranata Komputer",
               "effective_from": "2026-11-09"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let warnings = body["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{body}");
    assert!(warnings[0].as_str().unwrap().contains("jf_grade"), "{body}");
    let rec = recommendation(&f, o, 2026).await;
    assert_eq!(rec["sanction"], "teguran_lisan");
    assert_eq!(rec["competent_official"], Value::Null, "{rec}");

    // With the grade recorded: an ahli muda is the kepala OPD's for a ringan sanction.
    let resp = patch_official(&f, o, json!({"jf_grade": "ahli_muda"})).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["warnings"], json!([]), "{body}");
    let rec = recommendation(&f, o, 2026).await;
    assert_eq!(
        rec["competent_official"]["authority"], "kepala_opd",
        "{rec}"
    );
    assert_eq!(rec["competent_official"]["post"], "ahli_muda");
}

async fn a_city_replaces_a_competent_official(backend: Backend) {
    let f = Field::with(
        backend,
        &[(
            "SIDAK_COMPETENT_OFFICIALS",
            "pelaksana:ringan=kepala_opd, pelaksana:pemberhentian=ppk",
        )],
    )
    .await;
    let o = &f.officials[0];
    absent_on(&f, o, &[2, 4, 6]).await;
    let rec = recommendation(&f, o, 2026).await;
    let who = &rec["competent_official"];
    assert_eq!(who["authority"], "kepala_opd", "{rec}");
    assert!(
        who["basis"]
            .as_str()
            .unwrap()
            .contains("SIDAK_COMPETENT_OFFICIALS"),
        "{who}"
    );
}

async fn grades_are_recorded_and_promotions_are_transfers(backend: Backend) {
    let f = Field::new(backend).await;
    let create = |body: Value| {
        let (app, admin) = (&f.app, f.admin.clone());
        async move { app.post("/api/v1/officials", Some(&admin), &body).await }
    };
    // A grade belongs to a functional position only.
    let p = assert_problem(
        create(
            json!({"nip": "198001012005011003", "full_name": "Rina", "employment_type": "pns",
                      "position_title": "Staf", "position_kind": "pelaksana", "jf_grade": "mahir",
                      "opd_id": f.opd, "effective_from": "2024-01-02"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "jf_grade", "{p}");
    let resp = create(
        json!({"nip": "198001012005011003", "full_name": "Rina", "employment_type": "pns",
               "position_title": "Perawat", "position_kind": "fungsional", "jf_grade": "terampil",
               "opd_id": f.opd, "effective_from": "2024-01-02"}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["current_assignment"]["jf_grade"], "terampil", "{body}");
    assert_eq!(body["warnings"], json!([]));
    let id = body["id"].as_str().unwrap().to_string();

    // Another grade is a promotion: a new placement from the given date.
    let resp = patch_official(
        &f,
        &id,
        json!({"jf_grade": "mahir", "effective_from": "2026-01-05"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let placements = body["assignments"].as_array().unwrap();
    assert_eq!(placements.len(), 2, "{body}");
    assert_eq!(placements[0]["jf_grade"], "terampil");
    assert_eq!(placements[0]["effective_to"], "2026-01-05");
    assert_eq!(placements[1]["jf_grade"], "mahir");
    // A recorded grade is not removed while the position is functional.
    let p = assert_problem(
        patch_official(&f, &id, json!({"jf_grade": null})).await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "jf_grade", "{p}");
    // Leaving the functional position drops the grade.
    let resp = patch_official(
        &f,
        &id,
        json!({"position_kind": "pelaksana", "position_title": "Staf", "effective_from": "2026-02-02"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["current_assignment"]["jf_grade"],
        Value::Null,
        "{body}"
    );

    // A PPPK in a pengawas post is taken, with a warning citing UU 20/2023.
    let resp = create(
        json!({"nip": "199505052023211001", "full_name": "Hendra", "employment_type": "pppk",
               "rank": "IX", "position_title": "Kepala Seksi", "position_kind": "pengawas",
               "opd_id": f.opd, "effective_from": "2024-01-02"}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    let warnings = body["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{body}");
    assert!(
        warnings[0].as_str().unwrap().contains("UU 20/2023"),
        "{body}"
    );

    // The CSV import takes the grade, fills one that was not recorded without a new
    // placement, and reports the same warnings by line.
    let resp = create(
        json!({"nip": "198202022006022004", "full_name": "Dewi", "employment_type": "pns",
               "position_title": "Analis Kebijakan", "position_kind": "fungsional",
               "opd_id": f.opd, "effective_from": "2024-01-02"}),
    )
    .await;
    assert_eq!(resp.status(), 201);
    let dewi = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let csv = "nip,full_name,employment_type,position_title,position_kind,opd_code,effective_from,jf_grade\n\
               198202022006022004,Dewi,pns,Analis Kebijakan,fungsional,DINKES,,ahli_pertama\n\
               199606062023212002,Sari,pppk,Kepala Subbagian Umum,pengawas,DINKES,2025-03-01,\n\
               198303032007031005,Budi,pns,Pranata Komputer,fungsional,DINKES,2025-03-01,ahli_tertinggi\n";
    let import = |csv: String| {
        let (app, admin) = (&f.app, f.admin.clone());
        async move {
            app.client
                .post(app.url("/api/v1/officials/import"))
                .bearer_auth(admin)
                .header("Content-Type", "text/csv")
                .body(csv)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let report = import(csv.to_string()).await;
    assert_eq!(report["applied"], false, "{report}");
    assert_eq!(report["errors"][0]["line"], 4, "{report}");
    assert!(report["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("jf_grade"));
    let report = import(csv.lines().take(3).collect::<Vec<_>>().join("\n")).await;
    assert_eq!(report["applied"], true, "{report}");
    assert_eq!(
        (&report["created"], &report["updated"]),
        (&json!(1), &json!(1))
    );
    let warnings = report["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{report}");
    assert_eq!(warnings[0]["line"], 3);
    let body: Value = f
        .app
        .get(&format!("/api/v1/officials/{dewi}"), Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["assignments"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["current_assignment"]["jf_grade"], "ahli_pertama");
    assert_eq!(body["current_assignment"]["effective_from"], "2024-01-02");
}

async fn acting_posts_are_kept_on_findings(backend: Backend) {
    let f = Field::new(backend).await;
    let o = f.officials[0].clone();
    let acting_path = format!("/api/v1/officials/{o}/acting");
    let plt = json!({"kind": "plt", "opd_id": f.opd, "position_title": "Plt. Kepala Bidang Pelayanan",
                     "position_kind": "administrator", "effective_from": "2026-11-02"});
    // Admins only.
    assert_problem(
        f.app.post(&acting_path, Some(&f.inspector), &plt).await,
        403,
    )
    .await;
    let resp = f.app.post(&acting_path, Some(&f.admin), &plt).await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    let posts = body["acting_assignments"].as_array().unwrap();
    assert_eq!(posts.len(), 1, "{body}");
    assert_eq!(posts[0]["kind"], "plt");
    assert_eq!(posts[0]["effective_to"], Value::Null);
    let acting_id = posts[0]["id"].as_str().unwrap().to_string();
    // The definitive placement stays as it was.
    assert_eq!(body["current_assignment"]["position_kind"], "pelaksana");
    assert_eq!(body["assignments"].as_array().unwrap().len(), 1);

    // Findings while the post is held keep both posts; before it, only the definitive one.
    let r = report_at(
        &f,
        "2026-11-02T09:00:00+07:00",
        json!([seen(&o, "absent_unexcused", json!({}))]),
        json!([{"id": uuid::Uuid::new_v4(), "official_id": o, "category": "administrative",
                "severity": "medium", "description": "Disposisi menumpuk"}]),
    )
    .await;
    let findings = r["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{r}");
    for finding in findings {
        assert_eq!(finding["official_position_kind"], "pelaksana", "{finding}");
        let acting = &finding["official_acting"];
        assert_eq!(acting["id"], acting_id.as_str(), "{finding}");
        assert_eq!(acting["kind"], "plt");
        assert_eq!(acting["position_kind"], "administrator");
        assert_eq!(acting["position_title"], "Plt. Kepala Bidang Pelayanan");
    }
    let r = report_at(
        &f,
        "2026-10-30T09:00:00+07:00",
        json!([seen(&o, "absent_unexcused", json!({}))]),
        json!([]),
    )
    .await;
    assert_eq!(r["findings"][0]["official_acting"], Value::Null, "{r}");

    // The end may not cut off a day a finding recorded the post.
    let end_path = format!("{acting_path}/{acting_id}/end");
    refused(
        &f,
        &end_path,
        json!({"effective_to": "2026-11-02"}),
        "effective_to",
    )
    .await;
    let resp = f
        .app
        .post(
            &end_path,
            Some(&f.admin),
            &json!({"effective_to": "2026-11-03"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["acting_assignments"][0]["effective_to"], "2026-11-03");
    // Ended is ended; an unknown post is not found.
    assert_problem(f.app.post(&end_path, Some(&f.admin), &json!({})).await, 409).await;
    assert_problem(
        f.app
            .post(
                &format!("{acting_path}/{}/end", uuid::Uuid::new_v4()),
                Some(&f.admin),
                &json!({}),
            )
            .await,
        404,
    )
    .await;

    // One acting post at a time; the end comes after the start.
    let plh = |from: &str, to: Value| {
        json!({"kind": "plh", "opd_id": f.opd, "position_title": "Plh. Sekretaris Dinas",
               "position_kind": "administrator", "effective_from": from, "effective_to": to})
    };
    refused(
        &f,
        &acting_path,
        plh("2026-11-02", json!(null)),
        "effective_from",
    )
    .await;
    refused(
        &f,
        &acting_path,
        plh("2026-11-03", json!("2026-11-03")),
        "effective_to",
    )
    .await;
    let resp = f
        .app
        .post(
            &acting_path,
            Some(&f.admin),
            &plh("2026-11-03", json!("2026-11-07")),
        )
        .await;
    assert_eq!(resp.status(), 201);

    // Audited.
    let audit: Value = f
        .app
        .get(
            &format!("/api/v1/audit?entity=official&entity_id={o}"),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "official.acting_start")
            .count(),
        2,
        "{actions:?}"
    );
    assert!(actions.contains(&"official.acting_end"), "{actions:?}");

    // A PPPK as Plt of an administrator post is taken with a warning.
    let resp = f
        .app
        .post(
            "/api/v1/officials",
            Some(&f.admin),
            &json!({"nip": "199505052023211001", "full_name": "Hendra", "employment_type": "pppk",
                    "rank": "IX", "position_title": "Analis", "position_kind": "fungsional",
                    "jf_grade": "ahli_pertama", "opd_id": f.opd, "effective_from": "2024-01-02"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let pppk = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = f
        .app
        .post(
            &format!("/api/v1/officials/{pppk}/acting"),
            Some(&f.admin),
            &json!({"kind": "plt", "opd_id": f.opd, "position_title": "Plt. Kepala Bidang",
                    "position_kind": "administrator", "effective_from": "2026-11-02"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    let warnings = body["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{body}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .starts_with("Acting post (plt)"),
        "{body}"
    );
}

async fn two_admins_record_acting_posts_at_once(backend: Backend) {
    let f = Field::new(backend).await;
    let o = f.officials[2].clone();
    let path = format!("/api/v1/officials/{o}/acting");
    let bodies: Vec<Value> = (0..6)
        .map(|i| {
            json!({"kind": "plh", "opd_id": f.opd, "position_title": format!("Plh. Kepala Seksi {i}"),
                   "position_kind": "pengawas", "effective_from": format!("2026-11-{:02}", 2 + i)})
        })
        .collect();
    let answers = futures_util::future::join_all(bodies.iter().map(|body| {
        let (app, admin, path) = (&f.app, f.admin.clone(), path.clone());
        async move { app.post(&path, Some(&admin), body).await.status().as_u16() }
    }))
    .await;
    let mut statuses = answers;
    statuses.sort();
    assert_eq!(statuses, vec![201, 422, 422, 422, 422, 422]);
    let body: Value = f
        .app
        .get(&format!("/api/v1/officials/{o}"), Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["acting_assignments"].as_array().unwrap().len(),
        1,
        "{body}"
    );
}

async fn a_berat_decision_records_its_decree(backend: Backend) {
    let f = Field::new(backend).await;
    let o = &f.officials[1];
    absent_on(&f, o, &[2, 3, 4, 5, 6, 9, 10, 11, 12, 13]).await;
    let list: Value = f
        .app
        .get(
            &format!("/api/v1/follow-ups?official_id={o}"),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = list["items"][0]["id"].as_str().unwrap().to_string();
    let supervisor = f.app.token_for_role(&f.admin, "supervisor").await;
    let act = |body: Value| {
        let (app, path, token) = (
            &f.app,
            format!("/api/v1/follow-ups/{id}/actions"),
            supervisor.clone(),
        );
        async move { app.post(&path, Some(&token), &body).await }
    };
    // The decree belongs to a decision only.
    let p = assert_problem(
        act(json!({"action": "comment", "note": "Dicatat", "decree_number": "800/1"})).await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "decree_number", "{p}");
    assert_eq!(act(json!({"action": "start_review"})).await.status(), 200);
    let today = today_wib();
    let decide = |decree: Value| {
        let mut body = json!({"action": "decide", "sanction": "pemberhentian", "note": "Putusan"});
        if let (Some(b), Some(d)) = (body.as_object_mut(), decree.as_object()) {
            b.extend(d.clone());
        }
        body
    };
    for (decree, fields) in [
        (json!({}), vec!["decree_number", "decree_date"]),
        (
            json!({"decree_number": "800/12/BKPSDM/2026"}),
            vec!["decree_date"],
        ),
        (
            json!({"decree_number": "800/12/BKPSDM/2026",
                   "decree_date": (today + chrono::Duration::days(1)).to_string()}),
            vec!["decree_date"],
        ),
        (
            json!({"decree_number": "800/12/BKPSDM/2026", "decree_date": "2026-01-05"}),
            vec!["decree_date"],
        ),
        (
            json!({"decree_number": "  ", "decree_date": today.to_string()}),
            vec!["decree_number"],
        ),
    ] {
        let p = assert_problem(act(decide(decree.clone())).await, 422).await;
        let got: Vec<&str> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(got, fields, "{decree}: {p}");
    }
    // Nothing was decided by the refused attempts.
    let fu: Value = f
        .app
        .get(&format!("/api/v1/follow-ups/{id}"), Some(&supervisor))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fu["status"], "in_review", "{fu}");
    assert_eq!(fu["decree"], Value::Null);

    let resp = act(decide(json!({"decree_number": " 800/12/BKPSDM/2026 ",
                                 "decree_date": today.to_string()})))
    .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let fu: Value = resp.json().await.unwrap();
    assert_eq!(fu["status"], "decided");
    let expected = json!({"number": "800/12/BKPSDM/2026", "date": today.to_string()});
    assert_eq!(fu["decree"], expected, "{fu}");
    let decided = fu["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["action"] == "decide")
        .unwrap();
    assert_eq!(decided["decree"], expected, "{decided}");

    // Reopened, the decision and its decree are gone from the follow-up; the history keeps
    // them.
    let resp = f
        .app
        .post(
            &format!("/api/v1/follow-ups/{id}/actions"),
            Some(&f.admin),
            &json!({"action": "reopen", "note": "Keberatan dikabulkan"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let fu: Value = resp.json().await.unwrap();
    assert_eq!(fu["decree"], Value::Null, "{fu}");
    assert!(fu["history"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["decree"] == expected));
}
