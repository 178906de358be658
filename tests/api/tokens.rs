//! Forged, stale and misused access tokens are all a plain 401.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sidak::auth::jwt::{Claims, JwtKeys, ACCESS_TYPE, AUDIENCE, ISSUER};

use crate::both_backends;
use crate::helpers::{
    assert_problem, token_of, Backend, TestApp, ADMIN_PASSWORD, PASSWORD, TEST_JWT_SECRET,
};

both_backends!(
    token_attacks_are_refused,
    admin_endpoints_refuse_other_roles
);

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The session of a real access token (its `sid` claim).
fn session_of(token: &str) -> String {
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("claims");
    claims["sid"].as_str().expect("sid").to_string()
}

fn claims_for(user_id: &str, role: &str, session: &str) -> Claims {
    let now = now();
    Claims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: user_id.into(),
        exp: now + 600,
        nbf: now,
        iat: now,
        jti: uuid::Uuid::new_v4().to_string(),
        role: role.into(),
        typ: ACCESS_TYPE.into(),
        sid: session.into(),
    }
}

fn sign(claims: &Claims) -> String {
    JwtKeys::new(
        TEST_JWT_SECRET.as_bytes(),
        std::time::Duration::from_secs(600),
    )
    .sign(claims)
    .unwrap()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

async fn token_attacks_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let inspector_id = app.create_user(&admin, "inspektur.x", "inspector").await;
    let inspector = app.login_ok("inspektur.x", PASSWORD).await;
    let valid = token_of(&inspector);
    let session = session_of(&valid);

    // A token we sign ourselves with the right key works: the forgeries below fail for
    // the reason they name, not for some other one.
    let good = sign(&claims_for(&inspector_id, "inspector", &session));
    assert_eq!(app.get("/api/v1/me", Some(&good)).await.status(), 200);

    let mut forged: Vec<(&str, String)> = Vec::new();

    let mut c = claims_for(&inspector_id, "inspector", &session);
    let payload = serde_json::to_value(&c).unwrap();
    forged.push((
        "alg none",
        format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&payload)
        ),
    ));

    let mut bytes = valid.clone().into_bytes();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    forged.push(("flipped signature", String::from_utf8(bytes).unwrap()));

    c.exp = now() - 120;
    c.iat = now() - 1000;
    c.nbf = now() - 1000;
    forged.push(("expired", sign(&c)));

    let mut c = claims_for(&inspector_id, "inspector", &session);
    c.nbf = now() + 600;
    forged.push(("nbf in the future", sign(&c)));

    let mut c = claims_for(&inspector_id, "inspector", &session);
    c.aud = "another-api".into();
    forged.push(("wrong aud", sign(&c)));

    let mut c = claims_for(&inspector_id, "inspector", &session);
    c.iss = "someone-else".into();
    forged.push(("wrong iss", sign(&c)));

    let mut c = claims_for(&inspector_id, "inspector", &session);
    c.typ = "refresh".into();
    forged.push(("refresh typ", sign(&c)));

    forged.push((
        "refresh token as access token",
        inspector["refresh_token"].as_str().unwrap().to_string(),
    ));

    // Role edited in the payload, signature kept.
    let parts: Vec<&str> = valid.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["role"] = json!("admin");
    forged.push((
        "role edited",
        format!("{}.{}.{}", parts[0], b64(&payload), parts[2]),
    ));

    // A claim missing entirely (here `jti`) is refused even when signed.
    let mut payload =
        serde_json::to_value(claims_for(&inspector_id, "inspector", &session)).unwrap();
    payload.as_object_mut().unwrap().remove("jti");
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    let missing = jsonwebtoken::encode(
        &header,
        &payload,
        &jsonwebtoken::EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
    )
    .unwrap();
    forged.push(("missing jti", missing));

    forged.push((
        "unknown user",
        sign(&claims_for(
            &uuid::Uuid::new_v4().to_string(),
            "admin",
            &session,
        )),
    ));
    // Another user's session, or a session that never was, does not carry this user.
    let admin_session = session_of(&admin);
    forged.push((
        "another user's session",
        sign(&claims_for(&inspector_id, "inspector", &admin_session)),
    ));
    forged.push((
        "unknown session",
        sign(&claims_for(
            &inspector_id,
            "inspector",
            &uuid::Uuid::new_v4().to_string(),
        )),
    ));
    let mut payload =
        serde_json::to_value(claims_for(&inspector_id, "inspector", &session)).unwrap();
    payload.as_object_mut().unwrap().remove("sid");
    forged.push((
        "missing sid",
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &payload,
            &jsonwebtoken::EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
        )
        .unwrap(),
    ));
    forged.push(("garbage", "not.a.token".into()));

    for (what, token) in &forged {
        let resp = app.get("/api/v1/me", Some(token)).await;
        assert_eq!(resp.status(), 401, "{what} was accepted");
        assert_problem(resp, 401).await;
        let resp = app.get("/api/v1/users", Some(token)).await;
        assert_eq!(resp.status(), 401, "{what} reached an admin route");
    }

    // A token of a deactivated user.
    let resp = app
        .patch(
            &format!("/api/v1/users/{inspector_id}"),
            Some(&admin),
            &json!({"active": false}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_problem(app.get("/api/v1/me", Some(&valid)).await, 401).await;
    assert_problem(app.get("/api/v1/me", Some(&good)).await, 401).await;

    // Wrong scheme and no token.
    let resp = app
        .client
        .get(app.url("/api/v1/me"))
        .header("Authorization", format!("Basic {valid}"))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 401).await;
    assert_problem(app.get("/api/v1/me", None).await, 401).await;
    let _ = ADMIN_PASSWORD;
}

/// Every admin-only operation: 403 for the other roles, 401 without a token, and nothing
/// changed by the refused calls.
async fn admin_endpoints_refuse_other_roles(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let target = app.create_user(&admin, "target.user", "inspector").await;
    let user_path = format!("/api/v1/users/{target}");
    let new_user = json!({"username": "sneaky", "full_name": "S", "role": "admin", "password": "long-enough-password"});
    let patch = json!({"role": "admin"});

    let mut tokens: Vec<(String, Option<String>)> = Vec::new();
    for role in ["supervisor", "inspector", "viewer"] {
        tokens.push((
            role.to_string(),
            Some(app.token_for_role(&admin, role).await),
        ));
    }
    tokens.push(("anonymous".into(), None));

    for (who, token) in &tokens {
        let expected = if token.is_some() { 403 } else { 401 };
        let t = token.as_deref();
        let calls = [
            ("POST /users", app.post("/api/v1/users", t, &new_user).await),
            ("GET /users", app.get("/api/v1/users", t).await),
            ("GET /users/{id}", app.get(&user_path, t).await),
            ("PATCH /users/{id}", app.patch(&user_path, t, &patch).await),
        ];
        for (what, resp) in calls {
            assert_eq!(resp.status(), expected, "{who}: {what}");
            assert_problem(resp, expected).await;
        }
    }
    // Nothing was written.
    let target_now: Value = app
        .get(&user_path, Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(target_now["role"], "inspector");
    assert_eq!(
        app.login("sneaky", "long-enough-password").await.status(),
        401
    );
}
