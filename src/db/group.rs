//! Group commit: writes that arrive together share one write transaction and one commit.
//!
//! Writes are serialised by the write lock ([`super::tx`]), and each used to pay for its own
//! transaction: the lock, and a commit that waits for the disk (SQLite `synchronous=FULL`,
//! PostgreSQL `synchronous_commit=on`). Under load, callers queue here instead. The first
//! caller to find nobody writing becomes the **leader**: it takes every job waiting, runs
//! them one after the other in one [`super::write_tx`], their rows held and written
//! together at the end ([`super::deferred`]; a batch of one is written as it goes),
//! commits once, and only then tells each caller how its job ended. If any job fails (a refused report), that attempt is rolled
//! back and the batch is written again with each job in its own savepoint: the job at
//! fault rolls back alone and its neighbours are not touched. While it writes, new
//! callers gather in the queue; when its own job is done the leader hands the queue to one
//! of them. Nobody is answered before the commit that holds their write is durable.
//!
//! A batch whose transaction cannot commit (the database went away, a conflict outlasted
//! the retries) has committed nothing; each of its jobs is then run again alone, so that
//! every caller gets the answer of its own write.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::{write_tx, DbConnection, DbPool, DbUuid};
use crate::error::ApiError;

type Job = Box<dyn FnMut(&mut DbConnection) -> Result<(), ApiError> + Send>;

#[derive(Default)]
struct State {
    /// Jobs waiting for a leader, oldest first, with their tickets and the id of the
    /// report each creates (asked about for the whole batch at once, [`super::deferred`]).
    queue: Vec<(u64, Option<DbUuid>, Job)>,
    /// How each finished job ended, until its caller collects it.
    done: HashMap<u64, Result<(), ApiError>>,
    /// Whether a leader is writing.
    leading: bool,
    /// The tickets of the batch being written.
    writing: Vec<u64>,
    next_ticket: u64,
}

/// Leadership, given back however the leader leaves — also by a panic in a job, whose
/// batch is then answered with an error instead of leaving its callers waiting.
struct Leading<'a>(&'a GroupCommit);

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.leading = false;
        for t in std::mem::take(&mut state.writing) {
            state.done.insert(
                t,
                Err(ApiError::ServiceUnavailable(
                    "The write failed before it was committed; send it again.".into(),
                )),
            );
        }
        self.0.changed.notify_all();
    }
}

/// The queue of writes of one process (see the module documentation).
#[derive(Default)]
pub struct GroupCommit {
    state: Mutex<State>,
    changed: Condvar,
}

