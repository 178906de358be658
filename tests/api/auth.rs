use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{assert_problem, token_of, Backend, TestApp, ADMIN_PASSWORD, PASSWORD};

both_backends!(
    login_returns_tokens_and_user,
    wrong_password_and_unknown_user_look_the_same,
    deactivated_user_is_locked_out_at_once,
    account_throttling_kicks_in_and_releases,
    address_throttling_counts_failures_only,
    refresh_rotates_and_reuse_kills_the_chain,
    concurrent_refreshes_give_exactly_one_success,
    logout_revokes_the_refresh_token,
    password_change_revokes_refresh_tokens,
    first_start_admin_is_created_once,
    generated_admin_password_is_reported_once,
);

async fn login_returns_tokens_and_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = app.login_ok("admin", ADMIN_PASSWORD).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["username"], "admin");
    assert_eq!(body["user"]["role"], "admin");
    assert!(body["user"].get("password_hash").is_none());
    assert!(body["refresh_token"].as_str().unwrap().len() >= 43);
    // Usernames are case-insensitive at login too.
    app.login_ok("ADMIN", ADMIN_PASSWORD).await;

    let me = app.get("/api/v1/me", Some(&token_of(&body))).await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["id"], body["user"]["id"]);
}

async fn wrong_password_and_unknown_user_look_the_same(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let wrong = app.login("admin", "not-the-password").await;
    assert_eq!(wrong.status(), 401);
    let wrong_body = wrong.text().await.unwrap();
    let unknown = app.login("nobody-here", "not-the-password").await;
    assert_eq!(unknown.status(), 401);
    let unknown_body = unknown.text().await.unwrap();
    assert_eq!(wrong_body, unknown_body);
    let problem: Value = serde_json::from_str(&wrong_body).unwrap();
    assert_eq!(problem["status"], 401);
}

async fn deactivated_user_is_locked_out_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let id = app.create_user(&admin, "petugas.satu", "inspector").await;
    let session = app.login_ok("petugas.satu", PASSWORD).await;
    let access = token_of(&session);
    assert_eq!(app.get("/api/v1/me", Some(&access)).await.status(), 200);

    let resp = app
        .patch(
            &format!("/api/v1/users/{id}"),
            Some(&admin),
            &json!({"active": false}),
        )
        .await;
    assert_eq!(resp.status(), 200);

    assert_problem(app.get("/api/v1/me", Some(&access)).await, 401).await;
    let refresh = app
        .post(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": session["refresh_token"]}),
        )
        .await;
    assert_problem(refresh, 401).await;
    // The right password of a deactivated account gives the same 401 as a wrong one.
    let login = app.login("petugas.satu", PASSWORD).await;
    let wrong = app.login("petugas.satu", "wrong-password-x").await;
    assert_eq!(login.status(), 401);
    assert_eq!(login.text().await.unwrap(), wrong.text().await.unwrap());

    // Reactivated: logging in works again, the old refresh token does not.
    let resp = app
        .patch(
            &format!("/api/v1/users/{id}"),
            Some(&admin),
            &json!({"active": true}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    app.login_ok("petugas.satu", PASSWORD).await;
    let refresh = app
        .post(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": session["refresh_token"]}),
        )
        .await;
    assert_eq!(refresh.status(), 401);
}

async fn account_throttling_kicks_in_and_releases(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("SIDAK_LOGIN_MAX_FAILURES", "3"),
            ("SIDAK_LOGIN_LOCKOUT_SECONDS", "1"),
        ],
    )
    .await;
    for _ in 0..3 {
        assert_eq!(app.login("admin", "wrong-password-1").await.status(), 401);
    }
    // Locked: even the right password is held back, with Retry-After.
    let locked = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(locked.status(), 429);
    let retry: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=1).contains(&retry), "Retry-After {retry}");
    assert_problem(locked, 429).await;
    // Another account is not affected.
    assert_eq!(
        app.login("someone-else", "wrong-password-1").await.status(),
        401
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.login_ok("admin", ADMIN_PASSWORD).await;
}

async fn address_throttling_counts_failures_only(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("SIDAK_LOGIN_ADDRESS_MAX_FAILURES", "4"),
            ("SIDAK_LOGIN_ADDRESS_WINDOW_SECONDS", "2"),
        ],
    )
    .await;
    // Successful logins do not count.
    for _ in 0..6 {
        app.login_ok("admin", ADMIN_PASSWORD).await;
    }
    for i in 0..4 {
        assert_eq!(
            app.login(&format!("spray{i}"), "wrong-password-1")
                .await
                .status(),
            401
        );
    }
    let resp = app.login("spray-next", "wrong-password-1").await;
    assert!(resp.headers().contains_key("retry-after"));
    assert_problem(resp, 429).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    app.login_ok("admin", ADMIN_PASSWORD).await;
}

