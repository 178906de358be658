//! Login throttling, in memory (per process). Attempts are counted before they are
//! verified, so a burst of concurrent guesses gets no more than a slow series would.
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
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::ThrottleConfig;

#[derive(Debug, Clone, Copy)]
struct AccountEntry {
    failures: u32,
    /// Attempts reserved and not yet settled (their passwords are being verified).
    in_flight: u32,
    lockouts: u32,
    locked_until: Option<Instant>,
    last_failure: Instant,
}

#[derive(Debug, Clone, Copy)]
struct AddressEntry {
    window_start: Instant,
    failures: u32,
    in_flight: u32,
}

/// Entries are pruned once the maps grow past this, so a spray of usernames or addresses
/// cannot grow memory without bound.
const PRUNE_ABOVE: usize = 10_000;

/// What a refused attempt waits when only attempts still being verified fill the allowance:
/// they settle within a password hash's time, after which the answer is known.
const IN_FLIGHT_WAIT_SECS: u64 = 1;

#[derive(Default)]
struct Counters {
    accounts: HashMap<String, AccountEntry>,
    addresses: HashMap<String, AddressEntry>,
}

/// The login throttle. An attempt is counted *before* its password is verified: [`begin`]
/// checks both limits and reserves the attempt under one lock, so however many guesses
/// arrive at once, at most `account_max_failures` of them (and `address_max_failures` per
/// address) are ever verified before the lockout.
///
/// [`begin`]: LoginThrottle::begin
pub struct LoginThrottle {
    cfg: ThrottleConfig,
    counters: Mutex<Counters>,
}

/// One reserved attempt. Settle it with [`Attempt::failed`] or [`Attempt::succeeded`], or
/// hand it back with [`Attempt::release`] when the request failed for a reason that is not
/// the guess (the database was unavailable). An attempt dropped unsettled — the request was
/// abandoned while its password was being verified — counts as a failure, so that cutting
/// connections cannot buy extra guesses.
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    account: String,
    address: String,
    settled: bool,
}

enum Outcome {
    Failed,
    Succeeded,
    Released,
}

impl Attempt<'_> {
    /// The password was wrong (or the user unknown or inactive).
    pub fn failed(mut self) {
        self.settle(Outcome::Failed);
    }

    /// The password was right: the account's record is cleared.
    pub fn succeeded(mut self) {
        self.settle(Outcome::Succeeded);
    }

    /// The attempt did not happen after all; it neither counts nor clears anything.
    pub fn release(mut self) {
        self.settle(Outcome::Released);
    }

    fn settle(&mut self, outcome: Outcome) {
        if !self.settled {
            self.settled = true;
            self.throttle
                .settle(&self.account, &self.address, outcome, Instant::now());
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.settle(Outcome::Failed);
    }
}

impl LoginThrottle {
    pub fn new(cfg: ThrottleConfig) -> Self {
        LoginThrottle {
            cfg,
            counters: Mutex::new(Counters::default()),
        }
    }

    fn counters(&self) -> MutexGuard<'_, Counters> {
        // The counters stay consistent under a panic elsewhere: every change is one step.
        self.counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reserves one attempt for `account` from `address`, or `Err(seconds to wait)` when
    /// the account is locked, the address is held back, or attempts already in flight fill
    /// what is left of either allowance.
    pub fn begin(&self, account: &str, address: &str) -> Result<Attempt<'_>, u64> {
        let now = Instant::now();
        let mut c = self.counters();
        self.prune(&mut c, now);
        let mut wait: Option<Duration> = None;
        let mut longest = |d: Duration| wait = Some(wait.map_or(d, |w| w.max(d)));

        let acct = c.accounts.get(account).copied();
        if let Some(e) = acct {
            match e.locked_until.and_then(|u| u.checked_duration_since(now)) {
                Some(left) if !left.is_zero() => longest(left),
                _ if e.failures + e.in_flight >= self.cfg.account_max_failures => {
                    longest(Duration::from_secs(IN_FLIGHT_WAIT_SECS))
                }
                _ => {}
            }
        }
        let addr = c
            .addresses
            .get(address)
            .copied()
            .filter(|e| now.duration_since(e.window_start) < self.cfg.address_window);
        if let Some(e) = addr {
            if e.failures >= self.cfg.address_max_failures {
                longest((e.window_start + self.cfg.address_window) - now);
            } else if e.failures + e.in_flight >= self.cfg.address_max_failures {
                longest(Duration::from_secs(IN_FLIGHT_WAIT_SECS));
            }
        }
        if let Some(w) = wait {
            return Err(ceil_secs(w));
        }

