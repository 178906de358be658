//! Database layer: one binary, two backends (DESIGN.md §2).
//!
//! [`DbConnection`] is a diesel `MultiConnection` over PostgreSQL and SQLite. The pool
//! ([`ConnectionManager`]) chooses the backend from the URL scheme, applies the SQLite
//! pragmas to every new connection, and [`write_tx`] opens write transactions with
//! `BEGIN IMMEDIATE` on SQLite so that concurrent writers wait instead of failing.

pub mod pool;
pub mod schema;
pub mod types;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::sync::atomic::{AtomicI64, Ordering};

pub use pool::{ConnectionManager, DatabaseUrl, DbPool, SqliteSynchronous};
pub use types::DbUuid;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to either backend. SQLite is last: it accepts any path.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

impl DbConnection {
    pub fn backend_name(&self) -> &'static str {
        match self {
            DbConnection::Pg(_) => "postgres",
            DbConnection::Sqlite(_) => "sqlite",
        }
    }
}

/// Runs the pending migrations of the connection's backend and returns the versions applied.
pub fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>, String> {
    let applied = match conn {
        DbConnection::Pg(c) => c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.iter().map(|m| m.to_string()).collect()),
        DbConnection::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.iter().map(|m| m.to_string()).collect()),
    };
    applied.map_err(|e| format!("running migrations failed: {e}"))
}

/// Runs `f` in a write transaction: `BEGIN IMMEDIATE` on SQLite (the write lock is taken
/// up front, so a concurrent writer waits on `busy_timeout` instead of failing half-way),
/// a plain transaction on PostgreSQL. Commits on `Ok`, rolls back on `Err`.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConnection::Pg(_) => conn.transaction(f),
        DbConnection::Sqlite(inner) => {
            // SQLite has one writer at a time. Writers of this process queue on a mutex
            // (woken as soon as it is free) rather than in SQLite's busy handler, which
            // sleeps in growing steps and gives long tails under load; `busy_timeout`
            // still covers other processes (the command line).
            let _writer = SqliteWriter::acquire();
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
            match f(conn) {
                Ok(value) => {
                    if let Err(commit_error) =
                        <DbConnection as Connection>::TransactionManager::commit_transaction(conn)
                    {
                        let _ =
                            <DbConnection as Connection>::TransactionManager::rollback_transaction(
                                conn,
                            );
                        return Err(commit_error.into());
                    }
                    Ok(value)
                }
                Err(error) => {
                    <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)?;
                    Err(error)
                }
            }
        }
    }
}

static SQLITE_WRITE_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

thread_local! {
    static HOLDS_WRITE_LOCK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The process-wide SQLite write lock; re-entrant per thread (a nested `write_tx` becomes
/// a savepoint and must not wait for itself).
struct SqliteWriter(Option<std::sync::MutexGuard<'static, ()>>);

impl SqliteWriter {
    fn acquire() -> Self {
        if HOLDS_WRITE_LOCK.with(|h| h.get()) {
            return SqliteWriter(None);
        }
        let guard = SQLITE_WRITE_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        HOLDS_WRITE_LOCK.with(|h| h.set(true));
        SqliteWriter(Some(guard))
    }
}

impl Drop for SqliteWriter {
    fn drop(&mut self) {
        if self.0.take().is_some() {
            HOLDS_WRITE_LOCK.with(|h| h.set(false));
        }
    }
}

/// The current time as stored: UTC, truncated to microseconds (PostgreSQL's precision),
/// so that a value read back equals the value written on both backends.
pub fn now() -> chrono::NaiveDateTime {
    truncate_micros(chrono::Utc::now().naive_utc())
}

pub fn truncate_micros(t: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    use chrono::Timelike;
    let nanos = t.nanosecond();
    t.with_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
}

/// Inserts many rows in chunks, each one multi-row `INSERT` on the backend's own
/// connection (the multi-backend connection writes one row per statement).
macro_rules! bulk_insert {
    ($conn:expr, $table:expr, $rows:expr, $chunk:expr) => {{
        for part in $rows.chunks($chunk) {
            match &mut *$conn {
                $crate::db::DbConnection::Pg(c) => diesel::insert_into($table)
                    .values(part)
                    .execute(c)
                    .map(|_| ())?,
                $crate::db::DbConnection::Sqlite(c) => diesel::insert_into($table)
                    .values(part)
                    .execute(c)
                    .map(|_| ())?,
            }
        }
    }};
}
pub(crate) use bulk_insert;

pub mod api_keys;
pub mod audit;
pub mod followups;
pub mod inspections;
pub mod users;

/// Runs `f` with a pooled connection on the blocking pool: nothing blocking ever runs on
/// the async workers. The connection is checked out inside the closure.
pub async fn run<T, F>(pool: &DbPool, f: F) -> Result<T, crate::error::ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, crate::error::ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    let queued = Gauge::enter(&BLOCKING_WAITING);
    actix_web::web::block(move || {
        drop(queued);
        let _running = Gauge::enter(&BLOCKING_RUNNING);
        let mut conn = pool.get()?;
        f(&mut conn)
    })
    .await?
}

/// Database jobs waiting for a thread of the blocking pool, and running on one (for `/metrics`).
pub static BLOCKING_WAITING: AtomicI64 = AtomicI64::new(0);
pub static BLOCKING_RUNNING: AtomicI64 = AtomicI64::new(0);

/// Counts one job in a gauge while it lives (also when the job is dropped unrun).
struct Gauge(&'static AtomicI64);

impl Gauge {
    fn enter(gauge: &'static AtomicI64) -> Gauge {
        gauge.fetch_add(1, Ordering::Relaxed);
        Gauge(gauge)
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
pub mod reference;
pub mod rollups;

/// Runs `f` in a read-only transaction that sees one snapshot of the database
/// (`REPEATABLE READ` on PostgreSQL; a deferred transaction on SQLite, whose WAL readers
/// keep their snapshot until the transaction ends).
pub fn read_snapshot<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConnection::Pg(_) => conn.transaction(|conn| {
            diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(conn)?;
            f(conn)
        }),
        DbConnection::Sqlite(_) => conn.transaction(f),
    }
}
