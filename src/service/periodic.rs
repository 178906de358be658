//! Work a server does on its own, on a timer, that must run on one server of several at a
//! time: each run is preceded by taking (or renewing) a lease in the database
//! (`db::leases`) for the whole interval, so that however many servers share the database
//! one of them does it, and another takes over when that one is gone.
//!
//! Today: collecting photo objects no record points at (`SIDAK_EVIDENCE_GC_INTERVAL_SECONDS`,
//! after `SIDAK_EVIDENCE_GC_GRACE_HOURS`), and scheduled backups (`SIDAK_BACKUP_SCHEDULE`),
//! each scheduled time also claimed in the database so that it is taken once.

use std::time::Duration;

use crate::db::{leases, write_tx, DbPool};
use crate::service::backup::{BackupTarget, Schedule};
use crate::storage::EvidenceStore;

/// Who this process is, in the leases it holds.
pub fn holder() -> String {
    static HOLDER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOLDER
        .get_or_init(|| {
            format!(
                "{}:{}:{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "sidak".into()),
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            )
        })
        .clone()
}

/// Gives up the lease `name` if this process holds it.
async fn release(pool: &DbPool, name: &'static str) {
    let me = holder();
    let pool = pool.clone();
    let _ = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        write_tx(&mut conn, |c| leases::release(c, name, &me)).map_err(|e| e.to_string())
    })
    .await;
}

/// Takes or renews the lease `name` for `ttl`; `false` when another server holds it.
async fn lease(pool: &DbPool, name: &'static str, ttl: Duration) -> bool {
    lease_as(pool, name, holder(), ttl).await
}

/// [`lease`] for a holder of the caller's naming (work that several servers in one process
/// must not share, as in tests).
pub(crate) async fn lease_as(pool: &DbPool, name: &'static str, me: String, ttl: Duration) -> bool {
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    let pool = pool.clone();
    let taken = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        write_tx(&mut conn, |c| leases::acquire(c, name, &me, ttl_ms)).map_err(|e| e.to_string())
    })
    .await;
    match taken {
        Ok(Ok(held)) => held,
        Ok(Err(e)) => {
            tracing::warn!(job = name, error = %e, "could not take the lease");
            false
        }
        Err(e) => {
            tracing::warn!(job = name, error = %e, "could not take the lease");
            false
        }
    }
}

/// Starts the server's periodic work (on the runtime the server runs on): collecting the
/// photo objects of `evidence` that no record points at, every `every` (never when zero),
/// once they are `grace` old.
pub fn start(pool: DbPool, evidence: EvidenceStore, every: Duration, grace: Duration) {
    if every.is_zero() {
        return;
    }
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            // Held for a little longer than the interval: the holder renews it at its next
            // run; if it is gone, another server takes over after one interval.
            if !lease(&pool, "evidence-gc", every + every / 2).await {
                continue;
            }
            match crate::service::evidence_store::collect(&pool, &evidence, grace, false).await {
                Ok(report) => {
                    tracing::info!(
                        objects = report.objects,
                        removed = report.removed.len(),
                        young = report.young,
                        "collected photo objects no record points at"
                    );
                }
                Err(e) => tracing::warn!(error = %e, "collecting photo objects failed"),
            }
        }
    });
}

/// What scheduled backups need.
pub struct BackupJob {
    pub pool: DbPool,
    pub database_url: crate::db::DatabaseUrl,
    pub evidence: EvidenceStore,
    pub schedule: Schedule,
    pub timezone: chrono_tz::Tz,
    pub target: BackupTarget,
    pub keep: usize,
    /// Where a backup to a bucket is assembled (`<data>/backup-staging`).
    pub staging: std::path::PathBuf,
}

/// The backup lease is held this long and renewed every [`BACKUP_LEASE_RENEW`] while a
/// backup runs: a server that dies mid-backup frees it within minutes.
const BACKUP_LEASE: Duration = Duration::from_secs(300);
const BACKUP_LEASE_RENEW: Duration = Duration::from_secs(60);

/// Starts scheduled backups: at each scheduled time, the server that takes the `backup`
/// lease and claims that time in the database takes the backup, records it, and removes
/// the snapshots beyond the newest `keep`.
pub fn start_backups(job: BackupJob) {
    tokio::spawn(async move {
        let target = &job.target;
        tracing::info!(schedule = %job.schedule, to = %target.describe(), keep = job.keep, "scheduled backups");
        loop {
            let now = chrono::Utc::now();
            let slot = job.schedule.next_after(now, job.timezone);
            let wait = (slot - now).to_std().unwrap_or_default();
            tokio::time::sleep(wait).await;
            scheduled_backup(&job, target, slot).await;
        }
    });
}

async fn scheduled_backup(
    job: &BackupJob,
    target: &BackupTarget,
    slot: chrono::DateTime<chrono::Utc>,
) {
    if !lease(&job.pool, "backup", BACKUP_LEASE).await {
        tracing::info!(%slot, "a backup runs on another server");
        return;
    }
    let renew = {
        let pool = job.pool.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(BACKUP_LEASE_RENEW).await;
                lease(&pool, "backup", BACKUP_LEASE).await;
            }
        })
    };
    let slot_name = slot.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let me = holder();
    let claimed =
        crate::service::backup::record_start(&job.pool, Some(slot_name.clone()), "schedule", me)
            .await;
    match claimed {
        Ok(Some(id)) => {
            let taken = crate::service::backup::create(
                &job.pool,
                &job.database_url,
                &job.evidence,
                target,
                &job.staging,
            )
            .await;
            crate::service::backup::record_finish(&job.pool, id, &taken).await;
            match &taken {
                Ok(t) => {
                    tracing::info!(slot = %slot_name, location = %t.location, files = t.manifest.files.len(), bytes = t.bytes, "scheduled backup taken");
                    match target.prune(job.keep, &job.staging).await {
                        Ok(p) if !p.snapshots.is_empty() || !p.unfinished.is_empty() => {
                            tracing::info!(removed = ?p.snapshots, unfinished = ?p.unfinished, keep = job.keep, "old backups removed");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "removing old backups failed"),
                    }
                }
                Err(e) => tracing::error!(slot = %slot_name, error = %e, "scheduled backup failed"),
            }
        }
        Ok(None) => tracing::info!(slot = %slot_name, "this scheduled backup was taken already"),
        Err(e) => tracing::warn!(error = %e, "could not record the scheduled backup"),
    }
    renew.abort();
    release(&job.pool, "backup").await;
}
