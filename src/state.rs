//! What every handler shares.

use std::sync::Arc;

use crate::auth::{JwtKeys, LoginThrottle, PasswordHasher};
use crate::config::Config;
use crate::db::DbPool;
use crate::evidence::EvidenceStore;
use crate::http::routes::RouteTable;

pub struct AppState {
    pub pool: DbPool,
    pub config: Arc<Config>,
    pub jwt: JwtKeys,
    pub hasher: PasswordHasher,
    pub throttle: LoginThrottle,
    /// The documented routes, used to tell 405 from 404.
    pub routes: RouteTable,
    pub evidence: EvidenceStore,
    pub metrics: crate::metrics::Metrics,
    /// Requests per minute for each API key.
    pub key_limiter: crate::auth::api_key::KeyLimiter,
}
