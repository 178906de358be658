//! What every handler shares.

use std::sync::Arc;

use crate::auth::{JwtKeys, LoginThrottle, PasswordHasher};
use crate::config::Config;
use crate::db::DbPool;
use crate::storage::EvidenceStore;

pub struct AppState {
    pub pool: DbPool,
    pub config: Arc<Config>,
    pub jwt: JwtKeys,
    pub hasher: PasswordHasher,
    pub throttle: LoginThrottle,
    pub evidence: EvidenceStore,
    pub metrics: crate::metrics::Metrics,
    /// Requests per minute for each API key.
    pub key_limiter: crate::auth::api_key::KeyLimiter,
    /// Report writes that arrive together share a transaction (`db::group`).
    pub writes: crate::db::group::GroupCommit,
    /// The reference data new reports are built from, while it is unchanged
    /// (`service::reference_cache`).
    pub reference: crate::service::reference_cache::ReferenceCache,
}
