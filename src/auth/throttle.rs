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
use crate::db::DbPool;

/// The record of one account or one address. Times are milliseconds on one clock: the
/// process's own (in memory) or the database's (shared), never mixed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Entry {
    pub failures: u32,
    /// Attempts reserved and not yet settled (their passwords are being verified).
    pub in_flight: u32,
    /// When reservations not settled by then are forgotten (their process went away).
    pub in_flight_until: i64,
    pub lockouts: u32,
    pub locked_until: Option<i64>,
    pub last_failure: i64,
    /// Addresses: when the current window of failures began.
    pub window_start: i64,
}

/// Entries are pruned once the maps grow past this, so a spray of usernames or addresses
/// cannot grow memory without bound.
const PRUNE_ABOVE: usize = 10_000;

/// What a refused attempt waits when only attempts still being verified fill the allowance:
/// they settle within a password hash's time, after which the answer is known.
const IN_FLIGHT_WAIT_SECS: u64 = 1;

/// How long a reservation counts when it is never settled: its process died (a request
/// abandoned in a live process is settled as a failure when it is dropped).
pub const IN_FLIGHT_TTL_MS: i64 = 60_000;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Failed,
    Succeeded,
    Released,
}

/// The rules, on records and a time: the same whether the records live in this process or
/// in the database.
impl Entry {
    fn live_in_flight(&self, now: i64) -> u32 {
        if now > self.in_flight_until {
            0
        } else {
            self.in_flight
        }
    }

    /// How long an account must wait, if it must.
    pub fn account_wait(&self, now: i64, cfg: &ThrottleConfig) -> Option<i64> {
        match self.locked_until.map(|u| u - now) {
            Some(left) if left > 0 => Some(left),
            _ if self.failures + self.live_in_flight(now) >= cfg.account_max_failures => {
                Some(IN_FLIGHT_WAIT_SECS as i64 * 1000)
            }
            _ => None,
        }
    }

    /// How long an address must wait, if it must.
    pub fn address_wait(&self, now: i64, cfg: &ThrottleConfig) -> Option<i64> {
        let window = ms(cfg.address_window);
        if now - self.window_start >= window {
            return None;
        }
        if self.failures >= cfg.address_max_failures {
            Some(self.window_start + window - now)
        } else if self.failures + self.live_in_flight(now) >= cfg.address_max_failures {
            Some(IN_FLIGHT_WAIT_SECS as i64 * 1000)
        } else {
            None
        }
    }

    fn reserve(&mut self, now: i64) {
        self.in_flight = self.live_in_flight(now) + 1;
        self.in_flight_until = now + IN_FLIGHT_TTL_MS;
    }

    pub fn reserve_account(&mut self, now: i64) {
        if self.last_failure == 0 {
            self.last_failure = now;
        }
        self.reserve(now);
    }

    pub fn reserve_address(&mut self, now: i64, cfg: &ThrottleConfig) {
        if now - self.window_start >= ms(cfg.address_window) {
            self.window_start = now;
            self.failures = 0;
        }
        self.reserve(now);
    }

    /// Settles one of the account's attempts; `true` when the record holds nothing any more.
    pub fn settle_account(&mut self, outcome: Outcome, now: i64, cfg: &ThrottleConfig) -> bool {
        self.in_flight = self.in_flight.saturating_sub(1);
        match outcome {
            Outcome::Failed => {
                // A long quiet period forgives earlier lockouts.
                if now - self.last_failure > ms(cfg.account_max_lockout) * 2 {
                    self.lockouts = 0;
                    self.failures = 0;
                }
                self.last_failure = now;
                self.failures += 1;
                if self.failures >= cfg.account_max_failures {
                    let factor = 2u32.saturating_pow(self.lockouts.min(16));
                    let wait = cfg
                        .account_lockout
                        .saturating_mul(factor)
                        .min(cfg.account_max_lockout.max(cfg.account_lockout));
                    self.locked_until = Some(now + ms(wait));
                    self.lockouts += 1;
                    self.failures = 0;
                }
            }
            Outcome::Succeeded => {
                self.failures = 0;
                self.lockouts = 0;
                self.locked_until = None;
            }
            Outcome::Released => {}
        }
        self.in_flight == 0 && self.failures == 0 && self.locked_until.is_none()
    }

