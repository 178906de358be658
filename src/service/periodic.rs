//! Work a server does on its own, on a timer, that must run on one server of several at a
//! time: each run is preceded by taking (or renewing) a lease in the database
//! (`db::leases`) for the whole interval, so that however many servers share the database
//! one of them does it, and another takes over when that one is gone.
//!
//! Today: collecting photo objects no record points at (`SIDAK_EVIDENCE_GC_INTERVAL_SECONDS`,
//! after `SIDAK_EVIDENCE_GC_GRACE_HOURS`).

use std::time::Duration;

use crate::db::{leases, write_tx, DbPool};
use crate::storage::EvidenceStore;

/// Who this process is, in the leases it holds.
fn holder() -> String {
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

/// Takes or renews the lease `name` for `ttl`; `false` when another server holds it.
async fn lease(pool: &DbPool, name: &'static str, ttl: Duration) -> bool {
    let me = holder();
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
