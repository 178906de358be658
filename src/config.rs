//! Settings, all from environment variables (documented in the README's table).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::db::{DatabaseUrl, SqliteSynchronous};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Login throttling (`src/auth/throttle.rs`). Per account: after `account_max_failures` consecutive
/// failures the account is locked for `account_lockout`, doubling on each further lockout up
/// to `account_max_lockout`. Per client address: `address_max_failures` failed attempts
/// within `address_window` lock the address for the rest of the window.
#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    pub account_max_failures: u32,
    pub account_lockout: Duration,
    pub account_max_lockout: Duration,
    pub address_max_failures: u32,
    pub address_window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            account_max_failures: 5,
            account_lockout: Duration::from_secs(60),
            account_max_lockout: Duration::from_secs(15 * 60),
            address_max_failures: 100,
            address_window: Duration::from_secs(15 * 60),
        }
    }
}

/// A setting that must never reach a log: `Debug` shows `***`; [`Secret::expose`] gives the
/// value to the one place that uses it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub bind: String,
    pub data_dir: PathBuf,
    pub database_url: DatabaseUrl,
    pub db_pool_size: u32,
    pub sqlite_synchronous: SqliteSynchronous,
    /// `None`: generated (development only) and kept in `<data_dir>/jwt_secret`.
    pub jwt_secret: Option<Secret>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub admin_password: Option<Secret>,
    pub timezone: chrono_tz::Tz,
    pub log_format: LogFormat,
    pub workers: usize,
    pub hash_concurrency: usize,
    pub throttle: ThrottleConfig,
    pub trusted_proxies: Vec<IpAddr>,
    pub shutdown_timeout: Duration,
    /// Largest photo accepted.
    pub evidence_max_bytes: u64,
    /// How long after submission the author may still add photos.
    pub evidence_window: Duration,
    /// Most photos one report may hold.
    pub evidence_max_per_report: u32,
    /// Where photo bytes are stored (`SIDAK_EVIDENCE_URL`).
    pub evidence: crate::storage::EvidenceLocation,
    /// How often one server collects photo objects no record points at (0: never).
    pub evidence_gc_interval: Duration,
    /// How old such an object must be to be collected.
    pub evidence_gc_grace: Duration,
    /// When scheduled backups run (`SIDAK_BACKUP_SCHEDULE`; none when unset).
    pub backup_schedule: Option<crate::service::backup::Schedule>,
    /// Where backups go (`SIDAK_BACKUP_TO`, default `<data>/backups`): a folder or a bucket.
    pub backup_to: crate::storage::EvidenceLocation,
    /// How many scheduled backups to keep (`SIDAK_BACKUP_KEEP`; 0: all).
    pub backup_keep: usize,
    pub follow_ups: FollowUpConfig,
    /// A request body that sends nothing for this long is abandoned (`408`, connection closed).
    pub body_idle_timeout: Duration,
    /// Browser origins allowed to read the dashboard endpoints (CORS); empty: none.
    pub cors_origins: Vec<String>,
    /// Requests per minute for each API key (0: no limit).
    pub api_key_rate_per_minute: u32,
    /// `Cache-Control: private, max-age=<this>` on dashboard answers.
    pub dashboard_max_age_seconds: u32,
    /// The address people reach the server at (`SIDAK_PUBLIC_URL`); when it is `https://…`
    /// the console's session cookie is `Secure`.
    pub public_url: Option<String>,
    /// Seconds between the console wall screen's refreshes.
    pub wall_refresh_seconds: u32,
    /// How webhook deliveries are made (`SIDAK_WEBHOOK_*`).
    pub webhooks: crate::service::deliveries::Settings,
}

