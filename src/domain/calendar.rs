//! Which days are working days, and when work starts.
//!
//! - **Holidays**: the national holidays (libur nasional) and collective leave days (cuti
//!   bersama) of the SKB 3 Menteri ship with Sidak in `holidays.csv` for 2025–2027;
//!   `SIDAK_PUBLIC_HOLIDAYS` adds days, and admins add, rename or take back days through
//!   `/holidays` (kept in the database). Dates the SKB had not fixed when they were written
//!   down are marked provisional (`true` in the file's last column).
//! - **Work weeks** (Perpres 21/2023 Pasal 7): most OPDs work Monday to Friday; units that
//!   serve the public directly (RSUD, puskesmas, Damkar, Satpol PP) may work six days or in
//!   shifts, and each OPD carries its own pattern.
//! - **Start of work**: 07:30 local, 08:00 during Ramadan (both configurable, as are the
//!   Ramadan dates): a late arrival cannot be longer than the time since work started.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};
use serde::Serialize;
use utoipa::ToSchema;

use super::vocab::vocabulary;

vocabulary!(
    /// Which days an OPD works: `mon_fri` (the default), `mon_sat` (six days), or
    /// `every_day` (shift units: any day may be a rostered working day, public holidays
    /// included).
    WorkWeek {
        MonFri => "mon_fri" ["Senin–Jumat", "Monday–Friday"],
        MonSat => "mon_sat" ["Senin–Sabtu", "Monday–Saturday"],
        EveryDay => "every_day" ["Setiap hari (sif)", "Every day (shifts)"],
    }
);

vocabulary!(
    /// What kind of day off: a national holiday, a collective leave day of the SKB, or a
    /// regional holiday set by the city.
    HolidayKind {
        LiburNasional => "libur_nasional" ["Libur nasional", "National holiday"],
        CutiBersama => "cuti_bersama" ["Cuti bersama", "Collective leave"],
        LiburDaerah => "libur_daerah" ["Libur daerah", "Regional holiday"],
    }
);

/// Where a holiday comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HolidaySource {
    /// Shipped with Sidak (`src/domain/holidays.csv`).
    Shipped,
    /// `SIDAK_PUBLIC_HOLIDAYS`.
    Settings,
    /// Set by an admin through `/holidays`.
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Holiday {
    pub date: NaiveDate,
    pub name: String,
    pub kind: HolidayKind,
    /// The date was an estimate when it was written down (the SKB had not fixed it):
    /// check it against the SKB and correct it through `PUT /holidays/{date}`.
    pub provisional: bool,
    pub source: HolidaySource,
}

const SHIPPED: &str = include_str!("holidays.csv");

/// The holidays shipped with Sidak. A line that does not read is a build-time mistake in
/// the file; a unit test reads every line.
pub fn shipped() -> Vec<Holiday> {
    SHIPPED
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut parts = line.splitn(4, ',');
            let date = NaiveDate::parse_from_str(parts.next()?, "%Y-%m-%d").ok()?;
            let kind = HolidayKind::parse(parts.next()?)?;
            let name = parts.next()?.to_string();
            let provisional = parts.next()?.trim() == "true";
            Some(Holiday {
                date,
                name,
                kind,
                provisional,
                source: HolidaySource::Shipped,
            })
        })
        .collect()
}

/// The calendar: shipped days, then configured ones, then the admins' changes
/// (`Err(date)` takes a day back).
pub fn merge(
    shipped: Vec<Holiday>,
    configured: &BTreeSet<NaiveDate>,
    admin: impl IntoIterator<Item = Result<Holiday, NaiveDate>>,
) -> BTreeMap<NaiveDate, Holiday> {
    let mut days: BTreeMap<NaiveDate, Holiday> = shipped.into_iter().map(|h| (h.date, h)).collect();
    for d in configured {
        days.entry(*d).or_insert_with(|| Holiday {
            date: *d,
            name: "Hari libur (SIDAK_PUBLIC_HOLIDAYS)".into(),
            kind: HolidayKind::LiburDaerah,
            provisional: false,
            source: HolidaySource::Settings,
        });
    }
    for change in admin {
        match change {
            Ok(h) => {
                days.insert(h.date, h);
            }
            Err(d) => {
                days.remove(&d);
            }
        }
    }
    days
}

/// Whether `day` is a working day for a unit with `week`.
pub fn is_working_day(day: NaiveDate, week: WorkWeek, holidays: &BTreeSet<NaiveDate>) -> bool {
    match week {
        WorkWeek::MonFri => {
            !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !holidays.contains(&day)
        }
        WorkWeek::MonSat => day.weekday() != Weekday::Sun && !holidays.contains(&day),
        WorkWeek::EveryDay => true,
    }
}

/// When work starts: `start`, or `ramadan_start` on the days of a Ramadan period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkHours {
    pub start: NaiveTime,
    pub ramadan_start: NaiveTime,
    /// Inclusive ranges.
    pub ramadan: Vec<(NaiveDate, NaiveDate)>,
}

/// Ramadan as the government fixed it (1446 H, 1447 H) or as it is expected (1448 H; the
/// isbat fixes it): `SIDAK_RAMADAN` replaces these.
pub const RAMADAN: [(&str, &str); 3] = [
    ("2025-03-01", "2025-03-30"),
    ("2026-02-19", "2026-03-20"),
    ("2027-02-08", "2027-03-09"),
];

