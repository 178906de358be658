//! Login throttling, in memory (per process).
//!
//! * Per account (keyed by the normalised username, known or not, so that the answer does
//!   not reveal which usernames exist): after N consecutive failures the account is locked
//!   for a while; each further lockout doubles the time, up to a ceiling. A successful login
//!   clears the account's record.
//! * Per client address: only failed attempts count, in a fixed window. Successful logins
//!   neither count nor are needed to clear it, so a city hall's inspectors behind one public
//!   address are only ever held back once that address has produced a flood of failures —
//!   far above what honest typing does (100 in 15 minutes by default).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::ThrottleConfig;

#[derive(Debug, Clone, Copy)]
struct AccountEntry {
    failures: u32,
    lockouts: u32,
    locked_until: Option<Instant>,
    last_failure: Instant,
}

#[derive(Debug, Clone, Copy)]
struct AddressEntry {
    window_start: Instant,
    failures: u32,
}

/// Entries are pruned once the maps grow past this, so a spray of usernames or addresses
/// cannot grow memory without bound.
const PRUNE_ABOVE: usize = 10_000;

pub struct LoginThrottle {
    cfg: ThrottleConfig,
    accounts: Mutex<HashMap<String, AccountEntry>>,
    addresses: Mutex<HashMap<String, AddressEntry>>,
}

impl LoginThrottle {
    pub fn new(cfg: ThrottleConfig) -> Self {
        LoginThrottle {
            cfg,
            accounts: Mutex::new(HashMap::new()),
            addresses: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` when the account or the address is locked now.
    pub fn check(&self, account: &str, address: &str) -> Result<(), u64> {
        let now = Instant::now();
        let account_wait = self
            .accounts
            .lock()
            .ok()
            .and_then(|m| m.get(account).and_then(|e| e.locked_until))
            .and_then(|until| until.checked_duration_since(now));
        let address_wait = self.addresses.lock().ok().and_then(|m| {
            m.get(address).and_then(|e| {
                let window_end = e.window_start + self.cfg.address_window;
                (e.failures >= self.cfg.address_max_failures && window_end > now)
                    .then(|| window_end - now)
            })
        });
        match account_wait.into_iter().chain(address_wait).max() {
            Some(wait) => Err(ceil_secs(wait)),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, account: &str, address: &str) {
        let now = Instant::now();
        if let Ok(mut accounts) = self.accounts.lock() {
            if accounts.len() > PRUNE_ABOVE {
                let stale = self.cfg.account_max_lockout * 2;
                accounts.retain(|_, e| {
                    e.locked_until.is_some_and(|u| u > now)
                        || now.duration_since(e.last_failure) < stale
                });
            }
            let entry = accounts.entry(account.to_string()).or_insert(AccountEntry {
                failures: 0,
                lockouts: 0,
                locked_until: None,
                last_failure: now,
            });
            // A long quiet period forgives earlier lockouts.
            if now.duration_since(entry.last_failure) > self.cfg.account_max_lockout * 2 {
                entry.lockouts = 0;
                entry.failures = 0;
            }
            entry.last_failure = now;
            entry.failures += 1;
            if entry.failures >= self.cfg.account_max_failures {
                let factor = 2u32.saturating_pow(entry.lockouts.min(16));
                let wait = self
                    .cfg
                    .account_lockout
                    .saturating_mul(factor)
                    .min(self.cfg.account_max_lockout.max(self.cfg.account_lockout));
                entry.locked_until = Some(now + wait);
                entry.lockouts += 1;
                entry.failures = 0;
            }
        }
        if let Ok(mut addresses) = self.addresses.lock() {
            if addresses.len() > PRUNE_ABOVE {
                addresses
                    .retain(|_, e| now.duration_since(e.window_start) < self.cfg.address_window);
            }
            let entry = addresses
                .entry(address.to_string())
                .or_insert(AddressEntry {
                    window_start: now,
                    failures: 0,
                });
            if now.duration_since(entry.window_start) >= self.cfg.address_window {
                *entry = AddressEntry {
                    window_start: now,
                    failures: 0,
                };
            }
            entry.failures = entry.failures.saturating_add(1);
        }
    }

    pub fn record_success(&self, account: &str) {
        if let Ok(mut accounts) = self.accounts.lock() {
            accounts.remove(account);
        }
    }
}

fn ceil_secs(d: Duration) -> u64 {
    let s = d.as_secs();
    if d.subsec_nanos() > 0 {
        s + 1
    } else {
        s.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(ThrottleConfig {
            account_max_failures: 3,
            account_lockout: Duration::from_millis(200),
            account_max_lockout: Duration::from_secs(1),
            address_max_failures: 5,
            address_window: Duration::from_millis(300),
        })
    }

    #[test]
    fn account_locks_then_releases() {
        let t = throttle();
        for _ in 0..3 {
            assert!(t.check("budi", "1.2.3.4").is_ok());
            t.record_failure("budi", "1.2.3.4");
        }
        assert!(t.check("budi", "9.9.9.9").is_err());
        assert!(t.check("sari", "9.9.9.9").is_ok());
        std::thread::sleep(Duration::from_millis(250));
        assert!(t.check("budi", "9.9.9.9").is_ok());
    }

    #[test]
    fn address_counts_failures_only() {
        let t = throttle();
        for i in 0..5 {
            t.record_failure(&format!("user{i}"), "1.2.3.4");
        }
        assert!(t.check("someone", "1.2.3.4").is_err());
        assert!(t.check("someone", "5.6.7.8").is_ok());
        std::thread::sleep(Duration::from_millis(350));
        assert!(t.check("someone", "1.2.3.4").is_ok());
    }

    #[test]
    fn success_clears_account() {
        let t = throttle();
        t.record_failure("budi", "a");
        t.record_failure("budi", "a");
        t.record_success("budi");
        t.record_failure("budi", "a");
        assert!(t.check("budi", "b").is_ok());
    }
}