/// Jobs written in batches, and batches committed (for `/metrics`).
pub static JOBS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
pub static BATCHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
/// Batches whose first attempt failed and that were written again with savepoints.
pub static REDONE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held left the state as it was between two steps.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` in a write transaction shared with the writes queued beside it, and returns
    /// its result once that transaction has committed. `f` may run more than once (as a
    /// [`write_tx`] closure may), always with nothing of its earlier runs kept. A connection
    /// is taken from `pool` only by the caller that leads. `creates`: the id of the report
    /// `f` creates, if it does.
    pub fn run<T, F>(&self, pool: &DbPool, creates: Option<DbUuid>, mut f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let slot: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
        let out = slot.clone();
        let job: Job = Box::new(move |conn| {
            let value = f(conn)?;
            *out.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(value);
            Ok(())
        });
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.queue.push((ticket, creates, job));
        let ended = loop {
            if let Some(ended) = state.done.remove(&ticket) {
                break ended;
            }
            if !state.leading {
                state.leading = true;
                drop(state);
                let led = {
                    let _leading = Leading(self);
                    self.lead(pool, ticket)
                };
                state = self.lock();
                if let Err(e) = led {
                    // No connection: the jobs taken are answered; ours may be among them.
                    if let Some(ended) = state.done.remove(&ticket) {
                        break ended;
                    }
                    state.queue.retain(|(t, _, _)| *t != ticket);
                    break Err(e);
                }
                continue;
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        };
        drop(state);
        ended?;
        let value = slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        value.ok_or_else(|| ApiError::ServiceUnavailable("The write left no result.".into()))
    }

    /// Writes batches until the one holding `ticket` is done.
    fn lead(&self, pool: &DbPool, ticket: u64) -> Result<(), ApiError> {
        let mut conn = pool.get()?;
        let leader = JournalsInMemory::new(&mut conn);
        self.lead_on(leader.0, ticket)
    }

    fn lead_on(&self, conn: &mut DbConnection, ticket: u64) -> Result<(), ApiError> {
        loop {
            let mut batch = {
                let mut state = self.lock();
                let batch = std::mem::take(&mut state.queue);
                state.writing = batch.iter().map(|(t, _, _)| *t).collect();
                batch
            };
            if batch.is_empty() {
                return Ok(());
            }
            let ended = write_batch(conn, &mut batch);
            let mine = batch.iter().any(|(t, _, _)| *t == ticket);
            let mut state = self.lock();
            state.writing.clear();
            for ((t, _, _), e) in batch.into_iter().zip(ended) {
                state.done.insert(t, e);
            }
            self.changed.notify_all();
            if mine {
                return Ok(());
            }
        }
    }
}

/// The leader's connection, with its savepoint journals in memory (SQLite) until it is
/// dropped — also when a job panics — so that it goes back to the pool with the default.
struct JournalsInMemory<'a>(&'a mut DbConnection);

impl<'a> JournalsInMemory<'a> {
    fn new(conn: &'a mut DbConnection) -> Self {
        journals_in_memory(conn, true);
        JournalsInMemory(conn)
    }
}

impl Drop for JournalsInMemory<'_> {
    fn drop(&mut self) {
        journals_in_memory(self.0, false);
    }
}

/// On SQLite, keeps the leader's savepoint journals in memory (`temp_store`), or gives the
/// connection back to the default (temporary files) before it returns to the pool.
///
/// Each job of a batch has a savepoint, and SQLite journals every page a job changes
/// there. Its random-UUID rows touch more pages than the 64 KiB a journal keeps in memory
/// by default, so the journal went to a temporary file — written through the kernel for
/// every report, a tenth of a report's CPU (BENCHMARKS.md). In memory it is freed at each
/// savepoint's release. Only while leading: the setting also keeps sorts of any size in
/// memory, which readers on the pooled connections must not.
fn journals_in_memory(conn: &mut DbConnection, on: bool) {
    use diesel::connection::SimpleConnection;
    if let DbConnection::Sqlite(c) = conn {
        let pragma = if on {
            "PRAGMA temp_store = MEMORY"
        } else {
            "PRAGMA temp_store = DEFAULT"
        };
        // Only the speed of the writes depends on it.
        if let Err(e) = c.batch_execute(pragma) {
            tracing::warn!(error = %e, pragma, "could not set the leader's journals");
        }
    }
}

/// Runs `batch` in one write transaction and returns how each job ended.
///
/// A batch of more than one runs first all together, with no savepoints and their rows
/// held to the end ([`super::deferred`]): the common case, where every job succeeds, costs
/// one statement per table for the whole batch. If any job fails, that attempt is rolled back and the
/// batch runs again with each job in its own savepoint, so a refused job rolls back alone.
/// When the transaction itself fails, each job is run again in a transaction of its own.
fn write_batch(
    conn: &mut DbConnection,
    batch: &mut [(u64, Option<DbUuid>, Job)],
) -> Vec<Result<(), ApiError>> {
    use std::sync::atomic::Ordering::Relaxed;
    JOBS.fetch_add(batch.len() as u64, Relaxed);
    BATCHES.fetch_add(1, Relaxed);
    if batch.len() > 1 {
        let all = {
            let _held =
                super::deferred::Deferring::start(batch.iter().filter_map(|(_, id, _)| *id));
            write_tx(conn, |conn| {
                batch.iter_mut().try_for_each(|(_, _, job)| job(conn))
            })
        };
        if all.is_ok() {
            return batch.iter().map(|_| Ok(())).collect();
        }
        REDONE.fetch_add(1, Relaxed);
        let together = write_tx(conn, |conn| {
            Ok::<_, ApiError>(
                batch
                    .iter_mut()
                    .map(|(_, _, job)| super::tx::savepoint(conn, |conn| job(conn)))
                    .collect::<Vec<_>>(),
            )
        });
        if let Ok(ended) = together {
            return ended;
        }
    }
    batch
        .iter_mut()
        .map(|(_, _, job)| write_tx(conn, |conn| job(conn)))
        .collect()
}
