//! Spawns the real application on port 0 against a fresh database: a new SQLite file per
//! test, or — when `SIDAK_TEST_POSTGRES_URL` is set — a new PostgreSQL database per test,
//! created from a migrated template and dropped afterwards.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::{Client, Method, Response};
use serde_json::{json, Value};
use sidak::config::Config;
use sidak::startup::Application;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";
pub const PASSWORD: &str = "kata-sandi-uji-123";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares an async test `fn name(backend: Backend)` as two tests, `name::sqlite` and
/// `name::postgres`. The PostgreSQL one is skipped (with a note) when
/// `SIDAK_TEST_POSTGRES_URL` is not set, and fails when `SIDAK_TEST_REQUIRE_POSTGRES=1`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if $crate::helpers::postgres_enabled() {
                        super::$name($crate::helpers::Backend::Postgres).await
                    }
                }
            }
        )*
    };
}

/// Where a test's photos are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// Files under the data directory (the default).
    Local,
    /// A prefix of its own in a bucket of the S3 endpoint `SIDAK_TEST_S3_ENDPOINT`.
    S3,
}

/// Declares an async test `fn name(backend: Backend, store: Store)` as four tests:
/// `name::sqlite` and `name::postgres` with local files, `name::s3::sqlite` and
/// `name::s3::postgres` with an S3 bucket (skipped, with a note, when
/// `SIDAK_TEST_S3_ENDPOINT` is not set; failing when `SIDAK_TEST_REQUIRE_S3=1`).
#[macro_export]
macro_rules! every_store {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite, $crate::helpers::Store::Local).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if $crate::helpers::postgres_enabled() {
                        super::$name($crate::helpers::Backend::Postgres, $crate::helpers::Store::Local).await
                    }
                }
                mod s3 {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn sqlite() {
                        if $crate::helpers::s3_enabled() {
                            super::super::$name($crate::helpers::Backend::Sqlite, $crate::helpers::Store::S3).await
                        }
                    }
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn postgres() {
                        if $crate::helpers::postgres_enabled() && $crate::helpers::s3_enabled() {
                            super::super::$name($crate::helpers::Backend::Postgres, $crate::helpers::Store::S3).await
                        }
                    }
                }
            }
        )*
    };
}

pub fn s3_enabled() -> bool {
    let set = std::env::var("SIDAK_TEST_S3_ENDPOINT").is_ok_and(|v| !v.is_empty());
    if !set {
        assert!(
            std::env::var("SIDAK_TEST_REQUIRE_S3").as_deref() != Ok("1"),
            "SIDAK_TEST_REQUIRE_S3=1 but SIDAK_TEST_S3_ENDPOINT is not set"
        );
        eprintln!("SIDAK_TEST_S3_ENDPOINT not set: S3 variant skipped");
    }
    set
}

pub const TEST_BUCKET: &str = "sidak-test";

/// The settings of a store: for S3 a new prefix in the test bucket (made if missing), with
/// the endpoint's address and test credentials by their standard names.
pub async fn store_settings(store: Store) -> Vec<(String, String)> {
    match store {
        Store::Local => Vec::new(),
        Store::S3 => {
            let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
            s3_settings(&format!("s3://{TEST_BUCKET}/{prefix}")).await
        }
    }
}

