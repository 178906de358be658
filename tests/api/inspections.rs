//! Inspection reports: whole reports, replays, validation, drafts, visibility.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{assert_problem, Backend, TestApp};
use crate::imports::nip_for;

both_backends!(
    a_whole_report_is_stored_and_replays_are_recognised,
    concurrent_identical_posts_store_one_report,
    reports_racing_a_deactivation_are_stored_only_before_it,
    reference_changes_reach_reports_in_every_process,
    a_bad_row_writes_nothing,
    reports_are_validated,
    geofence_marks_but_never_refuses,
    findings_keep_the_placement_of_their_day,
    a_report_and_its_rows_stay_on_one_day,
    a_transfer_does_not_rewrite_what_was_recorded,
    drafts_edit_with_if_match_and_submit_locks,
    others_drafts_are_invisible,
    reports_are_listed_newest_first,
    listed_counts_follow_the_rows,
);

/// An OPD with coordinates, officials placed there since 2024, and field users.
pub struct Field {
    pub app: TestApp,
    pub admin: String,
    pub inspector: String,
    pub other_inspector: String,
    pub opd: String,
    pub officials: Vec<String>,
}

impl Field {
    pub async fn new(backend: Backend) -> Field {
        Self::with(backend, &[]).await
    }

    pub async fn with(backend: Backend, settings: &[(&str, &str)]) -> Field {
        let app = TestApp::spawn_with(backend, settings).await;
        let admin = app.admin_token().await;
        let resp = app
            .post(
                "/api/v1/opds",
                Some(&admin),
                &json!({"code": "DINKES", "name": "Dinas Kesehatan", "kind": "dinas",
                        "latitude": -6.1170, "longitude": 106.1530, "geofence_radius_m": 150}),
            )
            .await;
        let opd = resp.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut officials = Vec::new();
        for i in 0..4 {
            let resp = app
                .post(
                    "/api/v1/officials",
                    Some(&admin),
                    &json!({"nip": nip_for(i), "full_name": format!("Pegawai {i}"), "employment_type": "pns",
                            "position_title": "Staf", "position_kind": "pelaksana", "opd_id": opd,
                            "effective_from": "2024-01-02"}),
                )
                .await;
            assert_eq!(resp.status(), 201);
            officials.push(
                resp.json::<Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        let inspector = app.token_for_role(&admin, "inspector").await;
        let other_inspector = app.token_for_role(&admin, "inspector").await;
        Field {
            app,
            admin,
            inspector,
            other_inspector,
            opd,
            officials,
        }
    }

    /// A report from the OPD's door, an hour ago.
    pub fn report(&self) -> Value {
        let started = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
        json!({
            "id": uuid::Uuid::new_v4(),
            "opd_id": self.opd,
            "started_at": started,
            "notes": "Sidak pagi",
            "location": {"latitude": -6.1171, "longitude": 106.1531, "accuracy_m": 8.5},
            "attendance": [
                {"id": uuid::Uuid::new_v4(), "official_id": self.officials[0], "status": "present"},
                {"id": uuid::Uuid::new_v4(), "official_id": self.officials[1], "status": "late", "minutes_late": 25},
                {"id": uuid::Uuid::new_v4(), "official_id": self.officials[2], "status": "absent_unexcused", "note": "Tidak ada kabar"}
            ],
            "findings": [
                {"id": uuid::Uuid::new_v4(), "official_id": self.officials[3], "category": "idle", "severity": "high",
                 "description": "Bermain gim di jam kerja"},
                {"id": uuid::Uuid::new_v4(), "category": "facility", "severity": "low", "description": "Antrean tanpa nomor"}
            ]
        })
    }

    pub async fn post_report(&self, token: &str, body: &Value) -> reqwest::Response {
        self.app
            .post("/api/v1/inspections", Some(token), body)
            .await
    }

    /// The report `id` was not stored: an admin reading it gets `404`.
    pub async fn assert_not_stored(&self, id: &str) {
        assert_problem(
            self.app
                .get(&format!("/api/v1/inspections/{id}"), Some(&self.admin))
                .await,
            404,
        )
        .await;
    }
}

async fn a_whole_report_is_stored_and_replays_are_recognised(backend: Backend) {
    let f = Field::new(backend).await;
    let body = f.report();
    let resp = f.post_report(&f.inspector, &body).await;
    assert_eq!(resp.status(), 201);
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let stored: Value = resp.json().await.unwrap();
    assert_eq!(stored["status"], "draft");
    assert!(stored["inspector"]["username"]
        .as_str()
        .unwrap()
        .starts_with("inspector-"));
    assert_eq!(stored["opd_code"], "DINKES");
    assert_eq!(stored["attendance"].as_array().unwrap().len(), 3);
    // Two findings sent, one absence derived from attendance.
    let findings = stored["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 3);
    let absence: Vec<&Value> = findings
        .iter()
        .filter(|x| x["source"] == "attendance")
        .collect();
    assert_eq!(absence.len(), 1);
    assert_eq!(absence[0]["category"], "absence");
    assert_eq!(absence[0]["official_id"], json!(f.officials[2]));
    assert!(stored["distance_m"].as_f64().unwrap() < 20.0);
    assert_eq!(stored["within_geofence"], true);
    assert!(stored["submitted_at"].is_null());

    // The same report again — other key order, another offset for the same instant.
    let mut replay = body.clone();
    let started =
        chrono::DateTime::parse_from_rfc3339(body["started_at"].as_str().unwrap()).unwrap();
    replay["started_at"] = json!(started
        .with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).unwrap())
        .to_rfc3339());
    let text = serde_json::to_string(&replay).unwrap();
    let resp = f
        .app
        .client
        .post(f.app.url("/api/v1/inspections"))
        .bearer_auth(&f.inspector)
        .header("content-type", "application/json")
        .body(format!("  {text}  "))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(resp.json::<Value>().await.unwrap(), stored);

    // Same id, different content → 409, nothing changed.
    let mut changed = body.clone();
    changed["notes"] = json!("Sidak sore");
    let problem = assert_problem(f.post_report(&f.inspector, &changed).await, 409).await;
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("different content"));
    // Same body from another inspector → 409.
    assert_problem(f.post_report(&f.other_inspector, &body).await, 409).await;
    // A row id that belongs to another report → 409, naming the row; also across the
    // two tables (an attendance row with a stored finding's id).
    for (path, taken) in [
        ("findings[0].id", body["findings"][0]["id"].clone()),
        ("attendance[0].id", body["attendance"][1]["id"].clone()),
        ("attendance[2].id", body["findings"][1]["id"].clone()),
    ] {
        let mut other = f.report();
        let (list, i) = path.split_once('[').unwrap();
        let i: usize = i[..1].parse().unwrap();
        other[list][i]["id"] = taken;
        let problem = assert_problem(f.post_report(&f.inspector, &other).await, 409).await;
        assert!(
            problem["detail"].as_str().unwrap().starts_with(path),
            "{path}: {problem}"
        );
        f.assert_not_stored(other["id"].as_str().unwrap()).await;
    }

