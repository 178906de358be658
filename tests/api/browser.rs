//! The console in a real browser: Debian's Chromium driven by its chromedriver over the
//! WebDriver protocol (plain HTTP, spoken here with reqwest). `SIDAK_TEST_CHROMEDRIVER`
//! names the driver (`/usr/bin/chromedriver`; `SIDAK_TEST_CHROMIUM` the browser, default
//! `/usr/bin/chromium`); without it the test says it skipped, and with
//! `SIDAK_TEST_REQUIRE_BROWSER=1` (as in CI) it fails instead.
//!
//! A supervisor logs in, opens the queue and a follow-up, decides it with a sanction (the
//! confirmation dialog accepted), sees it in the history and the API; a viewer sees no name
//! or NIP on Beranda or the wall screen; the wall screen redraws itself after a new report.
//! Each page is photographed at phone and desktop width into `docs/screenshots/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Client;
use serde_json::{json, Value};

use crate::helpers::{free_port, Backend, PASSWORD};
use crate::inspections::Field;

crate::both_backends!(the_console_works_in_a_real_browser);

struct Driver {
    process: Child,
    http: Client,
    base: String,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Driver {
    async fn start(driver: &str) -> Driver {
        let port = free_port();
        let process = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not answer"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let binary =
            std::env::var("SIDAK_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            // A dialog nobody expects fails the next command.
            "unhandledPromptBehavior": "ignore",
            "goog:chromeOptions": {"binary": binary, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--lang=id-ID", "--no-first-run"]}
        }}});
        let mut d = Driver {
            process,
            http,
            base,
            session: String::new(),
        };
        let v = d.call("POST", "/session", Some(caps)).await;
        d.session = v["sessionId"]
            .as_str()
            .expect("a WebDriver session")
            .to_string();
        d
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or(json!({}))),
        };
        let resp = req.send().await.expect("chromedriver answers");
        let v: Value = resp.json().await.expect("WebDriver JSON");
        // Every command must succeed (a click that lands on nothing is a failure).
        if let Some(error) = v["value"]["error"].as_str() {
            panic!(
                "WebDriver {method} {path}: {error}: {}",
                v["value"]["message"]
            );
        }
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url}))).await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.call("POST", &format!("/element/{id}/click"), None)
            .await;
    }

    async fn source(&self) -> String {
        self.call("GET", "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn url(&self) -> String {
        self.call("GET", "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Waits until the page's source contains `text`.
    async fn wait_for(&self, text: &str, within: Duration) -> String {
        let started = Instant::now();
        loop {
            let page = self.source().await;
            if page.contains(text) {
                return page;
            }
            assert!(
                started.elapsed() < within,
                "waited for {text:?}; the page is {page}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The page at phone and desktop width, as `docs/screenshots/<name>-{ponsel,desktop}.png`.
    async fn photograph(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        for (label, w, h) in [("ponsel", 390, 844), ("desktop", 1280, 900)] {
            self.call(
                "POST",
                "/window/rect",
                Some(json!({"width": w, "height": h})),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(150)).await;
            let png = self.call("GET", "/screenshot", None).await;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(png.as_str().expect("a screenshot"))
                .unwrap();
            assert!(bytes.starts_with(b"\x89PNG"));
            std::fs::write(dir.join(format!("{name}-{label}.png")), bytes).unwrap();
        }
        self.call(
            "POST",
            "/window/rect",
            Some(json!({"width": 1280, "height": 900})),
        )
        .await;
    }

    async fn login(&self, base: &str, username: &str) {
        self.goto(&format!("{base}/app/masuk")).await;
        self.type_into("input[name=username]", username).await;
        self.type_into("input[name=password]", PASSWORD).await;
        self.click("form button[type=submit]").await;
        self.wait_for("<h1>Beranda</h1>", Duration::from_secs(10))
            .await;
    }

    async fn logout(&self) {
        self.click("header form button[type=submit]").await;
        self.wait_for("Masuk ke Sidak", Duration::from_secs(10))
            .await;
    }
}

async fn the_console_works_in_a_real_browser(backend: Backend) {
    let Ok(driver) = std::env::var("SIDAK_TEST_CHROMEDRIVER") else {
        assert!(
            std::env::var("SIDAK_TEST_REQUIRE_BROWSER").is_err(),
            "SIDAK_TEST_REQUIRE_BROWSER is set but SIDAK_TEST_CHROMEDRIVER is not"
        );
        eprintln!("browser test skipped: set SIDAK_TEST_CHROMEDRIVER=/usr/bin/chromedriver");
        return;
    };
    let f = Field::with(backend, &[("SIDAK_WALL_REFRESH_SECONDS", "1")]).await;
    let mut report = f.report();
    report["submit"] = json!(true);
    assert_eq!(f.post_report(&f.inspector, &report).await.status(), 201);
    f.app.create_user(&f.admin, "budi", "supervisor").await;
    f.app.create_user(&f.admin, "layar-tv", "viewer").await;
    let base = f.app.url("");
    let base = base.trim_end_matches('/');
    let shots = backend == Backend::Sqlite;
    let d = Driver::start(&driver).await;

    // The supervisor: Beranda, the queue, one follow-up, a decision.
    d.login(base, "budi").await;
    if shots {
        d.photograph("beranda").await;
    }
    d.click("nav a[href='/app/tindak-lanjut']").await;
    let queue = d
        .wait_for("<h1>Tindak lanjut</h1>", Duration::from_secs(10))
        .await;
    assert!(queue.contains("Terbuka"), "{queue}");
    if shots {
        d.photograph("tindak-lanjut").await;
    }
    d.click("table tbody a[href^='/app/tindak-lanjut/']").await;
    d.wait_for("Rekomendasi PP 94/2021", Duration::from_secs(10))
        .await;
    let path = d.url().await;
    let id = path.rsplit('/').next().unwrap().to_string();
    if shots {
        d.photograph("tindak-lanjut-detail").await;
    }
    // A POST that did not come from the page's form (no CSRF token) changes nothing.
    let forged = d
        .script(&format!(
            "var x = new XMLHttpRequest(); x.open('POST', '/app/tindak-lanjut/{id}', false); \
             x.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded'); \
             x.send('action=comment&note=palsu'); return x.status;"
        ))
        .await;
    assert_eq!(forged, json!(403));
    let unchanged = crate::console::api_json(&f, &format!("/api/v1/follow-ups/{id}")).await;
    assert_eq!(
        unchanged["history"].as_array().unwrap().len(),
        1,
        "{unchanged}"
    );
    // Under review first, then decided.
    d.click("form:has(input[value=start_review]) button[type=submit]")
        .await;
    d.wait_for("Tersimpan.", Duration::from_secs(10)).await;
    d.type_into(
        "form:has(input[value=decide]) textarea[name=note]",
        "Diputuskan di peramban",
    )
    .await;
    d.script("document.querySelector(\"form:has(input[value=decide]) select[name=sanction]\").value = 'teguran_tertulis';").await;
    d.click("form:has(input[value=decide]) button[type=submit]")
        .await;
    // The page asks before a decision; the answer is yes.
    let asked = d.call("GET", "/alert/text", None).await;
    assert!(
        asked.as_str().is_some_and(|q| q.starts_with("Putuskan")),
        "{asked}"
    );
    d.call("POST", "/alert/accept", None).await;
    let page = d
        .wait_for("“Diputuskan di peramban”", Duration::from_secs(10))
        .await;
    assert!(
        page.contains("Diputuskan di peramban") && page.contains("Teguran tertulis"),
        "{page}"
    );
    let api = crate::console::api_json(&f, &format!("/api/v1/follow-ups/{id}")).await;
    assert_eq!(api["status"], "decided", "{api}");
    assert_eq!(api["sanction"], "teguran_tertulis");
    // The reports, one report, the official's record.
    d.click("nav a[href='/app/laporan']").await;
    d.wait_for("<h1>Laporan</h1>", Duration::from_secs(10))
        .await;
    if shots {
        d.photograph("laporan").await;
    }
    d.click("table tbody a[href^='/app/laporan/']").await;
    d.wait_for("Daftar hadir", Duration::from_secs(10)).await;
    if shots {
        d.photograph("laporan-detail").await;
    }
    let official = api["official"]["id"].as_str().unwrap();
    d.goto(&format!("{base}/app/pegawai/{official}")).await;
    d.wait_for("Riwayat jabatan", Duration::from_secs(10)).await;
    if shots {
        d.photograph("pegawai").await;
    }
    d.logout().await;
    if shots {
        d.photograph("masuk").await;
    }

    // The viewer: no name, no NIP, anywhere it can go.
    let people = crate::console::names_and_nips(&f).await;
    d.login(base, "layar-tv").await;
    for page in ["/app/", "/app/layar"] {
        d.goto(&format!("{base}{page}")).await;
        let text = d
            .script("return document.documentElement.outerHTML + document.body.innerText;")
            .await;
        let text = text.as_str().unwrap_or_default();
        assert!(text.contains("Dinas Kesehatan"), "{page}: {text}");
        for (name, nip) in &people {
            assert!(
                !text.contains(name.as_str()) && !text.contains(nip.as_str()),
                "{page} shows {name}"
            );
        }
    }

    // The wall screen redraws itself after a new report, without a reload.
    let before = d
        .script("return document.querySelector('main .figure .n').textContent;")
        .await;
    d.script("window.__same_page = true;").await;
    let mut another = f.report();
    another["submit"] = json!(true);
    assert_eq!(f.post_report(&f.inspector, &another).await.status(), 201);
    let started = Instant::now();
    loop {
        let now = d.script("return [document.querySelector('main .figure .n').textContent, window.__same_page === true];").await;
        if now[0] != before {
            assert_eq!(now[1], true, "the page redrew itself, it was not reloaded");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the wall screen did not change from {before}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    if shots {
        d.photograph("layar").await;
    }
    d.call("DELETE", "", None).await;
}