/// Flag rules and the discipline recommendation's settings.
#[derive(Debug, Clone)]
pub struct FollowUpConfig {
    /// Findings of these categories raise a follow-up on submission.
    pub flag_categories: Vec<crate::domain::inspection::FindingCategory>,
    /// Findings of these severities raise a follow-up on submission.
    pub flag_severities: Vec<crate::domain::inspection::Severity>,
    /// Days from raising to the due date.
    pub due_days: u32,
    /// Minutes of lateness that count as one day of absence.
    pub late_minutes_per_day: u32,
    /// Days added to the shipped holiday calendar (`SIDAK_PUBLIC_HOLIDAYS`).
    pub public_holidays: std::collections::BTreeSet<chrono::NaiveDate>,
    /// When work starts, and when during Ramadan.
    pub work_hours: crate::domain::calendar::WorkHours,
    pub pns_table: crate::domain::discipline::AbsenceTable,
    pub pppk_table: crate::domain::discipline::AbsenceTable,
    /// Who imposes which sanction on whom (PP 94/2021 Bab IV, cells replaced by
    /// `SIDAK_COMPETENT_OFFICIALS`).
    pub competence: crate::domain::authority::CompetenceTable,
}

fn list_of<T>(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, String> {
    let text = get(key).unwrap_or_else(|| default.to_string());
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse(s).ok_or_else(|| format!("{key}: `{s}` is not allowed here")))
        .collect()
}

fn follow_up_config(get: &impl Fn(&str) -> Option<String>) -> Result<FollowUpConfig, String> {
    use crate::domain::calendar::WorkHours;
    use crate::domain::discipline::AbsenceTable;
    use crate::domain::inspection::{FindingCategory, Severity};
    let public_holidays = list_of(get, "SIDAK_PUBLIC_HOLIDAYS", "", |s| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
    })?
    .into_iter()
    .collect();
    let pppk_table = match get("SIDAK_PPPK_ABSENCE_TABLE") {
        Some(t) => AbsenceTable::parse(&t, crate::domain::nip::EmploymentType::Pppk)
            .map_err(|e| format!("SIDAK_PPPK_ABSENCE_TABLE: {e}"))?,
        None => AbsenceTable::pppk_default(),
    };
    let competence = crate::domain::authority::CompetenceTable::with_overrides(
        &get("SIDAK_COMPETENT_OFFICIALS").unwrap_or_default(),
    )
    .map_err(|e| format!("SIDAK_COMPETENT_OFFICIALS: {e}"))?;
    let mut work_hours = WorkHours::default();
    let time = |key: &str, default: chrono::NaiveTime| match get(key) {
        Some(t) => chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M")
            .map_err(|_| format!("{key}: `{t}` is not a time of day (HH:MM)")),
        None => Ok(default),
    };
    work_hours.start = time("SIDAK_WORK_START", work_hours.start)?;
    work_hours.ramadan_start = time("SIDAK_RAMADAN_WORK_START", work_hours.ramadan_start)?;
    if let Some(r) = get("SIDAK_RAMADAN") {
        work_hours.ramadan =
            WorkHours::parse_ranges(&r).map_err(|e| format!("SIDAK_RAMADAN: {e}"))?;
    }
    Ok(FollowUpConfig {
        flag_categories: list_of(
            get,
            "SIDAK_FLAG_CATEGORIES",
            "absence",
            FindingCategory::parse,
        )?,
        flag_severities: list_of(
            get,
            "SIDAK_FLAG_SEVERITIES",
            "high,critical",
            Severity::parse,
        )?,
        due_days: num(get, "SIDAK_FOLLOW_UP_DUE_DAYS", 14, 1)?,
        late_minutes_per_day: num(get, "SIDAK_LATE_MINUTES_PER_DAY", 450, 1)?,
        public_holidays,
        work_hours,
        pns_table: AbsenceTable::pp94(),
        pppk_table,
        competence,
    })
}