async fn refresh_rotates_and_reuse_kills_the_chain(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.login_ok("admin", ADMIN_PASSWORD).await;
    let old = first["refresh_token"].clone();

    let resp = app
        .post("/api/v1/auth/refresh", None, &json!({"refresh_token": old}))
        .await;
    assert_eq!(resp.status(), 200);
    let second: Value = resp.json().await.unwrap();
    assert_ne!(second["refresh_token"], old);
    assert_eq!(
        app.get("/api/v1/me", Some(&token_of(&second)))
            .await
            .status(),
        200
    );

    // The new refresh token works once…
    let resp = app
        .post(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": second["refresh_token"]}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let third: Value = resp.json().await.unwrap();

    // …the spent one is refused, and that kills the newest token of the chain too.
    assert_problem(
        app.post("/api/v1/auth/refresh", None, &json!({"refresh_token": old}))
            .await,
        401,
    )
    .await;
    let resp = app
        .post(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": third["refresh_token"]}),
        )
        .await;
    assert_eq!(resp.status(), 401);

    // Another login (another chain) is unaffected.
    let other = app.login_ok("admin", ADMIN_PASSWORD).await;
    let resp = app
        .post(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": other["refresh_token"]}),
        )
        .await;
    assert_eq!(resp.status(), 200);

    // The reuse is in the audit log.
    let db = app.database_url();
    let user_id = first["user"]["id"].as_str().unwrap().to_string();
    let entries = tokio::task::spawn_blocking(move || audit_actions(&db, &user_id))
        .await
        .unwrap();
    assert!(
        entries.iter().any(|a| a == "auth.refresh_token_reuse"),
        "{entries:?}"
    );

    // Garbage tokens are plain 401s.
    for bad in [json!(""), json!("x".repeat(500)), json!("not-a-token")] {
        let resp = app
            .post("/api/v1/auth/refresh", None, &json!({"refresh_token": bad}))
            .await;
        assert_problem(resp, 401).await;
    }
}

pub fn audit_actions(database_url: &str, entity_id: &str) -> Vec<String> {
    let manager = sidak::db::ConnectionManager::new(
        sidak::db::DatabaseUrl::parse(database_url).unwrap(),
        sidak::db::SqliteSynchronous::Full,
    );
    let mut conn = manager.establish().unwrap();
    sidak::db::audit::for_entity(&mut conn, "user", entity_id)
        .unwrap()
        .into_iter()
        .map(|(action, _)| action)
        .collect()
}

async fn concurrent_refreshes_give_exactly_one_success(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for _ in 0..3 {
        let session = app.login_ok("admin", ADMIN_PASSWORD).await;
        let body = json!({"refresh_token": session["refresh_token"]});
        let requests = (0..4).map(|_| app.post("/api/v1/auth/refresh", None, &body));
        let statuses: Vec<u16> = futures_util::future::join_all(requests)
            .await
            .into_iter()
            .map(|r| r.status().as_u16())
            .collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 401).count(),
            3,
            "{statuses:?}"
        );
    }
}

async fn logout_revokes_the_refresh_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let session = app.login_ok("admin", ADMIN_PASSWORD).await;
    let access = token_of(&session);
    let body = json!({"refresh_token": session["refresh_token"]});
    assert_problem(app.post("/api/v1/auth/logout", None, &body).await, 401).await;
    let resp = app.post("/api/v1/auth/logout", Some(&access), &body).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(
        app.post("/api/v1/auth/refresh", None, &body).await.status(),
        401
    );
    // The session has ended: its access token is refused at once, though it has not
    // expired (a retried logout therefore answers 401 too).
    assert_problem(app.get("/api/v1/me", Some(&access)).await, 401).await;
    assert_problem(
        app.post("/api/v1/auth/logout", Some(&access), &body).await,
        401,
    )
    .await;
    // Other sessions of the same user go on.
    let other = app.login_ok("admin", ADMIN_PASSWORD).await;
    assert_eq!(
        app.get("/api/v1/me", Some(&token_of(&other)))
            .await
            .status(),
        200
    );
}

async fn password_change_revokes_refresh_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "supervisor.a", "supervisor").await;
    let phone = app.login_ok("supervisor.a", PASSWORD).await;
    let laptop = app.login_ok("supervisor.a", PASSWORD).await;
    let access = token_of(&laptop);

    let wrong = app
        .post(
            "/api/v1/me/password",
            Some(&access),
            &json!({"current_password": "not-my-password", "new_password": "sandi-baru-yang-panjang"}),
        )
        .await;
    let problem = assert_problem(wrong, 422).await;
    assert_eq!(problem["errors"][0]["field"], "current_password");

    let weak = app
        .post(
            "/api/v1/me/password",
            Some(&access),
            &json!({"current_password": PASSWORD, "new_password": "supervisor.A"}),
        )
        .await;
    let problem = assert_problem(weak, 422).await;
    assert_eq!(problem["errors"][0]["field"], "new_password");

    let ok = app
        .post(
            "/api/v1/me/password",
            Some(&access),
            &json!({"current_password": PASSWORD, "new_password": "sandi-baru-yang-panjang"}),
        )
        .await;
    assert_eq!(ok.status(), 204);
    for session in [&phone, &laptop] {
        let resp = app
            .post(
                "/api/v1/auth/refresh",
                None,
                &json!({"refresh_token": session["refresh_token"]}),
            )
            .await;
        assert_eq!(resp.status(), 401);
    }
    assert_eq!(app.login("supervisor.a", PASSWORD).await.status(), 401);
    app.login_ok("supervisor.a", "sandi-baru-yang-panjang")
        .await;
}

async fn first_start_admin_is_created_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[]).await;
    assert!(
        app.generated_admin_password.is_none(),
        "password was configured"
    );
    // A restart with another configured password changes nothing.
    let again = app
        .sibling(&[("SIDAK_ADMIN_PASSWORD", Some("another-admin-password"))])
        .await;
    assert_eq!(
        again
            .login("admin", "another-admin-password")
            .await
            .status(),
        401
    );
    let admin = again.admin_token().await;
    let list: Value = again
        .request(Method::GET, "/api/v1/users?role=admin", Some(&admin), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

async fn generated_admin_password_is_reported_once(backend: Backend) {
    let first = TestApp::spawn_with(backend, &[("SIDAK_ADMIN_PASSWORD", "")]).await;
    let password = first
        .generated_admin_password
        .clone()
        .expect("a generated password");
    assert!(password.len() >= 20);
    first.login_ok("admin", &password).await;
    let second = first.sibling(&[]).await;
    assert!(second.generated_admin_password.is_none());
    second.login_ok("admin", &password).await;
}
