//! The discipline rules: the PP 94/2021 (and PPPK) tables, and the recommendation they give
//! for an official's record.
//!
//! The PP 94/2021 table for unexcused absence (cumulative working days in a calendar year):
//! 3 → teguran lisan; 4–6 → teguran tertulis; 7–10 → pernyataan tidak puas secara tertulis
//! (ringan); 11–13 / 14–16 / 17–20 → tunjangan kinerja dipotong 25% for 6 / 9 / 12 months
//! (sedang); 21–24 → penurunan jabatan setingkat lebih rendah 12 months; 25–27 → pembebasan
//! dari jabatan menjadi pelaksana 12 months; ≥ 28, or 10 consecutive working days →
//! pemberhentian dengan hormat tidak atas permintaan sendiri (berat). The system recommends;
//! people decide.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Serialize;
use utoipa::ToSchema;

use super::vocab::vocabulary;

vocabulary!(
    /// The level of a discipline sanction (PP 94/2021 Pasal 8), or none.
    Level {
        None => "none",
        Ringan => "ringan",
        Sedang => "sedang",
        Berat => "berat",
    }
);

vocabulary!(
    /// A sanction of PP 94/2021 Pasal 8 by its code, or `none` (no sanction imposed).
    SanctionCode {
        None => "none",
        TeguranLisan => "teguran_lisan",
        TeguranTertulis => "teguran_tertulis",
        PernyataanTidakPuas => "pernyataan_tidak_puas",
        PotongTukin25Persen6Bulan => "potong_tukin_25_6_bulan",
        PotongTukin25Persen9Bulan => "potong_tukin_25_9_bulan",
        PotongTukin25Persen12Bulan => "potong_tukin_25_12_bulan",
        PenurunanJabatan => "penurunan_jabatan",
        PembebasanJabatan => "pembebasan_jabatan",
        Pemberhentian => "pemberhentian",
    }
);

/// A sanction: code, level and the Indonesian label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sanction {
    pub code: SanctionCode,
    pub level: Level,
    pub label: &'static str,
}

pub const SANCTIONS: [Sanction; 10] = [
    Sanction {
        code: SanctionCode::None,
        level: Level::None,
        label: "Tidak dijatuhi hukuman disiplin",
    },
    Sanction {
        code: SanctionCode::TeguranLisan,
        level: Level::Ringan,
        label: "Teguran lisan",
    },
    Sanction {
        code: SanctionCode::TeguranTertulis,
        level: Level::Ringan,
        label: "Teguran tertulis",
    },
    Sanction {
        code: SanctionCode::PernyataanTidakPuas,
        level: Level::Ringan,
        label: "Pernyataan tidak puas secara tertulis",
    },
    Sanction {
        code: SanctionCode::PotongTukin25Persen6Bulan,
        level: Level::Sedang,
        label: "Pemotongan tunjangan kinerja sebesar 25% selama 6 bulan",
    },
    Sanction {
        code: SanctionCode::PotongTukin25Persen9Bulan,
        level: Level::Sedang,
        label: "Pemotongan tunjangan kinerja sebesar 25% selama 9 bulan",
    },
    Sanction {
        code: SanctionCode::PotongTukin25Persen12Bulan,
        level: Level::Sedang,
        label: "Pemotongan tunjangan kinerja sebesar 25% selama 12 bulan",
    },
    Sanction {
        code: SanctionCode::PenurunanJabatan,
        level: Level::Berat,
        label: "Penurunan jabatan setingkat lebih rendah selama 12 bulan",
    },
    Sanction {
        code: SanctionCode::PembebasanJabatan,
        level: Level::Berat,
        label: "Pembebasan dari jabatannya menjadi jabatan pelaksana selama 12 bulan",
    },
    Sanction {
        code: SanctionCode::Pemberhentian,
        level: Level::Berat,
        label: "Pemberhentian dengan hormat tidak atas permintaan sendiri",
    },
];

/// The catalogue entry of `code` (every code has one; a test keeps it so).
pub fn sanction(code: SanctionCode) -> Option<Sanction> {
    SANCTIONS.iter().copied().find(|s| s.code == code)
}

/// Cumulative-days thresholds: the highest row whose `min_days` is reached applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsenceTable {
    pub rows: Vec<(u32, SanctionCode)>,
    pub consecutive_days_for_dismissal: u32,
    pub basis: &'static str,
    /// Where the rule that salary stops from the month after the consecutive-day threshold
    /// is reached is written, when the table's law has one (PP 94/2021 Pasal 15 ayat (2)).
    pub salary_stop_basis: Option<&'static str>,
}