pub const MIN_JWT_SECRET_BYTES: usize = 32;

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Config, String> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Reads the settings through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let environment = match get("SIDAK_ENV").as_deref().map(str::trim) {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                return Err(format!(
                    "SIDAK_ENV `{other}` is not `development` or `production`"
                ))
            }
        };
        let data_dir = PathBuf::from(get("SIDAK_DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = match get("DATABASE_URL") {
            Some(url) => DatabaseUrl::parse(&url)?,
            None => DatabaseUrl::Sqlite(data_dir.join("sidak.db")),
        };
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let timezone_name = get("SIDAK_TIMEZONE").unwrap_or_else(|| "Asia/Jakarta".into());
        let timezone: chrono_tz::Tz = timezone_name
            .trim()
            .parse()
            .map_err(|_| format!("SIDAK_TIMEZONE `{timezone_name}` is not an IANA time zone"))?;
        let log_format = match get("SIDAK_LOG_FORMAT").as_deref().map(str::trim) {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(format!(
                    "SIDAK_LOG_FORMAT `{other}` is not `text` or `json`"
                ))
            }
        };
        let jwt_secret = get("SIDAK_JWT_SECRET");
        if let Some(secret) = &jwt_secret {
            if secret.len() < MIN_JWT_SECRET_BYTES {
                return Err(format!(
                    "SIDAK_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes (it has {})",
                    secret.len()
                ));
            }
        } else if environment == Environment::Production {
            return Err(format!(
                "SIDAK_ENV=production needs SIDAK_JWT_SECRET of at least {MIN_JWT_SECRET_BYTES} bytes"
            ));
        }
        let jwt_secret = jwt_secret.map(Secret);
        let admin_password = get("SIDAK_ADMIN_PASSWORD").map(Secret);
        let defaults = ThrottleConfig::default();
        let throttle = ThrottleConfig {
            account_max_failures: num(
                &get,
                "SIDAK_LOGIN_MAX_FAILURES",
                defaults.account_max_failures,
                1,
            )?,
            account_lockout: secs(
                &get,
                "SIDAK_LOGIN_LOCKOUT_SECONDS",
                defaults.account_lockout,
            )?,
            account_max_lockout: secs(
                &get,
                "SIDAK_LOGIN_MAX_LOCKOUT_SECONDS",
                defaults.account_max_lockout,
            )?,
            address_max_failures: num(
                &get,
                "SIDAK_LOGIN_ADDRESS_MAX_FAILURES",
                defaults.address_max_failures,
                1,
            )?,
            address_window: secs(
                &get,
                "SIDAK_LOGIN_ADDRESS_WINDOW_SECONDS",
                defaults.address_window,
            )?,
        };
        let trusted_proxies = match get("SIDAK_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<IpAddr>()
                        .map_err(|_| format!("SIDAK_TRUSTED_PROXIES: `{s}` is not an IP address"))
                })
                .collect::<Result<_, _>>()?,
        };
        let backup_schedule = get("SIDAK_BACKUP_SCHEDULE")
            .filter(|s| !s.trim().is_empty())
            .map(|s| crate::service::backup::Schedule::parse(&s))
            .transpose()?;
        let backup_to = crate::storage::EvidenceLocation::parse_setting(
            "SIDAK_BACKUP_TO",
            get("SIDAK_BACKUP_TO").as_deref(),
            &data_dir.join("backups"),
            &get,
        )?;
        let evidence = crate::storage::EvidenceLocation::parse(
            get("SIDAK_EVIDENCE_URL").as_deref(),
            &data_dir,
            &get,
        )?;
        Ok(Config {
            environment,
            bind: get("SIDAK_BIND").unwrap_or_else(|| "127.0.0.1:8080".into()),
            data_dir,
            database_url,
            db_pool_size: num(&get, "SIDAK_DB_POOL_SIZE", 10, 1)?,
            sqlite_synchronous: match get("SIDAK_SQLITE_SYNCHRONOUS") {
                Some(s) => SqliteSynchronous::parse(&s)?,
                None => SqliteSynchronous::Full,
            },
            jwt_secret,
            access_token_ttl: secs(
                &get,
                "SIDAK_ACCESS_TOKEN_TTL_SECONDS",
                Duration::from_secs(15 * 60),
            )?,
            refresh_token_ttl: secs(
                &get,
                "SIDAK_REFRESH_TOKEN_TTL_SECONDS",
                Duration::from_secs(30 * 24 * 3600),
            )?,
            admin_password,
            timezone,
            log_format,
            workers: num(&get, "SIDAK_WORKERS", cores as u32, 1)? as usize,
            hash_concurrency: num(&get, "SIDAK_HASH_CONCURRENCY", cores as u32, 1)? as usize,
            throttle,
            trusted_proxies,
            shutdown_timeout: secs(
                &get,
                "SIDAK_SHUTDOWN_TIMEOUT_SECONDS",
                Duration::from_secs(30),
            )?,
            evidence_max_bytes: u64::from(num(
                &get,
                "SIDAK_EVIDENCE_MAX_BYTES",
                15 * 1024 * 1024,
                1024,
            )?),
            evidence_window: Duration::from_secs(
                u64::from(num(&get, "SIDAK_EVIDENCE_WINDOW_DAYS", 7, 0)?) * 24 * 3600,
            ),
            evidence_max_per_report: num(&get, "SIDAK_EVIDENCE_MAX_PER_REPORT", 30, 1)?,
            evidence_gc_interval: Duration::from_secs(u64::from(num(
                &get,
                "SIDAK_EVIDENCE_GC_INTERVAL_SECONDS",
                24 * 3600,
                0,
            )?)),
            evidence_gc_grace: Duration::from_secs(
                u64::from(num(&get, "SIDAK_EVIDENCE_GC_GRACE_HOURS", 24, 0)?) * 3600,
            ),
            evidence,
            backup_schedule,
            backup_to,
            backup_keep: num(&get, "SIDAK_BACKUP_KEEP", 7, 0)? as usize,
            follow_ups: follow_up_config(&get)?,
            body_idle_timeout: Duration::from_secs(u64::from(num(
                &get,
                "SIDAK_BODY_IDLE_TIMEOUT_SECONDS",
                30,
                1,
            )?)),
            cors_origins: cors_origins(get("SIDAK_CORS_ORIGINS").as_deref())?,
            api_key_rate_per_minute: num(&get, "SIDAK_API_KEY_RATE_PER_MINUTE", 600, 0)?,
            dashboard_max_age_seconds: num(&get, "SIDAK_DASHBOARD_MAX_AGE_SECONDS", 60, 0)?,
            public_url: public_url(get("SIDAK_PUBLIC_URL").as_deref())?,
            wall_refresh_seconds: num(&get, "SIDAK_WALL_REFRESH_SECONDS", 30, 1)?,
            webhooks: webhook_settings(&get)?,
        })
    }
}

