//! Abuse: oversized, deep, odd and slow input, floods of failed logins, cross-origin
//! requests. Each gets a clear 4xx (or a closed connection), and the server keeps serving.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::both_backends;
use crate::helpers::{assert_problem, Backend, TestApp, PASSWORD};
use crate::inspections::Field;

both_backends!(
    oversized_deep_and_odd_input_gets_a_clear_4xx,
    huge_declared_bodies_and_slow_clients_are_cut_off,
    a_thousand_failed_logins_are_throttled_and_others_still_log_in,
    cors_is_closed_unless_an_origin_is_allowed,
);

async fn still_serving(app: &TestApp, token: &str) {
    let resp = app.get("/healthz", None).await;
    assert_eq!(resp.status(), 200);
    let resp = app.get("/api/v1/me", Some(token)).await;
    assert_eq!(resp.status(), 200);
}

async fn raw_post(f: &Field, path: &str, body: Vec<u8>) -> reqwest::Response {
    f.app
        .client
        .post(f.app.url(path))
        .bearer_auth(&f.inspector)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn count_reports(f: &Field) -> usize {
    let list: Value = f
        .app
        .get("/api/v1/inspections?limit=200", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    list["items"].as_array().unwrap().len()
}

async fn oversized_deep_and_odd_input_gets_a_clear_4xx(backend: Backend) {
    let f = Field::new(backend).await;
    let before = count_reports(&f).await;

    // A 1 MB string where 5000 characters are allowed.
    let mut report = f.report();
    report["notes"] = json!("x".repeat(1024 * 1024));
    let problem = assert_problem(f.post_report(&f.inspector, &report).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "notes");

    // JSON nested 10,000 deep.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let body = format!(r#"{{"id": {deep}}}"#).into_bytes();
    let resp = raw_post(&f, "/api/v1/inspections", body).await;
    let status = resp.status().as_u16();
    assert!(status == 400 || status == 422, "deep JSON: {status}");
    assert_problem(resp, status).await;

    // 10,000 attendance rows where 500 are allowed.
    let mut report = f.report();
    report["attendance"] = Value::Array(
        (0..10_000)
            .map(|_| json!({"id": uuid::Uuid::new_v4(), "official_id": f.officials[0], "status": "present"}))
            .collect(),
    );
    let problem = assert_problem(f.post_report(&f.inspector, &report).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "attendance");

    // Page sizes and numbers out of range.
    for query in ["limit=1000000", "limit=-1", "limit=0"] {
        let resp = f
            .app
            .get(&format!("/api/v1/inspections?{query}"), Some(&f.admin))
            .await;
        assert_problem(resp, 422).await;
    }
    let resp = f
        .app
        .get(
            "/api/v1/inspections?limit=99999999999999999999999",
            Some(&f.admin),
        )
        .await;
    assert_problem(resp, 400).await;
    for late in [
        json!(-5),
        json!(1e300),
        json!(2.5),
        json!(99999999999999999999u128 as f64),
    ] {
        let mut report = f.report();
        report["attendance"][1]["minutes_late"] = late.clone();
        let problem = assert_problem(f.post_report(&f.inspector, &report).await, 422).await;
        assert_eq!(
            problem["errors"][0]["field"], "attendance[1].minutes_late",
            "{late}"
        );
    }

    // Invalid UTF-8 and NUL characters.
    let resp = raw_post(
        &f,
        "/api/v1/inspections",
        b"{\"id\": \"\xff\xfe\", \"notes\": \"\xc3\x28\"}".to_vec(),
    )
    .await;
    assert_problem(resp, 400).await;
    let mut report = f.report();
    report["notes"] = json!("sebelum\u{0}sesudah");
    let problem = assert_problem(f.post_report(&f.inspector, &report).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "notes");
    let mut report = f.report();
    report["findings"][0]["description"] = json!("\u{0}");
    let problem = assert_problem(f.post_report(&f.inspector, &report).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "findings[0].description");

    let resp = f
        .app
        .client
        .post(f.app.url("/api/v1/opds/import"))
        .bearer_auth(&f.admin)
        .header("content-type", "text/csv")
        .body(b"code,name,kind\nKEC-NUL,Kecamatan \x00 Nul,kecamatan\n".to_vec())
        .send()
        .await
        .unwrap();
    let problem = assert_problem(resp, 422).await;
    assert!(problem["detail"].as_str().unwrap().contains("line 2"));

    // Nothing of the above was stored.
    assert_eq!(count_reports(&f).await, before);

    // SQL-looking text is text: stored and returned verbatim.
    let sql = "'; DROP TABLE inspections; -- \" OR 1=1 /* */ \\x00";
    let mut report = f.report();
    report["notes"] = json!(sql);
    report["findings"][1]["description"] = json!(sql);
    let resp = f.post_report(&f.inspector, &report).await;
    assert_eq!(resp.status(), 201);
    let stored: Value = resp.json().await.unwrap();
    assert_eq!(stored["notes"], sql);
    let path = format!("/api/v1/inspections/{}", report["id"].as_str().unwrap());
    let read: Value = f
        .app
        .get(&path, Some(&f.inspector))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["notes"], sql);
    assert!(read["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["description"] == sql));
    assert_eq!(count_reports(&f).await, before + 1);

    still_serving(&f.app, &f.inspector).await;
}

/// Sends `head` (and `body`) on a raw connection and returns what the server answered
/// until it closed the connection, and how long that took.
async fn raw_exchange(
    app: &TestApp,
    head: &str,
    body: &[u8],
    wait: Duration,
) -> (String, Duration) {
    let addr = app.address.trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(wait, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "the server kept the connection open for {wait:?}; received {:?}",
                String::from_utf8_lossy(&received)
            ),
        }
    }
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

async fn huge_declared_bodies_and_slow_clients_are_cut_off(backend: Backend) {
    let f = Field::with(backend, &[("SIDAK_BODY_IDLE_TIMEOUT_SECONDS", "1")]).await;
    let app = &f.app;
    let inspector = f.inspector.clone();
    let draft = f.report();
    assert_eq!(f.post_report(&inspector, &draft).await.status(), 201);
    let evidence_path = format!(
        "/api/v1/inspections/{}/evidence",
        draft["id"].as_str().unwrap()
    );

    // 2 GB declared: refused from the headers, without reading the body.
    let head = format!(
        "POST /api/v1/inspections HTTP/1.1\r\nHost: sidak\r\nAuthorization: Bearer {inspector}\r\n\
         Content-Type: application/json\r\nContent-Length: 2147483648\r\n\r\n"
    );
    let (answer, took) = raw_exchange(app, &head, b"{\"id\":", Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    // A body that stops arriving: 408 after the idle timeout, and the connection is closed.
    for (path, content_type) in [
        ("/api/v1/inspections", "application/json".to_string()),
        (
            evidence_path.as_str(),
            "multipart/form-data; boundary=xyz".to_string(),
        ),
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: sidak\r\nAuthorization: Bearer {inspector}\r\n\
             Content-Type: {content_type}\r\nContent-Length: 100000\r\n\r\n"
        );
        let body: &[u8] = if content_type.starts_with("multipart") {
            b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n\xff\xd8"
        } else {
            b"{\"id\": \"0000"
        };
        let (answer, took) = raw_exchange(app, &head, body, Duration::from_secs(15)).await;
        let status_line = answer.lines().next().unwrap_or_default().to_string();
        assert!(status_line.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(took < Duration::from_secs(10), "{path}: {took:?}");
    }

    // Headers that never finish: the connection is closed.
    let (_, took) = raw_exchange(
        app,
        "GET /healthz HTTP/1.1\r\nHost: sid",
        b"",
        Duration::from_secs(20),
    )
    .await;
    assert!(took < Duration::from_secs(15), "{took:?}");

    still_serving(app, &inspector).await;
}

async fn a_thousand_failed_logins_are_throttled_and_others_still_log_in(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("SIDAK_TRUSTED_PROXIES", "127.0.0.1"),
            ("SIDAK_LOGIN_ADDRESS_MAX_FAILURES", "20"),
        ],
    )
    .await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "pegawai.jujur", "inspector").await;
    let login = |user: String, from: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/auth/login"))
                .header("x-forwarded-for", from)
                .json(&json!({"username": user, "password": "tebakan-salah-123"}))
                .send()
                .await
                .unwrap()
        }
    };
    let mut refused = 0;
    let mut throttled = 0;
    for i in 0..1000 {
        let resp = login(format!("tamu{i}"), "203.0.113.7").await;
        match resp.status().as_u16() {
            401 => refused += 1,
            429 => {
                assert!(resp.headers().contains_key("retry-after"));
                throttled += 1;
            }
            other => panic!("login {i}: {other}"),
        }
    }
    assert_eq!(refused + throttled, 1000);
    assert!(refused <= 20, "{refused} refusals before throttling");
    assert!(throttled >= 980, "{throttled}");

    // Another address logs in as usual.
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "198.51.100.20")
        .json(&json!({"username": "pegawai.jujur", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // The rejections are counted.
    let metrics = app
        .get("/metrics", Some(&admin))
        .await
        .text()
        .await
        .unwrap();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("sidak_rate_limited_total{route=\"/api/v1/auth/login\"}"))
        .unwrap_or_else(|| panic!("no rate_limited_total for login in\n{metrics}"));
    let n: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(n as usize, throttled);
    still_serving(&app, &admin).await;
}

async fn preflight(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header(
            "access-control-request-headers",
            "authorization, x-api-key, if-none-match",
        )
        .send()
        .await
        .unwrap()
}

async fn cors_is_closed_unless_an_origin_is_allowed(backend: Backend) {
    let summary = "/api/v1/dashboard/summary";
    let allowed = "https://dasbor.serangkota.go.id";

    // Closed by default.
    let app = TestApp::spawn(backend).await;
    let resp = preflight(&app, summary, allowed).await;
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
    drop(app);

    let app = TestApp::spawn_with(backend, &[("SIDAK_CORS_ORIGINS", allowed)]).await;
    let admin = app.admin_token().await;
    let viewer = app.token_for_role(&admin, "viewer").await;

    let resp = preflight(&app, summary, allowed).await;
    assert!(resp.status().is_success(), "{}", resp.status());
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], allowed);
    let allowed_headers = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for name in ["authorization", "x-api-key", "if-none-match"] {
        assert!(
            allowed_headers.contains(name),
            "{name} not allowed: {allowed_headers}"
        );
    }
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("GET"));
    assert!(!h.contains_key("access-control-allow-credentials"));

    // Another origin, or another path, gets no CORS headers.
    let resp = preflight(&app, summary, "https://jahat.example").await;
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
    let resp = preflight(&app, "/api/v1/users", allowed).await;
    assert!(!resp.headers().contains_key("access-control-allow-origin"));

    // The real request from the allowed origin carries the header; the data is the same.
    let resp = app
        .client
        .get(app.url(summary))
        .header("origin", allowed)
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], allowed);
    assert!(resp.headers()["vary"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase()
        .contains("origin"));
    // The validator is readable by the page; security headers are still there, and the
    // dashboard answer may be kept privately for a minute.
    assert!(resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase()
        .contains("etag"));
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(resp.headers()["cache-control"], "private, max-age=60");
}
