//! argon2id password hashing on the blocking pool, behind a semaphore so that a burst of
//! logins queues instead of starving the async workers.
//!
//! Each hash needs 19 MiB of working memory. Allocating it afresh on whichever blocking
//! thread runs the job lets the allocator keep a 19 MiB region per thread; instead the
//! hasher owns one buffer per permit and lends it to the job, so memory stays at
//! `SIDAK_HASH_CONCURRENCY × 19 MiB` however many threads take part.

use std::sync::{Arc, Mutex};

use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// OWASP's argon2id parameters: m = 19 MiB, t = 2, p = 1; 32-byte output.
pub fn params() -> Params {
    Params::new(19 * 1024, 2, 1, Some(32)).unwrap_or_default()
}

fn memory_for(params: &Params) -> Vec<Block> {
    vec![Block::default(); params.block_count()]
}

/// Hashes with `memory` as working space; returns the PHC string.
fn hash_with(password: &str, memory: &mut Vec<Block>) -> Result<String, String> {
    let params = params();
    if memory.len() < params.block_count() {
        *memory = memory_for(&params);
    }
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(|e| format!("salt: {e}"))?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt_raw,
            &mut out,
            &mut memory[..params.block_count()],
        )
        .map_err(|e| format!("password hashing failed: {e}"))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(hash.to_string())
}

/// Verifies against a stored PHC string, in constant time, with `memory` as working space.
fn verify_with(password: &str, stored: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(params), Some(salt), Some(expected)) =
        (Params::try_from(&parsed), parsed.salt, parsed.hash)
    else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or_default();
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    if memory.len() < params.block_count() {
        *memory = memory_for(&params);
    }
    let blocks = params.block_count();
    let mut out = vec![0u8; expected.len()];
    let ok = Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt_raw,
            &mut out,
            &mut memory[..blocks],
        )
        .is_ok();
    // `Output` compares in constant time.
    ok && Output::new(&out).is_ok_and(|o| o == expected)
}

/// One-off hashing (command line, first start).
pub fn hash_blocking(password: &str) -> Result<String, String> {
    hash_with(password, &mut Vec::new())
}

pub fn verify_blocking(password: &str, hash: &str) -> bool {
    verify_with(password, hash, &mut Vec::new())
}

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Working buffers kept for reuse while logins queue for a permit (under a burst every
    /// hash would otherwise allocate and free its 19 MiB); released when no login waits.
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    /// Verified against when the user does not exist, so that an unknown username costs
    /// the same time as a wrong password.
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    pub fn new(concurrency: usize) -> Result<Self, String> {
        let concurrency = concurrency.max(1);
        let dummy = hash_blocking("sidak-dummy-password-for-timing")?;
        Ok(PasswordHasher {
            permits: Arc::new(Semaphore::new(concurrency)),
            buffers: Arc::new(Mutex::new((0..concurrency).map(|_| Vec::new()).collect())),
            dummy_hash: dummy.into(),
        })
    }

    /// Runs `job` on the blocking pool with a lent working buffer.
    async fn with_buffer<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        let mut buffer = self
            .buffers
            .lock()
            .map_err(|_| ApiError::internal("hash buffers poisoned"))?
            .pop()
            .unwrap_or_default();
        let (result, buffer) = actix_web::web::block(move || {
            let result = job(&mut buffer);
            (result, buffer)
        })
        .await?;
        if let Ok(mut buffers) = self.buffers.lock() {
            if self.permits.available_permits() > 0 {
                // No login is waiting: give the working memory (19 MiB a buffer) back
                // instead of holding it until the next burst of logins.
                buffers.clear();
            } else {
                buffers.push(buffer);
            }
        }
        Ok(result)
    }

    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.with_buffer(move |mem| hash_with(&password, mem))
            .await?
            .map_err(ApiError::Internal)
    }

    /// Verifies `password` against `hash`, or against the dummy hash when `hash` is `None`
    /// (which then always fails).
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, ApiError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let ok = self
            .with_buffer(move |mem| verify_with(&password, &hash, mem))
            .await?;
        Ok(ok && known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash_blocking("rahasia-sekali").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_blocking("rahasia-sekali", &h));
        assert!(!verify_blocking("rahasia-sekalI", &h));
        assert!(!verify_blocking("rahasia-sekali", "not a hash"));
    }

    #[test]
    fn verifies_hashes_made_by_the_argon2_crate() {
        use argon2::password_hash::PasswordHasher as _;
        let salt = SaltString::generate(&mut OsRng);
        let h = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"kata-sandi-lama", &salt)
        .unwrap()
        .to_string();
        let mut mem = Vec::new();
        assert!(verify_with("kata-sandi-lama", &h, &mut mem));
        assert!(!verify_with("kata-sandi-baru", &h, &mut mem));
        // The buffer is reused for the default parameters.
        let ours = hash_with("kata-sandi-baru", &mut mem).unwrap();
        assert!(verify_with("kata-sandi-baru", &ours, &mut mem));
    }
}
