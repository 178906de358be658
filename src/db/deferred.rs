//! Rows a batch of the group commit writes together, table by table, just before it commits.
//!
//! A batch's first attempt ([`super::group`]) runs its reports one after the other in one
//! transaction with no savepoints. The rows they add — reports, attendance, findings, the
//! findings' attachments to follow-ups, history entries, audit entries and webhook events
//! ([`super::outbox`]) — are held here instead of being written report by report, and what
//! they add to the dashboards' counters is summed here. [`super::tx`] writes them (parents
//! first, one multi-row statement per table on PostgreSQL) after the last report and before
//! `COMMIT`, so they are committed with the batch or not at all. What the reports ask of the
//! database is asked once per batch too: whether any of them is stored already (with the reference
//! data's version), and each official's open follow-up. Sixteen reports cost a handful of
//! statements instead of a hundred round trips.
//!
//! What holds that together:
//! - Rows are held only on the thread of a batch's first attempt ([`Deferring`]) and only
//!   inside its write transaction; every other write writes at once. Only new reports run
//!   in a batch.
//! - A new report reads these tables twice. Whether its id is stored is answered for the
//!   whole batch at its first report ([`version_if_new`]); a report written earlier in the
//!   batch (the same report sent twice) writes what is held first and is asked about
//!   directly, and as a replay reads its stored rows. Whether its row ids are taken looks
//!   among the held rows too ([`held_row_ids`]).
//! - Follow-ups themselves are written at once, and the batch keeps each official's open
//!   one as it looked it up or raised it ([`known_active`]): nothing else changes a
//!   follow-up in a batch.
//! - Nothing in a batch reads the counters ([`super::rollups`]) or the dashboards' version:
//!   each (day, OPD) and (day, official) gets its sum in one upsert at the end.
//! - The audit chain is hashed as the entries are made (its head is kept per transaction,
//!   [`super::tx`]); only the inserts wait.
//! - A savepoint writes what is held before it begins and writes directly inside, so
//!   rolling one back never leaves rows of its own behind here; what the batch had learnt
//!   is asked again after it.
//! - What is held and learnt is dropped whenever a write transaction begins or ends: a
//!   transaction that rolls back, or runs again after a conflict, starts afresh. The
//!   reference data cannot change meanwhile: the write lock is held throughout.
//! - A row that cannot be written (a unique id taken by a concurrent writer) fails the
//!   whole batch, which is then written again report by report, each in its savepoint, so
//!   the report at fault is refused alone.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use diesel::{OptionalExtension, QueryResult, RunQueryDsl};

use super::audit::AuditRow;
use super::followups::{Attachment, EventRow, FollowUpRow};
use super::inspections::{AttendanceRow, FindingRow, InspectionRow};
use super::rollups::{self, COUNTER_COUNT};
use super::schema::{
    attendance, audit_log, findings, follow_up_events, follow_up_findings, inspections,
    webhook_events,
};
use super::{DbConnection, DbUuid};
use crate::domain::followup::FollowUpStatus;

/// The rows held, in the order they were made, and the sums of the counters added.
#[derive(Default)]
pub(super) struct Held {
    inspections: Vec<InspectionRow>,
    attendance: Vec<AttendanceRow>,
    findings: Vec<FindingRow>,
    pub(super) attachments: Vec<Attachment>,
    pub(super) events: Vec<EventRow>,
    pub(super) audit: Vec<AuditRow>,
    pub(super) outbox: Vec<super::outbox::NewEvent>,
    /// What was added to each (day, OPD)'s counters ([`super::rollups`]).
    counters: BTreeMap<(NaiveDate, String), [i64; COUNTER_COUNT]>,
    /// What was added to each (day, official)'s findings.
    officials: BTreeMap<(NaiveDate, String), i64>,
    /// Whether the dashboards' version is to move on.
    bump: bool,
}

impl Held {
    fn is_empty(&self) -> bool {
        self.inspections.is_empty()
            && self.attendance.is_empty()
            && self.findings.is_empty()
            && self.attachments.is_empty()
            && self.events.is_empty()
            && self.audit.is_empty()
            && self.outbox.is_empty()
            && self.counters.is_empty()
            && self.officials.is_empty()
            && !self.bump
    }
}

/// A batch's first attempt: the rows it holds, and what it has learnt of the database in
/// its transaction.
#[derive(Default)]
struct Batch {
    held: Held,
    /// The ids of the reports the batch's jobs create (given by the group commit).
    ids: HashSet<DbUuid>,
    /// Asked once for all of `ids`: the reference data's version, and which are stored.
    known: Option<(Option<i64>, HashSet<DbUuid>)>,
    /// Reports written in this transaction (held or flushed).
    written: HashSet<DbUuid>,
    /// The ids of the attendance rows and findings held or flushed.
    row_ids: HashSet<DbUuid>,
    /// Each official's open or in-review follow-up, for the officials looked up so far
    /// (`None`: they have none), kept up to date as the batch raises follow-ups.
    active: HashMap<DbUuid, Option<FollowUpRow>>,
}