/// `http://…` or `https://…`, without a trailing slash.
fn public_url(value: Option<&str>) -> Result<Option<String>, String> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let lower = value.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err(format!(
            "SIDAK_PUBLIC_URL: `{value}` must start with https:// or http://"
        ));
    }
    Ok(Some(value.trim_end_matches('/').to_string()))
}

/// Exact origins (`scheme://host[:port]`), comma-separated. `*` is refused: the dashboard
/// endpoints answer to bearer tokens, and a wildcard would open them to every page.
fn cors_origins(value: Option<&str>) -> Result<Vec<String>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|origin| {
            let rest = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            match rest {
                Some(host) if !host.is_empty() && !host.contains(['/', '*', ' ']) => {
                    Ok(origin.to_string())
                }
                _ => Err(format!(
                    "SIDAK_CORS_ORIGINS: `{origin}` is not an origin like https://dashboard.example.go.id"
                )),
            }
        })
        .collect()
}

/// `SIDAK_WEBHOOK_*`.
fn webhook_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<crate::service::deliveries::Settings, String> {
    use crate::service::deliveries::{parse_schedule, Settings, DEFAULT_RETRIES};
    let retries = get("SIDAK_WEBHOOK_RETRY_SCHEDULE").unwrap_or_else(|| DEFAULT_RETRIES.into());
    let allow_private = match get("SIDAK_WEBHOOK_ALLOW_PRIVATE")
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "false" | "0" | "no") => false,
        Some("true" | "1" | "yes") => true,
        Some(other) => {
            return Err(format!(
                "SIDAK_WEBHOOK_ALLOW_PRIVATE `{other}` must be true or false"
            ))
        }
    };
    Ok(Settings {
        poll: Duration::from_millis(u64::from(num(get, "SIDAK_WEBHOOK_POLL_MS", 1000, 10)?)),
        timeout: secs(
            get,
            "SIDAK_WEBHOOK_TIMEOUT_SECONDS",
            Duration::from_secs(10),
        )?,
        retries: parse_schedule(&retries)
            .map_err(|e| format!("SIDAK_WEBHOOK_RETRY_SCHEDULE `{retries}`: {e}"))?,
        allow_private,
        disable_after: Duration::from_secs(
            u64::from(num(get, "SIDAK_WEBHOOK_DISABLE_AFTER_HOURS", 72, 1)?) * 3600,
        ),
        concurrency: num(get, "SIDAK_WEBHOOK_CONCURRENCY", 8, 1)? as usize,
        retention: Duration::from_secs(
            u64::from(num(get, "SIDAK_WEBHOOK_RETENTION_DAYS", 30, 1)?) * 86_400,
        ),
    })
}