    /// Settles one of the address's attempts; `true` when the record holds nothing any more.
    pub fn settle_address(&mut self, outcome: Outcome, now: i64, cfg: &ThrottleConfig) -> bool {
        self.in_flight = self.in_flight.saturating_sub(1);
        if matches!(outcome, Outcome::Failed) {
            if now - self.window_start >= ms(cfg.address_window) {
                self.window_start = now;
                self.failures = 0;
            }
            self.failures = self.failures.saturating_add(1);
        }
        self.in_flight == 0 && self.failures == 0
    }

    /// Whether the record holds anything (else it can go).
    pub fn is_empty(&self, now: i64) -> bool {
        self.failures == 0 && self.live_in_flight(now) == 0 && self.locked_until.is_none()
    }

    /// When the record no longer holds anything back, and may be dropped.
    pub fn stale_at(&self, cfg: &ThrottleConfig) -> i64 {
        let held = self.locked_until.unwrap_or(0).max(self.in_flight_until);
        held.max(self.last_failure + ms(cfg.account_max_lockout) * 2)
            .max(self.window_start + ms(cfg.address_window))
    }
}

#[derive(Default)]
struct Counters {
    accounts: HashMap<String, Entry>,
    addresses: HashMap<String, Entry>,
}

enum Records {
    /// In this process (SQLite: one server per database file).
    Memory {
        base: Instant,
        counters: Mutex<Counters>,
    },
    /// In the database (PostgreSQL: every server on the database shares them).
    Shared(DbPool),
}

/// The login throttle. An attempt is counted *before* its password is verified: [`begin`]
/// checks both limits and reserves the attempt in one step (under one lock in memory, in one
/// transaction with both records locked in the database), so however many guesses arrive
/// at once — at one server or at several — at most `account_max_failures` of them (and
/// `address_max_failures` per address) are ever verified before the lockout.
///
/// [`begin`]: LoginThrottle::begin
pub struct LoginThrottle {
    cfg: ThrottleConfig,
    records: Records,
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

/// Why an attempt may not start.
#[derive(Debug)]
pub enum Refused {
    /// Seconds to wait.
    Wait(u64),
    /// The shared records could not be read.
    Unavailable(String),
}

impl Attempt<'_> {
    /// The password was wrong (or the user unknown or inactive).
    pub async fn failed(mut self) {
        self.settle(Outcome::Failed).await;
    }

    /// The password was right: the account's record is cleared.
    pub async fn succeeded(mut self) {
        self.settle(Outcome::Succeeded).await;
    }

    /// The attempt did not happen after all; it neither counts nor clears anything.
    pub async fn release(mut self) {
        self.settle(Outcome::Released).await;
    }

    async fn settle(&mut self, outcome: Outcome) {
        if !self.settled {
            self.settled = true;
            self.throttle
                .settle(self.account.clone(), self.address.clone(), outcome)
                .await;
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        self.settled = true;
        match &self.throttle.records {
            Records::Memory { .. } => {
                self.throttle
                    .settle_in_memory(&self.account, &self.address, Outcome::Failed);
            }
            Records::Shared(pool) => {
                // Abandoned mid-request: settled as a failure on the blocking pool.
                let (pool, cfg) = (pool.clone(), self.throttle.cfg.clone());
                let (account, address) = (self.account.clone(), self.address.clone());
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn_blocking(move || {
                        settle_shared(&pool, &cfg, &account, &address, Outcome::Failed)
                    });
                }
            }
        }
    }
}

fn settle_shared(
    pool: &DbPool,
    cfg: &ThrottleConfig,
    account: &str,
    address: &str,
    outcome: Outcome,
) {
    let result = pool.get().map_err(|e| e.to_string()).and_then(|mut conn| {
        crate::db::shared_limits::with_login_records(
            &mut conn,
            account,
            address,
            cfg,
            |now, a, d| {
                a.settle_account(outcome, now, cfg);
                d.settle_address(outcome, now, cfg);
            },
        )
        .map_err(|e| e.to_string())
    });
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not settle a login attempt in the shared records");
    }
}