thread_local! {
    /// `Some` while this thread runs a batch's first attempt.
    static HELD: RefCell<Option<Batch>> = const { RefCell::new(None) };
}

/// While it lives, the write transactions of this thread hold their rows until commit.
pub struct Deferring(());

impl Deferring {
    /// `ids`: the reports the batch's jobs create, asked about together.
    pub fn start(ids: impl IntoIterator<Item = DbUuid>) -> Self {
        let batch = Batch {
            ids: ids.into_iter().collect(),
            ..Batch::default()
        };
        HELD.with(|h| *h.borrow_mut() = Some(batch));
        Deferring(())
    }
}

impl Drop for Deferring {
    fn drop(&mut self) {
        HELD.with(|h| *h.borrow_mut() = None);
    }
}

/// Runs `f` on the batch when this thread defers its writes inside a write transaction.
fn with_batch<T>(f: impl FnOnce(&mut Batch) -> T) -> Option<T> {
    if !super::tx::holds_write_lock() {
        return None;
    }
    HELD.with(|h| h.borrow_mut().as_mut().map(f))
}

/// [`super::inspections::version_if_new`] as the batch knows it: `None` when it must be
/// asked directly. The first report of a batch asks for all the batch's reports at once; a
/// report written earlier in the batch (the same report sent twice) is asked about
/// directly, after what is held is written.
pub(super) fn version_if_new(
    conn: &mut DbConnection,
    id: DbUuid,
) -> QueryResult<Option<Option<i64>>> {
    let Some((written, mine, known)) = with_batch(|b| {
        (
            b.written.contains(&id),
            b.ids.contains(&id),
            b.known.is_some(),
        )
    }) else {
        return Ok(None);
    };
    if written {
        flush(conn)?;
        return Ok(None);
    }
    if !mine {
        return Ok(None);
    }
    if !known {
        let ids: Vec<DbUuid> = with_batch(|b| b.ids.iter().copied().collect()).unwrap_or_default();
        let version = super::reference::reference_version(conn).optional()?;
        let stored = super::inspections::stored_among(conn, &ids)?;
        with_batch(|b| b.known = Some((version, stored.into_iter().collect())));
    }
    Ok(with_batch(|b| {
        b.known
            .as_ref()
            .map(|(version, stored)| if stored.contains(&id) { None } else { *version })
    })
    .flatten())
}

/// The open or in-review follow-ups the batch knows of among `officials`, and the
/// officials it must look up (all of them when not deferring).
pub(super) fn known_active(officials: &[DbUuid]) -> (HashMap<DbUuid, FollowUpRow>, Vec<DbUuid>) {
    with_batch(|b| {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        for o in officials {
            match b.active.get(o) {
                Some(Some(row)) => {
                    found.insert(*o, row.clone());
                }
                Some(None) => {}
                None => missing.push(*o),
            }
        }
        (found, missing)
    })
    .unwrap_or_else(|| (HashMap::new(), officials.to_vec()))
}

/// What a look-up of `officials` found (`found` holds those with an active follow-up).
pub(super) fn learn_active(officials: &[DbUuid], found: &HashMap<DbUuid, FollowUpRow>) {
    with_batch(|b| {
        for o in officials {
            b.active.insert(*o, found.get(o).cloned());
        }
    });
}

/// Follow-ups written in this batch: each is its official's active one from now on.
pub(super) fn learn_raised(rows: &[FollowUpRow]) {
    with_batch(|b| {
        for row in rows {
            let active = matches!(row.status, FollowUpStatus::Open | FollowUpStatus::InReview);
            b.active
                .insert(row.official_id, active.then(|| row.clone()));
        }
    });
}

/// Holds a copy of `rows` when this thread defers its writes inside a write transaction;
/// `false` when the caller must write them now.
pub(super) fn hold<R: Clone>(rows: &[R], table: fn(&mut Held) -> &mut Vec<R>) -> bool {
    with_held(|held| table(held).extend_from_slice(rows))
}

/// Runs `f` on what is held when this thread defers its writes inside a write
/// transaction; `false` when the caller must write now.
fn with_held(f: impl FnOnce(&mut Held)) -> bool {
    with_batch(|b| f(&mut b.held)).is_some()
}