impl Default for WorkHours {
    fn default() -> Self {
        WorkHours {
            start: NaiveTime::from_hms_opt(7, 30, 0).unwrap_or(NaiveTime::MIN),
            ramadan_start: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN),
            ramadan: RAMADAN
                .iter()
                .filter_map(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                .collect(),
        }
    }
}

impl WorkHours {
    pub fn start_on(&self, day: NaiveDate) -> NaiveTime {
        if self.ramadan.iter().any(|(a, b)| (*a..=*b).contains(&day)) {
            self.ramadan_start
        } else {
            self.start
        }
    }

    /// Whole minutes from the start of work on `day` to `at` (0 before it): the most a late
    /// arrival seen at `at` can be.
    pub fn minutes_since_start(&self, day: NaiveDate, at: NaiveTime) -> u32 {
        let start = self.start_on(day);
        u32::try_from((at - start).num_minutes()).unwrap_or(0)
    }

    /// Parses `a..b,c..d` (inclusive date ranges).
    pub fn parse_ranges(text: &str) -> Result<Vec<(NaiveDate, NaiveDate)>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (a, b) = p
                    .split_once("..")
                    .ok_or_else(|| format!("`{p}` is not first..last"))?;
                let a: NaiveDate = a
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{a}` is not a date"))?;
                let b: NaiveDate = b
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{b}` is not a date"))?;
                if b < a {
                    return Err(format!("`{p}` ends before it starts"));
                }
                Ok((a, b))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_shipped_calendar_reads_whole() {
        let lines = SHIPPED.lines().skip(1).count();
        let days = shipped();
        assert_eq!(days.len(), lines, "a line of holidays.csv does not read");
        let count = |year: i32, kind: HolidayKind| {
            days.iter()
                .filter(|h| h.date.year() == year && h.kind == kind)
                .count()
        };
        // SKB 3 Menteri: 2026 has 17 libur nasional and 8 cuti bersama; 2025 had 17 and 10,
        // and 18 August 2025 was added by SKB 933/2025.
        assert_eq!(count(2026, HolidayKind::LiburNasional), 17);
        assert_eq!(count(2026, HolidayKind::CutiBersama), 8);
        assert_eq!(count(2025, HolidayKind::LiburNasional), 17);
        assert_eq!(count(2025, HolidayKind::CutiBersama), 11);
        assert_eq!(count(2027, HolidayKind::LiburNasional), 17);
        // Every date once; nothing provisional before 2027.
        let unique: BTreeSet<_> = days.iter().map(|h| h.date).collect();
        assert_eq!(unique.len(), days.len());
        assert!(days.iter().all(|h| !h.provisional || h.date.year() >= 2027));
    }

    #[test]
    fn work_weeks() {
        let holidays = BTreeSet::from([d(2026, 8, 17)]);
        let (sat, sun, holiday) = (d(2026, 8, 15), d(2026, 8, 16), d(2026, 8, 17));
        assert!(!is_working_day(sat, WorkWeek::MonFri, &holidays));
        assert!(is_working_day(sat, WorkWeek::MonSat, &holidays));
        assert!(!is_working_day(sun, WorkWeek::MonSat, &holidays));
        assert!(!is_working_day(holiday, WorkWeek::MonSat, &holidays));
        for day in [sat, sun, holiday] {
            assert!(is_working_day(day, WorkWeek::EveryDay, &holidays));
        }
    }

    #[test]
    fn admins_add_rename_and_take_back_days() {
        let configured = BTreeSet::from([d(2026, 9, 1), d(2026, 1, 1)]);
        let renamed = Holiday {
            date: d(2026, 8, 25),
            name: "Maulid Nabi (digeser)".into(),
            kind: HolidayKind::LiburNasional,
            provisional: false,
            source: HolidaySource::Admin,
        };
        let merged = merge(
            shipped(),
            &configured,
            [Ok(renamed.clone()), Err(d(2026, 12, 24))],
        );
        assert_eq!(merged[&d(2026, 9, 1)].source, HolidaySource::Settings);
        // A configured day already shipped keeps its name.
        assert_eq!(merged[&d(2026, 1, 1)].source, HolidaySource::Shipped);
        assert_eq!(merged[&d(2026, 8, 25)], renamed);
        assert!(!merged.contains_key(&d(2026, 12, 24)));
    }

    #[test]
    fn work_starts_later_in_ramadan() {
        let hours = WorkHours::default();
        let at = NaiveTime::from_hms_opt(8, 15, 0).unwrap();
        assert_eq!(hours.minutes_since_start(d(2026, 3, 2), at), 15);
        assert_eq!(hours.minutes_since_start(d(2026, 4, 2), at), 45);
        assert_eq!(
            hours.minutes_since_start(d(2026, 4, 2), NaiveTime::from_hms_opt(7, 0, 0).unwrap()),
            0
        );
        // The first and last day of a range are in it.
        assert_eq!(hours.start_on(d(2026, 2, 19)), hours.ramadan_start);
        assert_eq!(hours.start_on(d(2026, 3, 20)), hours.ramadan_start);
        assert_eq!(hours.start_on(d(2026, 3, 21)), hours.start);
        assert_eq!(
            WorkHours::parse_ranges("2028-01-28..2028-02-26").unwrap(),
            vec![(d(2028, 1, 28), d(2028, 2, 26))]
        );
        assert!(WorkHours::parse_ranges("2028-02-26..2028-01-28").is_err());
        assert!(WorkHours::parse_ranges("2028-02-26").is_err());
    }
}
