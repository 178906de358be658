//! The authorization matrix: for every documented operation, the status each caller gets,
//! in one table. The test walks the route table of the OpenAPI document, so a new operation
//! without a row here fails it, and sends each caller a request that is valid for the
//! operation, so what differs between the columns is who asks. The API-key columns show that
//! a key reads as its role and its scopes allow — a key made with the default scope reaches
//! the dashboards and the OPD labels only — and is refused every write (`403`).

use std::collections::BTreeSet;

use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::evidence::jpeg;
use crate::helpers::{token_of, Backend, ADMIN_PASSWORD, PASSWORD};
use crate::imports::nip_for;
use crate::inspections::Field;

both_backends!(every_operation_answers_each_role_as_the_matrix_says);

/// The callers, in column order.
const CALLERS: [&str; 9] = [
    "admin",
    "supervisor",
    "inspector",
    "other inspector",
    "viewer",
    "supervisor key (every scope)",
    "supervisor key (default scope)",
    "viewer key",
    "no token",
];

/// `{id}` is a record of the column's subject: reports, photos and follow-ups are
/// `inspector`'s, so `other inspector` shows what a peer gets.
#[rustfmt::skip]
const MATRIX: &[(&str, &str, [u16; 9])] = &[
    //                                                   admin super insp  other view  s.key+ s.key v.key none
    ("GET",    "/healthz",                                 [200,  200,  200,  200,  200,  200,  200,  200,  200]),
    ("GET",    "/readyz",                                  [200,  200,  200,  200,  200,  200,  200,  200,  200]),
    ("GET",    "/openapi.yaml",                            [200,  200,  200,  200,  200,  200,  200,  200,  200]),
    ("GET",    "/metrics",                                 [200,  200,  403,  403,  403,  200,  403,  403,  401]),
    ("GET",    "/api/v1/meta",                             [200,  200,  200,  200,  200,  200,  200,  200,  200]),
    ("POST",   "/api/v1/auth/login",                       [200,  200,  200,  200,  200,  403,  403,  403,  200]),
    ("POST",   "/api/v1/auth/refresh",                     [200,  200,  200,  200,  200,  403,  403,  403,  200]),
    ("POST",   "/api/v1/auth/logout",                      [204,  204,  204,  204,  204,  403,  403,  403,  401]),
    ("GET",    "/api/v1/me",                               [200,  200,  200,  200,  200,  403,  403,  403,  401]),
    ("GET",    "/api/v1/users",                            [200,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("POST",   "/api/v1/users",                            [201,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("GET",    "/api/v1/users/{id}",                       [200,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("POST",   "/api/v1/api-keys",                         [201,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("GET",    "/api/v1/api-keys",                         [200,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("DELETE", "/api/v1/api-keys/{id}",                    [204,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("PATCH",  "/api/v1/users/{id}",                       [200,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("GET",    "/api/v1/opds",                             [200,  200,  200,  200,  200,  200,  200,  200,  401]),
    ("POST",   "/api/v1/opds",                             [201,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("POST",   "/api/v1/opds/import",                      [200,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("GET",    "/api/v1/opds/{id}",                        [200,  200,  200,  200,  200,  200,  200,  200,  401]),
    ("PATCH",  "/api/v1/opds/{id}",                        [200,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("GET",    "/api/v1/officials",                        [200,  200,  200,  200,  403,  200,  403,  403,  401]),
    ("POST",   "/api/v1/officials",                        [201,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("POST",   "/api/v1/officials/import",                 [200,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("GET",    "/api/v1/officials/{id}",                   [200,  200,  200,  200,  403,  200,  403,  403,  401]),
    ("PATCH",  "/api/v1/officials/{id}",                   [200,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("GET",    "/api/v1/officials/{id}/record",            [200,  200,  403,  403,  403,  200,  403,  403,  401]),
    ("POST",   "/api/v1/officials/{id}/acting",            [201,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("POST",   "/api/v1/officials/{id}/acting/{acting_id}/end", [200,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("GET",    "/api/v1/sync",                             [200,  200,  200,  200,  403,  200,  403,  403,  401]),
    ("POST",   "/api/v1/inspections",                      [201,  403,  201,  201,  403,  403,  403,  403,  401]),
    ("GET",    "/api/v1/inspections",                      [200,  200,  200,  200,  403,  200,  403,  403,  401]),
    ("GET",    "/api/v1/inspections/{id}",                 [200,  200,  200,  404,  403,  200,  403,  403,  401]),
    ("PATCH",  "/api/v1/inspections/{id}",                 [200,  403,  200,  404,  403,  403,  403,  403,  401]),
    ("POST",   "/api/v1/inspections/{id}/findings",        [201,  403,  201,  404,  403,  403,  403,  403,  401]),
    ("POST",   "/api/v1/inspections/{id}/submit",          [200,  403,  200,  404,  403,  403,  403,  403,  401]),
    ("POST",   "/api/v1/inspections/{id}/evidence",        [201,  403,  201,  404,  403,  403,  403,  403,  401]),
    ("GET",    "/api/v1/evidence/{id}/content",            [200,  200,  200,  404,  403,  200,  403,  403,  401]),
    ("POST",   "/api/v1/follow-ups",                       [201,  201,  201,  201,  403,  403,  403,  403,  401]),
    ("GET",    "/api/v1/follow-ups",                       [200,  200,  200,  200,  403,  200,  403,  403,  401]),
    ("GET",    "/api/v1/follow-ups/{id}",                  [200,  200,  200,  404,  403,  200,  403,  403,  401]),
    ("POST",   "/api/v1/follow-ups/{id}/actions",          [200,  200,  200,  404,  403,  403,  403,  403,  401]),
    ("POST",   "/api/v1/findings/{id}/excuse",             [200,  200,  403,  403,  403,  403,  403,  403,  401]),
    ("GET",    "/api/v1/holidays",                         [200,  200,  200,  200,  200,  200,  200,  200,  401]),
    ("PUT",    "/api/v1/holidays/{date}",                  [200,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("DELETE", "/api/v1/holidays/{date}",                  [204,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("GET",    "/api/v1/audit",                            [200,  200,  403,  403,  403,  200,  403,  403,  401]),
    ("GET",    "/api/v1/audit/verify",                     [200,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("GET",    "/api/v1/dashboard/summary",                [200,  200,  200,  200,  200,  200,  200,  200,  401]),
    ("GET",    "/api/v1/dashboard/opds",                   [200,  200,  200,  200,  200,  200,  200,  200,  401]),
    ("GET",    "/api/v1/dashboard/trends",                 [200,  200,  200,  200,  200,  200,  200,  200,  401]),
    ("GET",    "/api/v1/dashboard/officials",              [200,  200,  403,  403,  403,  200,  200,  403,  401]),
    ("POST",   "/api/v1/webhooks",                         [201,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("GET",    "/api/v1/webhooks",                         [200,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("GET",    "/api/v1/webhooks/{id}",                    [200,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("PATCH",  "/api/v1/webhooks/{id}",                    [200,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("POST",   "/api/v1/webhooks/{id}/secret",             [200,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("DELETE", "/api/v1/webhooks/{id}",                    [204,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("GET",    "/api/v1/webhooks/{id}/deliveries",         [200,  403,  403,  403,  403,  403,  403,  403,  401]),
    ("POST",   "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
                                                           [202,  403,  403,  403,  403,  403,  403,  403,  401]),
    // Last: it changes each caller's password.
    ("POST",   "/api/v1/me/password",                      [204,  204,  204,  204,  204,  403,  403,  403,  401]),
];

struct World {
    f: Field,
    /// Tokens in column order (`None` for the last column).
    tokens: Vec<Option<String>>,
    /// Current password per column.
    passwords: Vec<String>,
    login_user: String,
    user_id: String,
    draft: String,
    evidence: String,
    follow_up: String,
    counter: std::sync::atomic::AtomicUsize,
}

impl World {
    fn next(&self) -> usize {
        self.counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    async fn draft_of(&self, token: &str) -> String {
        let mut body = self.f.report();
        body["findings"] = json!([]);
        let resp = self.f.post_report(token, &body).await;
        assert_eq!(resp.status(), 201);
        body["id"].as_str().unwrap().to_string()
    }

    /// A submitted report (by `inspector`) with a low finding about a new official, and
    /// that official's id and the finding's id.
    /// A new official placed at the field's OPD.
    async fn new_official(&self) -> String {
        let n = 100 + self.next();
        let resp = self
            .f
            .app
            .post(
                "/api/v1/officials",
                Some(&self.f.admin),
                &json!({"nip": nip_for(n), "full_name": format!("Pegawai {n}"), "employment_type": "pns",
                        "position_title": "Staf", "position_kind": "pelaksana", "opd_id": self.f.opd,
                        "effective_from": "2024-01-02"}),
            )
            .await;
        assert_eq!(resp.status(), 201);
        resp.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn submitted_finding(&self) -> (String, String) {
        let official = self.new_official().await;
        let finding = uuid::Uuid::new_v4().to_string();
        let mut body = self.f.report();
        body["attendance"] = json!([]);
        body["findings"] = json!([{"id": finding, "official_id": official, "category": "facility",
                                   "severity": "low", "description": "Meja kosong"}]);
        body["submit"] = json!(true);
        let resp = self.f.post_report(&self.f.inspector, &body).await;
        assert_eq!(resp.status(), 201);
        (official, finding)
    }

    /// A day in 2031 of its own for request `n`.
    /// A planned Plh post of five days, its own for each `n`.
    fn acting(&self, n: usize) -> Value {
        json!({"kind": "plh", "opd_id": self.f.opd, "position_title": "Plh. Kepala Seksi",
               "position_kind": "pengawas", "effective_from": Self::day(10 * n),
               "effective_to": Self::day(10 * n + 5)})
    }

    fn day(n: usize) -> String {
        (chrono::NaiveDate::from_ymd_opt(2031, 1, 1).unwrap() + chrono::Duration::days(n as i64))
            .to_string()
    }

    /// The id of a counted absence (derived from attendance) in a submitted report, about a
    /// new official.
    async fn counted_absence(&self) -> String {
        let official = self.new_official().await;
        let mut body = self.f.report();
        body["attendance"] = json!([{"id": uuid::Uuid::new_v4(), "official_id": official,
                                     "status": "absent_unexcused"}]);
        body["findings"] = json!([]);
        body["submit"] = json!(true);
        let resp = self.f.post_report(&self.f.inspector, &body).await;
        assert_eq!(resp.status(), 201);
        let report: Value = resp.json().await.unwrap();
        report["findings"][0]["id"].as_str().unwrap().to_string()
    }

    /// A subscription and one of its deliveries (made by the delivery worker from a report
    /// submitted for it).
    async fn delivery(&self) -> (String, String) {
        let app = &self.f.app;
        let created = app
            .post(
                "/api/v1/webhooks",
                Some(&self.f.admin),
                &json!({"url": "https://penerima.example/x", "event_types": ["inspection.submitted"]}),
            )
            .await;
        assert_eq!(created.status(), 201);
        let hook = created.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        self.submitted_finding().await;
        for _ in 0..200 {
            let log: Value = app
                .get(
                    &format!("/api/v1/webhooks/{hook}/deliveries"),
                    Some(&self.f.admin),
                )
                .await
                .json()
                .await
                .unwrap();
            if let Some(id) = log["items"][0]["id"].as_str() {
                return (hook, id.to_string());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no delivery was made");
    }

    /// Sends the column's caller a request valid for the operation; returns the status.
    async fn call(&self, method: &str, path: &str, col: usize) -> u16 {
        let app = &self.f.app;
        let token = self.tokens[col].as_deref();
        let n = self.next();
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let mut concrete = path.to_string();
        let mut body: Option<Value> = None;
        let mut csv: Option<&str> = None;
        match (method, path) {
            ("POST", "/api/v1/auth/login") => {
                body = Some(json!({"username": self.login_user, "password": PASSWORD}))
            }
            ("POST", "/api/v1/auth/refresh") => {
                let login = app.login_ok(&self.login_user, PASSWORD).await;
                body = Some(json!({"refresh_token": login["refresh_token"]}));
            }
            ("POST", "/api/v1/auth/logout") => {
                let login = app.login_ok(&self.login_user, PASSWORD).await;
                body = Some(json!({"refresh_token": login["refresh_token"]}));
            }
            ("POST", "/api/v1/me/password") => {
                body = Some(json!({"current_password": self.passwords[col],
                                   "new_password": format!("{}-baru", self.passwords[col])}));
            }
            ("POST", "/api/v1/users") => {
                body = Some(
                    json!({"username": format!("user-{unique}")[..20], "full_name": "Pengguna Baru",
                                   "role": "viewer", "password": PASSWORD}),
                )
            }
            ("GET", "/api/v1/users/{id}") => concrete = format!("/api/v1/users/{}", self.user_id),
            ("POST", "/api/v1/api-keys") => {
                body = Some(json!({"name": format!("Layar {n}"), "role": "viewer"}))
            }
            ("DELETE", "/api/v1/api-keys/{id}") => {
                let (id, _) = crate::api_keys::create_key(app, &self.f.admin, "viewer").await;
                concrete = path.replace("{id}", &id);
            }
            ("POST", "/api/v1/webhooks") => {
                body = Some(json!({"url": format!("https://penerima.example/{n}"),
                                   "event_types": ["follow_up.raised"]}))
            }
            ("POST", "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver") => {
                let (hook, delivery) = self.delivery().await;
                concrete = path
                    .replace("{id}", &hook)
                    .replace("{delivery_id}", &delivery);
            }
            (_, "/api/v1/webhooks/{id}")
            | (_, "/api/v1/webhooks/{id}/secret")
            | (_, "/api/v1/webhooks/{id}/deliveries") => {
                let created = app
                    .post(
                        "/api/v1/webhooks",
                        Some(&self.f.admin),
                        &json!({"url": "https://penerima.example/x", "event_types": ["follow_up.decided"]}),
                    )
                    .await;
                assert_eq!(created.status(), 201);
                let id: Value = created.json().await.unwrap();
                concrete = path.replace("{id}", id["id"].as_str().unwrap());
                if method == "PATCH" {
                    body = Some(json!({"active": false}));
                }
            }
            ("PATCH", "/api/v1/users/{id}") => {
                concrete = format!("/api/v1/users/{}", self.user_id);
                body = Some(json!({"full_name": format!("Nama {n}")}));
            }
            ("POST", "/api/v1/opds") => {
                body = Some(
                    json!({"code": format!("OPD-{n}"), "name": "Kecamatan Baru", "kind": "kecamatan"}),
                )
            }
            ("POST", "/api/v1/opds/import") => {
                concrete = "/api/v1/opds/import?dry_run=true".into();
                csv = Some("code,name,kind\nKEC-X,Kecamatan X,kecamatan\n");
            }
            ("GET", "/api/v1/opds/{id}") => concrete = format!("/api/v1/opds/{}", self.f.opd),
            ("PATCH", "/api/v1/opds/{id}") => {
                concrete = format!("/api/v1/opds/{}", self.f.opd);
                body = Some(json!({"name": format!("Dinas Kesehatan {n}")}));
            }
            ("POST", "/api/v1/officials") => {
                body = Some(
                    json!({"nip": nip_for(500 + n), "full_name": "Pegawai Baru", "employment_type": "pns",
                                   "position_title": "Staf", "position_kind": "pelaksana", "opd_id": self.f.opd,
                                   "effective_from": "2024-01-02"}),
                )
            }
            ("POST", "/api/v1/officials/import") => {
                concrete = "/api/v1/officials/import?dry_run=true".into();
                csv = Some("nip,full_name,employment_type,position_title,position_kind,opd_code\n");
            }
            ("GET", "/api/v1/officials/{id}") | ("GET", "/api/v1/officials/{id}/record") => {
                concrete = path.replace("{id}", &self.f.officials[0])
            }
            ("PATCH", "/api/v1/officials/{id}") => {
                concrete = path.replace("{id}", &self.f.officials[0]);
                body = Some(json!({"full_name": format!("Pegawai Nol {n}")}));
            }
            ("POST", "/api/v1/officials/{id}/acting") => {
                // A period of its own each time (acting posts may not overlap).
                concrete = path.replace("{id}", &self.f.officials[3]);
                body = Some(self.acting(n));
            }
            ("POST", "/api/v1/officials/{id}/acting/{acting_id}/end") => {
                // A planned acting post to end, each time.
                let official = &self.f.officials[2];
                let resp = app
                    .post(
                        &format!("/api/v1/officials/{official}/acting"),
                        Some(&self.f.admin),
                        &self.acting(n),
                    )
                    .await;
                assert_eq!(resp.status(), 201);
                let posts: Value = resp.json().await.unwrap();
                let acting = posts["acting_assignments"]
                    .as_array()
                    .and_then(|a| a.last())
                    .and_then(|a| a["id"].as_str())
                    .unwrap()
                    .to_string();
                concrete = path
                    .replace("{id}", official)
                    .replace("{acting_id}", &acting);
                body = Some(json!({"effective_to": Self::day(10 * n + 1)}));
            }
            ("POST", "/api/v1/inspections") => body = Some(self.f.report()),
            ("GET", "/api/v1/inspections/{id}") => concrete = path.replace("{id}", &self.draft),
            ("PATCH", "/api/v1/inspections/{id}") => {
                concrete = path.replace("{id}", &self.draft);
                body = Some(json!({"notes": format!("Catatan {n}")}));
            }
            ("POST", "/api/v1/inspections/{id}/findings") => {
                concrete = path.replace("{id}", &self.draft);
                body = Some(
                    json!({"id": uuid::Uuid::new_v4(), "category": "facility", "severity": "low",
                                   "description": "Lampu mati"}),
                );
            }
            ("POST", "/api/v1/inspections/{id}/submit") => {
                // A fresh draft each time, so every caller meets a draft.
                let draft = self.draft_of(&self.f.inspector).await;
                concrete = path.replace("{id}", &draft);
                body = Some(json!({}));
            }
            ("POST", "/api/v1/inspections/{id}/evidence") => {
                let form = Form::new().part(
                    "file",
                    Part::bytes(jpeg(n as u8, 2000))
                        .file_name("foto.jpg")
                        .mime_str("image/jpeg")
                        .unwrap(),
                );
                let mut req = app.client.post(app.url(&path.replace("{id}", &self.draft)));
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                return req.multipart(form).send().await.unwrap().status().as_u16();
            }
            ("GET", "/api/v1/evidence/{id}/content") => {
                concrete = path.replace("{id}", &self.evidence)
            }
            ("POST", "/api/v1/follow-ups") => {
                let (official, finding) = self.submitted_finding().await;
                body = Some(json!({"official_id": official, "finding_ids": [finding],
                                   "reason": "Meja kosong saat sidak"}));
            }
            ("GET", "/api/v1/follow-ups/{id}") => concrete = path.replace("{id}", &self.follow_up),
            ("POST", "/api/v1/follow-ups/{id}/actions") => {
                concrete = path.replace("{id}", &self.follow_up);
                body = Some(json!({"action": "comment", "note": format!("Catatan {n}")}));
            }
            ("POST", "/api/v1/findings/{id}/excuse") => {
                concrete = path.replace("{id}", &self.counted_absence().await);
                body = Some(json!({"reason": "Surat dokter menyusul"}));
            }
            ("PUT", "/api/v1/holidays/{date}") => {
                concrete = path.replace("{date}", &Self::day(n));
                body = Some(json!({"name": format!("Libur {n}"), "kind": "libur_daerah"}));
            }
            ("DELETE", "/api/v1/holidays/{date}") => {
                // A holiday to take back each time.
                let day = Self::day(n);
                let resp = app
                    .request(
                        Method::PUT,
                        &format!("/api/v1/holidays/{day}"),
                        Some(&self.f.admin),
                        Some(&json!({"name": "Libur", "kind": "libur_daerah"})),
                    )
                    .await;
                assert_eq!(resp.status(), 200);
                concrete = path.replace("{date}", &day);
            }
            ("GET", _) => {}
            other => panic!("no request for {other:?}"),
        }
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = app.client.request(method, app.url(&concrete));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(text) = csv {
            req = req
                .header("content-type", "text/csv")
                .body(text.to_string());
        } else if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        resp.status().as_u16()
    }
}

async fn every_operation_answers_each_role_as_the_matrix_says(backend: Backend) {
    // The table covers exactly the documented operations.
    let spec = sidak::openapi::document();
    let mut documented = BTreeSet::new();
    for (path, item) in &spec.paths.paths {
        for (method, op) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ] {
            if op.is_some() {
                documented.insert((method.to_string(), path.clone()));
            }
        }
    }
    let tabled: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        tabled.len(),
        MATRIX.len(),
        "an operation is in the table twice"
    );
    assert_eq!(
        documented.difference(&tabled).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented operations without a row in the matrix"
    );
    assert_eq!(
        tabled.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "rows for operations that are not documented"
    );

    let f = Field::new(backend).await;
    let app = &f.app;
    let supervisor = app.token_for_role(&f.admin, "supervisor").await;
    let viewer = app.token_for_role(&f.admin, "viewer").await;
    let login_user = "penguji-masuk";
    app.create_user(&f.admin, login_user, "viewer").await;
    let user_id = app.create_user(&f.admin, "penguji-ubah", "viewer").await;
    let tokens = vec![
        Some(f.admin.clone()),
        Some(supervisor),
        Some(f.inspector.clone()),
        Some(f.other_inspector.clone()),
        Some(viewer),
        Some(
            crate::api_keys::create_key_scoped(
                app,
                &f.admin,
                "supervisor",
                Some(crate::api_keys::ALL_SCOPES),
            )
            .await
            .1,
        ),
        Some(
            crate::api_keys::create_key(app, &f.admin, "supervisor")
                .await
                .1,
        ),
        Some(crate::api_keys::create_key(app, &f.admin, "viewer").await.1),
        None,
    ];
    let passwords = vec![
        ADMIN_PASSWORD.to_string(),
        PASSWORD.to_string(),
        PASSWORD.to_string(),
        PASSWORD.to_string(),
        PASSWORD.to_string(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ];
    let mut world = World {
        tokens,
        passwords,
        login_user: login_user.into(),
        user_id,
        draft: String::new(),
        evidence: String::new(),
        follow_up: String::new(),
        counter: Default::default(),
        f,
    };
    world.draft = world.draft_of(&world.f.inspector).await;
    let resp = crate::evidence::upload(
        &world.f,
        &world.f.inspector,
        &world.draft,
        jpeg(9, 3000),
        "bukti.jpg",
        None,
    )
    .await;
    assert_eq!(resp.status(), 201);
    world.evidence = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (official, finding) = world.submitted_finding().await;
    let resp = world
        .f
        .app
        .post(
            "/api/v1/follow-ups",
            Some(&world.f.inspector),
            &json!({"official_id": official, "finding_ids": [finding], "reason": "Tidak di tempat"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    world.follow_up = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut mismatches = Vec::new();
    for (method, path, expected) in MATRIX {
        for (col, want) in expected.iter().enumerate() {
            let got = world.call(method, path, col).await;
            if got != *want {
                mismatches.push(format!(
                    "{method} {path} as {}: expected {want}, got {got}",
                    CALLERS[col]
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // The password changes took: the admin logs in with the new one only.
    assert_eq!(
        world.f.app.login("admin", ADMIN_PASSWORD).await.status(),
        401
    );
    let login = world
        .f
        .app
        .login_ok("admin", &format!("{ADMIN_PASSWORD}-baru"))
        .await;
    assert!(!token_of(&login).is_empty());
}