/// Holds a report's attendance rows (see [`hold`]).
pub(super) fn hold_attendance(rows: &[AttendanceRow]) -> bool {
    with_batch(|b| {
        b.row_ids.extend(rows.iter().map(|r| r.id));
        b.held.attendance.extend_from_slice(rows);
    })
    .is_some()
}

/// Holds a report's findings (see [`hold`]).
pub(super) fn hold_findings(rows: &[FindingRow]) -> bool {
    with_batch(|b| {
        b.row_ids.extend(rows.iter().map(|r| r.id));
        b.held.findings.extend_from_slice(rows);
    })
    .is_some()
}

/// Holds a new report's row (see [`hold`]).
pub(super) fn hold_inspection(row: &InspectionRow) -> bool {
    with_batch(|b| {
        b.written.insert(row.id);
        b.held.inspections.push(row.clone());
    })
    .is_some()
}

/// Adds `c` to the (day, OPD) counters held ([`rollups::add_daily`]).
pub(super) fn hold_counters(day: NaiveDate, opd: &str, c: [i64; COUNTER_COUNT]) -> bool {
    with_held(|held| {
        let sum = held
            .counters
            .entry((day, opd.to_string()))
            .or_insert([0; COUNTER_COUNT]);
        for (s, c) in sum.iter_mut().zip(c) {
            *s += c;
        }
    })
}

/// Adds `counts` to the (day, official) findings held ([`rollups::add_officials`]).
pub(super) fn hold_officials(day: NaiveDate, counts: &[(String, i64)]) -> bool {
    with_held(|held| {
        for (official, n) in counts {
            *held.officials.entry((day, official.clone())).or_default() += n;
        }
    })
}

/// Moves the dashboards' version on at the flush ([`rollups::bump_dashboard_version`]).
pub(super) fn hold_bump() -> bool {
    with_held(|held| held.bump = true)
}

/// Which of `ids` belong to attendance rows or findings this batch holds (or held).
pub(super) fn held_row_ids(ids: &[DbUuid]) -> Vec<DbUuid> {
    HELD.with(|h| {
        let batch = h.borrow();
        let Some(b) = batch.as_ref() else {
            return Vec::new();
        };
        ids.iter()
            .copied()
            .filter(|id| b.row_ids.contains(id))
            .collect()
    })
}

/// Forgets what is held and what was learnt (a write transaction begins or ends).
pub(super) fn clear() {
    HELD.with(|h| {
        if let Some(batch) = h.borrow_mut().as_mut() {
            *batch = Batch {
                ids: std::mem::take(&mut batch.ids),
                ..Batch::default()
            };
        }
    });
}

/// Writes what is held, parents first, and holds nothing afterwards.
pub fn flush(conn: &mut DbConnection) -> QueryResult<()> {
    let held = HELD.with(|h| h.borrow_mut().as_mut().map(|b| std::mem::take(&mut b.held)));
    let Some(held) = held.filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    super::insert_rows!(conn, inspections::table, held.inspections);
    super::insert_rows!(conn, attendance::table, held.attendance);
    super::insert_rows!(conn, findings::table, held.findings);
    super::insert_rows!(conn, follow_up_findings::table, held.attachments);
    super::insert_rows!(conn, follow_up_events::table, held.events);
    super::insert_rows!(conn, audit_log::table, held.audit);
    super::insert_rows!(conn, webhook_events::table, held.outbox);
    for ((day, opd), c) in held.counters {
        if c.iter().any(|n| *n != 0) {
            rollups::write_counters(conn, day, &opd, c)?;
        }
    }
    let mut officials = held.officials.into_iter().peekable();
    while let Some(((day, official), n)) = officials.next() {
        let mut counts = vec![(official, n)];
        while let Some(((_, official), n)) = officials.next_if(|((d, _), _)| *d == day) {
            counts.push((official, n));
        }
        counts.retain(|(_, n)| *n != 0);
        if !counts.is_empty() {
            rollups::write_officials(conn, day, &counts)?;
        }
    }
    if held.bump {
        rollups::write_dashboard_bump(conn)?;
    }
    Ok(())
}

/// Writes what is held and writes directly while it lives (a savepoint); holding resumes
/// when it is dropped.
pub(super) struct Suspended(Option<Batch>);

impl Suspended {
    pub(super) fn begin(conn: &mut DbConnection) -> QueryResult<Self> {
        flush(conn)?;
        Ok(Suspended(HELD.with(|h| h.borrow_mut().take())))
    }
}

impl Drop for Suspended {
    fn drop(&mut self) {
        if let Some(mut batch) = self.0.take() {
            // What the savepoint wrote is not in what was learnt before it.
            batch.known = None;
            batch.active.clear();
            HELD.with(|h| *h.borrow_mut() = Some(batch));
        }
    }
}