/// `SIDAK_EVIDENCE_URL` = `url` (an `s3://` one) and the S3 endpoint's settings; the bucket
/// is made if missing.
pub async fn s3_settings(url: &str) -> Vec<(String, String)> {
    let endpoint = std::env::var("SIDAK_TEST_S3_ENDPOINT").expect("SIDAK_TEST_S3_ENDPOINT");
    let endpoint = endpoint.trim_end_matches('/').to_string();
    let bucket = url
        .strip_prefix("s3://")
        .and_then(|r| r.split('/').next())
        .expect("an s3:// URL");
    // The test endpoint takes an unsigned request to make a bucket; it answers 200, or 409
    // when the bucket is there already.
    let made = Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("the S3 endpoint answers");
    assert!(
        made.status().is_success() || made.status() == 409,
        "making bucket {bucket}: {}",
        made.status()
    );
    [
        ("SIDAK_EVIDENCE_URL", url.to_string()),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ALLOW_HTTP", "true".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

pub fn postgres_enabled() -> bool {
    let set = std::env::var("SIDAK_TEST_POSTGRES_URL").is_ok_and(|v| !v.is_empty());
    if !set {
        assert!(
            std::env::var("SIDAK_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "SIDAK_TEST_REQUIRE_POSTGRES=1 but SIDAK_TEST_POSTGRES_URL is not set"
        );
        eprintln!("SIDAK_TEST_POSTGRES_URL not set: PostgreSQL variant skipped");
    }
    set
}

const TEMPLATE_DB: &str = "sidak_test_template";
static PG_LOCK: Mutex<()> = Mutex::new(());
static PG_TEMPLATE: OnceLock<Result<(), String>> = OnceLock::new();

fn pg_url_for(db: &str) -> String {
    let base = std::env::var("SIDAK_TEST_POSTGRES_URL").expect("SIDAK_TEST_POSTGRES_URL");
    let (without_query, mut query) = match base.split_once('?') {
        Some((b, q)) => (b.to_string(), format!("?{q}")),
        None => (base.clone(), String::new()),
    };
    // No TLS to the test server unless the URL asks for it: on loopback it buys nothing, and
    // the test process exits while the servers it started still hold pooled connections,
    // whose TLS state libpq's OpenSSL tears down at exit (one run ended in SIGSEGV after
    // every test had passed).
    if !query.contains("sslmode=") {
        query.push(if query.is_empty() { '?' } else { '&' });
        query.push_str("sslmode=disable");
    }
    let prefix = match without_query.rfind('/') {
        Some(i) if i > "postgres://".len() => &without_query[..i],
        _ => without_query.as_str(),
    };
    format!("{prefix}/{db}{query}")
}

fn pg_admin() -> PgConnection {
    PgConnection::establish(&pg_url_for("postgres")).expect("connect to PostgreSQL as admin")
}

fn create_pg_database() -> String {
    let _guard = PG_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let template = PG_TEMPLATE.get_or_init(|| {
        let mut admin = pg_admin();
        diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)"
        ))
        .execute(&mut admin)
        .map_err(|e| e.to_string())?;
        diesel::sql_query(format!("CREATE DATABASE {TEMPLATE_DB}"))
            .execute(&mut admin)
            .map_err(|e| e.to_string())?;
        let mut conn = sidak::db::DbConnection::Pg(
            PgConnection::establish(&pg_url_for(TEMPLATE_DB)).map_err(|e| e.to_string())?,
        );
        sidak::db::run_migrations(&mut conn)?;
        Ok(())
    });
    template
        .as_ref()
        .expect("migrated PostgreSQL template database");
    let name = format!("sidak_test_{}", uuid::Uuid::new_v4().simple());
    diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}"))
        .execute(&mut pg_admin())
        .expect("create a test database");
    name
}

/// An empty database (no tables) and a data directory, for start-up tests; dropped with it.
pub struct EmptyDatabase {
    pub url: String,
    pub dir: PathBuf,
    pg_database: Option<String>,
}

