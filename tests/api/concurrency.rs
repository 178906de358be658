//! Many callers at once: bursts of guesses, admins deactivating each other, reports and
//! follow-up decisions written side by side, servers starting together on an empty
//! database. Every scenario runs on both databases.

use std::time::Duration;

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{assert_problem, token_of, Backend, TestApp, ADMIN_PASSWORD, PASSWORD};
use crate::inspections::Field;

both_backends!(
    a_burst_of_guesses_is_held_to_the_account_limit,
    a_burst_from_one_address_is_held_to_the_address_limit,
    a_burst_of_current_passwords_is_held_to_the_limit,
    admins_deactivating_each_other_leave_one_admin,
    a_refused_raise_changes_nothing,
    mixed_writers_never_see_a_server_error,
    servers_starting_together_on_an_empty_database_all_come_up,
    a_transient_conflict_runs_the_transaction_again,
    reports_written_together_stand_or_fall_alone,
    submitted_reports_written_together_share_follow_ups_and_counts,
);

/// Sends `n` logins at once; returns the statuses.
async fn login_burst(app: &TestApp, logins: Vec<(String, String)>) -> Vec<u16> {
    let sends = logins.into_iter().map(|(username, password)| {
        let client = app.client.clone();
        let url = app.url("/api/v1/auth/login");
        async move {
            client
                .post(url)
                .json(&json!({"username": username, "password": password}))
                .send()
                .await
                .expect("login sent")
                .status()
                .as_u16()
        }
    });
    join_all(sends).await
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

async fn a_burst_of_guesses_is_held_to_the_account_limit(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("SIDAK_LOGIN_MAX_FAILURES", "5"),
            ("SIDAK_LOGIN_LOCKOUT_SECONDS", "3"),
        ],
    )
    .await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "sasaran", "inspector").await;
    let audited_before = app.audit_count(&admin).await;

    // Forty guesses at once, none right: at most five are ever verified.
    let guesses = (0..40)
        .map(|i| ("sasaran".to_string(), format!("tebakan-salah-{i:02}")))
        .collect();
    let statuses = login_burst(&app, guesses).await;
    let (unauthorized, throttled) = (count(&statuses, 401), count(&statuses, 429));
    assert_eq!(unauthorized + throttled, 40, "{statuses:?}");
    assert!(
        (1..=5).contains(&unauthorized),
        "{unauthorized} guesses were verified: {statuses:?}"
    );
    // Each verified guess is in the audit trail; the refused ones never reached a check.
    assert_eq!(
        app.audit_count(&admin).await,
        audited_before + unauthorized as i64
    );

    // The account is locked now: even the right password waits for the lockout to end.
    let resp = app.login("sasaran", PASSWORD).await;
    assert!(resp.headers().contains_key("retry-after"));
    assert_problem(resp, 429).await;
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    assert_eq!(app.login("sasaran", PASSWORD).await.status(), 200);
}

async fn a_burst_from_one_address_is_held_to_the_address_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("SIDAK_LOGIN_ADDRESS_MAX_FAILURES", "10")]).await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "pengguna-jujur", "inspector").await;

    // Forty wrong passwords for forty accounts from one address.
    let guesses = (0..40)
        .map(|i| (format!("akun-{i:02}"), "kata-sandi-salah".to_string()))
        .collect();
    let statuses = login_burst(&app, guesses).await;
    let unauthorized = count(&statuses, 401);
    assert_eq!(unauthorized + count(&statuses, 429), 40, "{statuses:?}");
    assert!(
        (1..=10).contains(&unauthorized),
        "{unauthorized} guesses were verified from one address: {statuses:?}"
    );
    if unauthorized == 10 {
        // The address is held back now, whoever logs in from it.
        assert_problem(app.login("pengguna-jujur", PASSWORD).await, 429).await;
    }
}