impl AbsenceTable {
    pub fn pp94() -> Self {
        AbsenceTable {
            rows: vec![
                (3, SanctionCode::TeguranLisan),
                (4, SanctionCode::TeguranTertulis),
                (7, SanctionCode::PernyataanTidakPuas),
                (11, SanctionCode::PotongTukin25Persen6Bulan),
                (14, SanctionCode::PotongTukin25Persen9Bulan),
                (17, SanctionCode::PotongTukin25Persen12Bulan),
                (21, SanctionCode::PenurunanJabatan),
                (25, SanctionCode::PembebasanJabatan),
                (28, SanctionCode::Pemberhentian),
            ],
            consecutive_days_for_dismissal: 10,
            basis: "PP 94/2021 tentang Disiplin Pegawai Negeri Sipil",
            salary_stop_basis: Some("PP 94/2021 Pasal 15 ayat (2)"),
        }
    }

    /// PPPK are not under PP 94/2021; by default the same thresholds apply under the
    /// deployment's PPPK discipline rule, configurable with `SIDAK_PPPK_ABSENCE_TABLE`.
    pub fn pppk_default() -> Self {
        AbsenceTable {
            basis: "Ketentuan disiplin PPPK (PP 49/2018 dan perjanjian kerja), tabel dikonfigurasi oleh instansi",
            salary_stop_basis: None,
            ..Self::pp94()
        }
    }

    /// Parses `days:sanction,days:sanction,…` (sanction codes as in [`SANCTIONS`]).
    pub fn parse(text: &str, basis: &'static str) -> Result<Self, String> {
        let mut rows = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (days, code) = part
                .split_once(':')
                .ok_or_else(|| format!("`{part}` is not days:sanction"))?;
            let days: u32 = days
                .trim()
                .parse()
                .map_err(|_| format!("`{days}` is not a number of days"))?;
            let code = SanctionCode::parse(code)
                .ok_or_else(|| format!("`{code}` is not a sanction code"))?;
            rows.push((days, code));
        }
        rows.sort_by_key(|r| r.0);
        if rows.is_empty() {
            return Err("the table is empty".into());
        }
        Ok(AbsenceTable {
            rows,
            consecutive_days_for_dismissal: 10,
            basis,
            salary_stop_basis: None,
        })
    }
}

/// What the record points to.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Recommendation {
    pub year: i32,
    /// Distinct working days of the year on which a sidak recorded an unexcused absence
    /// (weekends and public holidays do not count).
    pub unexcused_absence_days: u32,
    /// Late minutes in the year's working days: the largest per day, at most 449, none on a
    /// day counted as an absence.
    pub late_minutes: u32,
    /// Whole days the late minutes convert to.
    pub late_days: u32,
    /// Absence days plus late days: what the table is read with.
    pub total_days: u32,
    /// The longest run of consecutive working days absent that touches the year, counted
    /// across 31 December / 1 January.
    pub longest_consecutive_absence_working_days: u32,
    /// When the consecutive-day threshold is reached and the table's law stops the salary
    /// (PP 94/2021 Pasal 15 ayat (2)): the first day of the month after the day the run
    /// reached it. That does not wait for the decision.
    pub salary_stops_from: Option<NaiveDate>,
    pub level: Level,
    /// Sanction code (see `SANCTIONS`), `none` below the first threshold.
    pub sanction: SanctionCode,
    pub sanction_label: String,
    pub legal_basis: String,
}

pub fn is_working_day(day: NaiveDate, holidays: &BTreeSet<NaiveDate>) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !holidays.contains(&day)
}

/// The runs of absence days with no working day between them missing, oldest first; days
/// that are not working days are left out.
pub fn runs(days: &BTreeSet<NaiveDate>, holidays: &BTreeSet<NaiveDate>) -> Vec<Vec<NaiveDate>> {
    let mut out: Vec<Vec<NaiveDate>> = Vec::new();
    let mut prev: Option<NaiveDate> = None;
    for day in days
        .iter()
        .copied()
        .filter(|d| is_working_day(*d, holidays))
    {
        let adjacent = prev.is_some_and(|p| {
            let mut d = p.succ_opt();
            while let Some(x) = d {
                if x >= day {
                    break;
                }
                if is_working_day(x, holidays) {
                    return false;
                }
                d = x.succ_opt();
            }
            true
        });
        match out.last_mut() {
            Some(run) if adjacent => run.push(day),
            _ => out.push(vec![day]),
        }
        prev = Some(day);
    }
    out
}