    let now: Value = f
        .app
        .get(
            &format!("/api/v1/inspections/{}", body["id"].as_str().unwrap()),
            Some(&f.inspector),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now, stored);

    // A replay with `submit: true` submits the stored draft.
    let mut submit = body.clone();
    submit["submit"] = json!(true);
    let resp = f.post_report(&f.inspector, &submit).await;
    assert_eq!(resp.status(), 200);
    let submitted: Value = resp.json().await.unwrap();
    assert_eq!(submitted["status"], "submitted");
    assert!(submitted["submitted_at"].is_string());
}

async fn concurrent_identical_posts_store_one_report(backend: Backend) {
    let f = Field::new(backend).await;
    for _ in 0..2 {
        let body = f.report();
        let posts = (0..8).map(|_| f.post_report(&f.inspector, &body));
        let responses = futures_util::future::join_all(posts).await;
        let mut statuses = Vec::new();
        let mut bodies = Vec::new();
        for r in responses {
            statuses.push(r.status().as_u16());
            bodies.push(r.json::<Value>().await.unwrap());
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == 201).count(),
            1,
            "{statuses:?}"
        );
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 201),
            "{statuses:?}"
        );
        assert!(
            bodies.iter().all(|b| *b == bodies[0]),
            "all answers carry the same report"
        );
    }
    let list: Value = f
        .app
        .get("/api/v1/inspections", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

/// The seq of the audit entry `action` about `entity`/`id`, if there is one.
async fn audit_seq(f: &Field, entity: &str, id: &str, action: &str) -> Option<i64> {
    let page: Value = f
        .app
        .get(
            &format!("/api/v1/audit?entity={entity}&entity_id={id}&limit=200"),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == action)
        .filter_map(|e| e["seq"].as_i64())
        .max()
}

/// A report is checked against the reference data as it stands when the report is written:
/// while reports are being posted, the OPD is deactivated, and every report stored was
/// written before the deactivation (its audit entry comes first); the others are refused
/// and leave nothing. On PostgreSQL a report is built before the write lock and written as
/// built only if no reference data changed meanwhile, which this race exercises.
async fn reports_racing_a_deactivation_are_stored_only_before_it(backend: Backend) {
    let f = Field::new(backend).await;
    let opd_path = format!("/api/v1/opds/{}", f.opd);
    let (mut stored, mut refused) = (0, 0);
    // The deactivation is sent from 20 ms before the reports to 200 ms after them, so that
    // over the rounds both outcomes occur however busy the machine is (one run under load
    // found every report stored when the deactivation only ever came after them).
    for offset in [-20i64, -2, 1, 8, 40, 200] {
        let resp = f
            .app
            .patch(&opd_path, Some(&f.admin), &json!({"active": true}))
            .await;
        assert_eq!(resp.status(), 200);
        let bodies: Vec<Value> = (0..16).map(|_| f.report()).collect();
        let later =
            |ms: i64| tokio::time::sleep(std::time::Duration::from_millis(ms.max(0) as u64));
        let posts = async {
            later(-offset).await;
            futures_util::future::join_all(bodies.iter().map(|b| f.post_report(&f.inspector, b)))
                .await
        };
        let deactivate = async {
            later(offset).await;
            f.app
                .patch(&opd_path, Some(&f.admin), &json!({"active": false}))
                .await
        };
        let (responses, deactivated) = futures_util::future::join(posts, deactivate).await;
        assert_eq!(deactivated.status(), 200);
        let deactivated_at = audit_seq(&f, "opd", &f.opd, "opd.update")
            .await
            .expect("the deactivation is audited");
        for (body, resp) in bodies.iter().zip(responses) {
            let id = body["id"].as_str().unwrap();
            match resp.status().as_u16() {
                201 => {
                    stored += 1;
                    let created = audit_seq(&f, "inspection", id, "inspection.create")
                        .await
                        .expect("a stored report is audited");
                    assert!(
                        created < deactivated_at,
                        "report {id} stored after the deactivation ({created} > {deactivated_at})"
                    );
                }
                422 => {
                    refused += 1;
                    let problem: Value = resp.json().await.unwrap();
                    assert_eq!(problem["errors"][0]["field"], "opd_id", "{problem}");
                    f.assert_not_stored(id).await;
                }
                other => panic!("report {id}: {other}"),
            }
        }
    }
    // Both outcomes happen over the rounds, or the race was not run.
    assert!(
        stored > 0 && refused > 0,
        "stored {stored}, refused {refused}"
    );
}

/// A server keeps the reference data reports are built from (OPD, officials, placements,
/// acting posts) between reports; a change made anywhere — here through a second server on
/// the same database, as another replica would — reaches the next report at once.
async fn reference_changes_reach_reports_in_every_process(backend: Backend) {
    let f = Field::new(backend).await;
    let other = f.app.sibling(&[]).await;
    // Both servers have built reports from the same reference data.
    for app in [&f.app, &other] {
        let resp = app
            .post("/api/v1/inspections", Some(&f.inspector), &f.report())
            .await;
        assert_eq!(resp.status(), 201);
    }
    let body = f.report();
    let day = chrono::DateTime::parse_from_rfc3339(body["started_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive()
        .to_string();

    // An acting post recorded through the other server shows in the next report's finding.
    let resp = other
        .post(
            &format!("/api/v1/officials/{}/acting", f.officials[3]),
            Some(&f.admin),
            &json!({"kind": "plh", "opd_id": f.opd, "position_title": "Plh. Sekretaris",
                    "position_kind": "administrator", "effective_from": day}),
        )
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let resp = f.post_report(&f.inspector, &body).await;
    assert_eq!(resp.status(), 201);
    let stored: Value = resp.json().await.unwrap();
    let finding = stored["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["official_id"] == f.officials[3].as_str())
        .expect("the finding about officials[3]");
    assert_eq!(
        finding["official_acting"]["position_title"], "Plh. Sekretaris",
        "{finding}"
    );

    // A transfer through the other server: the official is no longer at the inspected OPD.
    let elsewhere = other
        .post(
            "/api/v1/opds",
            Some(&f.admin),
            &json!({"code": "DISKOMINFO", "name": "Dinas Komunikasi dan Informatika", "kind": "dinas"}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = other
        .patch(
            &format!("/api/v1/officials/{}", f.officials[0]),
            Some(&f.admin),
            &json!({"opd_id": elsewhere, "effective_from": day}),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let body = f.report();
    let problem = assert_problem(f.post_report(&f.inspector, &body).await, 422).await;
    assert_eq!(
        problem["errors"][0]["field"], "attendance[0].official_id",
        "{problem}"
    );
    f.assert_not_stored(body["id"].as_str().unwrap()).await;

    // Without the transferred official the report goes through; a deactivated OPD is
    // refused.
    let mut body = f.report();
    body["attendance"].as_array_mut().unwrap().remove(0);
    assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    let resp = other
        .patch(
            &format!("/api/v1/opds/{}", f.opd),
            Some(&f.admin),
            &json!({"active": false}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let mut body = f.report();
    body["attendance"].as_array_mut().unwrap().remove(0);
    let problem = assert_problem(f.post_report(&f.inspector, &body).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "opd_id", "{problem}");
    f.assert_not_stored(body["id"].as_str().unwrap()).await;
}

async fn a_bad_row_writes_nothing(backend: Backend) {
    let f = Field::new(backend).await;
    let mut body = f.report();
    body["findings"][1]["official_id"] = json!(uuid::Uuid::new_v4());
    let problem = assert_problem(f.post_report(&f.inspector, &body).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "findings[1].official_id");
    f.assert_not_stored(body["id"].as_str().unwrap()).await;
    // The row ids were not taken either: the corrected report goes through.
    body["findings"][1]["official_id"] = json!(null);
    assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    let list: Value = f
        .app
        .get("/api/v1/inspections", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

async fn reports_are_validated(backend: Backend) {
    let f = Field::new(backend).await;
    let future = (chrono::Utc::now() + chrono::Duration::minutes(30)).to_rfc3339();
    let past = (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339();
    let elsewhere = {
        let resp = f
            .app
            .post(
                "/api/v1/opds",
                Some(&f.admin),
                &json!({"code": "BAPENDA", "name": "Badan", "kind": "badan"}),
            )
            .await;
        resp.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Change, &str)> = vec![
        (
            Box::new(|b| b["opd_id"] = json!(uuid::Uuid::new_v4())),
            "opd_id",
        ),
        (
            Box::new(move |b| b["ended_at"] = json!(past.clone())),
            "ended_at",
        ),
        (
            Box::new(move |b| b["started_at"] = json!(future.clone())),
            "started_at",
        ),
        (
            Box::new(|b| b["attendance"][0]["minutes_late"] = json!(5)),
            "attendance[0].minutes_late",
        ),
        (
            Box::new(|b| b["attendance"][1]["minutes_late"] = json!(-1)),
            "attendance[1].minutes_late",
        ),
        (
            Box::new(|b| {
                b["attendance"][1]["official_id"] = b["attendance"][0]["official_id"].clone()
            }),
            "attendance[1].official_id",
        ),
        (
            Box::new(|b| b["attendance"][0]["official_id"] = json!(uuid::Uuid::new_v4())),
            "attendance[0].official_id",
        ),
        (
            Box::new(|b| b["findings"][0]["description"] = json!("x".repeat(2001))),
            "findings[0].description",
        ),
        (
            Box::new(|b| b["findings"][0]["description"] = json!("   ")),
            "findings[0].description",
        ),
        (
            Box::new(|b| b["findings"][0]["severity"] = json!("urgent")),
            "findings[0].severity",
        ),
        (
            Box::new(|b| b["location"]["latitude"] = json!(123.0)),
            "location.latitude",
        ),
        (
            Box::new(|b| b["findings"][1]["id"] = b["findings"][0]["id"].clone()),
            "findings[1].id",
        ),
        (Box::new(|b| b["status"] = json!("submitted")), "status"),
        (Box::new(|b| b["inspector"] = json!("someone")), "inspector"),
        (
            Box::new(|b| {
                let rows: Vec<Value> = (0..501)
                    .map(|_| json!({"id": uuid::Uuid::new_v4(), "official_id": uuid::Uuid::new_v4(), "status": "present"}))
                    .collect();
                b["attendance"] = json!(rows);
            }),
            "attendance",
        ),
    ];
    for (change, field) in cases {
        let mut body = f.report();
        change(&mut body);
        let problem = assert_problem(f.post_report(&f.inspector, &body).await, 422).await;
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{field}: {fields:?}");
    }
    // An official placed elsewhere cannot be on this OPD's attendance.
    let moved = &f.officials[0];
    f.app
        .patch(
            &format!("/api/v1/officials/{moved}"),
            Some(&f.admin),
            &json!({"opd_id": elsewhere, "effective_from": "2025-01-02"}),
        )
        .await;
    let problem = assert_problem(f.post_report(&f.inspector, &f.report()).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "attendance[0].official_id");
    // A deactivated OPD receives no inspections.
    f.app
        .patch(
            &format!("/api/v1/opds/{}", f.opd),
            Some(&f.admin),
            &json!({"active": false}),
        )
        .await;
    let mut body = f.report();
    body["attendance"] = json!([]);
    let problem = assert_problem(f.post_report(&f.inspector, &body).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "opd_id");
    // Only inspectors and admins post reports.
    let supervisor = f.app.token_for_role(&f.admin, "supervisor").await;
    assert_problem(f.post_report(&supervisor, &f.report()).await, 403).await;
    let list: Value = f
        .app
        .get("/api/v1/inspections", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

async fn geofence_marks_but_never_refuses(backend: Backend) {
    let f = Field::new(backend).await;
    let mut body = f.report();
    body["location"] = json!({"latitude": -6.1270, "longitude": 106.1530});
    let resp = f.post_report(&f.inspector, &body).await;
    assert_eq!(resp.status(), 201);
    let r: Value = resp.json().await.unwrap();
    assert_eq!(r["within_geofence"], false);
    let d = r["distance_m"].as_f64().unwrap();
    assert!((1100.0..1125.0).contains(&d), "{d}");
    // No location: no distance, no verdict.
    let mut body = f.report();
    body.as_object_mut().unwrap().remove("location");
    let r: Value = f
        .post_report(&f.inspector, &body)
        .await
        .json()
        .await
        .unwrap();
    assert!(r["distance_m"].is_null() && r["within_geofence"].is_null());
    // Moving the draft's location recomputes it.
    let id = r["id"].as_str().unwrap();
    let r: Value = f
        .app
        .patch(
            &format!("/api/v1/inspections/{id}"),
            Some(&f.inspector),
            &json!({"location": {"latitude": -6.1170, "longitude": 106.1531}}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["within_geofence"], true);
}

async fn findings_keep_the_placement_of_their_day(backend: Backend) {
    let f = Field::new(backend).await;
    let body = f.report();
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    f.app
        .post(
            &format!("/api/v1/inspections/{id}/submit"),
            Some(&f.inspector),
            &json!({}),
        )
        .await;
    let elsewhere = {
        let resp = f
            .app
            .post(
                "/api/v1/opds",
                Some(&f.admin),
                &json!({"code": "BAPENDA", "name": "Badan", "kind": "badan"}),
            )
            .await;
        resp.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for o in &f.officials {
        let resp = f.app.patch(&format!("/api/v1/officials/{o}"), Some(&f.admin), &json!({"opd_id": elsewhere, "position_title": "Kepala Sub Bagian", "position_kind": "pengawas"})).await;
        assert_eq!(resp.status(), 200);
    }
    let r: Value = f
        .app
        .get(&format!("/api/v1/inspections/{id}"), Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    for finding in r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| !x["official_id"].is_null())
    {
        assert_eq!(finding["official_opd_id"], json!(f.opd), "{finding}");
        assert_eq!(finding["official_position_title"], "Staf");
        assert_eq!(finding["official_position_kind"], "pelaksana");
    }
    for row in r["attendance"].as_array().unwrap() {
        assert_eq!(row["opd_id"], json!(f.opd));
        assert_eq!(row["position_title"], "Staf");
    }
}

async fn drafts_edit_with_if_match_and_submit_locks(backend: Backend) {
    let f = Field::new(backend).await;
    let body = f.report();
    let id = body["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/inspections/{id}");
    let resp = f.post_report(&f.inspector, &body).await;
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();

    let patch = |tag: Option<&str>, b: Value| {
        let mut req = f
            .app
            .client
            .patch(f.app.url(&path))
            .bearer_auth(&f.inspector)
            .json(&b);
        if let Some(t) = tag {
            req = req.header("if-match", t);
        }
        req.send()
    };
    let resp = patch(
        Some(&etag),
        json!({"notes": "Diperbarui", "ended_at": chrono::Utc::now().to_rfc3339()}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let new_etag = resp.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    let r: Value = resp.json().await.unwrap();
    assert_eq!(r["notes"], "Diperbarui");
    // The stale version is refused and changes nothing.
    assert_problem(
        patch(Some(&etag), json!({"notes": "Basi"})).await.unwrap(),
        412,
    )
    .await;
    assert_problem(
        patch(Some("\"garbage\""), json!({"notes": "Basi"}))
            .await
            .unwrap(),
        412,
    )
    .await;
    // Replacing the attendance list replaces the derived absence too.
    let rows = json!([{"id": uuid::Uuid::new_v4(), "official_id": f.officials[0], "status": "absent_unexcused"},
                      {"id": uuid::Uuid::new_v4(), "official_id": f.officials[1], "status": "sick"}]);
    let r: Value = patch(Some(&new_etag), json!({"attendance": rows}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["notes"], "Diperbarui");
    assert_eq!(r["attendance"].as_array().unwrap().len(), 2);
    let absences: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["source"] == "attendance")
        .collect();
    assert_eq!(absences.len(), 1);
    assert_eq!(absences[0]["official_id"], json!(f.officials[0]));

    // One more finding, replayed.
    let finding = json!({"id": uuid::Uuid::new_v4(), "category": "administrative", "severity": "medium", "description": "Buku tamu kosong"});
    let add = format!("{path}/findings");
    assert_eq!(
        f.app
            .post(&add, Some(&f.inspector), &finding)
            .await
            .status(),
        201
    );
    assert_eq!(
        f.app
            .post(&add, Some(&f.inspector), &finding)
            .await
            .status(),
        200
    );
    let mut other = finding.clone();
    other["description"] = json!("Lain");
    assert_problem(f.app.post(&add, Some(&f.inspector), &other).await, 409).await;

    // Submit; then the report is read-only for everyone, and a second submit is harmless.
    let resp = f
        .app
        .post(&format!("{path}/submit"), Some(&f.inspector), &json!({}))
        .await;
    assert_eq!(resp.status(), 200);
    let submitted: Value = resp.json().await.unwrap();
    assert_eq!(submitted["status"], "submitted");
    assert_eq!(
        f.app
            .post(&format!("{path}/submit"), Some(&f.inspector), &json!({}))
            .await
            .status(),
        200
    );
    assert_problem(
        patch(None, json!({"notes": "Setelah kirim"}))
            .await
            .unwrap(),
        409,
    )
    .await;
    assert_problem(
        f.app
            .patch(&path, Some(&f.admin), &json!({"notes": "Admin"}))
            .await,
        409,
    )
    .await;
    let late = json!({"id": uuid::Uuid::new_v4(), "category": "other", "severity": "low", "description": "Terlambat"});
    assert_problem(f.app.post(&add, Some(&f.inspector), &late).await, 409).await;
    let after: Value = f
        .app
        .get(&path, Some(&f.inspector))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after, submitted);
}

async fn others_drafts_are_invisible(backend: Backend) {
    let f = Field::new(backend).await;
    let body = f.report();
    let id = body["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/inspections/{id}");
    f.post_report(&f.inspector, &body).await;
    let other = &f.other_inspector;
    assert_problem(f.app.get(&path, Some(other)).await, 404).await;
    assert_problem(
        f.app
            .patch(&path, Some(other), &json!({"notes": "x"}))
            .await,
        404,
    )
    .await;
    assert_problem(
        f.app
            .post(&format!("{path}/submit"), Some(other), &json!({}))
            .await,
        404,
    )
    .await;
    let finding = json!({"id": uuid::Uuid::new_v4(), "category": "other", "severity": "low", "description": "x"});
    assert_problem(
        f.app
            .post(&format!("{path}/findings"), Some(other), &finding)
            .await,
        404,
    )
    .await;
    let list: Value = f
        .app
        .get("/api/v1/inspections", Some(other))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    // Supervisors see drafts but do not edit them; viewers see no reports.
    let supervisor = f.app.token_for_role(&f.admin, "supervisor").await;
    assert_eq!(f.app.get(&path, Some(&supervisor)).await.status(), 200);
    assert_problem(
        f.app
            .patch(&path, Some(&supervisor), &json!({"notes": "x"}))
            .await,
        403,
    )
    .await;
    let viewer = f.app.token_for_role(&f.admin, "viewer").await;
    assert_problem(f.app.get(&path, Some(&viewer)).await, 403).await;
    assert_problem(f.app.get("/api/v1/inspections", Some(&viewer)).await, 403).await;
    // Once submitted, every inspector reads it; only the author could have changed it.
    f.app
        .post(&format!("{path}/submit"), Some(&f.inspector), &json!({}))
        .await;
    assert_eq!(f.app.get(&path, Some(other)).await.status(), 200);
    assert_problem(
        f.app
            .patch(&path, Some(other), &json!({"notes": "x"}))
            .await,
        403,
    )
    .await;
    let r: Value = f.app.get(&path, Some(&f.admin)).await.json().await.unwrap();
    assert_eq!(r["notes"], "Sidak pagi");
}

async fn reports_are_listed_newest_first(backend: Backend) {
    let f = Field::new(backend).await;
    let mut ids = Vec::new();
    for hours in [5, 1, 3, 2, 4] {
        let mut body = f.report();
        body["started_at"] =
            json!((chrono::Utc::now() - chrono::Duration::hours(hours)).to_rfc3339());
        body["submit"] = json!(hours % 2 == 1);
        f.post_report(&f.inspector, &body).await;
        ids.push((hours, body["id"].as_str().unwrap().to_string()));
    }
    ids.sort();
    let expected: Vec<String> = ids.iter().map(|(_, id)| id.clone()).collect();
    let mut seen = Vec::new();
    let mut path = "/api/v1/inspections?limit=2".to_string();
    loop {
        let page: Value = f.app.get(&path, Some(&f.admin)).await.json().await.unwrap();
        for item in page["items"].as_array().unwrap() {
            assert!(item.get("attendance").is_none());
            assert_eq!(item["attendance_count"], 3);
            assert_eq!(item["findings_count"], 3);
            seen.push(item["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/inspections?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    let submitted: Value = f
        .app
        .get("/api/v1/inspections?status=submitted", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(submitted["items"].as_array().unwrap().len(), 3);
    // Another inspector sees only the submitted ones.
    let theirs: Value = f
        .app
        .get("/api/v1/inspections", Some(&f.other_inspector))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["items"].as_array().unwrap().len(), 3);
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let none: Value = f
        .app
        .get(
            &format!("/api/v1/inspections?from={tomorrow}"),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let mine: Value = f
        .app
        .get(
            &format!("/api/v1/inspections?opd_id={}&to={tomorrow}", f.opd),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 5);
    assert_problem(
        f.app
            .get("/api/v1/inspections?status=archived", Some(&f.admin))
            .await,
        400,
    )
    .await;
    assert_problem(
        f.app
            .get("/api/v1/inspections?cursor=bad", Some(&f.admin))
            .await,
        422,
    )
    .await;
}

async fn a_report_and_its_rows_stay_on_one_day(backend: Backend) {
    let f = Field::new(backend).await;
    let tz = chrono_tz::Asia::Jakarta;
    let started = chrono::Utc::now() - chrono::Duration::hours(1);
    let day = started.with_timezone(&tz).date_naive();
    let elsewhere = |days: i64| (started - chrono::Duration::days(days)).to_rfc3339();

    // A finding observed on another local day than the sidak's is refused.
    let mut body = f.report();
    body["findings"][0]["observed_at"] = json!(elsewhere(2));
    let problem = assert_problem(f.post_report(&f.inspector, &body).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "findings[0].observed_at");
    assert!(problem["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains(&day.to_string()));

    // A draft with findings stays on its day; a change of hour on that day is fine.
    let body = f.report();
    let id = body["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/inspections/{id}");
    assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    let moved = f
        .app
        .patch(
            &path,
            Some(&f.inspector),
            &json!({"started_at": elsewhere(2)}),
        )
        .await;
    let problem = assert_problem(moved, 422).await;
    assert_eq!(problem["errors"][0]["field"], "started_at");
    let earlier = started - chrono::Duration::minutes(5);
    let same_day = if earlier.with_timezone(&tz).date_naive() == day {
        earlier
    } else {
        started + chrono::Duration::minutes(5)
    }
    .to_rfc3339();
    let resp = f
        .app
        .patch(&path, Some(&f.inspector), &json!({"started_at": same_day}))
        .await;
    assert_eq!(resp.status(), 200);

    // A draft of attendance only moves with its attendance sent again, checked and derived
    // for the new day.
    let mut body = f.report();
    body["findings"] = json!([]);
    let id = body["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/inspections/{id}");
    assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    assert_problem(
        f.app
            .patch(
                &path,
                Some(&f.inspector),
                &json!({"started_at": elsewhere(2)}),
            )
            .await,
        422,
    )
    .await;
    let attendance = json!([{"id": uuid::Uuid::new_v4(), "official_id": f.officials[2], "status": "absent_unexcused"}]);
    let resp = f
        .app
        .patch(
            &path,
            Some(&f.inspector),
            &json!({"started_at": elsewhere(2), "attendance": attendance}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let r: Value = resp.json().await.unwrap();
    let absence = &r["findings"][0];
    assert_eq!(absence["source"], "attendance");
    let observed: chrono::DateTime<chrono::Utc> =
        absence["observed_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        observed.with_timezone(&tz).date_naive(),
        day - chrono::Duration::days(2)
    );
}

async fn a_transfer_does_not_rewrite_what_was_recorded(backend: Backend) {
    let f = Field::new(backend).await;
    let tz = chrono_tz::Asia::Jakarta;
    let mut body = f.report();
    let started = chrono::Utc::now() - chrono::Duration::days(3);
    body["started_at"] = json!(started.to_rfc3339());
    body["submit"] = json!(true);
    assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    let seen = started.with_timezone(&tz).date_naive();
    let elsewhere: Value = f
        .app
        .post(
            "/api/v1/opds",
            Some(&f.admin),
            &json!({"code": "BAPENDA", "name": "Badan Pendapatan", "kind": "badan"}),
        )
        .await
        .json()
        .await
        .unwrap();
    // Official 1 was recorded late at the inspected OPD three days ago: a transfer dated
    // before that day is refused (API and CSV import alike), from that day on it is taken.
    let official = &f.officials[1];
    let move_from = |day: chrono::NaiveDate| json!({"opd_id": elsewhere["id"], "effective_from": day.to_string()});
    let path = format!("/api/v1/officials/{official}");
    let problem = assert_problem(
        f.app
            .patch(&path, Some(&f.admin), &move_from(seen.pred_opt().unwrap()))
            .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "effective_from");
    assert!(problem["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains(&seen.to_string()));
    let current: Value = f.app.get(&path, Some(&f.admin)).await.json().await.unwrap();
    let a = &current["current_assignment"];
    let csv = format!(
        "nip,full_name,employment_type,position_title,position_kind,opd_code,effective_from\n\
         {},{},{},{},{},BAPENDA,{}\n",
        current["nip"].as_str().unwrap(),
        current["full_name"].as_str().unwrap(),
        current["employment_type"].as_str().unwrap(),
        a["position_title"].as_str().unwrap(),
        a["position_kind"].as_str().unwrap(),
        seen.pred_opt().unwrap()
    );
    let resp = crate::imports::post_csv(&f.app, &f.admin, "/api/v1/officials/import", &csv).await;
    assert_eq!(resp.status(), 200);
    let report: Value = resp.json().await.unwrap();
    assert_eq!(report["applied"], false, "{report}");
    assert!(report["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("when a report last recorded"));
    let resp = f.app.patch(&path, Some(&f.admin), &move_from(seen)).await;
    assert_eq!(resp.status(), 200);
    let moved: Value = resp.json().await.unwrap();
    assert_eq!(moved["current_assignment"]["opd_id"], elsewhere["id"]);
    assert_eq!(moved["assignments"].as_array().unwrap().len(), 2);
    assert_ne!(current["current_assignment"], moved["current_assignment"]);
}

/// The counts of the list of reports are stored with each report; they must equal its rows
/// after it is created, after its attendance is replaced (with the absences derived from
/// it) and after findings are added to it, also by many callers at once.
async fn listed_counts_follow_the_rows(backend: Backend) {
    let f = Field::new(backend).await;
    let body = f.report();
    let id = body["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/inspections/{id}");
    f.post_report(&f.inspector, &body).await;
    // (attendance_count, findings_count) in the list, and the rows a read of the report has
    let counts = || async {
        let page: Value = f
            .app
            .get("/api/v1/inspections?limit=100", Some(&f.admin))
            .await
            .json()
            .await
            .unwrap();
        let item = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == json!(id))
            .cloned()
            .unwrap();
        let report: Value = f.app.get(&path, Some(&f.admin)).await.json().await.unwrap();
        let listed = (
            item["attendance_count"].as_u64().unwrap(),
            item["findings_count"].as_u64().unwrap(),
        );
        let stored = (
            report["attendance"].as_array().unwrap().len() as u64,
            report["findings"].as_array().unwrap().len() as u64,
        );
        assert_eq!(listed, stored, "the list's counts are the report's rows");
        listed
    };
    let created = counts().await;
    let attendance = body["attendance"].as_array().unwrap();
    let absences = attendance
        .iter()
        .filter(|a| a["status"] == "absent_unexcused")
        .count();
    assert_eq!(
        created,
        (
            attendance.len() as u64,
            (body["findings"].as_array().unwrap().len() + absences) as u64
        ),
        "each unexcused absence is a finding of its own"
    );

    // Two attendance rows instead, one an unexcused absence (a finding of its own).
    let rows = json!([{"id": uuid::Uuid::new_v4(), "official_id": f.officials[0], "status": "absent_unexcused"},
                      {"id": uuid::Uuid::new_v4(), "official_id": f.officials[1], "status": "present"}]);
    let resp = f
        .app
        .patch(&path, Some(&f.inspector), &json!({"attendance": rows}))
        .await;
    assert_eq!(resp.status(), 200);
    let replaced = counts().await;
    assert_eq!(replaced.0, 2);
    assert_eq!(replaced.1, created.1 - absences as u64 + 1);

    // A refused replacement (an unknown official) changes no count.
    let bad = json!([{"id": uuid::Uuid::new_v4(), "official_id": uuid::Uuid::new_v4(), "status": "present"}]);
    assert_problem(
        f.app
            .patch(&path, Some(&f.inspector), &json!({"attendance": bad}))
            .await,
        422,
    )
    .await;
    assert_eq!(counts().await, replaced);

    // Eight findings added at once, each sent twice (the second a replay): eight more.
    let add = format!("{path}/findings");
    let findings: Vec<Value> = (0..8)
        .map(|i| json!({"id": uuid::Uuid::new_v4(), "category": "administrative", "severity": "low", "description": format!("Temuan {i}")}))
        .collect();
    let posts = findings
        .iter()
        .chain(findings.iter())
        .map(|b| f.app.post(&add, Some(&f.inspector), b));
    for resp in futures_util::future::join_all(posts).await {
        assert!(
            [200, 201].contains(&resp.status().as_u16()),
            "{}",
            resp.status()
        );
    }
    assert_eq!(counts().await, (replaced.0, replaced.1 + 8));
}
