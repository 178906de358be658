//! Webhook events: written in the transaction of the change they describe (the outbox), one
//! per change, none for a refused or replayed request, in commit order under concurrency.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::Backend;
use crate::inspections::Field;

both_backends!(
    subscriptions_are_managed_by_admins_and_audited,
    changes_write_their_events,
    refused_and_replayed_requests_write_none,
    concurrent_submissions_write_one_event_each_in_order,
);

/// An event as stored: seq, type, subject, the parsed body, its id.
pub type Stored = (i64, String, String, Value, String);

/// Every event the database holds, in `seq` order.
pub fn events(url: &str) -> Vec<Stored> {
    use diesel::prelude::*;
    use sidak::db::schema::webhook_events::dsl::*;
    let mut conn = crate::helpers::connect(url);
    webhook_events
        .order(seq)
        .select(sidak::db::outbox::Event::as_select())
        .load(&mut conn)
        .unwrap()
        .into_iter()
        .map(|e| {
            let body: Value = serde_json::from_str(&e.payload).unwrap();
            assert_eq!(body["type"], e.event_type.as_str());
            (
                e.seq,
                e.event_type.as_str().to_string(),
                e.subject_id,
                body,
                e.id,
            )
        })
        .collect()
}

fn types(all: &[Stored]) -> Vec<&str> {
    all.iter().map(|e| e.1.as_str()).collect()
}

