//! Delivering webhook events: a worker that runs on one server at a time (the `webhooks`
//! lease, as other periodic work in [`super::periodic`]) and, every poll:
//!
//! 1. about once a minute, raises `follow_up.overdue` for each open or in-review follow-up
//!    whose due date has passed (local time), once per follow-up and due date, and removes
//!    finished deliveries and delivered events past [`Settings::retention`];
//! 2. reads the outbox past its cursor and makes one pending delivery per event and active
//!    subscription to its type, in one transaction with the cursor's move;
//! 3. sends the deliveries that are due, a few at a time, signed per the Standard Webhooks
//!    specification, and records each attempt: delivered on a 2xx; on a timeout, a
//!    connection error, 408, 429 or 5xx tried again after the retry schedule's next wait (or
//!    the receiver's `Retry-After`, when longer); failed when the schedule runs out or the
//!    receiver refuses it (another 4xx, or a redirect to another host).
//!
//! A delivery stays pending until its attempt is recorded, so a server that dies between
//! sending and recording sends it again (at least once, with the same `webhook-id`, which
//! receivers deduplicate on). Nothing here runs on the request path: requests only append
//! to the outbox. A subscription that has had no success for [`Settings::disable_after`]
//! is deactivated, and says why.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};
use futures_util::StreamExt;
use uuid::Uuid;

use crate::db::deliveries::{self as store, Attempted, DeliveryRow, Due};
use crate::db::{outbox, webhooks as subscriptions, write_tx, DbConnection, DbPool, DbUuid};
use crate::domain::events::DeliveryStatus;
use crate::domain::webhook_signature::{signature_header, Secret};
use crate::error::ApiError;

/// The retry schedule's default: waits after the first, second, … failed attempt.
pub const DEFAULT_RETRIES: &str = "5s,30s,2m,10m,1h,6h,24h";
/// How much of a receiver's answer is read (the rest is dropped with the connection).
const RESPONSE_CAP: usize = 64 * 1024;
/// How much of it the delivery log keeps.
const RESPONSE_KEPT: usize = 1024;
/// Events read from the outbox per transaction.
const FANOUT_BATCH: i64 = 500;
/// Same-host redirects followed, at most.
const MAX_REDIRECTS: usize = 3;

/// How deliveries are made (`SIDAK_WEBHOOK_*`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// How often the worker looks for work (`SIDAK_WEBHOOK_POLL_MS`, default 1000).
    pub poll: Duration,
    /// The whole of one attempt: connecting, sending, reading the answer
    /// (`SIDAK_WEBHOOK_TIMEOUT_SECONDS`, default 10).
    pub timeout: Duration,
    /// Waits after each failed attempt; when they run out the delivery fails
    /// (`SIDAK_WEBHOOK_RETRY_SCHEDULE`, default [`DEFAULT_RETRIES`]).
    pub retries: Vec<Duration>,
    /// Deliver to loopback, link-local and private addresses (`SIDAK_WEBHOOK_ALLOW_PRIVATE`).
    pub allow_private: bool,
    /// A subscription with no success for this long is deactivated
    /// (`SIDAK_WEBHOOK_DISABLE_AFTER_HOURS`, default 72).
    pub disable_after: Duration,
    /// Attempts in flight at once (`SIDAK_WEBHOOK_CONCURRENCY`, default 8).
    pub concurrency: usize,
    /// Delivered and failed deliveries, and events none waits for, are removed this long
    /// after the event (`SIDAK_WEBHOOK_RETENTION_DAYS`, default 30).
    pub retention: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            poll: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            retries: parse_schedule(DEFAULT_RETRIES).unwrap_or_default(),
            allow_private: false,
            disable_after: Duration::from_secs(72 * 3600),
            concurrency: 8,
            retention: Duration::from_secs(30 * 86_400),
        }
    }
}

/// `5s,30s,2m,…`: whole numbers with `ms`, `s`, `m`, `h` or `d`; at least one, at most 20.
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    let waits: Vec<Duration> = text
        .split(',')
        .map(|part| {
            let part = part.trim();
            let digits = part.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            let unit = &part[digits.len()..];
            let n: u64 = digits
                .parse()
                .map_err(|_| format!("`{part}` is not a number with a unit"))?;
            let ms = match unit {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(format!("`{part}`: the unit must be ms, s, m, h or d")),
            };
            Ok(Duration::from_millis(n.saturating_mul(ms)))
        })
        .collect::<Result<_, String>>()?;
    if waits.is_empty() || waits.len() > 20 {
        return Err("must list between 1 and 20 waits".into());
    }
    Ok(waits)
}