impl LoginThrottle {
    /// Records kept in this process.
    pub fn new(cfg: ThrottleConfig) -> Self {
        LoginThrottle {
            cfg,
            records: Records::Memory {
                base: Instant::now(),
                counters: Mutex::new(Counters::default()),
            },
        }
    }

    /// Records kept in the database, shared by every server on it.
    pub fn shared(cfg: ThrottleConfig, pool: DbPool) -> Self {
        LoginThrottle {
            cfg,
            records: Records::Shared(pool),
        }
    }

    pub fn is_shared(&self) -> bool {
        matches!(self.records, Records::Shared(_))
    }

    /// Reserves one attempt for `account` from `address`, or refuses: the account is
    /// locked, the address is held back, or attempts already in flight fill what is left of
    /// either allowance.
    pub async fn begin(&self, account: &str, address: &str) -> Result<Attempt<'_>, Refused> {
        let cfg = self.cfg.clone();
        let decide = move |now: i64, a: &mut Entry, d: &mut Entry| -> Option<i64> {
            let wait = a
                .account_wait(now, &cfg)
                .into_iter()
                .chain(d.address_wait(now, &cfg))
                .max();
            if wait.is_none() {
                a.reserve_account(now);
                d.reserve_address(now, &cfg);
            }
            wait
        };
        let wait = match &self.records {
            Records::Memory { base, counters } => {
                let now = ms(base.elapsed());
                let mut c = lock(counters);
                self.prune(&mut c, now);
                let mut a = c.accounts.get(account).copied().unwrap_or_default();
                let mut d = c.addresses.get(address).copied().unwrap_or_default();
                let wait = decide(now, &mut a, &mut d);
                if wait.is_none() {
                    c.accounts.insert(account.to_string(), a);
                    c.addresses.insert(address.to_string(), d);
                }
                wait
            }
            Records::Shared(pool) => {
                let (pool, cfg) = (pool.clone(), self.cfg.clone());
                let (account_key, address_key) = (account.to_string(), address.to_string());
                tokio::task::spawn_blocking(move || {
                    let mut conn = pool.get().map_err(|e| e.to_string())?;
                    crate::db::shared_limits::with_login_records(
                        &mut conn,
                        &account_key,
                        &address_key,
                        &cfg,
                        decide,
                    )
                    .map_err(|e| e.to_string())
                })
                .await
                .map_err(|e| Refused::Unavailable(e.to_string()))?
                .map_err(Refused::Unavailable)?
            }
        };
        match wait {
            Some(w) => Err(Refused::Wait(ceil_secs(Duration::from_millis(
                u64::try_from(w).unwrap_or(0),
            )))),
            None => Ok(Attempt {
                throttle: self,
                account: account.to_string(),
                address: address.to_string(),
                settled: false,
            }),
        }
    }

    async fn settle(&self, account: String, address: String, outcome: Outcome) {
        match &self.records {
            Records::Memory { .. } => self.settle_in_memory(&account, &address, outcome),
            Records::Shared(pool) => {
                let (pool, cfg) = (pool.clone(), self.cfg.clone());
                let _ = tokio::task::spawn_blocking(move || {
                    settle_shared(&pool, &cfg, &account, &address, outcome)
                })
                .await;
            }
        }
    }

    fn settle_in_memory(&self, account: &str, address: &str, outcome: Outcome) {
        let Records::Memory { base, counters } = &self.records else {
            return;
        };
        let now = ms(base.elapsed());
        let mut c = lock(counters);
        if let Some(entry) = c.accounts.get_mut(account) {
            if entry.settle_account(outcome, now, &self.cfg) {
                c.accounts.remove(account);
            }
        }
        if let Some(entry) = c.addresses.get_mut(address) {
            if entry.settle_address(outcome, now, &self.cfg) {
                c.addresses.remove(address);
            }
        }
    }

    /// Drops records that no longer hold anything back (never one with attempts in flight).
    fn prune(&self, c: &mut Counters, now: i64) {
        if c.accounts.len() > PRUNE_ABOVE {
            c.accounts
                .retain(|_, e| e.live_in_flight(now) > 0 || e.stale_at(&self.cfg) > now);
        }
        if c.addresses.len() > PRUNE_ABOVE {
            let window = ms(self.cfg.address_window);
            c.addresses
                .retain(|_, e| e.live_in_flight(now) > 0 || now - e.window_start < window);
        }
    }
}

