//! When scheduled backups run (`SIDAK_BACKUP_SCHEDULE`): at fixed times of the day in the
//! city's time zone (`daily 02:00`, `02:00,14:00`), or every so often (`every 6h`, `every
//! 30m`, `every 45s`), counted from midnight UTC 1970 so that every server sharing a
//! database computes the same times. Each time is a *slot*: whoever claims it first in the
//! database takes that backup (`db::backups::start`).

use std::time::Duration;

use chrono::{DateTime, NaiveTime, TimeZone, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// These local times, every day (sorted, no duplicates).
    Daily(Vec<NaiveTime>),
    /// Every interval (one second or more).
    Every(Duration),
}

impl Schedule {
    /// `daily HH:MM[,HH:MM…]` (or the times alone), or `every N{s,m,h,d}`.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        let bad = |why: &str| {
            format!(
                "SIDAK_BACKUP_SCHEDULE `{text}`: {why} (examples: `daily 02:00`, `02:00,14:00`, `every 6h`)"
            )
        };
        if let Some(every) = text.strip_prefix("every") {
            let every = every.trim();
            let split = every
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(|| bad("a unit is missing: s, m, h or d"))?;
            let (n, unit) = every.split_at(split);
            let n: u64 = n.parse().map_err(|_| bad("a whole number is missing"))?;
            let secs = match unit.trim() {
                "s" => Some(n),
                "m" => n.checked_mul(60),
                "h" => n.checked_mul(3600),
                "d" => n.checked_mul(86_400),
                _ => return Err(bad("the unit is one of s, m, h or d")),
            }
            .filter(|s| (1..=366 * 86_400).contains(s))
            .ok_or_else(|| bad("the interval is from 1 second to 366 days"))?;
            return Ok(Schedule::Every(Duration::from_secs(secs)));
        }
        let times = text.strip_prefix("daily").unwrap_or(text).trim();
        let mut out = Vec::new();
        for t in times.split(',') {
            let t = t.trim();
            let parsed = NaiveTime::parse_from_str(t, "%H:%M")
                .map_err(|_| bad(&format!("`{t}` is not a time HH:MM")))?;
            out.push(parsed);
        }
        out.sort();
        out.dedup();
        Ok(Schedule::Daily(out))
    }

    /// The first scheduled time strictly after `after`; daily times are read in `tz` (a
    /// time a daylight-saving change skips that day is skipped; one it repeats, taken once).
    pub fn next_after(&self, after: DateTime<Utc>, tz: chrono_tz::Tz) -> DateTime<Utc> {
        match self {
            Schedule::Every(every) => {
                let step = i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1);
                let now = after.timestamp_millis();
                let next = (now.div_euclid(step) + 1).saturating_mul(step);
                DateTime::from_timestamp_millis(next).unwrap_or(after)
            }
            Schedule::Daily(times) => {
                let today = after.with_timezone(&tz).date_naive();
                for day in today.iter_days().take(3) {
                    for t in times {
                        if let Some(at) = tz.from_local_datetime(&day.and_time(*t)).earliest() {
                            let at = at.with_timezone(&Utc);
                            if at > after {
                                return at;
                            }
                        }
                    }
                }
                after + chrono::Duration::days(1)
            }
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Every(d) => {
                let secs = d.as_secs();
                let (n, unit) = [(86_400, "d"), (3600, "h"), (60, "m")]
                    .into_iter()
                    .find(|(size, _)| secs % size == 0)
                    .map(|(size, unit)| (secs / size, unit))
                    .unwrap_or((secs, "s"));
                write!(f, "every {n}{unit}")
            }
            Schedule::Daily(times) => {
                let list: Vec<String> = times
                    .iter()
                    .map(|t| t.format("%H:%M").to_string())
                    .collect();
                write!(f, "daily {}", list.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn reads_the_forms() {
        assert_eq!(
            Schedule::parse("every 6h").unwrap(),
            Schedule::Every(Duration::from_secs(6 * 3600))
        );
        assert_eq!(
            Schedule::parse("every 90s").unwrap(),
            Schedule::Every(Duration::from_secs(90))
        );
        for shown in [
            "every 6h",
            "every 90s",
            "every 2d",
            "every 45m",
            "daily 02:00,14:00",
        ] {
            assert_eq!(Schedule::parse(shown).unwrap().to_string(), shown);
        }
        assert_eq!(
            Schedule::parse(" daily 14:00, 02:00,02:00").unwrap(),
            Schedule::Daily(vec![
                NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
                NaiveTime::from_hms_opt(14, 0, 0).unwrap()
            ])
        );
        for bad in [
            "", "daily", "every", "every 0s", "every 5", "every 5w", "25:00", "2am",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn daily_times_are_local() {
        let s = Schedule::parse("daily 02:00").unwrap();
        let jakarta = chrono_tz::Asia::Jakarta;
        // 02:00 WIB is 19:00 UTC the day before.
        assert_eq!(
            s.next_after(utc("2026-12-07T10:00:00Z"), jakarta),
            utc("2026-12-07T19:00:00Z")
        );
        assert_eq!(
            s.next_after(utc("2026-12-07T19:00:00Z"), jakarta),
            utc("2026-12-08T19:00:00Z")
        );
        let two = Schedule::parse("02:00,14:00").unwrap();
        assert_eq!(
            two.next_after(utc("2026-12-07T19:00:00Z"), jakarta),
            utc("2026-12-08T07:00:00Z")
        );
    }

    #[test]
    fn intervals_are_the_same_everywhere() {
        let s = Schedule::parse("every 6h").unwrap();
        let tz = chrono_tz::Asia::Jakarta;
        assert_eq!(
            s.next_after(utc("2026-12-07T10:00:00Z"), tz),
            utc("2026-12-07T12:00:00Z")
        );
        assert_eq!(
            s.next_after(utc("2026-12-07T12:00:00Z"), tz),
            utc("2026-12-07T18:00:00Z")
        );
    }
}
