//! Write transactions: the one lock order every writer follows, and the retry of transient
//! conflicts.
//!
//! # The lock order
//!
//! Every transaction that writes goes through [`write_tx`], and the first thing [`write_tx`]
//! does — before it reads or writes any row — is take the database-wide **write lock**:
//!
//! | backend | the write lock |
//! |---|---|
//! | SQLite | this process's writer mutex, then `BEGIN IMMEDIATE` (SQLite's own write lock, which other processes — the command line — wait for on `busy_timeout`) |
//! | PostgreSQL | `BEGIN`, then `SELECT pg_advisory_xact_lock(WRITE_LOCK)` as the first statement; released by `COMMIT`/`ROLLBACK` |
//!
//! Only then, in any order, come the rows: reports, findings, follow-ups, rollups, the
//! `dashboard_version` row, users, tokens, API keys and the audit chain (whose `seq` needs
//! appends one at a time; the write lock is what serialises them, see [`super::audit`]).
//! A writer holding the write lock never waits for a row lock held by another writer, because
//! no other writer is inside a transaction: there is no second lock two transactions could
//! take in opposite orders, so there are no deadlocks, by construction.
//!
//! What follows from it, and what a path must therefore not do:
//! - **Check-then-write rules hold under concurrency on both databases**: "the last active
//!   admin", "one username", "one open follow-up per official" are checked and written
//!   under the lock. PostgreSQL runs at `READ COMMITTED`, so every statement after the lock
//!   sees every transaction that committed before it (a `REPEATABLE READ` write transaction
//!   would take its snapshot before waiting, and must not be introduced).
//! - **No writes outside [`write_tx`]**, not even a single `UPDATE` ("it is only one row"):
//!   such a write would hold row locks without the write lock and could deadlock with a
//!   transaction that holds it. [`super::audit::append`] refuses to run outside one.
//! - **Nothing slow inside**: password hashing, file I/O and anything over the network
//!   happen before [`write_tx`]; the closure only reads and writes the database.
//! - **Refusals before writes**: a request that will be refused (403, 404, 409, 422) decides
//!   so before its first write where it can; where it cannot, the error rolls the whole
//!   transaction back, so a refused request never changes anything.
//! - Readers take no lock: PostgreSQL's MVCC and SQLite's WAL let them run beside the
//!   writer ([`super::read_snapshot`] for a consistent multi-query read).
//!
//! # Transient conflicts
//!
//! PostgreSQL `40P01` (deadlock detected; only possible against a writer outside this
//! module, e.g. a manual `psql` session), `40001` (serialisation failure), `55P03` (the write
//! lock not granted within `lock_timeout`) and SQLite `SQLITE_BUSY` (another process held
//! the write lock past `busy_timeout`) are **transient**. On a deadlock or a serialisation
//! failure [`write_tx`] rolls back and runs the whole closure again, up to [`MAX_ATTEMPTS`]
//! times with jittered exponential backoff; a lock timeout has already waited 10 s and is not
//! run again here. What persists reaches the caller as `503 Service Unavailable` with
//! `Retry-After` ([`crate::error::ApiError::Contention`]), never as a 500. Retrying is always safe for a client: every
//! create carries the client's id (a replay is recognised), and an attempt that was rolled
//! back left nothing behind.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};
use diesel::result::{DatabaseErrorKind, Error};
use diesel::RunQueryDsl;
use rand::Rng;

use super::DbConnection;

/// The advisory lock key of the write lock (PostgreSQL). It is also the audit chain's lock.
pub const WRITE_LOCK: i64 = 0x0051_DA4A_0D17;

/// How many times a transaction runs before a transient conflict is given to the client.
pub const MAX_ATTEMPTS: u32 = 5;

/// The first backoff ceiling; it doubles on each retry (jittered: a uniform wait below it).
const BACKOFF_BASE: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_millis(250);

/// Transactions run again after a transient conflict, and given up (for `/metrics`).
pub static RETRIED: AtomicU64 = AtomicU64::new(0);
pub static GAVE_UP: AtomicU64 = AtomicU64::new(0);

/// An error a write transaction can end with: made from a database error, and able to say
/// whether it is a conflict worth running the transaction again for.
pub trait TxError: From<Error> {
    fn is_retryable(&self) -> bool;
}

impl TxError for Error {
    fn is_retryable(&self) -> bool {
        is_retryable(self)
    }
}

/// Whether a database error is a transient conflict (see the module documentation): the
/// same request can succeed a moment later.
///
/// diesel names `40001` itself; `40P01`, `55P03` and `SQLITE_BUSY` reach us only as text, so
/// they are recognised by the server's (English) message.
pub fn is_transient(e: &Error) -> bool {
    is_retryable(e) || is_lock_timeout(e)
}

/// A deadlock or serialisation failure: the transaction was chosen to fail, and running it
/// again at once is the cure.
pub fn is_retryable(e: &Error) -> bool {
    match e {
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let m = info.message();
            m.contains("deadlock detected") || m.contains("could not serialize access")
        }
        _ => false,
    }
}