/// Whether deliveries may go to `ip`: not loopback, link-local, private, shared (carrier
/// NAT), unspecified, broadcast or multicast.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// A name resolved to no address deliveries may go to.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Resolves names and keeps only the addresses deliveries may go to, so the connection is
/// made to an address that was checked (a second lookup cannot swap it).
struct Guarded {
    allow_private: bool,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if allowed.is_empty() {
                let found: Vec<String> = all.iter().map(|a| a.ip().to_string()).collect();
                return Err(Box::new(Refused(format!(
                    "{host} resolves only to addresses deliveries may not go to ({}); \
                     SIDAK_WEBHOOK_ALLOW_PRIVATE=true allows loopback and private addresses",
                    found.join(", ")
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client deliveries are sent with: its own resolver, no proxy, redirects only
/// within the same scheme, host and port, and the attempt's timeout.
pub fn client(settings: &Settings) -> Result<reqwest::Client, String> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt.previous().first().is_some_and(|first| {
            let next = attempt.url();
            first.scheme() == next.scheme()
                && first.host_str() == next.host_str()
                && first.port_or_known_default() == next.port_or_known_default()
        });
        if same && attempt.previous().len() <= MAX_REDIRECTS {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    reqwest::Client::builder()
        .dns_resolver(std::sync::Arc::new(Guarded {
            allow_private: settings.allow_private,
        }))
        .no_proxy()
        .redirect(policy)
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!("Sidak-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot make the webhook HTTP client: {e}"))
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Delivered,
    /// Worth trying again (after at least this, when the receiver said).
    Retry(Option<Duration>),
    /// The receiver refused it; trying again would not help.
    Refused,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub verdict: Verdict,
    pub status: Option<u16>,
    pub body: Option<String>,
    pub error: Option<String>,
}

/// Text a database column can hold: no NUL, at most `max` bytes, cut at a character.
fn storable(text: &str, max: usize) -> String {
    let clean: String = text.chars().filter(|c| *c != '\0').collect();
    if clean.len() <= max {
        return clean;
    }
    let mut end = max;
    while !clean.is_char_boundary(end) {
        end -= 1;
    }
    clean[..end].to_string()
}

/// The error and its causes, in one line.
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    storable(&text, 500)
}

/// `Retry-After`: seconds, or an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&Utc) - Utc::now()).to_std().ok()
}

/// The secrets that sign now: the current one, and the previous one during its grace.
fn signing_secrets(row: &subscriptions::WebhookRow, now: NaiveDateTime) -> Vec<Secret> {
    let mut secrets: Vec<Secret> = Secret::parse(&row.secret).into_iter().collect();
    if let (Some(previous), Some(until)) = (&row.previous_secret, row.previous_valid_until) {
        if until > now {
            secrets.extend(Secret::parse(previous));
        }
    }
    secrets
}

/// One attempt at `due`.
pub async fn attempt(client: &reqwest::Client, settings: &Settings, due: &Due) -> Outcome {
    let failed = |verdict, error: String| Outcome {
        verdict,
        status: None,
        body: None,
        error: Some(storable(&error, 500)),
    };
    // A name goes through the resolver above; an address written in the URL is checked here.
    let url = match url::Url::parse(&due.webhook.url) {
        Ok(u) => u,
        Err(e) => return failed(Verdict::Refused, format!("not an address: {e}")),
    };
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        _ => None,
    };
    if let Some(ip) = literal.filter(|ip| !settings.allow_private && !is_public(*ip)) {
        return failed(
            Verdict::Retry(None),
            format!(
                "{ip} is a loopback, link-local or private address; \
                 SIDAK_WEBHOOK_ALLOW_PRIVATE=true allows it"
            ),
        );
    }
    let timestamp = Utc::now().timestamp();
    let secrets = signing_secrets(&due.webhook, crate::db::now());
    let signature = signature_header(&secrets, &due.event_id, timestamp, due.payload.as_bytes());
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &due.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(due.payload.clone())
        .send()
        .await;
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => return failed(Verdict::Retry(None), describe(&e)),
    };
    let status = response.status().as_u16();
    let wait = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(retry_after);
    let mut kept = Vec::new();
    let mut read = 0usize;
    let mut body_error = None;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                read += chunk.len();
                let room = RESPONSE_KEPT.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if read > RESPONSE_CAP {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                body_error = Some(describe(&e));
                break;
            }
        }
    }
    let body = Some(storable(&String::from_utf8_lossy(&kept), RESPONSE_KEPT));
    let verdict = match status {
        200..=299 => Verdict::Delivered,
        408 | 429 | 500..=599 => Verdict::Retry(wait),
        _ => Verdict::Refused,
    };
    let error = match (status, body_error) {
        (300..=399, _) => Some(format!(
            "answered {status}: redirects are followed only within the same host; \
             point the subscription at the final address"
        )),
        (200..=299, _) => None,
        (_, Some(e)) => Some(format!("answered {status}; reading the answer: {e}")),
        _ => Some(format!("answered {status}")),
    };
    Outcome {
        verdict,
        status: Some(status),
        body,
        error,
    }
}