async fn a_burst_of_current_passwords_is_held_to_the_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("SIDAK_LOGIN_MAX_FAILURES", "5")]).await;
    let admin = app.admin_token().await;
    let token = app.token_for_role(&admin, "supervisor").await;
    let sends = (0..40).map(|i| {
        let req = app
            .client
            .post(app.url("/api/v1/me/password"))
            .bearer_auth(&token)
            .json(&json!({"current_password": format!("bukan-sandi-{i:02}"),
                          "new_password": "kata-sandi-baru-yang-panjang"}));
        async move { req.send().await.expect("sent").status().as_u16() }
    });
    let statuses = join_all(sends).await;
    let wrong = count(&statuses, 422);
    assert_eq!(wrong + count(&statuses, 429), 40, "{statuses:?}");
    assert!((1..=5).contains(&wrong), "{wrong} checked: {statuses:?}");
    // Locked: the right current password waits too, and the password is unchanged.
    let resp = app
        .post(
            "/api/v1/me/password",
            Some(&token),
            &json!({"current_password": PASSWORD, "new_password": "kata-sandi-baru-yang-panjang"}),
        )
        .await;
    assert_problem(resp, 429).await;
}

/// Sets `active` on a user as `token`; the status.
async fn set_active(app: &TestApp, token: &str, id: &str, active: bool) -> u16 {
    app.patch(
        &format!("/api/v1/users/{id}"),
        Some(token),
        &json!({ "active": active }),
    )
    .await
    .status()
    .as_u16()
}

async fn active_admins(app: &TestApp, token: &str) -> Vec<String> {
    let page: Value = app
        .get("/api/v1/users?role=admin&limit=200", Some(token))
        .await
        .json()
        .await
        .expect("users");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|u| u["active"] == true)
        .map(|u| u["id"].as_str().expect("id").to_string())
        .collect()
}

async fn admins_deactivating_each_other_leave_one_admin(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.admin_token().await;
    let me: Value = app
        .get("/api/v1/me", Some(&first))
        .await
        .json()
        .await
        .unwrap();
    let first_id = me["id"].as_str().unwrap().to_string();
    let second_id = app.create_user(&first, "admin-kedua", "admin").await;
    for trial in 0..6 {
        // Two admins, each deactivating the other at the same moment.
        let a = token_of(&app.login_ok("admin", ADMIN_PASSWORD).await);
        let b = token_of(&app.login_ok("admin-kedua", PASSWORD).await);
        assert_eq!(active_admins(&app, &a).await.len(), 2);
        let (ra, rb) = tokio::join!(
            set_active(&app, &a, &second_id, false),
            set_active(&app, &b, &first_id, false)
        );
        // One wins; the other is refused: 409 (it would leave no admin) or 401 (its caller
        // was deactivated first).
        let won = [ra, rb].iter().filter(|s| **s == 200).count();
        assert_eq!(won, 1, "trial {trial}: answers {ra} and {rb}");
        assert!(
            [ra, rb].iter().all(|s| [200, 401, 409].contains(s)),
            "trial {trial}: answers {ra} and {rb}"
        );
        let (survivor, other) = if ra == 200 {
            (&a, &second_id)
        } else {
            (&b, &first_id)
        };
        assert_eq!(
            active_admins(&app, survivor).await.len(),
            1,
            "trial {trial}"
        );
        assert_eq!(set_active(&app, survivor, other, true).await, 200);
    }
}

