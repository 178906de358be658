//! The reference data new reports are built from — OPDs, which officials exist, the posts
//! each held on a day — kept between reports for as long as the database says it has not
//! changed.
//!
//! Every report names an OPD and a handful of officials, and most reports of a day name
//! the same ones; reading them for every report was a fifth of a report's work in the one
//! writer (measured, BENCHMARKS.md). The database's `reference_version` row is moved on by
//! triggers with every change to those tables, in the changing transaction (migration
//! 000011), so a version read identifies one committed state of the reference data, and
//! the same version read later means nothing changed in between. Hence the two rules here:
//! - what is kept was read between two reads of the version that gave the same number
//!   ([`ReferenceCache::learn`]); on PostgreSQL at `READ COMMITTED` each statement may see a
//!   newer state than the one before, and only the second read shows that none committed;
//! - what is kept is used only by a report that read the same version itself
//!   ([`ReferenceCache::lookup`]), under the write lock when the report is written — so the
//!   check holds across processes too, as the version lives in the database.
//!
//! Nothing else writes to the cache, and it holds at most [`MAX_POSTS`] (official, day)
//! entries: past that it starts again empty.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use chrono::NaiveDate;

use crate::db::reference::{self as refdb, ActingRow, AssignmentRow, OpdRow};
use crate::db::{DbConnection, DbUuid};
use crate::error::ApiError;

/// What an official held on a day: the definitive placement and any acting post (Plt, Plh).
#[derive(Clone, Debug, PartialEq)]
pub struct Posts {
    pub placement: AssignmentRow,
    pub acting: Option<ActingRow>,
}

/// An official's posts on a local day; `None`: no placement that day.
pub type PostsOn = ((DbUuid, NaiveDate), Option<Posts>);

/// How many (official, day) entries the cache holds before it starts again.
pub const MAX_POSTS: usize = 20_000;

#[derive(Default)]
struct Kept {
    /// The version everything below was read at; `None` while nothing is kept.
    version: Option<i64>,
    opds: HashMap<DbUuid, OpdRow>,
    /// Officials known to exist (an official is never kept as missing).
    officials: HashSet<DbUuid>,
    /// The posts of an official on a local day; `None`: no placement that day.
    posts: HashMap<(DbUuid, NaiveDate), Option<Posts>>,
}

/// One process's cache (see the module documentation); one per database.
#[derive(Default)]
pub struct ReferenceCache(Mutex<Kept>);

/// What a report found in the cache, at the version it read.
#[derive(Default)]
pub struct Found {
    pub opd: Option<OpdRow>,
    pub officials: HashSet<DbUuid>,
    pub posts: HashMap<DbUuid, Option<Posts>>,
}

/// What a report read from the database, to be kept if the version still holds.
#[derive(Default)]
pub struct Learned {
    pub opd: Option<OpdRow>,
    pub officials: Vec<DbUuid>,
    pub posts: Vec<PostsOn>,
}

impl Learned {
    fn is_empty(&self) -> bool {
        self.opd.is_none() && self.officials.is_empty() && self.posts.is_empty()
    }
}

impl ReferenceCache {
    fn lock(&self) -> MutexGuard<'_, Kept> {
        // Every change to `Kept` leaves it whole; a panic elsewhere cannot tear it.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What is kept about `opd`, `officials` and their posts on `day`, if it was read at
    /// `version` (read by the caller: see the module documentation).
    pub fn lookup(&self, version: i64, opd: DbUuid, officials: &[DbUuid], day: NaiveDate) -> Found {
        let kept = self.lock();
        let mut found = Found::default();
        if kept.version != Some(version) {
            return found;
        }
        found.opd = kept.opds.get(&opd).cloned();
        for o in officials {
            if kept.officials.contains(o) {
                found.officials.insert(*o);
            }
            if let Some(posts) = kept.posts.get(&(*o, day)) {
                found.posts.insert(*o, posts.clone());
            }
        }
        found
    }

