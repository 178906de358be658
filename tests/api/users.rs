use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{assert_problem, Backend, TestApp, PASSWORD};

both_backends!(
    admin_manages_users,
    usernames_are_unique_ignoring_case,
    user_input_is_validated,
    users_are_paginated_with_a_cursor,
    the_last_admin_cannot_be_removed,
    cli_creates_users,
);

async fn admin_manages_users(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let resp = app
        .post(
            "/api/v1/users",
            Some(&admin),
            &json!({"username": "Siti.R", "full_name": "  Siti Rahmawati ", "role": "supervisor", "password": PASSWORD}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let created: Value = resp.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/users/{}", created["id"].as_str().unwrap())
    );
    assert_eq!(created["username"], "Siti.R");
    assert_eq!(created["full_name"], "Siti Rahmawati");
    assert_eq!(created["role"], "supervisor");
    assert_eq!(created["active"], true);
    assert!(created.get("password").is_none() && created.get("password_hash").is_none());

    let fetched: Value = app.get(&location, Some(&admin)).await.json().await.unwrap();
    assert_eq!(fetched, created);

    let resp = app
        .patch(
            &location,
            Some(&admin),
            &json!({"role": "inspector", "full_name": "Siti R."}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let updated: Value = resp.json().await.unwrap();
    assert_eq!(updated["role"], "inspector");
    assert_eq!(updated["full_name"], "Siti R.");
    assert_eq!(updated["created_at"], created["created_at"]);

    // The new role applies to an existing token at once.
    let session = app.login_ok("siti.r", PASSWORD).await;
    let me: Value = app
        .get(
            "/api/v1/me",
            Some(session["access_token"].as_str().unwrap()),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "inspector");

    // An admin sets a new password: the old one stops working, and so do refresh tokens.
    let resp = app
        .patch(
            &location,
            Some(&admin),
            &json!({"password": "diganti-oleh-admin"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(app.login("siti.r", PASSWORD).await.status(), 401);
    app.login_ok("siti.r", "diganti-oleh-admin").await;
    let resp = app
        .post(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": session["refresh_token"]}),
        )
        .await;
    assert_eq!(resp.status(), 401);

    // Unknown ids and malformed ids are 404.
    let missing = format!("/api/v1/users/{}", uuid::Uuid::new_v4());
    assert_problem(app.get(&missing, Some(&admin)).await, 404).await;
    assert_problem(
        app.patch(&missing, Some(&admin), &json!({"active": false}))
            .await,
        404,
    )
    .await;
    assert_problem(app.get("/api/v1/users/not-a-uuid", Some(&admin)).await, 404).await;
}

async fn usernames_are_unique_ignoring_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "budi", "inspector").await;
    for name in ["budi", "BUDI", "Budi"] {
        let resp = app
            .post(
                "/api/v1/users",
                Some(&admin),
                &json!({"username": name, "full_name": "Budi Dua", "role": "viewer", "password": PASSWORD}),
            )
            .await;
        assert_problem(resp, 409).await;
    }
    let list: Value = app
        .get("/api/v1/users", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

async fn user_input_is_validated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let cases = [
        (
            json!({"username": "ab", "full_name": "X", "role": "viewer", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "with space", "full_name": "X", "role": "viewer", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "valid.name", "full_name": "   ", "role": "viewer", "password": PASSWORD}),
            "full_name",
        ),
        (
            json!({"username": "valid.name", "full_name": "", "role": "viewer", "password": PASSWORD}),
            "full_name",
        ),
        (
            json!({"username": "valid.name", "full_name": "X", "role": "viewer", "password": "short"}),
            "password",
        ),
        (
            json!({"username": "valid.name", "full_name": "X", "role": "viewer", "password": "Valid.Name"}),
            "password",
        ),
        (
            json!({"username": "valid.name", "full_name": "X", "role": "root", "password": PASSWORD}),
            "role",
        ),
        (
            json!({"username": "valid.name", "full_name": "X", "role": "viewer"}),
            "password",
        ),
        (
            json!({"username": 42, "full_name": "X", "role": "viewer", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "valid.name", "full_name": "X", "role": "viewer", "password": PASSWORD, "active": false}),
            "active",
        ),
    ];
    for (body, field) in cases {
        let problem =
            assert_problem(app.post("/api/v1/users", Some(&admin), &body).await, 422).await;
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{body}: {fields:?}");
    }
    // Several problems at once are all reported.
    let problem = assert_problem(
        app.post(
            "/api/v1/users",
            Some(&admin),
            &json!({"username": "x", "full_name": "", "role": "viewer", "password": "short"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 3);

    let id = app.create_user(&admin, "valid.name", "viewer").await;
    let path = format!("/api/v1/users/{id}");
    // A body that changes nothing answers the user as it is and writes no audit entry.
    let audit_before = app.audit_count(&admin).await;
    let resp = app.patch(&path, Some(&admin), &json!({"role": null})).await;
    assert_eq!(resp.status(), 200);
    let unchanged: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(unchanged["role"], "viewer");
    assert_eq!(app.audit_count(&admin).await, audit_before);
    assert_problem(
        app.patch(&path, Some(&admin), &json!({"full_name": ""}))
            .await,
        422,
    )
    .await;
    assert_problem(
        app.patch(&path, Some(&admin), &json!({"password": "short"}))
            .await,
        422,
    )
    .await;
    assert_problem(
        app.patch(&path, Some(&admin), &json!({"username": "renamed"}))
            .await,
        422,
    )
    .await;
    // Nothing of that was written: only admin and valid.name exist, unchanged.
    let list: Value = app
        .get("/api/v1/users", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let user: Value = app.get(&path, Some(&admin)).await.json().await.unwrap();
    assert_eq!(user["full_name"], "User valid.name");
    app.login_ok("valid.name", PASSWORD).await;
}

async fn users_are_paginated_with_a_cursor(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    for name in ["e-user", "C-user", "a-user", "d-user", "b-user"] {
        app.create_user(&admin, name, "inspector").await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/users?limit=2&role=inspector".to_string();
    loop {
        let page: Value = app.get(&path, Some(&admin)).await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|u| u["username"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/users?limit=2&role=inspector&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["a-user", "b-user", "C-user", "d-user", "e-user"]);

    let page: Value = app
        .get("/api/v1/users?active=false", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    assert!(page["next_cursor"].is_null());

    for bad in [
        "limit=0",
        "limit=201",
        "limit=1000000",
        "limit=-5",
        "cursor=%%%",
        "cursor=bm90LWpzb24",
    ] {
        let resp = app.get(&format!("/api/v1/users?{bad}"), Some(&admin)).await;
        let status = resp.status().as_u16();
        assert!(status == 400 || status == 422, "{bad}: {status}");
        assert_problem(resp, status).await;
    }
    assert_problem(app.get("/api/v1/users?limit=abc", Some(&admin)).await, 400).await;
    assert_problem(app.get("/api/v1/users?role=root", Some(&admin)).await, 400).await;
}

async fn the_last_admin_cannot_be_removed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let me: Value = app
        .get("/api/v1/me", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/v1/users/{}", me["id"].as_str().unwrap());
    assert_problem(
        app.patch(&path, Some(&admin), &json!({"active": false}))
            .await,
        409,
    )
    .await;
    assert_problem(
        app.patch(&path, Some(&admin), &json!({"role": "viewer"}))
            .await,
        409,
    )
    .await;
    let still: Value = app.get(&path, Some(&admin)).await.json().await.unwrap();
    assert_eq!(still["role"], "admin");
    assert_eq!(still["active"], true);

    // With a second admin, the first may step down.
    let other = app.create_user(&admin, "admin2", "admin").await;
    let resp = app
        .patch(&path, Some(&admin), &json!({"role": "supervisor"}))
        .await;
    assert_eq!(resp.status(), 200);
    let _ = other;
}

async fn cli_creates_users(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let run = |username: &str, role: &str, password: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sidak"));
        cmd.args([
            "user",
            "create",
            "--username",
            username,
            "--role",
            role,
            "--full-name",
            "Dari CLI",
        ])
        .env("DATABASE_URL", app.database_url())
        .env("SIDAK_DATA_DIR", app.data_dir())
        .env_remove("SIDAK_USER_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            if let Some(p) = password {
                writeln!(stdin, "{p}").unwrap();
            }
        }
        child.wait_with_output().unwrap()
    };
    // The server runs on its own threads; blocking this test's thread on the child is fine.
    let out = run("cli.inspector", "inspector", Some("dari-stdin-panjang"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let session = app.login_ok("cli.inspector", "dari-stdin-panjang").await;
    assert_eq!(session["user"]["role"], "inspector");
    assert_eq!(session["user"]["full_name"], "Dari CLI");

    // Taken username and weak password are refused with a message, nothing created.
    let out = run("CLI.inspector", "viewer", Some("another-long-one"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already taken"));
    let out = run("cli.viewer", "viewer", Some("short"));
    assert!(!out.status.success());
    assert_eq!(app.login("cli.viewer", "short").await.status(), 401);
}