fn millis(t: Duration) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
}

/// What recording `outcome` of the delivery's next attempt at `now_ms` writes.
pub fn next_state(
    row: &DeliveryRow,
    outcome: &Outcome,
    retries: &[Duration],
    now_ms: i64,
) -> Attempted {
    let attempts = row.attempts.saturating_add(1);
    let (status, next) = match &outcome.verdict {
        Verdict::Delivered => (DeliveryStatus::Delivered, None),
        Verdict::Refused => (DeliveryStatus::Failed, None),
        Verdict::Retry(asked) => {
            match retries.get(usize::try_from(attempts - 1).unwrap_or(usize::MAX)) {
                None => (DeliveryStatus::Failed, None),
                Some(wait) => {
                    // The receiver's Retry-After when longer, up to a day.
                    let asked =
                        asked.map_or(Duration::ZERO, |a| a.min(Duration::from_secs(86_400)));
                    (
                        DeliveryStatus::Pending,
                        Some(now_ms.saturating_add(millis((*wait).max(asked)))),
                    )
                }
            }
        }
    };
    Attempted {
        status,
        attempts,
        next_attempt_at: next,
        last_attempt_at: Some(now_ms),
        delivered_at: (status == DeliveryStatus::Delivered).then_some(now_ms),
        response_status: outcome.status.map(i32::from),
        response_body: outcome.body.clone(),
        error: outcome.error.clone(),
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Makes the deliveries of the events past the outbox cursor (at most [`FANOUT_BATCH`]
/// events); returns how many events were read.
pub fn fan_out(conn: &mut DbConnection) -> Result<usize, ApiError> {
    write_tx(conn, |conn| {
        let (_, events) = store::unread(conn, FANOUT_BATCH)?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(0);
        };
        let hooks: Vec<(DbUuid, Vec<crate::domain::events::EventType>, i64)> =
            subscriptions::all(conn)?
                .into_iter()
                .filter(|h| h.active)
                .map(|h| {
                    (
                        h.id,
                        super::webhooks::types_from_text(&h.event_types),
                        h.created_at.and_utc().timestamp_millis(),
                    )
                })
                .collect();
        let at = now_ms();
        let mut rows = Vec::new();
        for event in &events {
            for (id, types, created) in &hooks {
                // A subscription gets what happens from its creation on.
                if types.contains(&event.event_type) && event.occurred_at >= *created {
                    rows.push(DeliveryRow {
                        id: DbUuid(Uuid::new_v4()),
                        webhook_id: *id,
                        event_seq: event.seq,
                        status: DeliveryStatus::Pending,
                        attempts: 0,
                        created_at: at,
                        next_attempt_at: Some(at),
                        last_attempt_at: None,
                        delivered_at: None,
                        response_status: None,
                        response_body: None,
                        error: None,
                    });
                }
            }
        }
        store::insert_all(conn, &rows)?;
        store::set_cursor(conn, last)?;
        Ok(events.len())
    })
}

/// Raises `follow_up.overdue` for the follow-ups that fell overdue by `today` (local
/// date), each once per due date; returns how many.
pub fn raise_overdue(conn: &mut DbConnection, today: chrono::NaiveDate) -> Result<usize, ApiError> {
    write_tx(conn, |conn| {
        let due = store::newly_overdue(conn, today, 200)?;
        let mut events = Vec::with_capacity(due.len());
        for row in &due {
            store::mark_overdue(conn, row.id, row.due_date)?;
            // Without a current placement the official may not be found that way: the
            // event then goes without the NIP and name rather than not at all.
            let official = match crate::db::reference::find_official(conn, row.official_id) {
                Ok(o) => Some(o.official),
                Err(diesel::result::Error::NotFound) => None,
                Err(e) => return Err(e.into()),
            };
            events.push(super::events::follow_up_overdue(
                row,
                official
                    .as_ref()
                    .map(|o| (o.nip.as_str(), o.full_name.as_str())),
                today,
            ));
        }
        outbox::append_all(conn, &events)?;
        Ok(due.len())
    })
}

/// Records a round's attempts (each `outcome` of the attempt at `due` made at `at`) in one
/// transaction, with each subscription's failing streak (turning it off past
/// `disable_after`); returns where each delivery now stands.
fn record(
    conn: &mut DbConnection,
    settings: &Settings,
    sent: &[(Due, Outcome, i64)],
) -> Result<Vec<DeliveryStatus>, ApiError> {
    let next: Vec<Attempted> = sent
        .iter()
        .map(|(due, outcome, at)| next_state(&due.delivery, outcome, &settings.retries, *at))
        .collect();
    // Each subscription's streak once per round: alive when any of its attempts succeeded,
    // else failing with its last attempt's error.
    let mut streaks: Vec<(&Due, bool, Option<&str>, i64)> = Vec::new();
    for (due, outcome, at) in sent {
        let ok = outcome.verdict == Verdict::Delivered;
        match streaks
            .iter_mut()
            .find(|s| s.0.webhook.id == due.webhook.id)
        {
            Some(s) => {
                s.1 |= ok;
                s.2 = outcome.error.as_deref().or(s.2);
                s.3 = s.3.max(*at);
            }
            None => streaks.push((due, ok, outcome.error.as_deref(), *at)),
        }
    }
    let turned_off = write_tx(conn, |conn| {
        let mut recorded = std::collections::HashSet::new();
        for ((due, _, _), next) in sent.iter().zip(&next) {
            // Sent again by hand, or its subscription deleted, meanwhile: nothing to record.
            if store::record(conn, due.delivery.id, next)? {
                recorded.insert(due.webhook.id);
            }
        }
        let mut turned_off = Vec::new();
        for (due, ok, error, at) in &streaks {
            if !recorded.contains(&due.webhook.id) {
                continue;
            }
            let reason = storable(
                &format!(
                    "no delivery has succeeded for {} hours; the last attempt: {}",
                    settings.disable_after.as_secs() / 3600,
                    error.unwrap_or("failed")
                ),
                1000,
            );
            if store::note_outcome(
                conn,
                due.webhook.id,
                *ok,
                *at,
                millis(settings.disable_after),
                &reason,
            )? {
                turned_off.push((due.webhook.id, due.webhook.url.clone(), reason));
            }
        }
        Ok::<_, ApiError>(turned_off)
    })?;
    for (id, url, reason) in turned_off {
        tracing::warn!(webhook = %id, %url, %reason, "webhook subscription turned off");
    }
    Ok(next.into_iter().map(|n| n.status).collect())
}

/// Runs `f` on a pooled connection off the async threads.
async fn blocking<T: Send + 'static>(
    pool: &DbPool,
    f: impl FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, String> {
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        f(&mut conn).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// At most `n` of `due` (oldest first), taking from each subscription in turn.
fn take_fairly(due: Vec<Due>, n: usize) -> Vec<Due> {
    let mut queues: Vec<(DbUuid, std::collections::VecDeque<Due>)> = Vec::new();
    for d in due {
        match queues.iter_mut().find(|(id, _)| *id == d.webhook.id) {
            Some((_, q)) => q.push_back(d),
            None => queues.push((d.webhook.id, std::collections::VecDeque::from([d]))),
        }
    }
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let before = out.len();
        for (_, q) in queues.iter_mut() {
            if out.len() == n {
                break;
            }
            if let Some(d) = q.pop_front() {
                out.push(d);
            }
        }
        if out.len() == before {
            break;
        }
    }
    out
}

/// One round of work; `true` when more is waiting (a full batch was handled).
async fn round(
    pool: &DbPool,
    counted: &prometheus::IntCounterVec,
    client: &reqwest::Client,
    settings: &Settings,
    today: Option<chrono::NaiveDate>,
) -> Result<bool, String> {
    if let Some(today) = today {
        let raised = blocking(pool, move |c| raise_overdue(c, today)).await?;
        if raised > 0 {
            tracing::info!(raised, "follow-ups fell overdue");
        }
        let before = now_ms().saturating_sub(millis(settings.retention));
        let pruned = blocking(pool, move |c| Ok(write_tx(c, |c| store::prune(c, before))?)).await?;
        if pruned != store::Pruned::default() {
            tracing::info!(
                deliveries = pruned.deliveries,
                events = pruned.events,
                "removed webhook deliveries and events past their retention"
            );
        }
    }
    let read = blocking(pool, fan_out).await?;
    let batch = settings.concurrency.saturating_mul(2).max(1);
    // Read further than one round sends, so that one subscription's backlog (a receiver
    // that times out) does not take every place in the round.
    let limit = i64::try_from(batch.saturating_mul(4)).unwrap_or(64);
    let waiting = blocking(pool, move |c| Ok(store::due(c, now_ms(), limit)?)).await?;
    let full = waiting.len() >= batch || read == FANOUT_BATCH as usize;
    let due = take_fairly(waiting, batch);
    let sent: Vec<(Due, Outcome, i64)> = futures_util::stream::iter(due)
        .map(|d| async move {
            let outcome = attempt(client, settings, &d).await;
            (d, outcome, now_ms())
        })
        .buffer_unordered(settings.concurrency.max(1))
        .collect()
        .await;
    for (d, outcome, _) in &sent {
        tracing::debug!(delivery = %d.delivery.id, event = %d.event_id, verdict = ?outcome.verdict,
            status = ?outcome.status, "webhook attempt");
    }
    if sent.is_empty() {
        return Ok(full);
    }
    let s = settings.clone();
    let statuses = blocking(pool, move |c| record(c, &s, &sent)).await?;
    for status in statuses {
        let outcome = match status {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Pending => "retried",
        };
        counted.with_label_values(&[outcome]).inc();
    }
    Ok(full)
}

/// Starts the delivery worker (on the runtime the server runs on); `counted` counts its
/// attempts by outcome (`delivered`, `retried`, `failed`).
pub fn start(
    pool: DbPool,
    settings: Settings,
    timezone: chrono_tz::Tz,
    counted: prometheus::IntCounterVec,
) {
    let client = match client(&settings) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook deliveries cannot start");
            return;
        }
    };
    // Longer than a round can take (two attempts in a row at most), renewed at half-life:
    // a server that dies is replaced within this.
    let lease = (settings.timeout * 4).max(Duration::from_secs(15));
    // Each server's worker is its own holder, even with several servers in one process.
    let me = format!(
        "{}:webhooks:{}",
        super::periodic::holder(),
        Uuid::new_v4().simple()
    );
    // Overdue follow-ups are looked for about once a minute at the default poll.
    let overdue_every = 60u32;
    tokio::spawn(async move {
        let mut held_until: Option<Instant> = None;
        let mut polls = 0u32;
        loop {
            let renew =
                held_until.is_none_or(|t| t.saturating_duration_since(Instant::now()) < lease / 2);
            if renew {
                if super::periodic::lease_as(&pool, "webhooks", me.clone(), lease).await {
                    held_until = Some(Instant::now() + lease);
                } else {
                    held_until = None;
                    tokio::time::sleep(settings.poll).await;
                    continue;
                }
            }
            let today = polls
                .is_multiple_of(overdue_every)
                .then(|| Utc::now().with_timezone(&timezone).date_naive());
            polls = polls.wrapping_add(1);
            match round(&pool, &counted, &client, &settings, today).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "webhook deliveries: a round failed"),
            }
            tokio::time::sleep(settings.poll).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse() {
        let s = parse_schedule(DEFAULT_RETRIES).unwrap();
        assert_eq!(s.len(), 7);
        assert_eq!(s[0], Duration::from_secs(5));
        assert_eq!(s[6], Duration::from_secs(86_400));
        assert_eq!(
            parse_schedule("100ms, 1s").unwrap(),
            [Duration::from_millis(100), Duration::from_secs(1)]
        );
        for bad in ["", "5", "5x", "s", "-1s", "1s,,2s"] {
            assert!(parse_schedule(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn private_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "203.0.113.9",
            "8.8.8.8",
            "2001:4860:4860::8888",
            "100.128.0.1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    fn row(attempts: i32) -> DeliveryRow {
        DeliveryRow {
            id: DbUuid(Uuid::nil()),
            webhook_id: DbUuid(Uuid::nil()),
            event_seq: 1,
            status: DeliveryStatus::Pending,
            attempts,
            created_at: 0,
            next_attempt_at: Some(0),
            last_attempt_at: None,
            delivered_at: None,
            response_status: None,
            response_body: None,
            error: None,
        }
    }

    fn outcome(verdict: Verdict) -> Outcome {
        Outcome {
            verdict,
            status: Some(503),
            body: None,
            error: None,
        }
    }

    #[test]
    fn retries_follow_the_schedule_then_fail() {
        let retries = parse_schedule(DEFAULT_RETRIES).unwrap();
        let now = 1_000_000;
        let first = next_state(&row(0), &outcome(Verdict::Retry(None)), &retries, now);
        assert_eq!(first.status, DeliveryStatus::Pending);
        assert_eq!(first.attempts, 1);
        assert_eq!(first.next_attempt_at, Some(now + 5_000));
        let seventh = next_state(&row(6), &outcome(Verdict::Retry(None)), &retries, now);
        assert_eq!(seventh.next_attempt_at, Some(now + 86_400_000));
        let eighth = next_state(&row(7), &outcome(Verdict::Retry(None)), &retries, now);
        assert_eq!(eighth.status, DeliveryStatus::Failed);
        assert_eq!(eighth.next_attempt_at, None);
        // Retry-After when longer than the schedule's wait, at most a day.
        let asked = next_state(
            &row(0),
            &outcome(Verdict::Retry(Some(Duration::from_secs(120)))),
            &retries,
            now,
        );
        assert_eq!(asked.next_attempt_at, Some(now + 120_000));
        let shorter = next_state(
            &row(1),
            &outcome(Verdict::Retry(Some(Duration::from_secs(1)))),
            &retries,
            now,
        );
        assert_eq!(shorter.next_attempt_at, Some(now + 30_000));
        let huge = next_state(
            &row(0),
            &outcome(Verdict::Retry(Some(Duration::from_secs(10 * 86_400)))),
            &retries,
            now,
        );
        assert_eq!(huge.next_attempt_at, Some(now + 86_400_000));
        let refused = next_state(&row(0), &outcome(Verdict::Refused), &retries, now);
        assert_eq!(refused.status, DeliveryStatus::Failed);
        let ok = next_state(&row(3), &outcome(Verdict::Delivered), &retries, now);
        assert_eq!(ok.status, DeliveryStatus::Delivered);
        assert_eq!(ok.delivered_at, Some(now));
        assert_eq!(ok.attempts, 4);
    }

    fn due(webhook: u128, seq: i64) -> Due {
        let at = chrono::DateTime::UNIX_EPOCH.naive_utc();
        Due {
            delivery: DeliveryRow {
                event_seq: seq,
                ..row(0)
            },
            event_id: format!("evt_{seq}"),
            payload: "{}".into(),
            webhook: subscriptions::WebhookRow {
                id: DbUuid(Uuid::from_u128(webhook)),
                url: "https://penerima.example/".into(),
                event_types: "inspection.submitted".into(),
                description: None,
                active: true,
                secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
                previous_secret: None,
                previous_valid_until: None,
                created_by: None,
                created_at: at,
                updated_at: at,
                failing_since: None,
                disabled_at: None,
                disabled_reason: None,
            },
        }
    }

    #[test]
    fn a_round_takes_from_each_subscription_in_turn() {
        // Subscription 1's backlog comes first in the database's order.
        let waiting: Vec<Due> = (1..=6)
            .map(|seq| due(1, seq))
            .chain((7..=8).map(|seq| due(2, seq)))
            .collect();
        let taken: Vec<(u128, i64)> = take_fairly(waiting, 4)
            .iter()
            .map(|d| (d.webhook.id.0.as_u128(), d.delivery.event_seq))
            .collect();
        assert_eq!(taken, [(1, 1), (2, 7), (1, 2), (2, 8)]);
        let all = take_fairly((1..=3).map(|seq| due(1, seq)).collect(), 10);
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after("120"), Some(Duration::from_secs(120)));
        let later = (Utc::now() + chrono::Duration::seconds(600)).to_rfc2822();
        let wait = retry_after(&later).unwrap();
        assert!(wait > Duration::from_secs(590) && wait <= Duration::from_secs(600));
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn stored_text_has_no_nul_and_is_cut_at_a_character() {
        assert_eq!(storable("a\0b", 10), "ab");
        assert_eq!(storable("ééé", 3), "é");
    }
}
