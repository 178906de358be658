//! Our r2d2 connection manager: the backend is chosen by the URL scheme, and every new
//! SQLite connection gets its pragmas before it is handed out.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2;
use std::path::PathBuf;
use std::time::Duration;

use super::DbConnection;

pub type DbPool = r2d2::Pool<ConnectionManager>;
pub type PooledConn = r2d2::PooledConnection<ConnectionManager>;

/// Where the database lives, parsed from `DATABASE_URL`. `Debug` shows it with the
/// password replaced.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    Sqlite(PathBuf),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl DatabaseUrl {
    /// `postgres://` / `postgresql://` → PostgreSQL; `sqlite://path`, `sqlite:path` or a bare
    /// path → SQLite. Any other `scheme://` is refused rather than taken for a file name.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.is_empty() {
            return Err("DATABASE_URL is empty".into());
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_string()));
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err("DATABASE_URL `sqlite://` needs a file path".into());
            }
            if path == ":memory:" || path.starts_with("file:") {
                return Err(
                    "an in-memory or URI SQLite database is not supported; give a file path".into(),
                );
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(format!(
                "DATABASE_URL has unsupported scheme `{scheme}://`; use postgres://, postgresql:// or sqlite://"
            ));
        }
        if url.contains(':') && !url.contains('/') && !url.contains('\\') {
            return Err(format!(
                "DATABASE_URL `{url}` looks like a URL with an unknown scheme; use postgres://… or sqlite://path"
            ));
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(url)))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Postgres(_) => "postgres",
            DatabaseUrl::Sqlite(_) => "sqlite",
        }
    }

    /// The URL with any password replaced, for logs.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
            DatabaseUrl::Postgres(u) => match (u.find("://"), u.rfind('@')) {
                (Some(s), Some(at)) if at > s => {
                    let creds = &u[s + 3..at];
                    let user = creds.split(':').next().unwrap_or("");
                    format!("{}{}:***{}", &u[..s + 3], user, &u[at..])
                }
                _ => u.clone(),
            },
        }
    }
}

/// `PRAGMA synchronous` for SQLite; `FULL` unless configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqliteSynchronous {
    Off,
    Normal,
    Full,
    Extra,
}

impl SqliteSynchronous {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_uppercase().as_str() {
            "OFF" => Ok(Self::Off),
            "NORMAL" => Ok(Self::Normal),
            "FULL" => Ok(Self::Full),
            "EXTRA" => Ok(Self::Extra),
            other => Err(format!(
                "SIDAK_SQLITE_SYNCHRONOUS `{other}` is not one of OFF, NORMAL, FULL, EXTRA"
            )),
        }
    }

    fn as_sql(self) -> &'static str {
        match self {
            Self::Off => "OFF",
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
            Self::Extra => "EXTRA",
        }
    }
}

/// How long a connection waits for the write lock held by another process (SQLite
/// `busy_timeout`) or by another transaction (PostgreSQL `lock_timeout`, pooled connections).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How many pages the SQLite WAL grows to before the commit that passes it copies them
/// into the database file (`wal_autocheckpoint`; SQLite's default is 1,000, 4 MiB). That
/// copy is made by the writer, after its commit, while the next writers wait: a report's
/// random-UUID rows dirty a page each, a checkpoint every 1,000 pages came every few
/// batches and was a tenth of the writer's work. Less often, a page changed by many
/// reports meanwhile is copied once (BENCHMARKS.md). The WAL file keeps the size it grew
/// to, about 40 MiB.
pub const WAL_CHECKPOINT_PAGES: u32 = 10_000;

#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    synchronous: SqliteSynchronous,
    busy_timeout: Duration,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl, synchronous: SqliteSynchronous) -> Self {
        ConnectionManager {
            url,
            synchronous,
            busy_timeout: BUSY_TIMEOUT,
        }
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// Opens one connection, outside any pool (command-line tools, migrations).
    pub fn establish(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => diesel::PgConnection::establish(url)
                .map(DbConnection::Pg)
                .map_err(r2d2::Error::ConnectionError),
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_string_lossy();
                let mut conn = diesel::SqliteConnection::establish(&path)
                    .map_err(r2d2::Error::ConnectionError)?;
                // busy_timeout first: the pragmas below may themselves need the lock.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON;",
                    self.busy_timeout.as_millis()
                ))
                .map_err(r2d2::Error::QueryError)?;
                // Switching a new file to WAL needs it to itself, and SQLite answers "locked"
                // at once, without the busy handler, while another process that started at
                // the same moment holds its migration transaction: retry for as long as
                // busy_timeout allows.
                let mode = format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; \
                     PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES};",
                    self.synchronous.as_sql()
                );
                let started = std::time::Instant::now();
                loop {
                    match conn.batch_execute(&mode) {
                        Ok(()) => break,
                        Err(e)
                            if e.to_string().contains("locked")
                                && started.elapsed() < self.busy_timeout =>
                        {
                            std::thread::sleep(std::time::Duration::from_millis(25));
                        }
                        Err(e) => return Err(r2d2::Error::QueryError(e)),
                    }
                }
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    /// A pooled PostgreSQL connection waits at most 10 s for the write lock (like SQLite's
    /// `busy_timeout`): past that the request is answered `503` with `Retry-After` instead of
    /// holding its connection for as long as the lock's holder takes.
    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        let mut conn = self.establish()?;
        if let DbConnection::Pg(pg) = &mut conn {
            pg.batch_execute(&format!(
                "SET lock_timeout = {}",
                self.busy_timeout.as_millis()
            ))
            .map_err(r2d2::Error::QueryError)?;
        }
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        diesel::sql_query("SELECT 1")
            .execute(conn)
            .map(|_| ())
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::connection::{Connection, TransactionManager};
        <DbConnection as Connection>::TransactionManager::is_broken_transaction_manager(conn)
    }
}

