//! Database layer: one binary, two backends (ARCHITECTURE.md, "The layers").
//!
//! [`DbConnection`] is a diesel `MultiConnection` over PostgreSQL and SQLite. The pool
//! ([`ConnectionManager`]) chooses the backend from the URL scheme, applies the SQLite
//! pragmas to every new connection, and [`write_tx`] ([`tx`]) runs every write transaction
//! under the one write lock — the lock order, and the retry of transient conflicts, are
//! documented there.

pub mod backups;
pub mod deferred;
pub mod deliveries;
pub mod group;
pub mod leases;
pub mod outbox;
pub mod pool;
pub mod schema;
pub mod shared_limits;
pub mod tx;
pub mod types;
pub mod unnest;

use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub use crate::domain::dates::truncate_micros;
pub use pool::{ConnectionManager, DatabaseUrl, DbPool, SqliteSynchronous};
pub use tx::{write_tx, TxError};
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

/// The advisory lock key that serialises migrations (PostgreSQL), distinct from the
/// write lock.
const MIGRATION_LOCK: i64 = 0x0051_DA4A_0D18;

/// How long a starting process waits for another one's migrations (SQLite).
const MIGRATION_WAIT_MS: u64 = 10 * 60 * 1000;

/// Runs the pending migrations of the connection's backend and returns the versions applied.
///
/// Any number of processes may start at once on one empty database: they queue — on
/// PostgreSQL on a session advisory lock, on SQLite on the file's write lock — and each finds
/// the migrations the first one applied. (Without it, two would create the same tables and
/// one would die: a duplicate key in PostgreSQL's catalogue, "table already exists" in
/// SQLite.)
pub fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>, String> {
    let applied = match conn {
        DbConnection::Pg(c) => {
            diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
                .execute(c)
                .map_err(|e| format!("waiting for the migration lock failed: {e}"))?;
            let applied = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect());
            let unlocked =
                diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
                    .execute(c);
            if let Err(e) = unlocked {
                tracing::warn!(error = %e, "releasing the migration lock failed; it ends with the connection");
            }
            applied
        }
        DbConnection::Sqlite(c) => {
            // One `BEGIN IMMEDIATE` around all of them (each migration becomes a savepoint):
            // a second process waits for the file's write lock and then finds nothing
            // pending, instead of creating the same tables again. Waiting may take as long
            // as a migration of a large file does.
            use diesel::connection::{
                AnsiTransactionManager, SimpleConnection, TransactionManager,
            };
            let wait = |c: &mut diesel::SqliteConnection, ms: u64| {
                c.batch_execute(&format!("PRAGMA busy_timeout = {ms}"))
                    .map_err(|e| format!("setting busy_timeout failed: {e}"))
            };
            wait(c, MIGRATION_WAIT_MS)?;
            // Foreign keys are off while migrations run, so that a migration may rebuild a
            // table others refer to (SQLite cannot change a CHECK in place); they are
            // checked in full before anything commits, and on again afterwards.
            c.batch_execute("PRAGMA foreign_keys = OFF")
                .map_err(|e| format!("turning foreign keys off failed: {e}"))?;
            let applied = AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
                .map_err(|e| e.into())
                .and_then(|()| c.run_pending_migrations(SQLITE_MIGRATIONS))
                .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>())
                .and_then(|applied| {
                    let broken = diesel::sql_query("PRAGMA foreign_key_check")
                        .load::<ForeignKeyViolation>(c)?;
                    match broken.first() {
                        None => Ok(applied),
                        Some(v) => Err(format!(
                            "the migrations leave {} row(s) pointing nowhere (first in `{}`)",
                            broken.len(),
                            v.table
                        )
                        .into()),
                    }
                });
            let ended = match &applied {
                Ok(_) => AnsiTransactionManager::commit_transaction(c),
                Err(_) => AnsiTransactionManager::rollback_transaction(c),
            };
            c.batch_execute("PRAGMA foreign_keys = ON")
                .map_err(|e| format!("turning foreign keys on failed: {e}"))?;
            wait(c, pool::BUSY_TIMEOUT.as_millis() as u64)?;
            match (applied, ended) {
                (Ok(_), Err(e)) => Err(e.into()),
                (applied, _) => applied,
            }
        }
    };
    applied.map_err(|e| format!("running migrations failed: {e}"))
}

/// One row of `PRAGMA foreign_key_check`.
#[derive(diesel::QueryableByName)]
struct ForeignKeyViolation {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table: String,
}

/// The current time as stored: UTC, truncated to microseconds (PostgreSQL's precision),
/// so that a value read back equals the value written on both backends.
pub fn now() -> chrono::NaiveDateTime {
    truncate_micros(chrono::Utc::now().naive_utc())
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

/// Inserts the rows of one write: on PostgreSQL one statement of one array per column
/// ([`unnest`]: one round trip, prepared once whatever the number of rows);
/// on SQLite, in-process, in runs of 8, 4, 2 and 1 rows, each run a statement of a fixed
/// shape that is prepared once per connection and found again by its type (a statement of
/// any other size would be parsed anew every time, which costs SQLite more than it saves).
///
/// The row types are `Insertable` with `treat_none_as_default_value = false` (their
/// nullable columns have no default but NULL): a `None` is bound as NULL, so a statement's
/// text does not depend on which values are missing, and diesel neither writes the rows one
/// by one on SQLite nor re-renders the SQL to find the prepared statement.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {{
        $crate::db::tx::debug_assert_writing();
        let rows = &$rows[..];
        if let ($crate::db::DbConnection::Pg(c), true) = (&mut *$conn, rows.len() > 1) {
            $crate::db::unnest::Unnest::insert_pg(c, rows)?;
        } else {
            let mut rest = rows;
            while !rest.is_empty() {
                let run = [8, 4, 2, 1]
                    .into_iter()
                    .find(|n| *n <= rest.len())
                    .unwrap_or(1);
                let (head, tail) = rest.split_at(run);
                match run {
                    8 => $crate::db::insert_rows!(@fixed $conn, $table, head, 8),
                    4 => $crate::db::insert_rows!(@fixed $conn, $table, head, 4),
                    2 => $crate::db::insert_rows!(@fixed $conn, $table, head, 2),
                    _ => {
                        for one in head {
                            diesel::insert_into($table).values(one).execute(&mut *$conn)?;
                        }
                    }
                }
                rest = tail;
            }
        }
    }};
    (@fixed $conn:expr, $table:expr, $head:expr, $n:literal) => {{
        match (<&[_; $n]>::try_from($head), &mut *$conn) {
            (Ok(run), $crate::db::DbConnection::Sqlite(c)) => {
                diesel::insert_into($table).values(run).execute(c)?
            }
            _ => {
                let mut n = 0;
                for one in $head {
                    n += diesel::insert_into($table).values(one).execute(&mut *$conn)?;
                }
                n
            }
        };
    }};
}
pub(crate) use insert_rows;

pub mod api_keys;
pub mod audit;
pub mod calendar;
pub mod followups;
pub mod inspections;
pub mod users;
pub mod webhooks;

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