impl EmptyDatabase {
    pub fn new(backend: Backend) -> EmptyDatabase {
        let dir =
            std::env::temp_dir().join(format!("sidak-empty-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("data directory");
        match backend {
            Backend::Sqlite => EmptyDatabase {
                url: format!("sqlite://{}", dir.join("sidak.db").display()),
                dir,
                pg_database: None,
            },
            Backend::Postgres => {
                let name = format!("sidak_empty_{}", uuid::Uuid::new_v4().simple());
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut pg_admin())
                    .expect("create an empty database");
                EmptyDatabase {
                    url: pg_url_for(&name),
                    dir,
                    pg_database: Some(name),
                }
            }
        }
    }
}

impl Drop for EmptyDatabase {
    fn drop(&mut self) {
        if let Some(db) = &self.pg_database {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                .execute(&mut pg_admin());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl EmptyDatabase {
    /// Where [`EmptyDatabase::server`] at `port` writes its log.
    pub fn server_log(&self, port: u16) -> PathBuf {
        self.dir.join(format!("server-{port}.log"))
    }

    /// `sidak serve` (the built binary) on this database at `port`, its log in
    /// [`EmptyDatabase::server_log`] (a file, not a pipe nobody may read).
    pub fn server(&self, port: u16) -> std::process::Child {
        self.server_with(port, &[])
    }

    /// [`EmptyDatabase::server`] with more settings; its log is appended to, so a restart
    /// keeps the first run's.
    pub fn server_with(&self, port: u16, extra: &[(&str, &str)]) -> std::process::Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.server_log(port))
            .expect("server log");
        std::process::Command::new(env!("CARGO_BIN_EXE_sidak"))
            .envs(extra.iter().copied())
            .arg("serve")
            .env("DATABASE_URL", &self.url)
            .env("SIDAK_DATA_DIR", &self.dir)
            .env("SIDAK_BIND", format!("127.0.0.1:{port}"))
            .env("SIDAK_JWT_SECRET", TEST_JWT_SECRET)
            .env("SIDAK_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("SIDAK_WORKERS", "1")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("server starts")
    }
}

/// A connection of its own to the database at `url` (to look at or set up rows directly).
pub fn connect(url: &str) -> sidak::db::DbConnection {
    sidak::db::ConnectionManager::new(
        sidak::db::DatabaseUrl::parse(url).expect("database URL"),
        sidak::db::SqliteSynchronous::Full,
    )
    .establish()
    .expect("database connection")
}

/// `sidak serve` as a process of its own (see [`EmptyDatabase::server_with`]), ready to
/// answer; killed and reaped when dropped.
pub struct Served {
    pub child: std::process::Child,
    pub port: u16,
}

impl Served {
    pub async fn start(db: &EmptyDatabase, port: u16, extra: &[(&str, &str)]) -> Served {
        // Owned at once, so that it is killed and reaped whatever happens next.
        let served = Served {
            child: db.server_with(port, extra),
            port,
        };
        let client = reqwest::Client::new();
        for _ in 0..600 {
            let ready = client.get(served.url("/readyz")).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return served;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!(
            "the server did not become ready: {}",
            std::fs::read_to_string(db.server_log(port)).unwrap_or_default()
        );
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Where one test's data lives; removed when the last app using it is dropped.
struct Storage {
    dir: PathBuf,
    pg_database: Option<String>,
}

impl Drop for Storage {
    fn drop(&mut self) {
        if let Some(db) = &self.pg_database {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                .execute(&mut pg_admin());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub backend: Backend,
    pub generated_admin_password: Option<String>,
    storage: std::sync::Arc<Storage>,
    settings: HashMap<String, String>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, &[]).await
    }

    /// Spawns with extra environment-style settings (e.g. throttling limits); an empty
    /// value removes a default setting.
    pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
        let dir =
            std::env::temp_dir().join(format!("sidak-test-{}", uuid::Uuid::new_v4().simple()));
        let (database_url, pg_database) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.join("sidak.db").display()), None),
            Backend::Postgres => {
                let name = tokio::task::spawn_blocking(create_pg_database)
                    .await
                    .expect("create database");
                (pg_url_for(&name), Some(name))
            }
        };
        let mut settings: HashMap<String, String> = [
            ("SIDAK_BIND", "127.0.0.1:0".to_string()),
            ("SIDAK_DATA_DIR", dir.display().to_string()),
            ("DATABASE_URL", database_url),
            ("SIDAK_JWT_SECRET", TEST_JWT_SECRET.to_string()),
            ("SIDAK_ADMIN_PASSWORD", ADMIN_PASSWORD.to_string()),
            ("SIDAK_WORKERS", "2".to_string()),
            ("SIDAK_DB_POOL_SIZE", "4".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in extra {
            if v.is_empty() {
                settings.remove(*k);
            } else {
                settings.insert(k.to_string(), v.to_string());
            }
        }
        let storage = std::sync::Arc::new(Storage { dir, pg_database });
        Self::start(backend, settings, storage).await
    }

    /// Another server on the same database and data directory (a restart), with settings
    /// changed or removed (`None`).
    pub async fn sibling(&self, changes: &[(&str, Option<&str>)]) -> TestApp {
        let mut settings = self.settings.clone();
        for (k, v) in changes {
            match v {
                Some(v) => settings.insert(k.to_string(), v.to_string()),
                None => settings.remove(*k),
            };
        }
        Self::start(self.backend, settings, self.storage.clone()).await
    }

    async fn start(
        backend: Backend,
        settings: HashMap<String, String>,
        storage: std::sync::Arc<Storage>,
    ) -> TestApp {
        let config = Config::from_lookup(|k| settings.get(k).cloned()).expect("test configuration");
        let app = Application::build(config)
            .await
            .expect("application starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let generated_admin_password = app.generated_admin_password.clone();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            backend,
            generated_admin_password,
            storage,
            settings,
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.storage.dir.clone()
    }

    /// Runs the `sidak` binary with this app's settings as its environment, `changes`
    /// applied (an empty value removes a setting).
    pub fn cli(&self, args: &[&str], changes: &[(&str, &str)]) -> std::process::Output {
        let mut env = self.settings.clone();
        for (k, v) in changes {
            if v.is_empty() {
                env.remove(*k);
            } else {
                env.insert(k.to_string(), v.to_string());
            }
        }
        std::process::Command::new(env!("CARGO_BIN_EXE_sidak"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env)
            .env("RUST_LOG", "warn")
            .output()
            .expect("the sidak binary runs")
    }

    /// The photo store this app was configured with.
    pub fn evidence_store(&self) -> sidak::storage::EvidenceStore {
        let config =
            Config::from_lookup(|k| self.settings.get(k).cloned()).expect("test configuration");
        sidak::storage::EvidenceStore::open(&config.evidence, &self.data_dir().join("inspect"))
            .expect("evidence store")
    }

    /// The hashes of every object in the photo store, sorted.
    pub async fn stored_objects(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .evidence_store()
            .list()
            .await
            .expect("list the store")
            .into_iter()
            .map(|o| o.sha256)
            .collect();
        out.sort();
        out
    }

    pub fn database_url(&self) -> String {
        self.settings["DATABASE_URL"].clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.expect("request sent")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    /// How many audit entries there are (admin token), from the chain verification.
    pub async fn audit_count(&self, admin: &str) -> i64 {
        let resp = self.get("/api/v1/audit/verify", Some(admin)).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.expect("verification JSON");
        assert_eq!(body["ok"], true);
        body["entries"].as_i64().expect("entries")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.post(
            "/api/v1/auth/login",
            None,
            &json!({"username": username, "password": password}),
        )
        .await
    }

    /// Logs in and returns the whole token response; panics unless 200.
    pub async fn login_ok(&self, username: &str, password: &str) -> Value {
        let resp = self.login(username, password).await;
        assert_eq!(resp.status(), 200, "login of {username} failed");
        resp.json().await.expect("token response")
    }

    pub async fn admin_token(&self) -> String {
        token_of(&self.login_ok("admin", ADMIN_PASSWORD).await)
    }

    /// Creates a user with [`PASSWORD`] and returns its id.
    pub async fn create_user(&self, admin: &str, username: &str, role: &str) -> String {
        let resp = self
            .post(
                "/api/v1/users",
                Some(admin),
                &json!({"username": username, "full_name": format!("User {username}"), "role": role, "password": PASSWORD}),
            )
            .await;
        assert_eq!(resp.status(), 201, "creating {username}");
        let body: Value = resp.json().await.expect("user");
        body["id"].as_str().expect("id").to_string()
    }

    /// Creates a user of `role` and returns an access token for it.
    pub async fn token_for_role(&self, admin: &str, role: &str) -> String {
        if role == "admin" {
            return admin.to_string();
        }
        let username = format!("{role}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        self.create_user(admin, &username, role).await;
        token_of(&self.login_ok(&username, PASSWORD).await)
    }
}

pub fn token_of(login: &Value) -> String {
    login["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// Asserts a problem+json response with `status`, returns the body.
pub async fn assert_problem(resp: Response, status: u16) -> Value {
    assert_eq!(resp.status(), status, "unexpected status");
    assert!(
        resp.headers().contains_key("x-request-id"),
        "X-Request-Id missing"
    );
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        ct.starts_with("application/problem+json"),
        "content type {ct}"
    );
    let body: Value = resp.json().await.expect("problem body");
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string());
    body
}
