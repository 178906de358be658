//! The web console through real HTTP: login with the same accounts and throttling, the
//! session cookie tied to the login session, CSRF on every form, the follow-up decided from
//! its page (and seen by the API), a viewer who never sees a name or a NIP, the wall
//! screen's ETag.

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::{Client, Response};
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, PASSWORD};
use crate::inspections::Field;

both_backends!(
    cookies_are_secure_behind_https,
    the_login_form_is_throttled_like_the_api,
    reports_photos_and_an_officials_record,
    login_session_and_csrf,
    a_supervisor_decides_a_follow_up_on_its_page,
    a_viewer_sees_no_names_or_nips,
    the_wall_screen_changes_only_with_the_data,
);

/// A browser in miniature: keeps cookies, never follows redirects.
pub struct Browser {
    client: Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            client: Client::builder().redirect(Policy::none()).build().unwrap(),
            base: app.url(""),
            cookies: BTreeMap::new(),
        }
    }

    fn keep(&mut self, headers: &HeaderMap) {
        for c in headers.get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let pair = c.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(resp.headers());
        resp
    }

    pub async fn get_html(&mut self, path: &str) -> (u16, String) {
        let resp = self.get(path).await;
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(resp.headers());
        resp
    }

    /// Logs in through the form; the response to the form's POST.
    pub async fn login(&mut self, username: &str, password: &str) -> Response {
        let (_, page) = self.get_html("/app/masuk").await;
        let token = csrf_of(&page);
        self.post(
            "/app/masuk",
            &[
                ("_csrf", token.as_str()),
                ("username", username),
                ("password", password),
                ("lanjut", "/app/"),
            ],
        )
        .await
    }

    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.contains_key(name)
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }
}

