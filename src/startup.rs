//! Builds the application: data directory, JWT secret, database (migrations, first admin),
//! and the HTTP server. Tests use [`Application::build`] with port 0.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::web::{self, Data};
use actix_web::{App, HttpServer};
use rand::distr::{Alphanumeric, SampleString};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::{JwtKeys, LoginThrottle, PasswordHasher};
use crate::config::{Config, MIN_JWT_SECRET_BYTES};
use crate::db::pool::build_pool;
use crate::db::{self, ConnectionManager, DatabaseUrl, DbConnection, DbUuid};
use crate::domain::user as rules;
use crate::error::ApiError;
use crate::http::fallback::{self, RouteTable};
use crate::http::ops::SpecYaml;
use crate::openapi::{self, ApiDoc};
use crate::state::AppState;

pub const ADMIN_USERNAME: &str = "admin";

/// Creates the data directory (and the SQLite file's directory).
pub fn prepare_directories(config: &Config) -> Result<(), String> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        format!(
            "cannot create the data directory {}: {e}",
            config.data_dir.display()
        )
    })?;
    if let DatabaseUrl::Sqlite(path) = &config.database_url {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                format!(
                    "cannot create the database directory {}: {e}",
                    parent.display()
                )
            })?;
        }
    }
    Ok(())
}

/// On SQLite, claims the database file for this server: one server per file (its write
/// lock, login throttle and API-key allowance live in the process). A second `sidak serve`
/// on the same file is refused with a message saying so; replicas need PostgreSQL. The
/// claim is an exclusive `flock` on `<file>.serve-lock`, which the kernel releases when the
/// process ends however it ends. Command-line tools (`migrate`, `import`…) do not claim it.
pub fn claim_sqlite_file(config: &Config) -> Result<Option<std::fs::File>, String> {
    let crate::db::DatabaseUrl::Sqlite(path) = &config.database_url else {
        return Ok(None);
    };
    let lock_path = {
        let mut p = path.clone().into_os_string();
        p.push(".serve-lock");
        std::path::PathBuf::from(p)
    };
    let mut file = std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    crate::storage::try_lock(&file).map_err(|e| {
        let holder = std::fs::read_to_string(&lock_path).unwrap_or_default();
        let holder = holder.trim();
        if e.kind() == std::io::ErrorKind::WouldBlock {
            format!(
                "another Sidak server{} is serving the SQLite database {}: one server per SQLite file. \
                 To run several servers, use PostgreSQL (DATABASE_URL=postgres://…)",
                if holder.is_empty() { String::new() } else { format!(" (process {holder})") },
                path.display()
            )
        } else {
            format!("cannot lock {}: {e}", lock_path.display())
        }
    })?;
    use std::io::{Seek, Write};
    let _ = file.set_len(0);
    let _ = file.seek(std::io::SeekFrom::Start(0));
    let _ = write!(file, "{}", std::process::id());
    Ok(Some(file))
}