async fn a_refused_raise_changes_nothing(backend: Backend) {
    let f = Field::new(backend).await;
    let low = |f: &Field| {
        let mut r = f.report();
        r["attendance"] = json!([]);
        r["findings"][0]["severity"] = json!("low");
        r["submit"] = json!(true);
        r
    };
    let (mine, theirs) = (low(&f), low(&f));
    assert_eq!(f.post_report(&f.inspector, &mine).await.status(), 201);
    assert_eq!(
        f.post_report(&f.other_inspector, &theirs).await.status(),
        201
    );
    let official = f.officials[3].clone();
    // The other inspector raises a follow-up on the official first.
    let resp = f
        .app
        .post(
            "/api/v1/follow-ups",
            Some(&f.other_inspector),
            &json!({"official_id": official, "finding_ids": [theirs["findings"][0]["id"]],
                    "reason": "Sering tidak di meja"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let raised: Value = resp.json().await.unwrap();
    let audited = f.app.audit_count(&f.admin).await;

    // This inspector may not see it, so may not add to it: refused, and nothing changes.
    let resp = f
        .app
        .post(
            "/api/v1/follow-ups",
            Some(&f.inspector),
            &json!({"official_id": official, "finding_ids": [mine["findings"][0]["id"]],
                    "reason": "Juga tidak di meja"}),
        )
        .await;
    let problem = assert_problem(resp, 403).await;
    assert!(problem["detail"].as_str().unwrap().contains("supervisor"));
    let full: Value = f
        .app
        .get(
            &format!("/api/v1/follow-ups/{}", raised["id"].as_str().unwrap()),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(full["findings"].as_array().unwrap().len(), 1);
    assert_eq!(full["version"], raised["version"]);
    assert_eq!(full["history"].as_array().unwrap().len(), 1);
    assert_eq!(f.app.audit_count(&f.admin).await, audited);
    // A supervisor may attach the same findings.
    let supervisor = f.app.token_for_role(&f.admin, "supervisor").await;
    let resp = f
        .app
        .post(
            "/api/v1/follow-ups",
            Some(&supervisor),
            &json!({"official_id": official, "finding_ids": [mine["findings"][0]["id"]],
                    "reason": "Juga tidak di meja"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
}

/// The paths that once took their locks in opposite orders, side by side: reports created
/// and submitted in one request, drafts submitted later, and follow-ups decided — none may
/// answer 5xx, and every report must be stored once.
async fn mixed_writers_never_see_a_server_error(backend: Backend) {
    let f = std::sync::Arc::new(Field::new(backend).await);
    let supervisor = f.app.token_for_role(&f.admin, "supervisor").await;
    let until = tokio::time::Instant::now() + Duration::from_secs(3);
    let mut tasks = Vec::new();
    for one_request in [true, false, true, false] {
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            let mut ids = Vec::new();
            while tokio::time::Instant::now() < until {
                let mut body = f.report();
                body["submit"] = json!(one_request);
                let id = body["id"].as_str().unwrap().to_string();
                let status = f.post_report(&f.inspector, &body).await.status().as_u16();
                statuses.push(status);
                if !one_request && status == 201 {
                    let path = format!("/api/v1/inspections/{id}/submit");
                    statuses.push(
                        f.app
                            .post(&path, Some(&f.inspector), &json!({}))
                            .await
                            .status()
                            .as_u16(),
                    );
                }
                ids.push(id);
            }
            (statuses, ids)
        }));
    }
    let g = f.clone();
    tasks.push(tokio::spawn(async move {
        let mut statuses = Vec::new();
        while tokio::time::Instant::now() < until {
            let page: Value = g
                .app
                .get("/api/v1/follow-ups?status=open&limit=5", Some(&supervisor))
                .await
                .json()
                .await
                .unwrap();
            for item in page["items"].as_array().unwrap() {
                let path = format!(
                    "/api/v1/follow-ups/{}/actions",
                    item["id"].as_str().unwrap()
                );
                for body in [
                    json!({"action": "comment", "note": "Dicek"}),
                    json!({"action": "start_review"}),
                    json!({"action": "decide", "sanction": "teguran_lisan", "note": "Diputuskan"}),
                ] {
                    statuses.push(
                        g.app
                            .request(Method::POST, &path, Some(&supervisor), Some(&body))
                            .await
                            .status()
                            .as_u16(),
                    );
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (statuses, Vec::new())
    }));
    let mut sent = Vec::new();
    for task in tasks {
        let (statuses, ids) = task.await.unwrap();
        // 409: a follow-up moved on between the list and the action.
        assert!(
            statuses.iter().all(|s| [200, 201, 409].contains(s)),
            "{statuses:?}"
        );
        sent.extend(ids);
    }
    assert!(!sent.is_empty());
    // Each report stored once, submitted.
    let page: Value = f
        .app
        .get("/api/v1/inspections?limit=200", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    let mut stored: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            assert_eq!(i["status"], "submitted");
            i["id"].as_str().unwrap()
        })
        .collect();
    stored.sort_unstable();
    let mut wanted: Vec<&str> = sent.iter().map(String::as_str).collect();
    wanted.sort_unstable();
    if sent.len() <= 200 {
        assert_eq!(stored, wanted);
    }
    // The chain verifies (audit_count asserts it).
    assert!(f.app.audit_count(&f.admin).await > 0);
}

/// Servers started at the same moment on an empty database: on PostgreSQL all come up
/// (one applies the migrations under the advisory lock, the others wait and find nothing to
/// do) and exactly one first admin exists; on SQLite, which one server serves, one comes up
/// and the others stop saying why, and three `sidak migrate` at once all succeed.
async fn servers_starting_together_on_an_empty_database_all_come_up(backend: Backend) {
    let empty = crate::helpers::EmptyDatabase::new(backend);
    let ports: Vec<u16> = (0..3).map(|_| crate::helpers::free_port()).collect();
    let mut servers: Vec<_> = ports.iter().map(|port| empty.server(*port)).collect();
    let client = reqwest::Client::new();
    let mut ready = vec![false; ports.len()];
    let mut refused = vec![false; ports.len()];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while ready.iter().zip(&refused).any(|(r, x)| !r && !x)
        && tokio::time::Instant::now() < deadline
    {
        for (i, port) in ports.iter().enumerate() {
            if ready[i] || refused[i] {
                continue;
            }
            if let Ok(Some(status)) = servers[i].try_wait() {
                let log = std::fs::read_to_string(empty.server_log(*port)).unwrap_or_default();
                assert!(
                    backend == Backend::Sqlite
                        && log.contains("one server per SQLite file")
                        && !status.success(),
                    "server {i} exited ({status}) while starting: {log}"
                );
                refused[i] = true;
                continue;
            }
            let answer = client
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await;
            ready[i] = answer.is_ok_and(|r| r.status() == 200);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Exactly one first admin was created, and every server that came up sees it.
    let mut admins = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        if !ready[i] {
            continue;
        }
        let login: Value = client
            .post(format!("http://127.0.0.1:{port}/api/v1/auth/login"))
            .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("token");
        let users: Value = client
            .get(format!("http://127.0.0.1:{port}/api/v1/users?limit=200"))
            .bearer_auth(token_of(&login))
            .send()
            .await
            .expect("users")
            .json()
            .await
            .expect("users");
        admins.push(users["items"].as_array().expect("items").len());
    }
    for s in &mut servers {
        let _ = s.kill();
        let _ = s.wait();
    }
    match backend {
        Backend::Postgres => {
            assert_eq!(ready, vec![true; 3], "not every server became ready");
            assert_eq!(admins, vec![1; 3]);
        }
        Backend::Sqlite => {
            assert_eq!(
                ready.iter().filter(|r| **r).count(),
                1,
                "{ready:?} {refused:?}"
            );
            assert_eq!(
                refused.iter().filter(|r| **r).count(),
                2,
                "{ready:?} {refused:?}"
            );
            assert_eq!(admins, vec![1]);
            // The command line migrates a SQLite file from several processes at once.
            let fresh = crate::helpers::EmptyDatabase::new(backend);
            let migrations: Vec<_> = (0..3)
                .map(|_| {
                    std::process::Command::new(env!("CARGO_BIN_EXE_sidak"))
                        .arg("migrate")
                        .env("DATABASE_URL", &fresh.url)
                        .env("SIDAK_DATA_DIR", &fresh.dir)
                        .env("RUST_LOG", "warn")
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::piped())
                        .spawn()
                        .expect("sidak migrate")
                })
                .collect();
            for m in migrations {
                let out = m.wait_with_output().expect("sidak migrate ends");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

/// A deadlock or serialisation failure inside [`sidak::db::write_tx`] runs the closure again
/// (what the first attempt wrote is rolled back); one that persists becomes a `503`.
async fn a_transient_conflict_runs_the_transaction_again(backend: Backend) {
    use diesel::result::{DatabaseErrorKind, Error};
    use sidak::db::{ConnectionManager, DatabaseUrl, SqliteSynchronous};
    let app = TestApp::spawn(backend).await;
    let url = app.database_url();
    let (attempts, versions, persistent) = tokio::task::spawn_blocking(move || {
        let manager = ConnectionManager::new(
            DatabaseUrl::parse(&url).expect("url"),
            SqliteSynchronous::Full,
        );
        let mut conn = manager.establish().expect("connection");
        let before = sidak::db::rollups::dashboard_versions(&mut conn).expect("versions");
        let mut attempts = 0;
        sidak::db::write_tx(&mut conn, |c| {
            attempts += 1;
            sidak::db::rollups::bump_dashboard_version(c)?;
            if attempts < 3 {
                return Err(Error::DatabaseError(
                    DatabaseErrorKind::SerializationFailure,
                    Box::new("could not serialize access due to concurrent update".to_string()),
                ));
            }
            Ok(())
        })
        .expect("the third attempt commits");
        let after = sidak::db::rollups::dashboard_versions(&mut conn).expect("versions");
        let persistent = sidak::db::write_tx(&mut conn, |_| {
            Err::<(), _>(sidak::error::ApiError::from(Error::DatabaseError(
                DatabaseErrorKind::Unknown,
                Box::new("deadlock detected".to_string()),
            )))
        })
        .expect_err("a conflict that persists");
        (attempts, (before, after), persistent)
    })
    .await
    .expect("blocking task");
    assert_eq!(attempts, 3);
    // Only the committed attempt's bump remains.
    assert_eq!(versions.1 .0, versions.0 .0 + 1, "{versions:?}");
    let resp = actix_web::ResponseError::error_response(&persistent);
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
}

/// Reports that arrive together are written in one transaction (`db::group`): a report
/// refused half-way fails the batch's first attempt and rolls back alone in the second,
/// its neighbours stand, a report whose row ids are another's is refused naming the row,
/// and a report sent four times at once is stored once.
async fn reports_written_together_stand_or_fall_alone(backend: Backend) {
    let f = Field::new(backend).await;
    let mut sends: Vec<(Value, u16)> = (0..16)
        .map(|i| {
            let mut report = f.report();
            report["submit"] = json!(i % 2 == 0);
            (report, 201)
        })
        .collect();
    for _ in 0..4 {
        // Refused after its report and attendance rows were written: a finding observed on
        // another day than the inspection's.
        let mut bad = f.report();
        let now = chrono::Utc::now();
        bad["started_at"] = json!((now - chrono::Duration::days(2)).to_rfc3339());
        bad["findings"][0]["observed_at"] = json!((now - chrono::Duration::days(1)).to_rfc3339());
        sends.push((bad, 422));
    }
    let twice = f.report();
    for _ in 0..4 {
        sends.push((twice.clone(), 0));
    }
    // Row ids of a report stored before: refused, each naming its row, by the rows' primary
    // keys when the batch holds its rows, by the check when it is written again.
    let stored = f.report();
    assert_eq!(f.post_report(&f.inspector, &stored).await.status(), 201);
    let mut taken_paths = std::collections::HashMap::new();
    for (path, list, i, taken) in [
        (
            "findings[1].id",
            "findings",
            1,
            &stored["findings"][0]["id"],
        ),
        (
            "attendance[0].id",
            "attendance",
            0,
            &stored["attendance"][2]["id"],
        ),
        (
            "attendance[1].id",
            "attendance",
            1,
            &stored["findings"][1]["id"],
        ),
    ] {
        let mut other = f.report();
        other[list][i]["id"] = taken.clone();
        taken_paths.insert(other["id"].as_str().unwrap().to_string(), path);
        sends.push((other, 409));
    }
    let answers = join_all(sends.iter().map(|(b, _)| f.post_report(&f.inspector, b))).await;
    let mut repeated = Vec::new();
    for ((body, want), resp) in sends.iter().zip(answers) {
        let status = resp.status().as_u16();
        let answer: Value = resp.json().await.unwrap();
        if *want == 0 {
            repeated.push(status);
        } else {
            assert_eq!(status, *want, "{answer}");
        }
        let stored = f
            .app
            .get(
                &format!("/api/v1/inspections/{}", body["id"].as_str().unwrap()),
                Some(&f.admin),
            )
            .await;
        if *want == 409 {
            let path = taken_paths[body["id"].as_str().unwrap()];
            assert!(
                answer["detail"].as_str().unwrap().starts_with(path),
                "{path}: {answer}"
            );
        }
        if *want == 422 || *want == 409 {
            assert_eq!(stored.status(), 404, "a refused report left nothing");
        } else {
            assert_eq!(stored.status(), 200);
            let report: Value = stored.json().await.unwrap();
            // The answer to the write is the report as a read gives it.
            assert_eq!(answer, report);
            assert_eq!(report["attendance"].as_array().unwrap().len(), 3);
            // Two findings sent, one derived from the absence.
            assert_eq!(report["findings"].as_array().unwrap().len(), 3, "{report}");
        }
    }
    repeated.sort();
    assert_eq!(repeated, vec![200, 200, 200, 201]);
    let list: Value = f
        .app
        .get("/api/v1/inspections?limit=100", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    // The sixteen, the report sent four times and the one stored before.
    assert_eq!(list["items"].as_array().unwrap().len(), 18);
    // The audit chain holds together.
    f.app.audit_count(&f.admin).await;
}

/// Submitted reports written in one batch, their rows held to its end (`db::deferred`):
/// each report's flagged officials get one open follow-up between them, with every
/// flagged finding attached; the dashboards count each report once; a draft stored before
/// and sent again among them with `submit` is submitted by its replay; and two reports
/// that name the same attendance id, sent at once among them, are decided one each way.
async fn submitted_reports_written_together_share_follow_ups_and_counts(backend: Backend) {
    let f = Field::new(backend).await;
    let mut sends: Vec<Value> = (0..12)
        .map(|_| {
            let mut report = f.report();
            report["submit"] = json!(true);
            report
        })
        .collect();
    // Two drafts with one attendance id between them: one is stored, the other refused.
    let first = f.report();
    let mut second = f.report();
    second["attendance"][0]["id"] = first["attendance"][0]["id"].clone();
    sends.insert(6, first.clone());
    sends.insert(3, second.clone());
    // A draft stored before, sent again among them with `submit`: submitted by its replay.
    let mut earlier = f.report();
    assert_eq!(f.post_report(&f.inspector, &earlier).await.status(), 201);
    earlier["submit"] = json!(true);
    sends.insert(9, earlier.clone());
    let answers = join_all(sends.iter().map(|b| f.post_report(&f.inspector, b))).await;
    let mut pair = Vec::new();
    for (body, resp) in sends.iter().zip(answers) {
        let status = resp.status().as_u16();
        if body["id"] == earlier["id"] {
            assert_eq!(status, 200, "{}", resp.text().await.unwrap());
        } else if body["id"] == first["id"] || body["id"] == second["id"] {
            pair.push((body["id"].as_str().unwrap().to_string(), status));
            if status != 201 {
                assert_problem(resp, 409).await;
            }
        } else {
            assert_eq!(status, 201, "{}", resp.text().await.unwrap());
        }
    }
    pair.sort_by_key(|(_, s)| *s);
    assert_eq!(
        pair.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        vec![201, 409]
    );
    f.assert_not_stored(&pair[1].0).await;
    let replayed: Value = f
        .app
        .get(
            &format!("/api/v1/inspections/{}", earlier["id"].as_str().unwrap()),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(replayed["status"], "submitted");
    // The absent official and the idle one: one open follow-up each, with the flagged
    // finding of each of the thirteen submitted reports.
    for official in [&f.officials[2], &f.officials[3]] {
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
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{list}");
        let id = items[0]["id"].as_str().unwrap();
        let fu: Value = f
            .app
            .get(&format!("/api/v1/follow-ups/{id}"), Some(&f.admin))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(fu["findings"].as_array().unwrap().len(), 13, "{fu}");
    }
    let day = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive();
    let from = day - chrono::Duration::days(2);
    let summary: Value = f
        .app
        .get(
            &format!("/api/v1/dashboard/summary?from={from}&to={day}"),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    // Drafts are not counted; each submitted report has two findings sent and one derived.
    assert_eq!(summary["findings"], 39, "{summary}");
    assert_eq!(summary["inspections"], 13, "{summary}");
    assert_eq!(summary["follow_ups_by_status"]["open"], 2, "{summary}");
    f.app.audit_count(&f.admin).await;
}
