//! Prometheus metrics. Labels are bounded: the route *pattern* (never the raw path), the
//! method and the status class.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub login_failures: IntCounterVec,
    pub written: IntCounterVec,
    pub pool_in_use: IntGauge,
    pub pool_idle: IntGauge,
    pub blocking_waiting: IntGauge,
    pub blocking_running: IntGauge,
    pub rate_limited: IntCounterVec,
    /// Report writes committed through the group commit, and the transactions they took.
    pub grouped_writes: prometheus::IntCounter,
    pub grouped_batches: prometheus::IntCounter,
    /// Batches whose first attempt failed and that were written again, report by report.
    pub grouped_redone: prometheus::IntCounter,
    /// The last backup any server of the database took (`db::backups`), set when scraped.
    backup_last_end: IntGauge,
    backup_last_ok: IntGauge,
    backup_last_success_end: IntGauge,
    backup_last_success_bytes: IntGauge,
    backup_last_success_seconds: IntGauge,
    /// Webhook attempts this process made, by how they ended.
    pub webhook_attempts: IntCounterVec,
    /// Pending deliveries of active subscriptions, and how old the oldest undelivered
    /// event is, read from the database when scraped.
    webhook_backlog: IntGauge,
    webhook_oldest_age: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("sidak".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route pattern, method and status class",
            ),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route pattern",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["route", "method"],
        )?;
        let login_failures = IntCounterVec::new(
            Opts::new(
                "login_failures_total",
                "Refused logins: wrong credentials or throttled",
            ),
            &["reason"],
        )?;
        let written = IntCounterVec::new(
            Opts::new("records_written_total", "Records created through the API"),
            &["kind"],
        )?;
        let pool_in_use = IntGauge::new(
            "db_pool_connections_in_use",
            "Database connections checked out",
        )?;
        let pool_idle = IntGauge::new("db_pool_connections_idle", "Idle database connections")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(login_failures.clone()))?;
        registry.register(Box::new(written.clone()))?;
        registry.register(Box::new(pool_in_use.clone()))?;
        registry.register(Box::new(pool_idle.clone()))?;
        let blocking_waiting = IntGauge::new(
            "blocking_pool_jobs_waiting",
            "Database jobs queued for a thread of the blocking pool",
        )?;
        let blocking_running = IntGauge::new(
            "blocking_pool_jobs_running",
            "Database jobs running on the blocking pool",
        )?;
        let rate_limited = IntCounterVec::new(
            Opts::new(
                "rate_limited_total",
                "Requests refused with 429 Too Many Requests",
            ),
            &["route"],
        )?;
        registry.register(Box::new(blocking_waiting.clone()))?;
        registry.register(Box::new(blocking_running.clone()))?;
        registry.register(Box::new(rate_limited.clone()))?;
        let grouped_writes = prometheus::IntCounter::new(
            "grouped_writes_total",
            "Writes run through the group commit (db::group)",
        )?;
        let grouped_batches = prometheus::IntCounter::new(
            "grouped_write_batches_total",
            "Transactions the group commit wrote them in (writes / batches = the batch size)",
        )?;
        registry.register(Box::new(grouped_writes.clone()))?;
        let grouped_redone = prometheus::IntCounter::new(
            "grouped_write_batches_redone_total",
            "Batches whose first attempt failed (a refused report among them) and that were \
             written again with a savepoint per write",
        )?;
        registry.register(Box::new(grouped_batches.clone()))?;
        registry.register(Box::new(grouped_redone.clone()))?;
        let backup_gauge = |name: &str, help: &str| -> Result<IntGauge, prometheus::Error> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let backup_last_end = backup_gauge(
            "backup_last_end_timestamp_seconds",
            "When the last backup (scheduled or by `sidak backup`) ended, in seconds since 1970; 0 when none has",
        )?;
        let backup_last_ok = backup_gauge(
            "backup_last_ok",
            "1 when the last backup succeeded, 0 when it failed or none has run",
        )?;
        let backup_last_success_end = backup_gauge(
            "backup_last_success_timestamp_seconds",
            "When the last successful backup ended, in seconds since 1970; 0 when none has",
        )?;
        let backup_last_success_bytes = backup_gauge(
            "backup_last_success_bytes",
            "The bytes of the last successful backup (database and photos)",
        )?;
        let backup_last_success_seconds = backup_gauge(
            "backup_last_success_duration_seconds",
            "How long the last successful backup took",
        )?;
        let webhook_attempts = IntCounterVec::new(
            Opts::new(
                "webhook_deliveries_total",
                "Webhook delivery attempts by this server: delivered (2xx), retried (to be tried \
                 again) and failed (given up or refused by the receiver)",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(webhook_attempts.clone()))?;
        let webhook_backlog = backup_gauge(
            "webhook_backlog",
            "Webhook deliveries waiting to be sent or retried (active subscriptions)",
        )?;
        let webhook_oldest_age = backup_gauge(
            "webhook_oldest_undelivered_seconds",
            "How long ago the oldest event not yet delivered happened; 0 when none waits",
        )?;
        Ok(Metrics {
            webhook_attempts,
            webhook_backlog,
            webhook_oldest_age,
            registry,
            requests,
            latency,
            login_failures,
            written,
            pool_in_use,
            pool_idle,
            blocking_waiting,
            blocking_running,
            rate_limited,
            grouped_writes,
            grouped_batches,
            grouped_redone,
            backup_last_end,
            backup_last_ok,
            backup_last_success_end,
            backup_last_success_bytes,
            backup_last_success_seconds,
        })
    }

    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests
            .with_label_values(&[route, method, class])
            .inc();
        if status == 429 {
            self.rate_limited.with_label_values(&[route]).inc();
        }
        self.latency
            .with_label_values(&[route, method])
            .observe(seconds);
    }

    pub fn count(&self, kind: &str, n: u64) {
        self.written.with_label_values(&[kind]).inc_by(n);
    }

    /// Sets the backup gauges from the record of backups.
    pub fn set_backups(&self, backups: &crate::db::backups::LastBackups) {
        let last = backups.last.as_ref();
        self.backup_last_end
            .set(last.and_then(|r| r.finished_at).unwrap_or(0) / 1000);
        self.backup_last_ok
            .set(i64::from(last.is_some_and(|r| r.outcome == "ok")));
        let ok = backups.last_ok.as_ref();
        self.backup_last_success_end
            .set(ok.and_then(|r| r.finished_at).unwrap_or(0) / 1000);
        self.backup_last_success_bytes
            .set(ok.and_then(|r| r.bytes).unwrap_or(0));
        self.backup_last_success_seconds.set(
            ok.and_then(|r| r.finished_at.map(|end| (end - r.started_at) / 1000))
                .unwrap_or(0),
        );
    }

    /// Sets the webhook gauges from the database's backlog.
    pub fn set_webhooks(&self, backlog: &crate::db::deliveries::Backlog, now_ms: i64) {
        self.webhook_backlog.set(backlog.pending);
        self.webhook_oldest_age.set(
            backlog
                .oldest_occurred_at
                .map_or(0, |t| (now_ms - t).max(0) / 1000),
        );
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
