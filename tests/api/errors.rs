//! Bad input of every kind gets a clear problem+json 4xx and changes nothing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{assert_problem, Backend, TestApp, PASSWORD};

both_backends!(
    bad_bodies_get_clear_errors_and_change_nothing,
    unknown_routes_and_methods
);

async fn user_count(app: &TestApp, admin: &str) -> usize {
    let list: Value = app
        .get("/api/v1/users?limit=200", Some(admin))
        .await
        .json()
        .await
        .unwrap();
    list["items"].as_array().unwrap().len()
}

async fn bad_bodies_get_clear_errors_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let before = user_count(&app, &admin).await;
    let send = |body: Vec<u8>, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/users"))
            .bearer_auth(&admin)
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    // Malformed JSON.
    for body in [
        &b"{"[..],
        b"{\"username\": }",
        b"",
        b"null x",
        b"\xff\xfe{}",
        b"{\"username\":\"a\x00\"}",
    ] {
        let resp = send(body.to_vec(), "application/json").await.unwrap();
        let status = resp.status().as_u16();
        assert!(
            status == 400 || status == 422,
            "{:?}: {status}",
            String::from_utf8_lossy(body)
        );
        assert_problem(resp, status).await;
    }
    let resp = send(b"{\"username\": ".to_vec(), "application/json")
        .await
        .unwrap();
    assert_problem(resp, 400).await;

    // Well-formed but the wrong shape: 422 naming the field.
    let resp = send(
        serde_json::to_vec(&json!({"username": "x.y.z", "full_name": "X", "role": "viewer", "password": PASSWORD, "is_admin": true})).unwrap(),
        "application/json",
    )
    .await
    .unwrap();
    let problem = assert_problem(resp, 422).await;
    assert_eq!(problem["errors"][0]["field"], "is_admin");
    let resp = send(b"[1, 2, 3]".to_vec(), "application/json")
        .await
        .unwrap();
    assert_problem(resp, 422).await;

    // Wrong content type.
    let resp = send(b"username=x".to_vec(), "application/x-www-form-urlencoded")
        .await
        .unwrap();
    assert_problem(resp, 415).await;
    let resp = app
        .client
        .post(app.url("/api/v1/users"))
        .bearer_auth(&admin)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(resp, 415).await;

    // 10 MB.
    let big = json!({"username": "big.body", "full_name": "x".repeat(10 * 1024 * 1024), "role": "viewer", "password": PASSWORD});
    let resp = send(serde_json::to_vec(&big).unwrap(), "application/json")
        .await
        .unwrap();
    assert_problem(resp, 413).await;
    // Also on the unauthenticated login route.
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(
            serde_json::to_vec(&json!({"username": "x", "password": "y".repeat(10 * 1024 * 1024)}))
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_problem(resp, 413).await;

    // SQL-looking input is just text.
    let resp = app
        .post(
            "/api/v1/users",
            Some(&admin),
            &json!({"username": "robert.tables", "full_name": "Robert'); DROP TABLE users;--", "role": "viewer", "password": PASSWORD}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["full_name"], "Robert'); DROP TABLE users;--");
    assert_eq!(user_count(&app, &admin).await, before + 1);
    let resp = app.login("x' OR '1'='1", "' OR '1'='1").await;
    assert_problem(resp, 401).await;
}

async fn unknown_routes_and_methods(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    assert_problem(app.get("/api/v1/nothing-here", Some(&admin)).await, 404).await;
    assert_problem(app.get("/nothing", None).await, 404).await;

    let resp = app
        .request(Method::DELETE, "/api/v1/users", Some(&admin), None)
        .await;
    assert_eq!(resp.headers()["allow"], "GET, POST");
    assert_problem(resp, 405).await;
    let resp = app
        .request(
            Method::PUT,
            &format!("/api/v1/users/{}", uuid::Uuid::new_v4()),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(resp.headers()["allow"], "GET, PATCH");
    assert_problem(resp, 405).await;
    let resp = app
        .request(Method::GET, "/api/v1/auth/login", None, None)
        .await;
    assert_eq!(resp.headers()["allow"], "POST");
    assert_problem(resp, 405).await;

    // Security headers and the request id on every response, a caller's id kept.
    let resp = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&admin)
        .header("x-request-id", "phone-req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "phone-req-42");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
    let resp = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    let id = resp.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}