/// The JWT secret: from the configuration, else (development) from `<data_dir>/jwt_secret`,
/// generated on first use with file mode 0600 so that tokens survive a restart.
pub fn jwt_secret(config: &Config) -> Result<Vec<u8>, String> {
    if let Some(secret) = &config.jwt_secret {
        return Ok(secret.expose().as_bytes().to_vec());
    }
    let path = config.data_dir.join("jwt_secret");
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= MIN_JWT_SECRET_BYTES => Ok(s.trim().as_bytes().to_vec()),
        Ok(_) => Err(format!(
            "{} holds fewer than {MIN_JWT_SECRET_BYTES} bytes; remove it to generate a new secret",
            path.display()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = Alphanumeric.sample_string(&mut rand::rng(), 64);
            write_private(&path, &secret)?;
            tracing::info!(path = %path.display(), "generated a development JWT secret");
            Ok(secret.into_bytes())
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn write_private(path: &Path, contents: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(contents.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// On the very first start (no users at all) creates the `admin` account. Returns the
/// password when it was generated, so the caller can show it once.
pub fn bootstrap_admin(conn: &mut DbConnection, config: &Config) -> Result<Option<String>, String> {
    if db::users::count(conn).map_err(|e| format!("cannot count users: {e}"))? > 0 {
        return Ok(None);
    }
    let (password, generated) = match &config.admin_password {
        Some(p) => (p.expose().to_string(), false),
        None => (Alphanumeric.sample_string(&mut rand::rng(), 20), true),
    };
    rules::validate_password("SIDAK_ADMIN_PASSWORD", &password, ADMIN_USERNAME)
        .map_err(|e| format!("{} {}", e.field, e.message))?;
    let hash = crate::auth::password::hash_blocking(&password)?;
    let result = crate::service::users::create(
        conn,
        &db::users::NewUser {
            id: DbUuid(uuid::Uuid::new_v4()),
            username: ADMIN_USERNAME,
            full_name: "Administrator",
            role: crate::domain::user::Role::Admin,
            password_hash: &hash,
        },
        None,
        &crate::service::Ctx::cli(config),
        "first-start",
    );
    match result {
        Ok(_) => Ok(generated.then_some(password)),
        // Another instance created it between our count and our insert.
        Err(ApiError::Conflict(_)) => Ok(None),
        Err(e) => Err(format!("cannot create the admin account: {e}")),
    }
}

/// Everything that must happen before serving: directories, migrations, the first admin,
/// the pool. Blocking; call it off the async workers.
pub struct Prepared {
    pub state: AppState,
    /// Set only on the very first start when no `SIDAK_ADMIN_PASSWORD` was given.
    pub generated_admin_password: Option<String>,
}

pub fn prepare(config: Config) -> Result<Prepared, String> {
    prepare_directories(&config)?;
    let secret = jwt_secret(&config)?;
    let manager = ConnectionManager::new(config.database_url.clone(), config.sqlite_synchronous);
    let mut conn = manager.establish().map_err(|e| {
        format!(
            "cannot open the database {}: {e}",
            config.database_url.redacted()
        )
    })?;
    let applied = db::run_migrations(&mut conn)?;
    for version in &applied {
        tracing::info!(%version, "applied migration");
    }
    let generated_admin_password = bootstrap_admin(&mut conn, &config)?;
    // The discipline counts need the year's holidays: say so when they are missing.
    let ctx = crate::service::Ctx::cli(&config);
    match crate::service::calendar::warnings(&mut conn, &ctx, chrono::Datelike::year(&ctx.today()))
    {
        Ok(warnings) => {
            for w in warnings {
                tracing::warn!("{w}");
            }
        }
        Err(e) => tracing::warn!(error = %e, "reading the holiday calendar failed"),
    }
    drop(conn);
    let pool = build_pool(manager, config.db_pool_size)?;
    let shared = config.database_url.backend_name() == "postgres";
    let state = AppState {
        pool: pool.clone(),
        jwt: JwtKeys::new(&secret, config.access_token_ttl),
        hasher: PasswordHasher::new(config.hash_concurrency)?,
        // On PostgreSQL every server on the database shares the limits; a SQLite file has
        // one server, which keeps them in memory.
        throttle: if shared {
            LoginThrottle::shared(config.throttle.clone(), pool.clone())
        } else {
            LoginThrottle::new(config.throttle.clone())
        },
        evidence: crate::storage::EvidenceStore::open_for_server(
            &config.evidence,
            &config.data_dir,
        )?,
        metrics: crate::metrics::Metrics::new().map_err(|e| format!("metrics: {e}"))?,
        key_limiter: if shared {
            crate::auth::api_key::KeyLimiter::shared(config.api_key_rate_per_minute, pool.clone())
        } else {
            crate::auth::api_key::KeyLimiter::new(config.api_key_rate_per_minute)
        },
        writes: crate::db::group::GroupCommit::default(),
        reference: Default::default(),
        config: Arc::new(config),
    };
    Ok(Prepared {
        state,
        generated_admin_password,
    })
}

pub struct Application {
    port: u16,
    server: Server,
    pub generated_admin_password: Option<String>,
}

impl Application {
    pub async fn build(config: Config) -> Result<Application, String> {
        let prepared = tokio::task::spawn_blocking(move || prepare(config))
            .await
            .map_err(|e| format!("start-up task failed: {e}"))??;
        if let Some(password) = &prepared.generated_admin_password {
            tracing::warn!(
                "FIRST START: created the account `{ADMIN_USERNAME}` with the generated password `{password}`. \
                 It is shown only this once: log in and change it (POST /api/v1/me/password)."
            );
        }
        let config = prepared.state.config.clone();
        let listener = TcpListener::bind(&config.bind)
            .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let server = serve(prepared.state, listener)?;
        tracing::info!(
            address = %config.bind, port, database = %config.database_url.redacted(),
            evidence = %config.evidence.describe(),
            "sidak is serving"
        );
        Ok(Application {
            port,
            server,
            generated_admin_password: prepared.generated_admin_password,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until SIGTERM/SIGINT; in-flight requests are finished first (graceful shutdown).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// CORS for browser dashboards: only the listed origins, only the read-only dashboard
/// endpoints, no cookies. Other origins and paths get no CORS headers (the browser then
/// refuses the response); with no origins configured nothing is opened.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let origins: Vec<String> = origins.to_vec();
    actix_cors::Cors::default()
        .allowed_origin_fn(move |origin, head| {
            head.uri.path().starts_with("/api/v1/dashboard/")
                && origin
                    .to_str()
                    .is_ok_and(|o| origins.iter().any(|allowed| allowed == o))
        })
        .allowed_methods(["GET"])
        .allowed_headers([
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::ACCEPT,
            actix_web::http::header::IF_NONE_MATCH,
            actix_web::http::header::HeaderName::from_static(crate::auth::extract::API_KEY_HEADER),
        ])
        .expose_headers([
            actix_web::http::header::ETAG,
            actix_web::http::header::HeaderName::from_static("x-request-id"),
        ])
        .max_age(600)
        .block_on_origin_mismatch(false)
}

/// The HTTP server on `listener`.
pub fn serve(state: AppState, listener: TcpListener) -> Result<Server, String> {
    let workers = state.config.workers;
    // Every blocking job holds a pooled connection or a hashing permit: threads beyond those
    // would only wait (each with its stack and allocator arena), so jobs queue instead.
    let blocking_threads = (state.config.db_pool_size as usize + state.config.hash_concurrency)
        .div_ceil(workers)
        .max(2);
    let shutdown = state.config.shutdown_timeout.as_secs();
    let spec = openapi::document();
    let yaml =
        Data::new(SpecYaml(spec.to_yaml().map_err(|e| {
            format!("cannot render the OpenAPI document: {e}")
        })?));
    let route_table = Data::new(RouteTable::from_openapi(&spec));
    let cors_origins = state.config.cors_origins.clone();
    let state = Data::new(state);
    crate::service::periodic::start(
        state.pool.clone(),
        state.evidence.clone(),
        state.config.evidence_gc_interval,
        state.config.evidence_gc_grace,
    );
    crate::service::deliveries::start(
        state.pool.clone(),
        state.config.webhooks.clone(),
        state.config.timezone,
        state.metrics.webhook_attempts.clone(),
    );
    if let Some(schedule) = &state.config.backup_schedule {
        crate::service::periodic::start_backups(crate::service::periodic::BackupJob {
            pool: state.pool.clone(),
            database_url: state.config.database_url.clone(),
            evidence: state.evidence.clone(),
            schedule: schedule.clone(),
            timezone: state.config.timezone,
            target: crate::service::backup::BackupTarget::open(&state.config.backup_to)?,
            keep: state.config.backup_keep,
            staging: state.config.data_dir.join("backup-staging"),
        });
    }
    let server = HttpServer::new(move || {
        App::new()
            .into_utoipa_app()
            .openapi(ApiDoc::openapi())
            .app_data(state.clone())
            .app_data(yaml.clone())
            .app_data(route_table.clone())
            .app_data(
                web::PathConfig::default().error_handler(|_, req| fallback::path_rejected(req)),
            )
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                ApiError::BadRequest(format!("Invalid query string: {err}")).into()
            }))
            .configure(crate::http::routes::register)
            .into_app()
            .configure(crate::console::register)
            .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", spec.clone()))
            .default_service(web::to(fallback::fallback))
            .wrap(from_fn(crate::http::middleware::around))
            .wrap(cors(&cors_origins))
    })
    .workers(workers)
    .worker_max_blocking_threads(blocking_threads)
    .shutdown_timeout(shutdown)
    .listen(listener)
    .map_err(|e| format!("cannot serve: {e}"))?
    .run();
    Ok(server)
}