async fn changes_write_their_events(backend: Backend) {
    let f = Field::new(backend).await;
    let url = f.app.database_url();
    // A draft is not an event.
    let body = f.report();
    assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    assert!(events(&url).is_empty());
    // Its submission is, and so is each follow-up the flag rules raise.
    let id = body["id"].as_str().unwrap();
    let sub = f
        .app
        .post(
            &format!("/api/v1/inspections/{id}/submit"),
            Some(&f.inspector),
            &json!({}),
        )
        .await;
    assert!(sub.status().is_success());
    let all = events(&url);
    assert_eq!(
        types(&all),
        [
            "follow_up.raised",
            "follow_up.raised",
            "inspection.submitted"
        ],
        "{all:?}"
    );
    let submitted = &all[2].3["data"];
    assert_eq!(submitted["inspection_id"], id);
    assert_eq!(
        submitted["attendance_count"],
        body["attendance"].as_array().unwrap().len()
    );
    let raised: Vec<&Value> = all[..2].iter().map(|e| &e.3["data"]).collect();
    let flagged: HashSet<&str> = raised
        .iter()
        .map(|d| d["official_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        flagged,
        HashSet::from([f.officials[2].as_str(), f.officials[3].as_str()])
    );
    for d in &raised {
        assert_eq!(d["source"], "auto");
        assert_eq!(d["official_nip"].as_str().unwrap().len(), 18, "{d}");
        assert!(!d["finding_ids"].as_array().unwrap().is_empty());
    }
    // Ids are unique.
    let ids: HashSet<&str> = all.iter().map(|e| e.4.as_str()).collect();
    assert_eq!(ids.len(), all.len());

    // Review: start (no event), assign, decide.
    let follow_up = raised[0]["follow_up_id"].as_str().unwrap().to_string();
    let act = |body: Value| {
        let path = format!("/api/v1/follow-ups/{follow_up}/actions");
        let app = &f.app;
        let admin = f.admin.clone();
        async move { app.post(&path, Some(&admin), &body).await }
    };
    assert_eq!(act(json!({"action": "start_review"})).await.status(), 200);
    let admin_id: Value = f
        .app
        .get("/api/v1/me", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    let assigned = act(json!({"action": "assign", "assignee_id": admin_id["id"]})).await;
    assert_eq!(assigned.status(), 200);
    let decided =
        act(json!({"action": "decide", "sanction": "teguran_lisan", "note": "Hadir kembali"}))
            .await;
    assert_eq!(decided.status(), 200);
    let all = events(&url);
    assert_eq!(
        types(&all[3..]),
        ["follow_up.assigned", "follow_up.decided"]
    );
    let d = &all[4].3["data"];
    assert_eq!(d["follow_up_id"], follow_up.as_str());
    assert_eq!(d["sanction"], "teguran_lisan");
    assert_eq!(d["sanction_label"], "Teguran lisan");
    assert_eq!(d["note"], "Hadir kembali");
    assert_eq!(all[4].2, follow_up);

    // A photo, and a transfer.
    let up = crate::evidence::upload(
        &f,
        &f.inspector,
        id,
        crate::evidence::jpeg(1, 900),
        "a.jpg",
        None,
    )
    .await;
    assert_eq!(up.status(), 201);
    let photo: Value = up.json().await.unwrap();
    let other_opd: Value = f
        .app
        .post(
            "/api/v1/opds",
            Some(&f.admin),
            &json!({"code": "DISDIK", "name": "Dinas Pendidikan", "kind": "dinas"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let moved = f
        .app
        .patch(
            &format!("/api/v1/officials/{}", f.officials[0]),
            Some(&f.admin),
            &json!({"opd_id": other_opd["id"], "position_title": "Pengelola Data", "position_kind": "pelaksana"}),
        )
        .await;
    assert_eq!(moved.status(), 200, "{:?}", moved.text().await);
    let all = events(&url);
    assert_eq!(types(&all[5..]), ["evidence.added", "official.transferred"]);
    assert_eq!(all[5].3["data"]["evidence_id"], photo["id"]);
    assert_eq!(all[5].3["data"]["sha256"], photo["sha256"]);
    let t = &all[6].3["data"];
    assert_eq!(t["official_id"], f.officials[0].as_str());
    assert_eq!(t["from"]["opd_id"], f.opd.as_str());
    assert_eq!(t["to"]["opd_id"], other_opd["id"]);
    // seq only grows.
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
}

async fn refused_and_replayed_requests_write_none(backend: Backend) {
    let f = Field::new(backend).await;
    let url = f.app.database_url();
    let mut body = f.report();
    body["submit"] = json!(true);
    assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    let before = events(&url).len();
    assert_eq!(before, 3);
    // The same report again (the phone retrying): recognised, nothing new.
    assert_eq!(f.post_report(&f.inspector, &body).await.status(), 200);
    assert_eq!(events(&url).len(), before);
    // A decision the state does not allow (an open follow-up cannot be decided), and one
    // without its note: refused, no event.
    let all = events(&url);
    let follow_up = all[0].3["data"]["follow_up_id"].as_str().unwrap();
    let path = format!("/api/v1/follow-ups/{follow_up}/actions");
    let refused = f
        .app
        .post(
            &path,
            Some(&f.admin),
            &json!({"action": "decide", "sanction": "teguran_lisan", "note": "x"}),
        )
        .await;
    assert_eq!(refused.status(), 409);
    let no_note = f
        .app
        .post(&path, Some(&f.admin), &json!({"action": "dismiss"}))
        .await;
    assert_eq!(no_note.status(), 422);
    // A stale If-Match.
    let stale = f
        .app
        .client
        .post(f.app.url(&path))
        .bearer_auth(&f.admin)
        .header("if-match", "\"999\"")
        .json(&json!({"action": "dismiss", "note": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    assert_eq!(events(&url).len(), before);
}

async fn concurrent_submissions_write_one_event_each_in_order(backend: Backend) {
    let f = Field::new(backend).await;
    let url = f.app.database_url();
    let mut bodies = Vec::new();
    for _ in 0..24 {
        let mut b = f.report();
        b["submit"] = json!(true);
        bodies.push(b);
    }
    let posts = bodies.iter().map(|b| f.post_report(&f.inspector, b));
    for resp in futures_util::future::join_all(posts).await {
        assert_eq!(resp.status(), 201);
    }
    let all = events(&url);
    let submitted: Vec<&str> = all
        .iter()
        .filter(|e| e.1 == "inspection.submitted")
        .map(|e| e.2.as_str())
        .collect();
    assert_eq!(submitted.len(), 24, "one event per report");
    let distinct: HashSet<&str> = submitted.iter().copied().collect();
    let expected: HashSet<&str> = bodies.iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(distinct, expected);
    // The follow-ups raised: one per flagged official, later absences attached to them.
    assert_eq!(all.iter().filter(|e| e.1 == "follow_up.raised").count(), 2);
    let seqs: Vec<i64> = all.iter().map(|e| e.0).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let ids: HashSet<&str> = all.iter().map(|e| e.4.as_str()).collect();
    assert_eq!(ids.len(), all.len());
}

async fn subscriptions_are_managed_by_admins_and_audited(backend: Backend) {
    let f = Field::new(backend).await;
    let app = &f.app;
    // Made with a secret shown once.
    let made = app
        .post(
            "/api/v1/webhooks",
            Some(&f.admin),
            &json!({"url": "https://bkpsdm.serangkota.go.id/hooks/sidak",
                    "event_types": ["follow_up.raised", "follow_up.decided", "follow_up.raised"],
                    "description": "Sistem BKPSDM"}),
        )
        .await;
    assert_eq!(made.status(), 201);
    let location = made.headers()["location"].to_str().unwrap().to_string();
    let made: Value = made.json().await.unwrap();
    let secret = made["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{made}");
    assert_eq!(made["active"], true);
    assert_eq!(
        made["event_types"],
        json!(["follow_up.decided", "follow_up.raised"])
    );
    let id = made["id"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/api/v1/webhooks/{id}"));
    let read: Value = app
        .get(&location, Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert!(read.get("secret").is_none(), "{read}");
    let listed: Value = app
        .get("/api/v1/webhooks", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(&secret));

    // Bad input: 422 naming the field, nothing stored.
    for (body, field) in [
        (
            json!({"url": "ftp://x.example/", "event_types": ["follow_up.raised"]}),
            "url",
        ),
        (
            json!({"url": "https://user:pw@x.example/", "event_types": ["follow_up.raised"]}),
            "url",
        ),
        (
            json!({"url": "https://x.example/", "event_types": []}),
            "event_types",
        ),
        (
            json!({"url": "not a url", "event_types": ["follow_up.raised"]}),
            "url",
        ),
        (
            json!({"url": "https://x.example/", "event_types": vec!["evidence.added"; 10]}),
            "event_types",
        ),
    ] {
        let resp = app.post("/api/v1/webhooks", Some(&f.admin), &body).await;
        let problem = crate::helpers::assert_problem(resp, 422).await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let unknown = app
        .post(
            "/api/v1/webhooks",
            Some(&f.admin),
            &json!({"url": "https://x.example/", "event_types": ["report.deleted"]}),
        )
        .await;
    assert_eq!(unknown.status(), 422);
    let listed: Value = app
        .get("/api/v1/webhooks", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    // Changed in part; rotated with a grace period; the secret is new each time.
    let patched = app
        .patch(
            &location,
            Some(&f.admin),
            &json!({"active": false, "description": ""}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(patched["active"], false);
    assert!(patched["description"].is_null());
    assert_eq!(patched["url"], made["url"]);
    // The same again changes nothing and writes no audit entry.
    let entries = app.audit_count(&f.admin).await;
    let same = app
        .patch(&location, Some(&f.admin), &json!({"active": false}))
        .await;
    assert_eq!(same.status(), 200);
    let same: Value = same.json().await.unwrap();
    assert_eq!(same["updated_at"], patched["updated_at"]);
    assert_eq!(app.audit_count(&f.admin).await, entries);
    let rotated = app
        .post(&format!("{location}/secret"), Some(&f.admin), &json!({}))
        .await;
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    let new_secret = rotated["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    let until = chrono::DateTime::parse_from_rfc3339(
        rotated["previous_secret_valid_until"].as_str().unwrap(),
    )
    .unwrap();
    let hours = (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes();
    assert!((23 * 60..=24 * 60).contains(&hours), "{hours}");

    // Not for anyone else.
    let supervisor = app.token_for_role(&f.admin, "supervisor").await;
    assert_eq!(
        app.get("/api/v1/webhooks", Some(&supervisor))
            .await
            .status(),
        403
    );

    // Deleted; every change audited without a secret.
    assert_eq!(
        app.request(reqwest::Method::DELETE, &location, Some(&f.admin), None)
            .await
            .status(),
        204
    );
    assert_eq!(app.get(&location, Some(&f.admin)).await.status(), 404);
    let audit: Value = app
        .get("/api/v1/audit?entity=webhook&limit=50", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    let text = audit.to_string();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "webhook.create",
        "webhook.update",
        "webhook.rotate_secret",
        "webhook.delete",
    ] {
        assert!(actions.contains(&a), "{actions:?}");
    }
    assert!(!text.contains("whsec_"), "{text}");
}