/// The write lock was not granted in time (`lock_timeout`, `busy_timeout`). The wait has
/// already been long, so this is not retried in the server: the client is told to come back.
pub fn is_lock_timeout(e: &Error) -> bool {
    match e {
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let m = info.message();
            m.contains("canceling statement due to lock timeout")
                || m.contains("could not obtain lock")
                || m.contains("database is locked")
                || m.contains("database table is locked")
        }
        _ => false,
    }
}

thread_local! {
    /// Set while this thread runs the closure of a [`write_tx`] (the write lock is held).
    static IN_WRITE_TX: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is inside [`write_tx`], i.e. holds the write lock.
pub fn holds_write_lock() -> bool {
    IN_WRITE_TX.with(Cell::get)
}

thread_local! {
    /// The audit chain's head as this thread's write transaction last wrote it: appends after
    /// the first in one transaction (a submitted report makes a dozen, a batch of reports many
    /// more) chain on it instead of reading the newest entry again. Nobody else can append
    /// while the write lock is held, so it can only go stale by a rollback of this
    /// transaction's own work: it is forgotten when a write transaction begins or ends and
    /// whenever a savepoint ([`savepoint`]) rolls back.
    static AUDIT_HEAD: RefCell<Option<(i64, String)>> = const { RefCell::new(None) };
}

/// The audit head this write transaction appended last, if it has appended and nothing it
/// appended since has been rolled back.
pub(super) fn audit_head() -> Option<(i64, String)> {
    AUDIT_HEAD.with(|h| h.borrow().clone())
}

/// Records the entry this write transaction has just appended as the chain's head.
pub(super) fn set_audit_head(seq: i64, hash: &str) {
    if holds_write_lock() {
        AUDIT_HEAD.with(|h| *h.borrow_mut() = Some((seq, hash.to_string())));
    }
}

fn forget_audit_head() {
    AUDIT_HEAD.with(|h| *h.borrow_mut() = None);
}

/// Runs `f` in a savepoint of the write transaction this thread is in: released on `Ok`,
/// rolled back on `Err` (and then nothing `f` wrote is kept, nor remembered).
pub fn savepoint<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<Error>,
{
    // Rows a batch holds are written first, and none are held inside ([`super::deferred`]).
    let _direct = super::deferred::Suspended::begin(conn)?;
    let result = conn.transaction(f);
    if result.is_err() {
        forget_audit_head();
    }
    result
}

/// Every function of the database layer that writes starts with this: in debug builds (the
/// tests) a write outside [`write_tx`] — a path that would skip the lock order — panics.
#[inline]
pub fn debug_assert_writing() {
    debug_assert!(
        holds_write_lock(),
        "a write outside write_tx: every write takes the write lock first (db::tx)"
    );
}

/// Runs `f` in a write transaction that holds the write lock from its first statement (see
/// the module documentation), committing on `Ok` and rolling back on `Err`. A transient
/// conflict runs `f` again (so `f` must not keep state between calls); one that persists is
/// returned. Inside another `write_tx` this is a savepoint under the lock already held, and
/// a transient error goes to the outer transaction, which retries as a whole.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, mut f: F) -> Result<T, E>
where
    F: FnMut(&mut DbConnection) -> Result<T, E>,
    E: TxError,
{
    if holds_write_lock() {
        return savepoint(conn, |conn| f(conn));
    }
    let mut attempt = 1;
    loop {
        let result = attempt_once(conn, &mut f);
        match result {
            Err(e) if e.is_retryable() => {
                if attempt >= MAX_ATTEMPTS {
                    GAVE_UP.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        attempts = attempt,
                        "write transaction gave up on a transient conflict"
                    );
                    return Err(e);
                }
                RETRIED.fetch_add(1, Ordering::Relaxed);
                let ceiling = BACKOFF_BASE
                    .saturating_mul(1 << (attempt - 1).min(8))
                    .min(BACKOFF_MAX);
                let wait = rand::rng().random_range(Duration::ZERO..=ceiling);
                tracing::debug!(
                    attempt,
                    ?wait,
                    "transient conflict; running the transaction again"
                );
                std::thread::sleep(wait);
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Runs `f` in the write transaction this thread is in — as a job of the group commit
/// ([`super::group`]), which gives each job a savepoint of its own, so a second savepoint
/// here would only cost two more statements — or, outside one, in a new [`write_tx`].
pub fn in_write_tx<T, E, F>(conn: &mut DbConnection, mut f: F) -> Result<T, E>
where
    F: FnMut(&mut DbConnection) -> Result<T, E>,
    E: TxError,
{
    if holds_write_lock() {
        f(conn)
    } else {
        write_tx(conn, f)
    }
}

/// One attempt: the write lock, `f`, then commit or roll back.
fn attempt_once<T, E, F>(conn: &mut DbConnection, f: &mut F) -> Result<T, E>
where
    F: FnMut(&mut DbConnection) -> Result<T, E>,
    E: TxError,
{
    let _writer = match conn {
        DbConnection::Pg(_) => None,
        DbConnection::Sqlite(_) => Some(SqliteWriter::acquire()),
    };
    match conn {
        DbConnection::Pg(pg) => {
            AnsiTransactionManager::begin_transaction(pg)?;
            let locked = diesel::sql_query(format!("SELECT pg_advisory_xact_lock({WRITE_LOCK})"))
                .execute(pg);
            if let Err(e) = locked {
                let _ = AnsiTransactionManager::rollback_transaction(pg);
                return Err(e.into());
            }
        }
        DbConnection::Sqlite(lite) => {
            AnsiTransactionManager::begin_transaction_sql(lite, "BEGIN IMMEDIATE")?;
        }
    }
    let outcome = {
        let _inside = InWriteTx::enter();
        // The rows a batch held go in last, before the commit ([`super::deferred`]).
        f(conn).and_then(|value| {
            super::deferred::flush(conn)?;
            Ok(value)
        })
    };
    match outcome {
        Ok(value) => {
            if let Err(commit_error) =
                <DbConnection as Connection>::TransactionManager::commit_transaction(conn)
            {
                let _ =
                    <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
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

/// Marks this thread as inside a write transaction while it lives.
struct InWriteTx;

impl InWriteTx {
    fn enter() -> Self {
        forget_audit_head();
        super::deferred::clear();
        IN_WRITE_TX.with(|c| c.set(true));
        InWriteTx
    }
}

impl Drop for InWriteTx {
    fn drop(&mut self) {
        IN_WRITE_TX.with(|c| c.set(false));
        forget_audit_head();
        super::deferred::clear();
    }
}

/// SQLite has one writer at a time. Writers of this process queue on this mutex (woken as
/// soon as it is free) rather than in SQLite's busy handler, which sleeps in growing steps and
/// gives long tails under load; `busy_timeout` still covers other processes.
static SQLITE_WRITE_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

struct SqliteWriter(#[allow(dead_code)] std::sync::MutexGuard<'static, ()>);

impl SqliteWriter {
    fn acquire() -> Self {
        SqliteWriter(
            SQLITE_WRITE_LOCK
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors_are_recognised_by_kind_and_message() {
        let with = |kind, message: &str| Error::DatabaseError(kind, Box::new(message.to_string()));
        assert!(is_retryable(&with(
            DatabaseErrorKind::SerializationFailure,
            "could not serialize access due to concurrent update"
        )));
        assert!(is_retryable(&with(
            DatabaseErrorKind::Unknown,
            "deadlock detected"
        )));
        assert!(!is_retryable(&with(
            DatabaseErrorKind::Unknown,
            "database is locked"
        )));
        assert!(is_transient(&with(
            DatabaseErrorKind::Unknown,
            "database is locked"
        )));
        assert!(is_transient(&with(
            DatabaseErrorKind::Unknown,
            "canceling statement due to lock timeout"
        )));
        assert!(!is_transient(&with(
            DatabaseErrorKind::UniqueViolation,
            "duplicate key value violates unique constraint"
        )));
        assert!(!is_transient(&with(
            DatabaseErrorKind::Unknown,
            "syntax error"
        )));
        assert!(!is_transient(&Error::NotFound));
    }

    /// Appends after the first in a write transaction chain on the head it remembers; an
    /// append rolled back with its savepoint (a refused report in a batch) is forgotten, so
    /// the next one chains on what is really stored.
    #[test]
    fn the_audit_chain_survives_savepoints_rolled_back() -> Result<(), String> {
        use crate::db::audit::{append, verify, AuditEntry};
        let mut conn = DbConnection::Sqlite(
            diesel::SqliteConnection::establish(":memory:").map_err(|e| e.to_string())?,
        );
        crate::db::run_migrations(&mut conn)?;
        let entry = |action| AuditEntry::new(None, action, "test", None, serde_json::json!({}));
        write_tx(&mut conn, |conn| {
            append(conn, entry("first"))?;
            let refused = savepoint(conn, |conn| {
                append(conn, entry("rolled back"))?;
                append(conn, entry("rolled back too"))?;
                Err::<(), _>(Error::NotFound)
            });
            assert!(refused.is_err());
            savepoint(conn, |conn| append(conn, entry("kept")))?;
            write_tx(conn, |conn| {
                append(conn, entry("nested, rolled back"))?;
                Err::<(), _>(Error::RollbackTransaction)
            })
            .err();
            append(conn, entry("last"))
        })
        .map_err(|e| e.to_string())?;
        // A later transaction starts from the stored head, not from a remembered one.
        write_tx(&mut conn, |conn| append(conn, entry("next"))).map_err(|e| e.to_string())?;
        let checked = verify(&mut conn, None).map_err(|e| e.to_string())?;
        assert!(checked.ok, "first bad entry: {:?}", checked.first_bad_id);
        assert_eq!(checked.entries, 4);
        Ok(())
    }
}
