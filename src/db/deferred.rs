//! Rows a batch of the group commit writes together, table by table, just before it commits.
//!
//! A batch's first attempt ([`super::group`]) runs its reports one after the other in one
//! transaction with no savepoints, and the rows they add — reports, attendance, findings,
//! the findings' attachments to follow-ups, history entries and audit entries — are held
//! here instead of being written report by report, and what they add to the dashboards'
//! counters is summed here. [`super::tx`] writes them (parents
//! first, one multi-row statement per table on PostgreSQL) after the last report and
//! before `COMMIT`, so they are committed with the batch or not at all: sixteen reports
//! cost a handful of statements instead of a hundred round trips.
//!
//! What holds that together:
//! - Rows are held only on the thread of a batch's first attempt ([`Deferring`]) and only
//!   inside its write transaction; every other write writes at once.
//! - A new report reads these tables twice: whether its id is stored, which writes what
//!   is held first when that id is among it ([`holds_inspection`]; a replay then reads its
//!   stored rows), and whether its row ids are taken, which looks among the held rows too
//!   ([`held_row_ids`]). Follow-ups themselves are written at once: the next report of
//!   the batch looks for the official's open one. No other job runs in a batch.
//! - Nothing in a batch reads the counters ([`super::rollups`]) or the dashboards' version:
//!   each (day, OPD) and (day, official) gets its sum in one upsert at the end.
//! - The audit chain is hashed as the entries are made (its head is kept per transaction,
//!   [`super::tx`]); only the inserts wait.
//! - A savepoint writes what is held before it begins and writes directly inside, so
//!   rolling one back never leaves rows of its own behind here.
//! - The held rows are dropped whenever a write transaction begins or ends: a transaction
//!   that rolls back, or runs again after a conflict, starts with nothing held.
//! - A row that cannot be written (a unique id taken by a concurrent writer) fails the
//!   whole batch, which is then written again report by report, each in its savepoint, so
//!   the report at fault is refused alone.

use std::cell::RefCell;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use diesel::{QueryResult, RunQueryDsl};

use super::audit::AuditRow;
use super::followups::{Attachment, EventRow};
use super::inspections::{AttendanceRow, FindingRow, InspectionRow};
use super::rollups::{self, COUNTER_COUNT};
use super::schema::{
    attendance, audit_log, findings, follow_up_events, follow_up_findings, inspections,
};
use super::{DbConnection, DbUuid};

/// The rows held, in the order they were made, and the sums of the counters added.
#[derive(Default)]
pub(super) struct Held {
    pub(super) inspections: Vec<InspectionRow>,
    pub(super) attendance: Vec<AttendanceRow>,
    pub(super) findings: Vec<FindingRow>,
    pub(super) attachments: Vec<Attachment>,
    pub(super) events: Vec<EventRow>,
    pub(super) audit: Vec<AuditRow>,
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
            && self.counters.is_empty()
            && self.officials.is_empty()
            && !self.bump
    }
}

thread_local! {
    /// `Some` while this thread runs a batch's first attempt.
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// While it lives, the write transactions of this thread hold their rows until commit.
pub struct Deferring(());

impl Deferring {
    pub fn start() -> Self {
        HELD.with(|h| *h.borrow_mut() = Some(Held::default()));
        Deferring(())
    }
}

impl Drop for Deferring {
    fn drop(&mut self) {
        HELD.with(|h| *h.borrow_mut() = None);
    }
}

/// Holds a copy of `rows` when this thread defers its writes inside a write transaction;
/// `false` when the caller must write them now.
pub(super) fn hold<R: Clone>(rows: &[R], table: fn(&mut Held) -> &mut Vec<R>) -> bool {
    with_held(|held| table(held).extend_from_slice(rows))
}

/// Runs `f` on what is held when this thread defers its writes inside a write
/// transaction; `false` when the caller must write now.
fn with_held(f: impl FnOnce(&mut Held)) -> bool {
    if !super::tx::holds_write_lock() {
        return false;
    }
    HELD.with(|h| match h.borrow_mut().as_mut() {
        Some(held) => {
            f(held);
            true
        }
        None => false,
    })
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

/// Whether a report with this id is among the rows held (and so not yet in its table).
pub fn holds_inspection(id: DbUuid) -> bool {
    HELD.with(|h| {
        h.borrow()
            .as_ref()
            .is_some_and(|held| held.inspections.iter().any(|r| r.id == id))
    })
}

/// Which of `ids` belong to attendance or findings rows held.
pub(super) fn held_row_ids(ids: &[DbUuid]) -> Vec<DbUuid> {
    HELD.with(|h| {
        let held = h.borrow();
        let Some(held) = held.as_ref() else {
            return Vec::new();
        };
        ids.iter()
            .copied()
            .filter(|id| {
                held.attendance.iter().any(|a| a.id == *id)
                    || held.findings.iter().any(|f| f.id == *id)
            })
            .collect()
    })
}

/// Forgets what is held (a write transaction begins or ends).
pub(super) fn clear() {
    HELD.with(|h| {
        if let Some(held) = h.borrow_mut().as_mut() {
            *held = Held::default();
        }
    });
}

/// Writes what is held, parents first, and holds nothing afterwards.
pub fn flush(conn: &mut DbConnection) -> QueryResult<()> {
    let held = HELD.with(|h| h.borrow_mut().as_mut().map(std::mem::take));
    let Some(held) = held.filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    super::insert_rows!(conn, inspections::table, held.inspections);
    super::insert_rows!(conn, attendance::table, held.attendance);
    super::insert_rows!(conn, findings::table, held.findings);
    super::insert_rows!(conn, follow_up_findings::table, held.attachments);
    super::insert_rows!(conn, follow_up_events::table, held.events);
    super::insert_rows!(conn, audit_log::table, held.audit);
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
pub(super) struct Suspended(Option<Held>);

impl Suspended {
    pub(super) fn begin(conn: &mut DbConnection) -> QueryResult<Self> {
        flush(conn)?;
        Ok(Suspended(HELD.with(|h| h.borrow_mut().take())))
    }
}

impl Drop for Suspended {
    fn drop(&mut self) {
        if let Some(held) = self.0.take() {
            HELD.with(|h| *h.borrow_mut() = Some(held));
        }
    }
}