/// The CSRF token of the first form of a page.
pub fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"_csrf\" value=\"")
        .expect("a form with a CSRF token");
    let rest = &page[at + "name=\"_csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

fn location(resp: &Response) -> String {
    resp.headers()[LOCATION].to_str().unwrap().to_string()
}

async fn login_session_and_csrf(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "budi", "supervisor").await;
    let mut b = Browser::new(&app);

    // The root goes to the console; a page without a session goes to the login form, which
    // comes back to it.
    let root = b.get("/").await;
    assert_eq!(root.status(), 303);
    assert_eq!(location(&root), "/app/");
    let page = b.get("/app/tindak-lanjut?status=open").await;
    assert_eq!(page.status(), 303);
    assert_eq!(
        location(&page),
        "/app/masuk?lanjut=%2Fapp%2Ftindak-lanjut%3Fstatus%3Dopen"
    );

    // The form: its own CSRF cookie, strict headers.
    let form = b.get("/app/masuk").await;
    assert_eq!(form.status(), 200);
    let csp = form.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let set: Vec<String> = form
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        set.iter().any(|c| c.starts_with("sidak_masuk=")
            && c.contains("HttpOnly")
            && c.contains("SameSite=Strict")),
        "{set:?}"
    );
    let token = csrf_of(&form.text().await.unwrap());

    // Without the token, or with another one: 403, no session, no login recorded.
    let audit_before = app.audit_count(&admin).await;
    for bad in ["", "not-the-token"] {
        let resp = b
            .post(
                "/app/masuk",
                &[("_csrf", bad), ("username", "budi"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(resp.status(), 403);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(!b.has_cookie("sidak_sesi"));
    }
    assert_eq!(app.audit_count(&admin).await, audit_before);

    // A wrong password: the form again, 401, the same words for any account.
    let wrong = b
        .post(
            "/app/masuk",
            &[
                ("_csrf", &token),
                ("username", "budi"),
                ("password", "salah-sekali-123"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("Nama pengguna atau kata sandi salah."));

    // The right one: an HttpOnly, SameSite=Strict session cookie (not Secure over http).
    let ok = b
        .post(
            "/app/masuk",
            &[
                ("_csrf", &token),
                ("username", "budi"),
                ("password", PASSWORD),
                ("lanjut", "/app/tindak-lanjut"),
            ],
        )
        .await;
    assert_eq!(ok.status(), 303);
    assert_eq!(location(&ok), "/app/tindak-lanjut");
    let session = ok
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("sidak_sesi="))
        .expect("a session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    assert!(!session.contains("Secure"), "{session}");
    let (status, page) = b.get_html("/app/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<h1>Beranda</h1>") && page.contains("User budi"),
        "{page}"
    );

    // The cookie is not an access token.
    let cookie = b.cookie("sidak_sesi").unwrap().to_string();
    assert_eq!(app.get("/api/v1/me", Some(&cookie)).await.status(), 401);

    // Logging out needs the token too; then the session is over.
    let (_, page) = b.get_html("/app/").await;
    let token = csrf_of(&page);
    assert_eq!(b.post("/app/keluar", &[("_csrf", "x")]).await.status(), 403);
    assert_eq!(b.get("/app/").await.status(), 200);
    let out = b.post("/app/keluar", &[("_csrf", &token)]).await;
    assert_eq!(out.status(), 303);
    let mut stolen = Browser::new(&app);
    stolen.cookies.insert("sidak_sesi".into(), cookie.clone());
    assert_eq!(
        stolen.get("/app/").await.status(),
        303,
        "a logged-out cookie is dead"
    );

    // A password change (through the API) ends the console's session at once.
    assert_eq!(b.login("budi", PASSWORD).await.status(), 303);
    assert_eq!(b.get("/app/").await.status(), 200);
    let api = crate::helpers::token_of(&app.login_ok("budi", PASSWORD).await);
    let changed = app
        .post(
            "/api/v1/me/password",
            Some(&api),
            &json!({"current_password": PASSWORD, "new_password": "kata-sandi-baru-456"}),
        )
        .await;
    assert!(changed.status().is_success(), "{}", changed.status());
    assert_eq!(b.get("/app/").await.status(), 303);

    // A deactivation by an admin ends it too.
    let sari = app.create_user(&admin, "sari", "supervisor").await;
    let mut s2 = Browser::new(&app);
    assert_eq!(s2.login("sari", PASSWORD).await.status(), 303);
    assert_eq!(s2.get("/app/").await.status(), 200);
    let off = app
        .patch(
            &format!("/api/v1/users/{sari}"),
            Some(&admin),
            &json!({"active": false}),
        )
        .await;
    assert_eq!(off.status(), 200);
    assert_eq!(s2.get("/app/").await.status(), 303);

    // Static files: fingerprinted, kept for a year.
    let css = b.get("/app/static/app.css").await;
    assert_eq!(css.status(), 200);
    assert!(css.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert_eq!(b.get("/app/static/nope.css").await.status(), 404);
}

async fn follow_up_of(f: &Field) -> (String, Value) {
    let mut body = f.report();
    body["submit"] = json!(true);
    assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    let items: Value = api_json(
        f,
        &format!("/api/v1/follow-ups?official_id={}", f.officials[2]),
    )
    .await;
    let id = items["items"][0]["id"].as_str().unwrap().to_string();
    let full: Value = api_json(f, &format!("/api/v1/follow-ups/{id}")).await;
    (id, full)
}

async fn a_supervisor_decides_a_follow_up_on_its_page(backend: Backend) {
    let f = Field::new(backend).await;
    let (id, before) = follow_up_of(&f).await;
    f.app.create_user(&f.admin, "budi", "supervisor").await;
    let mut b = Browser::new(&f.app);
    assert_eq!(b.login("budi", PASSWORD).await.status(), 303);

    // Unknown console addresses are pages too.
    for path in ["/app/tidak-ada", "/app/tindak-lanjut/bukan-id"] {
        let resp = b.get(path).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(resp.text().await.unwrap().contains("Data tidak ditemukan."));
    }

    // The queue lists it, with the official's NIP.
    let (status, queue) = b.get_html("/app/tindak-lanjut?status=open").await;
    assert_eq!(status, 200);
    let nip = before["official"]["nip"].as_str().unwrap();
    assert!(
        queue.contains(&format!("/app/tindak-lanjut/{id}")) && queue.contains(nip),
        "{queue}"
    );
    let (_, overdue) = b.get_html("/app/tindak-lanjut?terlambat=1").await;
    assert!(!overdue.contains(&format!("/app/tindak-lanjut/{id}")));

    // Its page: the official, the recommendation and its legal basis, the history.
    let path = format!("/app/tindak-lanjut/{id}");
    let (status, page) = b.get_html(&path).await;
    assert_eq!(status, 200);
    let basis = before["recommendation"]["legal_basis"].as_str().unwrap();
    assert!(
        page.contains(nip) && page.contains(&html_escape(basis)),
        "{page}"
    );
    assert!(page.contains("Diajukan"), "the history shows the raising");
    let token = csrf_of(&page);
    let version = before["version"].as_i64().unwrap().to_string();
    let decide = |token: String, version: String| {
        vec![
            ("_csrf".to_string(), token),
            ("action".to_string(), "decide".to_string()),
            ("version".to_string(), version),
            ("sanction".to_string(), "teguran_lisan".to_string()),
            ("note".to_string(), "Diputuskan di konsol".to_string()),
        ]
    };

    // Without the CSRF token: 403, nothing changes.
    let no_token = decide(String::new(), version.clone());
    let resp = b.post(&path, &as_refs(&no_token)[1..]).await;
    assert_eq!(resp.status(), 403);
    let now: Value = api_json(&f, &format!("/api/v1/follow-ups/{id}")).await;
    assert_eq!(now["version"], before["version"]);
    assert_eq!(now["status"], "open");

    // Someone else acts meanwhile (through the API): the page's version is stale, the
    // decision is refused as a conflict and shown so, and nothing is overwritten.
    let other = f
        .app
        .post(
            &format!("/api/v1/follow-ups/{id}/actions"),
            Some(&f.admin),
            &json!({"action": "start_review"}),
        )
        .await;
    assert_eq!(other.status(), 200);
    let stale = b
        .post(&path, &as_refs(&decide(token.clone(), version.clone())))
        .await;
    assert_eq!(stale.status(), 412);
    let text = stale.text().await.unwrap();
    assert!(text.contains("telah diubah orang lain"), "{text}");
    let now: Value = api_json(&f, &format!("/api/v1/follow-ups/{id}")).await;
    assert_eq!(now["status"], "in_review");
    assert!(now["sanction"].is_null());

    // From the fresh page: decided, in the history, and in the API.
    let (_, page) = b.get_html(&path).await;
    let fresh_version = now["version"].as_i64().unwrap().to_string();
    let done = b
        .post(&path, &as_refs(&decide(csrf_of(&page), fresh_version)))
        .await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), format!("{path}?berhasil=1"));
    let (_, page) = b.get_html(&format!("{path}?berhasil=1")).await;
    assert!(
        page.contains("Tersimpan.") && page.contains("Diputuskan di konsol"),
        "{page}"
    );
    let now: Value = api_json(&f, &format!("/api/v1/follow-ups/{id}")).await;
    assert_eq!(now["status"], "decided");
    assert_eq!(now["sanction"], "teguran_lisan");
    let last = now["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "decide");
    assert_eq!(last["note"], "Diputuskan di konsol");

    // An inspector's session cannot open the queue.
    f.app.create_user(&f.admin, "ina", "inspector").await;
    let mut ina = Browser::new(&f.app);
    assert_eq!(ina.login("ina", PASSWORD).await.status(), 303);
    assert_eq!(ina.get("/app/tindak-lanjut").await.status(), 403);
    assert_eq!(ina.get(&path).await.status(), 403);
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn a_viewer_sees_no_names_or_nips(backend: Backend) {
    let f = Field::new(backend).await;
    let (_, before) = follow_up_of(&f).await;
    f.app.create_user(&f.admin, "layar-tv", "viewer").await;
    let mut b = Browser::new(&f.app);
    assert_eq!(b.login("layar-tv", PASSWORD).await.status(), 303);
    let people = names_and_nips(&f).await;
    assert!(people.len() >= 4);
    for path in ["/app/", "/app/layar"] {
        let (status, page) = b.get_html(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            page.contains("Dinas Kesehatan"),
            "{path} shows the OPD: {page}"
        );
        for (name, nip) in &people {
            assert!(
                !page.contains(name.as_str()) && !page.contains(nip.as_str()),
                "{path} shows {name}"
            );
        }
    }
    assert_eq!(b.get("/app/tindak-lanjut").await.status(), 403);
    let id = before["id"].as_str().unwrap();
    assert_eq!(
        b.get(&format!("/app/tindak-lanjut/{id}")).await.status(),
        403
    );
}

async fn the_wall_screen_changes_only_with_the_data(backend: Backend) {
    let f = Field::new(backend).await;
    f.app.create_user(&f.admin, "layar-tv", "viewer").await;
    let mut b = Browser::new(&f.app);
    assert_eq!(b.login("layar-tv", PASSWORD).await.status(), 303);
    let first = b.get("/app/layar").await;
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let page = first.text().await.unwrap();
    assert!(
        page.contains(&format!("data-etag=\"{}\"", html_escape(&etag))),
        "{page}"
    );
    assert!(page.contains("data-refresh=\"30\""));
    let again = b
        .client
        .get(format!("{}/app/layar", b.base))
        .header(COOKIE, b.cookie_header())
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    // A new submitted report changes what it shows.
    let mut body = f.report();
    body["submit"] = json!(true);
    assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    let after = b
        .client
        .get(format!("{}/app/layar", b.base))
        .header(COOKIE, b.cookie_header())
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200);
    assert_ne!(after.headers()["etag"].to_str().unwrap(), etag);
}

fn as_refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

async fn reports_photos_and_an_officials_record(backend: Backend) {
    let f = Field::new(backend).await;
    // A submitted report with a photo, and another inspector's draft.
    let mut body = f.report();
    body["submit"] = json!(true);
    assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    let report = body["id"].as_str().unwrap().to_string();
    let photo = crate::evidence::jpeg(7, 4000);
    let up = crate::evidence::upload(&f, &f.inspector, &report, photo.clone(), "p.jpg", None).await;
    assert_eq!(up.status(), 201);
    let photo_id = up.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let draft = f.report();
    assert_eq!(
        f.post_report(&f.other_inspector, &draft).await.status(),
        201
    );
    let draft_id = draft["id"].as_str().unwrap().to_string();

    f.app.create_user(&f.admin, "budi", "supervisor").await;
    let mut b = Browser::new(&f.app);
    assert_eq!(b.login("budi", PASSWORD).await.status(), 303);
    let (status, list) = b.get_html("/app/laporan").await;
    assert_eq!(status, 200);
    assert!(list.contains(&format!("/app/laporan/{report}")), "{list}");
    let (status, page) = b.get_html(&format!("/app/laporan/{report}")).await;
    assert_eq!(status, 200);
    // The attendance names the officials; the place is judged against the geofence.
    let official: Value = api_json(&f, &format!("/api/v1/officials/{}", f.officials[2])).await;
    let nip = official["nip"].as_str().unwrap();
    assert!(page.contains(nip), "{page}");
    assert!(page.contains("di dalam geofence"), "{page}");
    assert!(page.contains(&format!("/app/foto/{photo_id}")), "{page}");
    let bytes = b.get(&format!("/app/foto/{photo_id}")).await;
    assert_eq!(bytes.status(), 200);
    assert_eq!(bytes.bytes().await.unwrap().to_vec(), photo);
    // The official's record: placements, findings, the recommendation.
    let (status, record) = b
        .get_html(&format!("/app/pegawai/{}", f.officials[2]))
        .await;
    assert_eq!(status, 200);
    assert!(
        record.contains(nip) && record.contains("Riwayat jabatan"),
        "{record}"
    );
    assert!(
        record.contains(&format!("/app/laporan/{report}")),
        "{record}"
    );

    // An inspector sees their own reports only; another's draft does not exist for them.
    f.app.create_user(&f.admin, "ina", "inspector").await;
    let mut ina = Browser::new(&f.app);
    assert_eq!(ina.login("ina", PASSWORD).await.status(), 303);
    let (status, mine) = ina.get_html("/app/laporan").await;
    assert_eq!(status, 200);
    assert!(!mine.contains(&format!("/app/laporan/{report}")) && !mine.contains(&draft_id));
    assert_eq!(
        ina.get(&format!("/app/laporan/{draft_id}")).await.status(),
        404
    );
    assert_eq!(
        ina.get(&format!("/app/pegawai/{}", f.officials[2]))
            .await
            .status(),
        403
    );

    // A viewer gets no report, no photo, no record.
    f.app.create_user(&f.admin, "layar-tv", "viewer").await;
    let mut tv = Browser::new(&f.app);
    assert_eq!(tv.login("layar-tv", PASSWORD).await.status(), 303);
    for path in [
        "/app/laporan".to_string(),
        format!("/app/laporan/{report}"),
        format!("/app/foto/{photo_id}"),
        format!("/app/pegawai/{}", f.officials[2]),
    ] {
        assert_eq!(tv.get(&path).await.status(), 403, "{path}");
    }
}

/// The form counts failures with the API: after the account's allowance, both answer `429`
/// with `Retry-After`, and the right password does not get through meanwhile.
async fn the_login_form_is_throttled_like_the_api(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[("SIDAK_LOGIN_MAX_FAILURES", "3")]).await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "budi", "supervisor").await;
    let mut b = Browser::new(&app);
    for _ in 0..3 {
        assert_eq!(b.login("budi", "salah-sekali-123").await.status(), 401);
    }
    let held = b.login("budi", PASSWORD).await;
    assert_eq!(held.status(), 429);
    assert!(held.headers().contains_key("retry-after"));
    assert!(held
        .text()
        .await
        .unwrap()
        .contains("Terlalu banyak percobaan"));
    assert!(!b.has_cookie("sidak_sesi"));
    assert_eq!(
        app.login("budi", PASSWORD).await.status(),
        429,
        "the API counts them too"
    );
}

/// Every official's name and NIP, as an admin reads them.
pub async fn names_and_nips(f: &Field) -> Vec<(String, String)> {
    let officials = api_json(f, "/api/v1/officials?limit=200").await;
    officials["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["full_name"].as_str().unwrap().to_string(),
                o["nip"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A JSON answer of the API, read as the admin.
pub async fn api_json(f: &Field, path: &str) -> Value {
    let resp = f.app.get(path, Some(&f.admin)).await;
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.unwrap()
}

/// With an https public address the cookies are `Secure`.
async fn cookies_are_secure_behind_https(backend: Backend) {
    let app = TestApp::spawn_with(
        backend,
        &[("SIDAK_PUBLIC_URL", "https://sidak.serangkota.go.id")],
    )
    .await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "budi", "supervisor").await;
    let mut b = Browser::new(&app);
    let form = b.get("/app/masuk").await;
    let set: Vec<String> = form
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(set.iter().all(|c| c.contains("Secure")), "{set:?}");
    let ok = b.login("budi", PASSWORD).await;
    assert_eq!(ok.status(), 303);
    let session: Vec<String> = ok
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .filter(|c| c.starts_with("sidak_sesi="))
        .collect();
    assert_eq!(session.len(), 1);
    assert!(
        session[0].contains("Secure") && session[0].contains("HttpOnly"),
        "{session:?}"
    );
}
