//! Keeping the photo store: copying every photo to another store (`sidak evidence
//! migrate`) and collecting objects no record points at (`sidak evidence gc`).

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::db::inspections as idb;
use crate::db::{DbConnection, DbPool};
use crate::storage::EvidenceStore;

/// Runs `f` on a pooled connection on the blocking pool.
async fn with_db<T: Send + 'static>(
    pool: &DbPool,
    f: impl FnOnce(&mut DbConnection) -> diesel::QueryResult<T> + Send + 'static,
) -> Result<T, String> {
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool
            .get()
            .map_err(|e| format!("no database connection: {e}"))?;
        f(&mut conn).map_err(|e| format!("reading the records: {e}"))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// What a migration did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MigrateReport {
    /// Photos the records point at.
    pub photos: usize,
    /// Copied to the target (and read back there with the right hash).
    pub copied: usize,
    /// In the target already, with the right hash.
    pub present: usize,
    /// `(sha256, what went wrong)`: missing or damaged in the source, or not stored intact.
    pub failed: Vec<(String, String)>,
}

/// Copies the bytes from `from` into a temporary file, checking their hash on the way.
async fn fetch(from: &EvidenceStore, sha256: &str, temp: &Path) -> Result<(), String> {
    let (got, _) = from
        .read_into(sha256, Some(temp))
        .await
        .map_err(|e| format!("not readable in the source: {e}"))?;
    if got != sha256 {
        return Err(format!("damaged in the source: its bytes hash to {got}"));
    }
    Ok(())
}

/// Copies every photo a record points at from `from` to `to`, and reads each back from `to`
/// to check its hash. Photos already in `to` with the right hash are not copied again. Run
/// it, switch `SIDAK_EVIDENCE_URL` to the target and restart; running it again first copies
/// what was uploaded meanwhile.
pub async fn migrate(
    pool: &DbPool,
    from: &EvidenceStore,
    to: &EvidenceStore,
    progress: &mut dyn FnMut(&str),
) -> Result<MigrateReport, String> {
    let shas = with_db(pool, idb::stored_shas).await?;
    let mut report = MigrateReport {
        photos: shas.len(),
        ..Default::default()
    };
    for (i, sha) in shas.iter().enumerate() {
        let outcome: Result<bool, String> = async {
            if let Ok((got, _)) = to.read_into(sha, None).await {
                if &got == sha {
                    return Ok(false);
                }
            }
            let temp = to.temp_path();
            let copied = async {
                fetch(from, sha, &temp).await?;
                to.store(&temp, sha)
                    .await
                    .map_err(|e| format!("storing in the target: {e}"))?;
                let (got, _) = to
                    .read_into(sha, None)
                    .await
                    .map_err(|e| format!("reading back from the target: {e}"))?;
                if &got != sha {
                    return Err(format!(
                        "the target holds other bytes after the copy (they hash to {got})"
                    ));
                }
                Ok(true)
            }
            .await;
            let _ = tokio::fs::remove_file(&temp).await;
            copied
        }
        .await;
        match outcome {
            Ok(true) => report.copied += 1,
            Ok(false) => report.present += 1,
            Err(e) => report.failed.push((sha.clone(), e)),
        }
        if (i + 1) % 100 == 0 {
            progress(&format!("{} of {} photos checked", i + 1, shas.len()));
        }
    }
    Ok(report)
}

/// What a collection did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CollectReport {
    /// Objects in the store named by a hash.
    pub objects: usize,
    /// Not pointed at by any record and older than the grace period: removed (or, in a
    /// dry run, to be removed).
    pub removed: Vec<String>,
    /// Not pointed at but younger than the grace period (an upload may be in flight).
    pub young: usize,
}

/// Removes the objects no evidence record points at and that were stored more than `grace`
/// ago. Each is looked at again just before it goes: still unreferenced, still as old. (An
/// upload that stores the same bytes and commits its record in the moment between that look
/// and the removal finds them gone when it checks after its commit, and stores them again:
/// `EvidenceStore::ensure`.)
pub async fn collect(
    pool: &DbPool,
    store: &EvidenceStore,
    grace: Duration,
    dry_run: bool,
) -> Result<CollectReport, String> {
    let objects = store
        .list()
        .await
        .map_err(|e| format!("listing the store: {e}"))?;
    let cutoff = SystemTime::now()
        .checked_sub(grace)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut report = CollectReport {
        objects: objects.len(),
        ..Default::default()
    };
    for batch in objects.chunks(500) {
        let shas: Vec<String> = batch.iter().map(|o| o.sha256.clone()).collect();
        let used = with_db(pool, move |c| idb::shas_in_use(c, &shas)).await?;
        for object in batch.iter().filter(|o| !used.contains(&o.sha256)) {
            if object.modified > cutoff {
                report.young += 1;
                continue;
            }
            if dry_run {
                report.removed.push(object.sha256.clone());
                continue;
            }
            let sha = object.sha256.clone();
            let check = sha.clone();
            let still_used = with_db(pool, move |c| idb::sha_in_use(c, &check)).await?;
            let modified = store
                .modified(&sha)
                .await
                .map_err(|e| format!("looking at {sha}: {e}"))?;
            if still_used || modified.is_none_or(|m| m > cutoff) {
                report.young += 1;
                continue;
            }
            store
                .delete(&sha)
                .await
                .map_err(|e| format!("removing {sha}: {e}"))?;
            report.removed.push(sha);
        }
    }
    Ok(report)
}