        let entry = c
            .accounts
            .entry(account.to_string())
            .or_insert(AccountEntry {
                failures: 0,
                in_flight: 0,
                lockouts: 0,
                locked_until: None,
                last_failure: now,
            });
        entry.in_flight += 1;
        let entry = c
            .addresses
            .entry(address.to_string())
            .or_insert(AddressEntry {
                window_start: now,
                failures: 0,
                in_flight: 0,
            });
        if now.duration_since(entry.window_start) >= self.cfg.address_window {
            entry.window_start = now;
            entry.failures = 0;
        }
        entry.in_flight += 1;
        Ok(Attempt {
            throttle: self,
            account: account.to_string(),
            address: address.to_string(),
            settled: false,
        })
    }

    fn settle(&self, account: &str, address: &str, outcome: Outcome, now: Instant) {
        let mut c = self.counters();
        if let Some(entry) = c.accounts.get_mut(account) {
            entry.in_flight = entry.in_flight.saturating_sub(1);
            match outcome {
                Outcome::Failed => {
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
                Outcome::Succeeded => {
                    entry.failures = 0;
                    entry.lockouts = 0;
                    entry.locked_until = None;
                }
                Outcome::Released => {}
            }
            if entry.in_flight == 0 && entry.failures == 0 && entry.locked_until.is_none() {
                c.accounts.remove(account);
            }
        }
        if let Some(entry) = c.addresses.get_mut(address) {
            entry.in_flight = entry.in_flight.saturating_sub(1);
            if matches!(outcome, Outcome::Failed) {
                if now.duration_since(entry.window_start) >= self.cfg.address_window {
                    entry.window_start = now;
                    entry.failures = 0;
                }
                entry.failures = entry.failures.saturating_add(1);
            }
            if entry.in_flight == 0 && entry.failures == 0 {
                c.addresses.remove(address);
            }
        }
    }

    /// Drops records that no longer hold anything back (never one with attempts in flight).
    fn prune(&self, c: &mut Counters, now: Instant) {
        if c.accounts.len() > PRUNE_ABOVE {
            let stale = self.cfg.account_max_lockout * 2;
            c.accounts.retain(|_, e| {
                e.in_flight > 0
                    || e.locked_until.is_some_and(|u| u > now)
                    || now.duration_since(e.last_failure) < stale
            });
        }
        if c.addresses.len() > PRUNE_ABOVE {
            let window = self.cfg.address_window;
            c.addresses
                .retain(|_, e| e.in_flight > 0 || now.duration_since(e.window_start) < window);
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
            t.begin("budi", "1.2.3.4").expect("allowed").failed();
        }
        assert!(t.begin("budi", "9.9.9.9").is_err());
        assert!(t.begin("sari", "9.9.9.9").is_ok());
        std::thread::sleep(Duration::from_millis(250));
        assert!(t.begin("budi", "9.9.9.9").is_ok());
    }

    #[test]
    fn attempts_in_flight_count_before_they_are_verified() {
        let t = throttle();
        let held: Vec<_> = (0..3)
            .map(|_| t.begin("budi", "1.2.3.4").expect("allowed"))
            .collect();
        // Three guesses are being verified: a fourth is refused at once, from anywhere.
        assert_eq!(t.begin("budi", "9.9.9.9").err(), Some(1));
        drop(held); // abandoned unsettled: three failures, the account locks
        assert!(t.begin("budi", "9.9.9.9").is_err());
    }

    #[test]
    fn a_released_attempt_neither_counts_nor_clears() {
        let t = throttle();
        t.begin("budi", "a").expect("allowed").failed();
        t.begin("budi", "a").expect("allowed").release();
        t.begin("budi", "a").expect("allowed").failed();
        // Two failures of three: one more is allowed, then the lock.
        t.begin("budi", "a").expect("allowed").failed();
        assert!(t.begin("budi", "a").is_err());
    }

    #[test]
    fn address_counts_failures_only() {
        let t = throttle();
        for i in 0..5 {
            t.begin(&format!("user{i}"), "1.2.3.4")
                .expect("allowed")
                .failed();
        }
        assert!(t.begin("someone", "1.2.3.4").is_err());
        assert!(t.begin("someone", "5.6.7.8").is_ok());
        std::thread::sleep(Duration::from_millis(350));
        assert!(t.begin("someone", "1.2.3.4").is_ok());
    }

    #[test]
    fn address_allowance_includes_attempts_in_flight() {
        let t = throttle();
        let held: Vec<_> = (0..5)
            .map(|i| t.begin(&format!("user{i}"), "1.2.3.4").expect("allowed"))
            .collect();
        assert!(t.begin("other", "1.2.3.4").is_err());
        for a in held {
            a.succeeded();
        }
        // Successes do not count against an address.
        assert!(t.begin("other", "1.2.3.4").is_ok());
    }

    #[test]
    fn success_clears_account() {
        let t = throttle();
        t.begin("budi", "a").expect("allowed").failed();
        t.begin("budi", "a").expect("allowed").failed();
        t.begin("budi", "a").expect("allowed").succeeded();
        t.begin("budi", "a").expect("allowed").failed();
        assert!(t.begin("budi", "b").is_ok());
    }
}
