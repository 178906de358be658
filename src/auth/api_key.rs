//! API keys for machines that read dashboards: `sdk_` followed by 256 random bits
//! (base64url). Only a SHA-256 of the secret is stored; the secret is shown once.

use std::num::NonZeroU32;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

/// Every key starts with this, so a key is told apart from an access token at a glance
/// (and by secret scanners).
pub const PREFIX: &str = "sdk_";
/// How much of a key is kept in clear to tell keys apart: the prefix and 8 characters.
pub const SHOWN_CHARS: usize = 12;
/// `last_used_at` is written at most this often per key.
pub const TOUCH_INTERVAL_SECONDS: i64 = 60;

crate::domain::vocab::vocabulary!(
    /// What a key may read. A key reaches only the operations of its scopes (and only as far
    /// as its role allows); everything else answers `403`.
    Scope {
        /// `GET /api/v1/dashboard/*` and the OPD list and detail (their labels). Every key's
        /// default.
        Dashboards => "dashboards" ["Dasbor", "Dashboards"],
        /// Officials (names, NIPs, placements, records) and `GET /api/v1/sync`. Supervisor keys.
        OfficialsRead => "officials:read" ["Baca data pegawai", "Read officials"],
        /// Reports, their findings and photos. Supervisor keys.
        ReportsRead => "reports:read" ["Baca laporan", "Read reports"],
        /// Follow-ups and their history. Supervisor keys.
        FollowUpsRead => "follow-ups:read" ["Baca tindak lanjut", "Read follow-ups"],
        /// The audit trail (with login addresses). Supervisor keys.
        AuditRead => "audit:read" ["Baca jejak audit", "Read the audit trail"],
        /// `GET /metrics`. Supervisor keys.
        Metrics => "metrics" ["Metrik", "Metrics"],
    }
);

impl Scope {
    /// Whether a key of `role` can use the scope at all (a viewer reads aggregates only).
    pub fn fits(self, role: crate::domain::user::Role) -> bool {
        self == Scope::Dashboards || role == crate::domain::user::Role::Supervisor
    }

    /// The scope a read of `path` needs; `None` for paths no key may read (accounts, keys).
    pub fn for_path(path: &str) -> Option<Scope> {
        let under = |prefix: &str| {
            path == prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        if under("/api/v1/dashboard") || under("/api/v1/holidays") {
            Some(Scope::Dashboards)
        } else if under("/api/v1/opds") {
            // The list and one OPD; nothing deeper is a read.
            let depth = path.trim_end_matches('/').matches('/').count();
            (depth <= 4).then_some(Scope::Dashboards)
        } else if under("/api/v1/officials") || under("/api/v1/sync") {
            Some(Scope::OfficialsRead)
        } else if under("/api/v1/inspections") || under("/api/v1/evidence") {
            Some(Scope::ReportsRead)
        } else if under("/api/v1/follow-ups") {
            Some(Scope::FollowUpsRead)
        } else if under("/api/v1/audit") {
            Some(Scope::AuditRead)
        } else if path == "/metrics" {
            Some(Scope::Metrics)
        } else {
            None
        }
    }
}

/// Stored form: names, sorted, comma-separated.
pub fn scopes_to_text(scopes: &[Scope]) -> String {
    let mut sorted: Vec<Scope> = scopes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The stored form read back; unknown names (none are written) are dropped.
pub fn scopes_from_text(text: &str) -> Vec<Scope> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let scope = Scope::parse(s);
            if scope.is_none() {
                // Never widens what a key reaches; said loudly so the row gets fixed.
                tracing::error!(
                    scope = s,
                    "a stored API key scope is unknown; it grants nothing"
                );
            }
            scope
        })
        .collect()
}

pub struct NewSecret {
    /// The whole key; returned to the creator once, never stored.
    pub secret: String,
    pub shown: String,
    pub hash: String,
}

pub fn generate() -> NewSecret {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    NewSecret {
        shown: secret.chars().take(SHOWN_CHARS).collect(),
        hash: hash(&secret),
        secret,
    }
}

pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two stored-form hashes without an early exit.
pub fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

pub fn looks_like_key(credential: &str) -> bool {
    credential.starts_with(PREFIX)
}

/// Requests per minute for each key: counted in this process (SQLite: one server per
/// database), or in the database for every server on it (PostgreSQL, `db::shared_limits`).
pub enum KeyLimiter {
    Off,
    Memory(RateLimiter<Uuid, governor::state::keyed::HashMapStateStore<Uuid>, DefaultClock>),
    Shared {
        pool: crate::db::DbPool,
        per_minute: u32,
    },
}