/// The longest run of absence days with no working day between them missing.
pub fn longest_run(days: &BTreeSet<NaiveDate>, holidays: &BTreeSet<NaiveDate>) -> u32 {
    runs(days, holidays)
        .iter()
        .map(|r| r.len() as u32)
        .max()
        .unwrap_or(0)
}

/// The most minutes one late arrival counts: 450 working minutes make a day, and a day
/// missed is an absence, not a late arrival.
pub const MAX_LATE_MINUTES: u32 = 449;

/// The late minutes that count towards the total: on each working day the largest lateness
/// recorded (two sidak the same day that both find an official late are one late arrival),
/// at most [`MAX_LATE_MINUTES`], and none on a day already counted as an absence.
pub fn countable_late_minutes(
    late: &[(NaiveDate, u32)],
    absence_days: &BTreeSet<NaiveDate>,
    holidays: &BTreeSet<NaiveDate>,
) -> u32 {
    let mut per_day: std::collections::BTreeMap<NaiveDate, u32> = Default::default();
    for &(day, minutes) in late {
        if is_working_day(day, holidays) && !absence_days.contains(&day) {
            let m = per_day.entry(day).or_default();
            *m = (*m).max(minutes.min(MAX_LATE_MINUTES));
        }
    }
    per_day.values().sum()
}