pub fn build_pool(manager: ConnectionManager, size: u32) -> Result<DbPool, String> {
    r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(10))
        .test_on_check_out(false)
        .build(manager)
        .map_err(|e| format!("cannot open the database: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled SQLite is built as `.cargo/config.toml` asks: with the query planner
    /// stability guarantee, a statement with `LIMIT ?` stays prepared across executions.
    #[test]
    fn sqlite_keeps_statements_with_bound_limits() -> Result<(), String> {
        #[derive(diesel::QueryableByName)]
        struct Opt {
            #[diesel(sql_type = diesel::sql_types::Text)]
            compile_options: String,
        }
        let mut conn =
            diesel::SqliteConnection::establish(":memory:").map_err(|e| e.to_string())?;
        let options: Vec<String> = diesel::sql_query("PRAGMA compile_options")
            .load::<Opt>(&mut conn)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|o| o.compile_options)
            .collect();
        assert!(
            options.iter().any(|o| o == "ENABLE_QPSG"),
            "built without SQLITE_ENABLE_QPSG: {options:?}"
        );
        Ok(())
    }

    /// A pooled SQLite connection: WAL, `synchronous` as configured (FULL by default), and
    /// the WAL checkpointed every [`WAL_CHECKPOINT_PAGES`] pages.
    #[test]
    fn sqlite_connections_are_set_up() -> Result<(), String> {
        #[derive(diesel::QueryableByName)]
        struct Value {
            #[diesel(sql_type = diesel::sql_types::Text)]
            value: String,
        }
        #[derive(diesel::QueryableByName)]
        struct Pages {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            wal_autocheckpoint: i32,
        }
        let dir = std::env::temp_dir().join(format!("sidak-pool-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let manager = ConnectionManager::new(
            DatabaseUrl::Sqlite(dir.join("t.db")),
            SqliteSynchronous::Full,
        );
        let mut conn = r2d2::ManageConnection::connect(&manager).map_err(|e| e.to_string())?;
        let mut read = |pragma: &str| -> Result<String, String> {
            let rows: Vec<Value> =
                diesel::sql_query(format!("SELECT CAST({pragma} AS TEXT) AS value"))
                    .load(&mut conn)
                    .map_err(|e| e.to_string())?;
            rows.into_iter()
                .next()
                .map(|v| v.value)
                .ok_or_else(|| format!("{pragma}: no row"))
        };
        let (journal, synchronous, checkpoint) = (
            read("(SELECT journal_mode FROM pragma_journal_mode)")?,
            read("(SELECT synchronous FROM pragma_synchronous)")?,
            diesel::sql_query("PRAGMA wal_autocheckpoint")
                .load::<Pages>(&mut conn)
                .map_err(|e| e.to_string())?
                .first()
                .map(|p| p.wal_autocheckpoint.to_string())
                .unwrap_or_default(),
        );
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(journal, "wal");
        assert_eq!(synchronous, "2", "FULL");
        assert_eq!(checkpoint, WAL_CHECKPOINT_PAGES.to_string());
        Ok(())
    }

    #[test]
    fn url_schemes() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u:p@h/db").unwrap(),
            DatabaseUrl::Postgres("postgres://u:p@h/db".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("postgresql://h/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/x.db").unwrap(),
            DatabaseUrl::Sqlite("data/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("data/x.db").unwrap(),
            DatabaseUrl::Sqlite("data/x.db".into())
        );
        assert!(DatabaseUrl::parse("mysql://h/db")
            .unwrap_err()
            .contains("mysql"));
        assert!(DatabaseUrl::parse("postgre://h/db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert!(DatabaseUrl::parse("sqlite://:memory:").is_err());
        assert!(DatabaseUrl::parse("").is_err());
    }

    #[test]
    fn redacts_password() {
        let u = DatabaseUrl::parse("postgres://sidak:secret@db:5432/sidak").unwrap();
        assert_eq!(u.redacted(), "postgres://sidak:***@db:5432/sidak");
    }
}