fn num(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: u32,
    min: u32,
) -> Result<u32, String> {
    match get(key) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<u32>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(format!("{key} `{v}` must be a whole number ≥ {min}")),
        },
    }
}

fn secs(
    get: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: Duration,
) -> Result<Duration, String> {
    num(get, key, default.as_secs() as u32, 1).map(|n| Duration::from_secs(n.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let config = Config::from_lookup(|k| match k {
            "SIDAK_JWT_SECRET" => Some("a-secret-that-is-long-enough-0123456789".into()),
            "SIDAK_ADMIN_PASSWORD" => Some("admin-password-secret".into()),
            "DATABASE_URL" => Some("postgres://sidak:db-password@db/sidak".into()),
            _ => None,
        })
        .expect("configuration");
        let shown = format!("{config:?}");
        for secret in [
            "a-secret-that-is-long-enough",
            "admin-password-secret",
            "db-password",
        ] {
            assert!(!shown.contains(secret), "{secret} shows in {shown}");
        }
    }
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.bind, "127.0.0.1:8080");
        assert_eq!(
            c.database_url,
            DatabaseUrl::Sqlite(PathBuf::from("data/sidak.db"))
        );
        assert_eq!(c.timezone, chrono_tz::Asia::Jakarta);
        assert_eq!(c.environment, Environment::Development);
        assert_eq!(c.sqlite_synchronous, SqliteSynchronous::Full);
    }

    #[test]
    fn production_needs_a_long_secret() {
        assert!(cfg(&[("SIDAK_ENV", "production")])
            .unwrap_err()
            .contains("SIDAK_JWT_SECRET"));
        assert!(cfg(&[("SIDAK_ENV", "production"), ("SIDAK_JWT_SECRET", "short")]).is_err());
        let long = "x".repeat(32);
        assert!(cfg(&[("SIDAK_ENV", "production"), ("SIDAK_JWT_SECRET", &long)]).is_ok());
    }

    #[test]
    fn rejects_bad_values() {
        assert!(cfg(&[("DATABASE_URL", "mysql://x/y")]).is_err());
        assert!(cfg(&[("SIDAK_TIMEZONE", "Mars/Olympus")]).is_err());
        assert!(cfg(&[("SIDAK_LOG_FORMAT", "xml")]).is_err());
        assert!(cfg(&[("SIDAK_DB_POOL_SIZE", "0")]).is_err());
        assert!(cfg(&[("SIDAK_TRUSTED_PROXIES", "10.0.0.1, nope")]).is_err());
        assert!(cfg(&[("SIDAK_SQLITE_SYNCHRONOUS", "sometimes")]).is_err());
    }
}