/// Reads the table for an official's year.
pub fn recommend(
    year: i32,
    absence_days: &BTreeSet<NaiveDate>,
    late_minutes: u32,
    minutes_per_day: u32,
    holidays: &BTreeSet<NaiveDate>,
    table: &AbsenceTable,
) -> Recommendation {
    let days = absence_days
        .iter()
        .filter(|d| d.year() == year && is_working_day(**d, holidays))
        .count() as u32;
    let late_days = late_minutes / minutes_per_day.max(1);
    let total = days + late_days;
    // `absence_days` may hold days around the year: a run over the new year counts for both.
    let threshold = table.consecutive_days_for_dismissal.max(1) as usize;
    let touching: Vec<Vec<NaiveDate>> = runs(absence_days, holidays)
        .into_iter()
        .filter(|r| r.iter().any(|d| d.year() == year))
        .collect();
    let longest = touching.iter().map(|r| r.len() as u32).max().unwrap_or(0);
    let reached = touching
        .iter()
        .filter_map(|r| r.get(threshold - 1))
        .min()
        .copied();
    let mut code = SanctionCode::None;
    for (min, c) in &table.rows {
        if total >= *min {
            code = *c;
        }
    }
    let consecutive = longest >= table.consecutive_days_for_dismissal;
    if consecutive {
        code = SanctionCode::Pemberhentian;
    }
    let s = sanction(code).unwrap_or(SANCTIONS[0]);
    // A sidak is one moment, not a presensi record: the text says what was seen and asks
    // for the attendance records before anyone relies on it.
    const CONFIRM: &str = "konfirmasi dengan data presensi";
    let salary_stops_from = match (consecutive, table.salary_stop_basis, reached) {
        (true, Some(_), Some(day)) => day
            .with_day(1)
            .and_then(|first| first.checked_add_months(chrono::Months::new(1))),
        _ => None,
    };
    let mut legal_basis = if code == SanctionCode::None {
        format!(
            "{}: di bawah ambang hukuman disiplin (tercatat tidak hadir tanpa keterangan saat sidak \
             pada {days} hari kerja dan {late_days} hari dari keterlambatan dalam {year}) — {CONFIRM}",
            table.basis
        )
    } else if consecutive {
        format!(
            "{}: tercatat tidak hadir tanpa keterangan saat sidak pada {longest} hari kerja \
             berturut-turut (ambang {} hari) — {CONFIRM}",
            table.basis, table.consecutive_days_for_dismissal
        )
    } else {
        format!(
            "{}: tercatat tidak hadir tanpa keterangan saat sidak pada {days} hari kerja dalam tahun \
             {year}, ditambah {late_days} hari dari {late_minutes} menit keterlambatan: {total} hari \
             kerja — {CONFIRM}",
            table.basis
        )
    };
    if let (Some(from), Some(rule)) = (salary_stops_from, table.salary_stop_basis) {
        legal_basis.push_str(&format!(
            "; pembayaran gaji dihentikan mulai {from} ({rule}), tanpa menunggu keputusan hukuman"
        ));
    }
    Recommendation {
        year,
        unexcused_absence_days: days,
        late_minutes,
        late_days,
        total_days: total,
        longest_consecutive_absence_working_days: longest,
        salary_stops_from,
        level: s.level,
        sanction: s.code,
        sanction_label: s.label.to_string(),
        legal_basis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// `n` absence days on separate weeks' Wednesdays, so no run builds up.
    fn scattered(n: u32) -> BTreeSet<NaiveDate> {
        (0..n)
            .map(|i| d(2026, 1, 7) + chrono::Duration::weeks(i64::from(i)))
            .collect()
    }

    fn sanction_for(days: u32) -> SanctionCode {
        recommend(
            2026,
            &scattered(days),
            0,
            450,
            &BTreeSet::new(),
            &AbsenceTable::pp94(),
        )
        .sanction
    }

    #[test]
    fn every_sanction_code_is_in_the_catalogue_once() {
        for &code in SanctionCode::ALL {
            let entries = SANCTIONS.iter().filter(|s| s.code == code).count();
            assert_eq!(entries, 1, "{code}");
        }
        assert_eq!(SANCTIONS.len(), SanctionCode::ALL.len());
    }

    #[test]
    fn every_boundary_of_the_table() {
        let expected = [
            (2, SanctionCode::None),
            (3, SanctionCode::TeguranLisan),
            (4, SanctionCode::TeguranTertulis),
            (6, SanctionCode::TeguranTertulis),
            (7, SanctionCode::PernyataanTidakPuas),
            (10, SanctionCode::PernyataanTidakPuas),
            (11, SanctionCode::PotongTukin25Persen6Bulan),
            (13, SanctionCode::PotongTukin25Persen6Bulan),
            (14, SanctionCode::PotongTukin25Persen9Bulan),
            (16, SanctionCode::PotongTukin25Persen9Bulan),
            (17, SanctionCode::PotongTukin25Persen12Bulan),
            (20, SanctionCode::PotongTukin25Persen12Bulan),
            (21, SanctionCode::PenurunanJabatan),
            (24, SanctionCode::PenurunanJabatan),
            (25, SanctionCode::PembebasanJabatan),
            (27, SanctionCode::PembebasanJabatan),
            (28, SanctionCode::Pemberhentian),
        ];
        for (days, code) in expected {
            assert_eq!(sanction_for(days), code, "{days} days");
        }
        let r = recommend(
            2026,
            &scattered(10),
            0,
            450,
            &BTreeSet::new(),
            &AbsenceTable::pp94(),
        );
        assert_eq!(r.level, Level::Ringan);
        let r = recommend(
            2026,
            &scattered(11),
            0,
            450,
            &BTreeSet::new(),
            &AbsenceTable::pp94(),
        );
        assert_eq!(r.level, Level::Sedang);
        let r = recommend(
            2026,
            &scattered(21),
            0,
            450,
            &BTreeSet::new(),
            &AbsenceTable::pp94(),
        );
        assert_eq!(r.level, Level::Berat);
    }

    #[test]
    fn consecutive_working_days() {
        // Monday 5 January 2026 onwards: 9 working days (over a weekend) then 10.
        let mut days = BTreeSet::new();
        let mut day = d(2026, 1, 5);
        while days.len() < 9 {
            if is_working_day(day, &BTreeSet::new()) {
                days.insert(day);
            }
            day = day.succ_opt().unwrap();
        }
        let r = recommend(2026, &days, 0, 450, &BTreeSet::new(), &AbsenceTable::pp94());
        assert_eq!(r.longest_consecutive_absence_working_days, 9);
        assert_eq!(r.sanction, SanctionCode::PernyataanTidakPuas);
        while !is_working_day(day, &BTreeSet::new()) {
            day = day.succ_opt().unwrap();
        }
        days.insert(day);
        let r = recommend(2026, &days, 0, 450, &BTreeSet::new(), &AbsenceTable::pp94());
        assert_eq!(r.longest_consecutive_absence_working_days, 10);
        assert_eq!(r.sanction, SanctionCode::Pemberhentian);
        assert_eq!(r.level, Level::Berat);
        // A public holiday inside the run does not break it; a working day missing does.
        let holidays = BTreeSet::from([d(2026, 1, 7)]);
        let mut with_gap = days.clone();
        with_gap.remove(&d(2026, 1, 7));
        assert_eq!(longest_run(&with_gap, &holidays), 9);
        assert_eq!(longest_run(&with_gap, &BTreeSet::new()), 7);
    }

    #[test]
    fn only_working_days_of_the_year_count() {
        let holidays = BTreeSet::from([d(2026, 8, 17)]);
        // Saturday 1 and Sunday 2 August, Independence Day (a Monday), then Tue–Wed.
        let days = BTreeSet::from([
            d(2026, 8, 1),
            d(2026, 8, 2),
            d(2026, 8, 17),
            d(2026, 8, 18),
            d(2026, 8, 19),
            d(2025, 12, 30),
        ]);
        let r = recommend(2026, &days, 0, 450, &holidays, &AbsenceTable::pp94());
        assert_eq!(r.unexcused_absence_days, 2);
        assert_eq!(r.sanction, SanctionCode::None);
        assert!(
            r.legal_basis.contains("konfirmasi dengan data presensi"),
            "{}",
            r.legal_basis
        );
        assert!(r.legal_basis.contains("saat sidak"), "{}", r.legal_basis);
    }

    #[test]
    fn a_run_over_the_new_year_counts_and_stops_the_salary() {
        // Ten working days from Monday 21 December 2026 to Tuesday 5 January 2027; the
        // holidays 25 December and 1 January do not break the run.
        let holidays = BTreeSet::from([d(2026, 12, 25), d(2027, 1, 1)]);
        let mut days = BTreeSet::new();
        let mut day = d(2026, 12, 21);
        while days.len() < 10 {
            if is_working_day(day, &holidays) {
                days.insert(day);
            }
            day = day.succ_opt().unwrap();
        }
        assert_eq!(days.last(), Some(&d(2027, 1, 5)));
        for year in [2026, 2027] {
            let r = recommend(year, &days, 0, 450, &holidays, &AbsenceTable::pp94());
            assert_eq!(r.longest_consecutive_absence_working_days, 10, "{year}");
            assert_eq!(r.sanction, SanctionCode::Pemberhentian, "{year}");
            // The tenth day is 5 January 2027: no salary from February.
            assert_eq!(r.salary_stops_from, Some(d(2027, 2, 1)), "{year}");
            assert!(
                r.legal_basis.contains("Pasal 15 ayat (2)"),
                "{}",
                r.legal_basis
            );
        }
        // Within one year only the days of that year count towards the total.
        let r = recommend(2026, &days, 0, 450, &holidays, &AbsenceTable::pp94());
        assert_eq!(r.unexcused_absence_days, 8);
        // A run entirely in the year before does not count for this one.
        let r = recommend(2028, &days, 0, 450, &holidays, &AbsenceTable::pp94());
        assert_eq!(r.longest_consecutive_absence_working_days, 0);
        assert_eq!(r.salary_stops_from, None);
        // PPPK tables carry no salary rule of PP 94.
        let r = recommend(
            2027,
            &days,
            0,
            450,
            &holidays,
            &AbsenceTable::pppk_default(),
        );
        assert_eq!(r.sanction, SanctionCode::Pemberhentian);
        assert_eq!(r.salary_stops_from, None);
    }

    #[test]
    fn lateness_counts_once_a_day_and_never_on_an_absence_day() {
        let (mon, tue, wed, sat) = (d(2026, 3, 2), d(2026, 3, 3), d(2026, 3, 4), d(2026, 3, 7));
        let late = [
            (mon, 30),
            (mon, 45),   // a second sidak the same day: the larger lateness counts
            (tue, 1440), // a whole day claimed: at most 449
            (wed, 20),   // Wednesday was also an absence
            (sat, 60),   // not a working day
        ];
        let absences = BTreeSet::from([wed]);
        assert_eq!(
            countable_late_minutes(&late, &absences, &BTreeSet::new()),
            45 + MAX_LATE_MINUTES
        );
        // A public holiday counts no lateness either.
        let holidays = BTreeSet::from([tue]);
        assert_eq!(countable_late_minutes(&late, &absences, &holidays), 45);
    }

    #[test]
    fn late_minutes_convert_to_days() {
        let r = recommend(
            2026,
            &scattered(2),
            449,
            450,
            &BTreeSet::new(),
            &AbsenceTable::pp94(),
        );
        assert_eq!(
            (r.late_days, r.total_days, r.sanction.as_str()),
            (0, 2, "none")
        );
        let r = recommend(
            2026,
            &scattered(2),
            450,
            450,
            &BTreeSet::new(),
            &AbsenceTable::pp94(),
        );
        assert_eq!(
            (r.late_days, r.total_days, r.sanction.as_str()),
            (1, 3, "teguran_lisan")
        );
    }

    #[test]
    fn pppk_table_parses() {
        let t = AbsenceTable::parse("5:teguran_lisan, 10:pemberhentian", "x").unwrap();
        assert_eq!(
            t.rows,
            vec![
                (5, SanctionCode::TeguranLisan),
                (10, SanctionCode::Pemberhentian)
            ]
        );
        assert!(AbsenceTable::parse("5:hukuman_mati", "x").is_err());
        assert!(AbsenceTable::parse("", "x").is_err());
    }
}