    /// Keeps what was read at `version` on `conn` — if a read of the version now gives
    /// `version` again, so that nothing changed while it was read.
    pub fn learn(
        &self,
        conn: &mut DbConnection,
        version: i64,
        learned: Learned,
    ) -> Result<(), ApiError> {
        if learned.is_empty() || refdb::reference_version(conn)? != version {
            return Ok(());
        }
        let mut kept = self.lock();
        match kept.version {
            // Read at an older state than what is kept: of no use to anyone.
            Some(v) if v > version => return Ok(()),
            Some(v) if v == version && kept.posts.len() + learned.posts.len() <= MAX_POSTS => {}
            _ => {
                *kept = Kept {
                    version: Some(version),
                    ..Kept::default()
                }
            }
        }
        if let Some(opd) = learned.opd {
            kept.opds.insert(opd.id, opd);
        }
        kept.officials.extend(learned.officials);
        kept.posts.extend(learned.posts);
        Ok(())
    }
}

/// The posts of `officials` on `day`, read from the database.
pub fn read_posts(
    conn: &mut DbConnection,
    officials: &[DbUuid],
    day: NaiveDate,
) -> Result<Vec<(DbUuid, Option<Posts>)>, ApiError> {
    let mut found = crate::db::inspections::assignments_on(conn, officials, day)?;
    let mut acting = refdb::acting_on(conn, officials, day)?;
    Ok(officials
        .iter()
        .map(|o| {
            let posts = found.remove(o).map(|placement| Posts {
                placement,
                acting: acting.remove(o),
            });
            (*o, posts)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::{Connection, RunQueryDsl};

    fn bump(conn: &mut DbConnection) -> Result<(), String> {
        diesel::sql_query("UPDATE reference_version SET version = version + 1 WHERE id = 1")
            .execute(conn)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// What was read is kept only if the version did not move while it was read, and is
    /// given only to a caller that read the same version.
    #[test]
    fn kept_only_at_the_version_it_was_read_at() -> Result<(), String> {
        let mut conn = DbConnection::Sqlite(
            diesel::SqliteConnection::establish(":memory:").map_err(|e| e.to_string())?,
        );
        crate::db::run_migrations(&mut conn)?;
        let (opd, day) = (DbUuid(uuid::Uuid::new_v4()), NaiveDate::MIN);
        let official = DbUuid(uuid::Uuid::new_v4());
        let learned = || Learned {
            officials: vec![official],
            ..Learned::default()
        };
        let cache = ReferenceCache::default();
        let v0 = refdb::reference_version(&mut conn).map_err(|e| e.to_string())?;

        // Read at v0, and v0 still holds: kept, and found by a caller at v0 only.
        cache
            .learn(&mut conn, v0, learned())
            .map_err(|e| e.to_string())?;
        assert!(cache
            .lookup(v0, opd, &[official], day)
            .officials
            .contains(&official));
        assert!(cache
            .lookup(v0 + 1, opd, &[official], day)
            .officials
            .is_empty());

        // A change committed while a report read at v0: what it read is not kept.
        bump(&mut conn)?;
        let cache = ReferenceCache::default();
        cache
            .learn(&mut conn, v0, learned())
            .map_err(|e| e.to_string())?;
        assert!(cache.lookup(v0, opd, &[official], day).officials.is_empty());

        // Kept at v1; a slow reader still at v0 neither adds to it nor replaces it.
        let v1 = refdb::reference_version(&mut conn).map_err(|e| e.to_string())?;
        assert_eq!(v1, v0 + 1);
        cache
            .learn(&mut conn, v1, learned())
            .map_err(|e| e.to_string())?;
        let late = Learned {
            officials: vec![DbUuid(uuid::Uuid::new_v4())],
            ..Learned::default()
        };
        cache
            .learn(&mut conn, v0, late)
            .map_err(|e| e.to_string())?;
        assert_eq!(cache.lookup(v1, opd, &[official], day).officials.len(), 1);
        Ok(())
    }
}