impl KeyLimiter {
    /// `per_minute == 0` turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        match NonZeroU32::new(per_minute) {
            None => KeyLimiter::Off,
            Some(n) => KeyLimiter::Memory(RateLimiter::hashmap(Quota::per_minute(n))),
        }
    }

    /// The allowance kept in the database.
    pub fn shared(per_minute: u32, pool: crate::db::DbPool) -> Self {
        if per_minute == 0 {
            KeyLimiter::Off
        } else {
            KeyLimiter::Shared { pool, per_minute }
        }
    }

    /// `Ok(Err(wait))` when the key has used its quota; `Err` when the shared allowance
    /// could not be read.
    pub async fn check(&self, key: Uuid) -> Result<Result<(), Duration>, String> {
        match self {
            KeyLimiter::Off => Ok(Ok(())),
            KeyLimiter::Memory(l) => Ok(l
                .check_key(&key)
                .map_err(|not_until| not_until.wait_time_from(l.clock().now()))),
            KeyLimiter::Shared { pool, per_minute } => {
                let (pool, per_minute) = (pool.clone(), *per_minute);
                let wait = tokio::task::spawn_blocking(move || {
                    let mut conn = pool.get().map_err(|e| e.to_string())?;
                    crate::db::shared_limits::admit_key_request(
                        &mut conn,
                        &key.to_string(),
                        per_minute,
                    )
                    .map_err(|e| e.to_string())
                })
                .await
                .map_err(|e| e.to_string())??;
                Ok(match wait {
                    None => Ok(()),
                    Some(ms) => Err(Duration::from_millis(u64::try_from(ms).unwrap_or(1))),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_name_the_paths_they_open() {
        assert_eq!(
            Scope::for_path("/api/v1/dashboard/summary"),
            Some(Scope::Dashboards)
        );
        assert_eq!(Scope::for_path("/api/v1/opds"), Some(Scope::Dashboards));
        assert_eq!(
            Scope::for_path("/api/v1/opds/5d1d"),
            Some(Scope::Dashboards)
        );
        assert_eq!(
            Scope::for_path("/api/v1/officials/x/record"),
            Some(Scope::OfficialsRead)
        );
        assert_eq!(Scope::for_path("/api/v1/sync"), Some(Scope::OfficialsRead));
        assert_eq!(
            Scope::for_path("/api/v1/evidence/x/content"),
            Some(Scope::ReportsRead)
        );
        assert_eq!(
            Scope::for_path("/api/v1/inspections"),
            Some(Scope::ReportsRead)
        );
        assert_eq!(
            Scope::for_path("/api/v1/follow-ups/x"),
            Some(Scope::FollowUpsRead)
        );
        assert_eq!(
            Scope::for_path("/api/v1/audit/verify"),
            Some(Scope::AuditRead)
        );
        assert_eq!(Scope::for_path("/metrics"), Some(Scope::Metrics));
        assert_eq!(Scope::for_path("/api/v1/users"), None);
        assert_eq!(Scope::for_path("/api/v1/api-keys"), None);
        assert_eq!(Scope::for_path("/api/v1/dashboards-x"), None);
        assert_eq!(Scope::for_path("/api/v1/opdsx"), None);
        let text = scopes_to_text(&[Scope::Metrics, Scope::Dashboards, Scope::Metrics]);
        assert_eq!(text, "dashboards,metrics");
        assert_eq!(
            scopes_from_text(&text),
            vec![Scope::Dashboards, Scope::Metrics]
        );
    }

    #[test]
    fn keys_are_long_random_and_hashed() {
        let a = generate();
        let b = generate();
        assert!(a.secret.starts_with(PREFIX));
        // 32 bytes in base64url without padding: 43 characters.
        assert_eq!(a.secret.len(), PREFIX.len() + 43);
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.hash, hash(&a.secret));
        assert!(same_hash(&a.hash, &hash(&a.secret)));
        assert!(!same_hash(&a.hash, &b.hash));
        assert!(a.secret.starts_with(&a.shown) && a.shown.len() == SHOWN_CHARS);
    }

    #[tokio::test]
    async fn limiter_refuses_past_the_quota_per_key() {
        let l = KeyLimiter::new(2);
        let (k1, k2) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(l.check(k1).await, Ok(Ok(())));
        assert_eq!(l.check(k1).await, Ok(Ok(())));
        let wait = l
            .check(k1)
            .await
            .expect("in memory")
            .expect_err("third request in a minute");
        assert!(wait > Duration::from_secs(1) && wait <= Duration::from_secs(60));
        assert_eq!(l.check(k2).await, Ok(Ok(())));
        assert_eq!(KeyLimiter::new(0).check(k1).await, Ok(Ok(())));
    }
}