fn lock(counters: &Mutex<Counters>) -> MutexGuard<'_, Counters> {
    // The counters stay consistent under a panic elsewhere: every change is one step.
    counters
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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

    async fn fail(t: &LoginThrottle, account: &str, address: &str) {
        t.begin(account, address)
            .await
            .expect("allowed")
            .failed()
            .await;
    }

    fn wait(r: Result<Attempt<'_>, Refused>) -> Option<u64> {
        match r {
            Err(Refused::Wait(s)) => Some(s),
            _ => None,
        }
    }

    #[tokio::test]
    async fn account_locks_then_releases() {
        let t = throttle();
        for _ in 0..3 {
            fail(&t, "budi", "1.2.3.4").await;
        }
        assert!(t.begin("budi", "9.9.9.9").await.is_err());
        assert!(t.begin("sari", "9.9.9.9").await.is_ok());
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(t.begin("budi", "9.9.9.9").await.is_ok());
    }

    #[tokio::test]
    async fn attempts_in_flight_count_before_they_are_verified() {
        let t = throttle();
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(t.begin("budi", "1.2.3.4").await.expect("allowed"));
        }
        // Three guesses are being verified: a fourth is refused at once, from anywhere.
        assert_eq!(wait(t.begin("budi", "9.9.9.9").await), Some(1));
        drop(held); // abandoned unsettled: three failures, the account locks
        assert!(t.begin("budi", "9.9.9.9").await.is_err());
    }

    #[tokio::test]
    async fn a_released_attempt_neither_counts_nor_clears() {
        let t = throttle();
        fail(&t, "budi", "a").await;
        t.begin("budi", "a").await.expect("allowed").release().await;
        fail(&t, "budi", "a").await;
        // Two failures of three: one more is allowed, then the lock.
        fail(&t, "budi", "a").await;
        assert!(t.begin("budi", "a").await.is_err());
    }

    #[tokio::test]
    async fn address_counts_failures_only() {
        let t = throttle();
        for i in 0..5 {
            fail(&t, &format!("user{i}"), "1.2.3.4").await;
        }
        assert!(t.begin("someone", "1.2.3.4").await.is_err());
        assert!(t.begin("someone", "5.6.7.8").await.is_ok());
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(t.begin("someone", "1.2.3.4").await.is_ok());
    }

    #[tokio::test]
    async fn address_allowance_includes_attempts_in_flight() {
        let t = throttle();
        let mut held = Vec::new();
        for i in 0..5 {
            held.push(
                t.begin(&format!("user{i}"), "1.2.3.4")
                    .await
                    .expect("allowed"),
            );
        }
        assert!(t.begin("other", "1.2.3.4").await.is_err());
        for a in held {
            a.succeeded().await;
        }
        // Successes do not count against an address.
        assert!(t.begin("other", "1.2.3.4").await.is_ok());
    }

    #[tokio::test]
    async fn success_clears_account() {
        let t = throttle();
        fail(&t, "budi", "a").await;
        fail(&t, "budi", "a").await;
        t.begin("budi", "a")
            .await
            .expect("allowed")
            .succeeded()
            .await;
        fail(&t, "budi", "a").await;
        assert!(t.begin("budi", "b").await.is_ok());
    }

    #[test]
    fn reservations_of_a_vanished_process_expire() {
        let cfg = ThrottleConfig {
            account_max_failures: 3,
            ..ThrottleConfig::default()
        };
        let mut e = Entry::default();
        for _ in 0..3 {
            e.reserve_account(1_000);
        }
        assert!(e.account_wait(1_000, &cfg).is_some());
        assert!(e.account_wait(1_000 + IN_FLIGHT_TTL_MS + 1, &cfg).is_none());
    }
}
