//! API keys for dashboards, and cheap polling (ETag / 304) of the dashboard answers.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{assert_problem, Backend, TestApp};
use crate::inspections::Field;

both_backends!(
    key_lifecycle_create_use_revoke,
    expired_and_unknown_keys_get_the_same_401,
    keys_are_validated_and_only_admins_make_them,
    a_viewer_key_reads_dashboards_only,
    each_key_has_its_own_rate_limit,
    cli_keys_and_the_server_log_never_show_the_secret,
    dashboards_answer_304_until_something_changes,
    dashboard_items_are_flat_and_match_the_csv,
);

/// Creates a key as `admin`; returns its id and secret.
/// A key with the default scopes (`dashboards`).
pub async fn create_key(app: &TestApp, admin: &str, role: &str) -> (String, String) {
    create_key_scoped(app, admin, role, None).await
}

/// Every scope a key can have.
pub const ALL_SCOPES: &[&str] = &[
    "dashboards",
    "officials:read",
    "reports:read",
    "follow-ups:read",
    "audit:read",
    "metrics",
];

/// A key with `scopes` (`None`: the default).
pub async fn create_key_scoped(
    app: &TestApp,
    admin: &str,
    role: &str,
    scopes: Option<&[&str]>,
) -> (String, String) {
    let mut body = json!({"name": format!("Layar {role}"), "role": role});
    if let Some(scopes) = scopes {
        body["scopes"] = json!(scopes);
    }
    let resp = app.post("/api/v1/api-keys", Some(admin), &body).await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    (
        body["id"].as_str().unwrap().to_string(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

async fn with_key_header(app: &TestApp, path: &str, key: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap()
}

async fn list_keys(app: &TestApp, admin: &str) -> (Vec<Value>, String) {
    let resp = app.get("/api/v1/api-keys?limit=200", Some(admin)).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    (body["items"].as_array().unwrap().clone(), text)
}

const SUMMARY: &str = "/api/v1/dashboard/summary";

async fn key_lifecycle_create_use_revoke(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let audit_before = app.audit_count(&admin).await;

    let resp = app
        .post(
            "/api/v1/api-keys",
            Some(&admin),
            &json!({"name": "Layar kantor wali kota", "role": "viewer"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let created: Value = resp.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/api/v1/api-keys/{id}"));
    assert!(secret.starts_with("sdk_"));
    // 256 random bits in base64url: 43 characters after the prefix.
    assert_eq!(secret.len(), 4 + 43);
    assert_eq!(created["role"], "viewer");
    assert_eq!(created["name"], "Layar kantor wali kota");
    assert!(secret.starts_with(created["prefix"].as_str().unwrap()));
    assert!(created["last_used_at"].is_null() && created["revoked_at"].is_null());
    assert_eq!(app.audit_count(&admin).await, audit_before + 1);

    // Either header works; both at once is refused.
    let resp = app.get(SUMMARY, Some(&secret)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(with_key_header(&app, SUMMARY, &secret).await.status(), 200);
    let resp = app
        .client
        .get(app.url(SUMMARY))
        .header("x-api-key", &secret)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 401).await;

    // The list shows metadata and the use, never the secret or its hash.
    let (items, text) = list_keys(&app, &admin).await;
    assert!(!text.contains(&secret[4..]), "the secret is listed");
    assert!(!text.contains("secret"), "a secret field is listed: {text}");
    let key = items.iter().find(|k| k["id"] == id.as_str()).unwrap();
    assert!(key["last_used_at"].is_string(), "use not recorded: {key}");
    assert!(key["created_by"].as_str().is_some());
    let first_use = key["last_used_at"].clone();
    // Further uses within the minute do not write again.
    for _ in 0..5 {
        assert_eq!(app.get(SUMMARY, Some(&secret)).await.status(), 200);
    }
    let (items, _) = list_keys(&app, &admin).await;
    let key = items.iter().find(|k| k["id"] == id.as_str()).unwrap();
    assert_eq!(key["last_used_at"], first_use);

    // Revoked: refused from the next request on, with the body an unknown key gets.
    let resp = app
        .request(
            Method::DELETE,
            &format!("/api/v1/api-keys/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(resp.status(), 204);
    let revoked = assert_problem(app.get(SUMMARY, Some(&secret)).await, 401).await;
    let unknown = format!("sdk_{}", "A".repeat(43));
    let unknown = assert_problem(app.get(SUMMARY, Some(&unknown)).await, 401).await;
    assert_eq!(revoked["detail"], unknown["detail"]);
    assert_eq!(revoked["title"], unknown["title"]);
    assert_eq!(with_key_header(&app, SUMMARY, &secret).await.status(), 401);
    // Revoking again changes nothing; an unknown id is 404.
    let audit_after_revoke = app.audit_count(&admin).await;
    assert_eq!(audit_after_revoke, audit_before + 2);
    let resp = app
        .request(
            Method::DELETE,
            &format!("/api/v1/api-keys/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert_eq!(app.audit_count(&admin).await, audit_after_revoke);
    let resp = app
        .request(
            Method::DELETE,
            &format!("/api/v1/api-keys/{}", uuid::Uuid::new_v4()),
            Some(&admin),
            None,
        )
        .await;
    assert_problem(resp, 404).await;
    let (items, _) = list_keys(&app, &admin).await;
    let key = items.iter().find(|k| k["id"] == id.as_str()).unwrap();
    assert!(key["revoked_at"].is_string());

    // Creation and revocation are audited, without the secret.
    let resp = app
        .get(
            &format!("/api/v1/audit?entity=api_key&entity_id={id}"),
            Some(&admin),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(
        !text.contains(&secret[4..]),
        "the secret is in the audit log"
    );
    let audit: Value = serde_json::from_str(&text).unwrap();
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"api_key.create") && actions.contains(&"api_key.revoke"),
        "{actions:?}"
    );
    // Nor in the metrics.
    let metrics = app
        .get("/metrics", Some(&admin))
        .await
        .text()
        .await
        .unwrap();
    assert!(!metrics.contains(&secret[4..]));
}

async fn expired_and_unknown_keys_get_the_same_401(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let expires = chrono::Utc::now() + chrono::Duration::seconds(2);
    let resp = app
        .post(
            "/api/v1/api-keys",
            Some(&admin),
            &json!({"name": "Sementara", "role": "supervisor", "expires_at": expires.to_rfc3339(),
                    "scopes": ["follow-ups:read"]}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    assert!(created["expires_at"].is_string());
    let secret = created["secret"].as_str().unwrap().to_string();
    assert_eq!(
        app.get("/api/v1/follow-ups", Some(&secret)).await.status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let expired = assert_problem(app.get("/api/v1/follow-ups", Some(&secret)).await, 401).await;
    // A near miss of a real key, a malformed one and a bare prefix: all the same answer.
    let mut near = secret.clone();
    near.pop();
    near.push(if secret.ends_with('A') { 'B' } else { 'A' });
    for other in [near.as_str(), "sdk_", "sdk_tidak-ada"] {
        let body = assert_problem(app.get("/api/v1/follow-ups", Some(other)).await, 401).await;
        assert_eq!(body["detail"], expired["detail"]);
    }
}

async fn keys_are_validated_and_only_admins_make_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let supervisor = app.token_for_role(&admin, "supervisor").await;
    let (_, key) = create_key(&app, &admin, "supervisor").await;
    let before = list_keys(&app, &admin).await.0.len();
    let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    for (body, field) in [
        (json!({"name": "Kunci admin", "role": "admin"}), "role"),
        (
            json!({"name": "Kunci inspektur", "role": "inspector"}),
            "role",
        ),
        (json!({"name": "  ", "role": "viewer"}), "name"),
        (json!({"name": "x".repeat(101), "role": "viewer"}), "name"),
        (json!({"name": "Baris\nbaru", "role": "viewer"}), "name"),
        (
            json!({"name": "Lewat", "role": "viewer", "expires_at": past}),
            "expires_at",
        ),
        (json!({"name": "Tanpa peran"}), "role"),
    ] {
        let resp = app.post("/api/v1/api-keys", Some(&admin), &body).await;
        let problem = assert_problem(resp, 422).await;
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{body}: {problem}"
        );
    }
    let ok = json!({"name": "Dasbor", "role": "viewer"});
    assert_problem(
        app.post("/api/v1/api-keys", Some(&supervisor), &ok).await,
        403,
    )
    .await;
    // A key cannot make keys, even a supervisor's.
    assert_problem(app.post("/api/v1/api-keys", Some(&key), &ok).await, 403).await;
    assert_problem(app.get("/api/v1/api-keys", Some(&key)).await, 403).await;
    assert_eq!(list_keys(&app, &admin).await.0.len(), before);

    // Pages: newest first, a cursor to the rest.
    for _ in 0..3 {
        create_key(&app, &admin, "viewer").await;
    }
    let resp = app.get("/api/v1/api-keys?limit=2", Some(&admin)).await;
    let page: Value = resp.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let resp = app
        .get(
            &format!("/api/v1/api-keys?limit=200&cursor={cursor}"),
            Some(&admin),
        )
        .await;
    let rest: Value = resp.json().await.unwrap();
    assert_eq!(rest["items"].as_array().unwrap().len(), before + 3 - 2);
    let first_ids: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["id"])
        .collect();
    assert!(rest["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| !first_ids.contains(&&k["id"])));
    assert_problem(
        app.get("/api/v1/api-keys?cursor=bukan", Some(&admin)).await,
        422,
    )
    .await;
}

async fn a_viewer_key_reads_dashboards_only(backend: Backend) {
    let f = Field::new(backend).await;
    let app = &f.app;
    let (_, viewer) = create_key(app, &f.admin, "viewer").await;
    let (_, supervisor) = create_key_scoped(app, &f.admin, "supervisor", Some(ALL_SCOPES)).await;
    let report = f.report();
    let id = report["id"].as_str().unwrap().to_string();
    assert_eq!(f.post_report(&f.inspector, &report).await.status(), 201);
    for path in [
        "/api/v1/dashboard/summary",
        "/api/v1/dashboard/opds",
        "/api/v1/dashboard/trends",
    ] {
        assert_eq!(app.get(path, Some(&viewer)).await.status(), 200, "{path}");
    }
    for path in [
        "/api/v1/officials".to_string(),
        format!("/api/v1/officials/{}", f.officials[0]),
        "/api/v1/inspections".to_string(),
        format!("/api/v1/inspections/{id}"),
        "/api/v1/follow-ups".to_string(),
        "/api/v1/dashboard/officials".to_string(),
        "/api/v1/sync".to_string(),
    ] {
        assert_problem(app.get(&path, Some(&viewer)).await, 403).await;
    }
    // A supervisor key reads what a supervisor reads, and changes nothing.
    assert_eq!(
        app.get(&format!("/api/v1/inspections/{id}"), Some(&supervisor))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get("/api/v1/dashboard/officials", Some(&supervisor))
            .await
            .status(),
        200
    );
    let resp = app
        .patch(
            &format!("/api/v1/inspections/{id}"),
            Some(&supervisor),
            &json!({"notes": "diubah"}),
        )
        .await;
    let problem = assert_problem(resp, 403).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("only read"),
        "{problem}"
    );
    let resp = app
        .client
        .post(app.url("/api/v1/follow-ups"))
        .header("x-api-key", &supervisor)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 403).await;
    let stored: Value = app
        .get(&format!("/api/v1/inspections/{id}"), Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["notes"], report["notes"]);
}

async fn each_key_has_its_own_rate_limit(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("SIDAK_API_KEY_RATE_PER_MINUTE", "5")]).await;
    let admin = app.admin_token().await;
    let (_, first) = create_key(&app, &admin, "viewer").await;
    let (_, second) = create_key(&app, &admin, "viewer").await;
    for _ in 0..5 {
        assert_eq!(app.get(SUMMARY, Some(&first)).await.status(), 200);
    }
    let resp = app.get(SUMMARY, Some(&first)).await;
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_problem(resp, 429).await;
    assert_eq!(app.get(SUMMARY, Some(&second)).await.status(), 200);
    // Users are not limited by the keys' quota.
    for _ in 0..6 {
        assert_eq!(app.get(SUMMARY, Some(&admin)).await.status(), 200);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The command line makes a key on the deployment's database; the real binary, logging at
/// `debug`, serves it and is sent it valid, revoked and broken: its log never holds the secret.
async fn cli_keys_and_the_server_log_never_show_the_secret(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let data = app.data_dir().join("cli");
    std::fs::create_dir_all(&data).unwrap();
    let env = |cmd: &mut std::process::Command| {
        cmd.env("DATABASE_URL", app.database_url())
            .env("SIDAK_DATA_DIR", &data)
            .env("SIDAK_JWT_SECRET", crate::helpers::TEST_JWT_SECRET)
            .env("RUST_LOG", "debug")
            .env("SIDAK_LOG_FORMAT", "json");
    };
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sidak"));
    env(&mut cmd);
    let out = cmd
        .args([
            "api-key", "create", "--name", "Metabase", "--role", "viewer",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(secret.starts_with("sdk_") && secret.len() == 47, "{secret}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&secret));
    // An admin key is refused on the command line too.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sidak"));
    env(&mut cmd);
    let out = cmd
        .args(["api-key", "create", "--name", "Admin", "--role", "admin"])
        .output()
        .unwrap();
    assert!(!out.status.success());

    // The key made on the command line works on the test server (same database) at once.
    assert_eq!(app.get(SUMMARY, Some(&secret)).await.status(), 200);
    let (items, _) = list_keys(&app, &admin).await;
    let key = items.iter().find(|k| k["name"] == "Metabase").unwrap();
    assert!(key["created_by"].is_null());
    let id = key["id"].as_str().unwrap().to_string();

    let port = free_port();
    let log_path = data.join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sidak"));
    env(&mut cmd);
    let mut server = cmd
        .arg("serve")
        .env("SIDAK_BIND", format!("127.0.0.1:{port}"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..200 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the server did not start");
    let get = |key: String, path: &'static str| {
        let client = client.clone();
        let base = base.clone();
        async move {
            client
                .get(format!("{base}{path}"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(get(secret.clone(), SUMMARY).await, 200);
    assert_eq!(get(secret.clone(), "/api/v1/officials").await, 403);
    let mut broken = secret.clone();
    broken.push('x');
    assert_eq!(get(broken, SUMMARY).await, 401);
    let resp = client
        .post(format!("{base}/api/v1/follow-ups"))
        .header("x-api-key", &secret)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // Revoked on the command line: refused by both servers at once.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sidak"));
    env(&mut cmd);
    let out = cmd.args(["api-key", "revoke", &id]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(get(secret.clone(), SUMMARY).await, 401);
    assert_eq!(app.get(SUMMARY, Some(&secret)).await.status(), 401);

    let _ = server.kill();
    let _ = server.wait();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("request"), "the server logged nothing: {log}");
    assert!(
        !log.contains(&secret[4..]),
        "the secret is in the server log"
    );
}

async fn etag_of(resp: &reqwest::Response) -> String {
    resp.headers()["etag"].to_str().unwrap().to_string()
}

async fn conditional(app: &TestApp, path: &str, token: &str, etag: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap()
}

async fn dashboards_answer_304_until_something_changes(backend: Backend) {
    let f = Field::with(backend, &[("SIDAK_DASHBOARD_MAX_AGE_SECONDS", "300")]).await;
    let app = &f.app;
    let (_, key) = create_key(app, &f.admin, "supervisor").await;
    let mut submitted = f.report();
    submitted["submit"] = json!(true);
    assert_eq!(f.post_report(&f.inspector, &submitted).await.status(), 201);

    let paths = [
        SUMMARY,
        "/api/v1/dashboard/opds",
        "/api/v1/dashboard/trends?interval=week",
        "/api/v1/dashboard/officials?min_findings=1",
        "/api/v1/dashboard/summary?format=csv",
    ];
    let mut tags = Vec::new();
    for path in paths {
        let resp = app.get(path, Some(&key)).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(resp.headers()["cache-control"], "private, max-age=300");
        let tag = etag_of(&resp).await;
        assert!(tag.starts_with('"') && tag.ends_with('"'), "{tag}");
        // Nothing changed: 304, no body, the same validator.
        let resp = conditional(app, path, &key, &tag).await;
        assert_eq!(resp.status(), 304, "{path}");
        assert_eq!(etag_of(&resp).await, tag);
        assert_eq!(resp.headers()["cache-control"], "private, max-age=300");
        assert!(resp.bytes().await.unwrap().is_empty());
        // A weak form and a list naming it match too; another tag does not.
        assert_eq!(
            conditional(app, path, &key, &format!("\"x\", W/{tag}"))
                .await
                .status(),
            304
        );
        assert_eq!(conditional(app, path, &key, "\"x\"").await.status(), 200);
        tags.push(tag);
    }
    // Different questions have different validators (JSON and CSV included).
    let unique: std::collections::BTreeSet<&String> = tags.iter().collect();
    assert_eq!(unique.len(), tags.len());
    // The same question from a viewer differs from a supervisor's.
    let viewer = app.token_for_role(&f.admin, "viewer").await;
    let resp = app.get(SUMMARY, Some(&viewer)).await;
    assert_ne!(etag_of(&resp).await, tags[0]);
    // Bad input is still refused, not answered 304.
    let resp = conditional(app, "/api/v1/dashboard/summary?from=kemarin", &key, "*").await;
    assert_problem(resp, 400).await;
    let resp = conditional(app, "/api/v1/dashboard/officials?min_findings=0", &key, "*").await;
    assert_problem(resp, 422).await;

    // A draft changes no dashboard: still 304.
    assert_eq!(f.post_report(&f.inspector, &f.report()).await.status(), 201);
    assert_eq!(
        conditional(app, SUMMARY, &key, &tags[0]).await.status(),
        304
    );

    // A newly submitted report: every dashboard answers 200 with a new validator and the
    // new figures.
    let before: Value = app.get(SUMMARY, Some(&key)).await.json().await.unwrap();
    let mut another = f.report();
    another["submit"] = json!(true);
    assert_eq!(f.post_report(&f.inspector, &another).await.status(), 201);
    for (path, old) in paths.iter().zip(&tags) {
        let resp = conditional(app, path, &key, old).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_ne!(&etag_of(&resp).await, old, "{path}");
    }
    let after: Value = app.get(SUMMARY, Some(&key)).await.json().await.unwrap();
    assert_eq!(
        after["inspections"],
        before["inspections"].as_i64().unwrap() + 1
    );

    // A supervisor's decision on a follow-up changes the summary too.
    let resp = app.get(SUMMARY, Some(&key)).await;
    let tag = etag_of(&resp).await;
    let follow_ups: Value = app
        .get("/api/v1/follow-ups", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    let fu = follow_ups["items"][0]["id"]
        .as_str()
        .expect("an automatic follow-up")
        .to_string();
    let resp = app
        .post(
            &format!("/api/v1/follow-ups/{fu}/actions"),
            Some(&f.admin),
            &json!({"action": "dismiss", "note": "Ada surat tugas"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(conditional(app, SUMMARY, &key, &tag).await.status(), 200);

    // Renaming an OPD changes the per-OPD rows.
    let resp = app.get("/api/v1/dashboard/opds", Some(&key)).await;
    let tag = etag_of(&resp).await;
    let resp = app
        .patch(
            &format!("/api/v1/opds/{}", f.opd),
            Some(&f.admin),
            &json!({"name": "Dinas Kesehatan Kota"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let resp = conditional(app, "/api/v1/dashboard/opds", &key, &tag).await;
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.unwrap();
    assert!(body.contains("Dinas Kesehatan Kota"));
}

async fn dashboard_items_are_flat_and_match_the_csv(backend: Backend) {
    let f = Field::new(backend).await;
    let app = &f.app;
    let (_, key) = create_key(app, &f.admin, "supervisor").await;
    let mut submitted = f.report();
    submitted["submit"] = json!(true);
    assert_eq!(f.post_report(&f.inspector, &submitted).await.status(), 201);
    for path in [
        SUMMARY,
        "/api/v1/dashboard/opds",
        "/api/v1/dashboard/trends?interval=month",
        "/api/v1/dashboard/officials?min_findings=1",
    ] {
        let body: Value = app.get(path, Some(&key)).await.json().await.unwrap();
        let items = body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: no items"));
        assert!(!items.is_empty(), "{path}");
        for item in items {
            for (k, v) in item.as_object().unwrap() {
                assert!(
                    !v.is_object() && !v.is_array(),
                    "{path}: {k} is not a scalar"
                );
            }
        }
        let sep = if path.contains('?') { '&' } else { '?' };
        let csv = app
            .get(&format!("{path}{sep}format=csv"), Some(&key))
            .await
            .text()
            .await
            .unwrap();
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let columns: Vec<&str> = items[0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            header, columns,
            "{path}: CSV columns differ from the JSON items"
        );
        assert_eq!(csv.lines().count(), items.len() + 1, "{path}");
    }
    // The summary's row holds the same figures as its named fields.
    let body: Value = app.get(SUMMARY, Some(&key)).await.json().await.unwrap();
    let row = &body["items"][0];
    assert_eq!(row["inspections"], body["inspections"]);
    assert_eq!(row["findings"], body["findings"]);
    assert_eq!(
        row["findings_by_severity_high"],
        body["findings_by_severity"]["high"]
    );
}
