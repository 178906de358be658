//! The discipline rules: the PP 94/2021 (and PPPK, PP 49/2018) tables, and the recommendation they give
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

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

use super::nip::EmploymentType;
use super::vocab::vocabulary;

vocabulary!(
    /// The level of a discipline sanction (PP 94/2021 Pasal 8), or none.
    Level {
        None => "none" ["Tidak ada", "None"],
        Ringan => "ringan" ["Ringan", "Light"],
        Sedang => "sedang" ["Sedang", "Moderate"],
        Berat => "berat" ["Berat", "Severe"],
    }
);

vocabulary!(
    /// A discipline sanction by its code, or `none` (no sanction imposed). PNS sanctions are
    /// those of PP 94/2021 Pasal 8; PPPK have their own catalogue (see [`SANCTIONS`]).
    SanctionCode {
        None => "none" ["Tidak dijatuhi hukuman disiplin", "No sanction"],
        TeguranLisan => "teguran_lisan" ["Teguran lisan", "Oral reprimand"],
        TeguranTertulis => "teguran_tertulis" ["Teguran tertulis", "Written reprimand"],
        PernyataanTidakPuas => "pernyataan_tidak_puas" ["Pernyataan tidak puas secara tertulis", "Written statement of dissatisfaction"],
        PotongTukin25Persen6Bulan => "potong_tukin_25_6_bulan" ["Pemotongan tunjangan kinerja sebesar 25% selama 6 bulan", "Performance allowance cut 25% for 6 months"],
        PotongTukin25Persen9Bulan => "potong_tukin_25_9_bulan" ["Pemotongan tunjangan kinerja sebesar 25% selama 9 bulan", "Performance allowance cut 25% for 9 months"],
        PotongTukin25Persen12Bulan => "potong_tukin_25_12_bulan" ["Pemotongan tunjangan kinerja sebesar 25% selama 12 bulan", "Performance allowance cut 25% for 12 months"],
        PenurunanJabatan => "penurunan_jabatan" ["Penurunan jabatan setingkat lebih rendah selama 12 bulan", "Demotion by one level for 12 months"],
        PembebasanJabatan => "pembebasan_jabatan" ["Pembebasan dari jabatannya menjadi jabatan pelaksana selama 12 bulan", "Release from post to staff for 12 months"],
        Pemberhentian => "pemberhentian" ["Pemberhentian dengan hormat tidak atas permintaan sendiri sebagai PNS", "Honourable dismissal not at own request"],
        TundaKgb1Tahun => "tunda_kgb_1_tahun" ["Penundaan kenaikan gaji berkala selama 1 tahun", "Periodic pay rise deferred for 1 year"],
        TurunGolongan1Tahun => "turun_golongan_1_tahun" ["Penurunan golongan setingkat lebih rendah selama 1 tahun", "Grade lowered by one for 1 year"],
        PhpkDenganHormat => "phpk_dengan_hormat_tidak_atas_permintaan_sendiri" ["Pemutusan hubungan perjanjian kerja dengan hormat tidak atas permintaan sendiri", "Honourable termination of the work agreement not at own request"],
        PhpkTidakDenganHormat => "phpk_tidak_dengan_hormat" ["Pemutusan hubungan perjanjian kerja tidak dengan hormat", "Dishonourable termination of the work agreement"],
    }
);

/// Whom a sanction applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    Both,
    Pns,
    Pppk,
}

impl Applies {
    pub fn to(self, who: EmploymentType) -> bool {
        matches!(
            (self, who),
            (Applies::Both, _)
                | (Applies::Pns, EmploymentType::Pns)
                | (Applies::Pppk, EmploymentType::Pppk)
        )
    }
}

/// A sanction: code, level, whom it applies to and the Indonesian label (the
/// vocabulary's, [`SanctionCode::label`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sanction {
    pub code: SanctionCode,
    pub level: Level,
    pub applies: Applies,
    pub label: &'static str,
}

const fn s(code: SanctionCode, level: Level, applies: Applies) -> Sanction {
    Sanction {
        code,
        level,
        applies,
        label: code.label().id,
    }
}

/// The catalogue. PNS: PP 94/2021 Pasal 8. PPPK: PP 49/2018 Pasal 52 leaves the catalogue
/// to each instance's PPK (procedure as for PNS); the ringan sanctions are the PNS ones,
/// sedang are the postponement of the periodic pay rise and the grade lowered one step for
/// one year, berat is the end of the work agreement (pemutusan hubungan perjanjian kerja,
/// PP 49/2018 Pasal 53 ff.) with or without honour. The city confirms the PPPK list
/// against its own PPK decision.
pub const SANCTIONS: [Sanction; 14] = {
    use Applies::*;
    use Level as L;
    use SanctionCode as C;
    [
        s(C::None, L::None, Both),
        s(C::TeguranLisan, L::Ringan, Both),
        s(C::TeguranTertulis, L::Ringan, Both),
        s(C::PernyataanTidakPuas, L::Ringan, Both),
        s(C::PotongTukin25Persen6Bulan, L::Sedang, Pns),
        s(C::PotongTukin25Persen9Bulan, L::Sedang, Pns),
        s(C::PotongTukin25Persen12Bulan, L::Sedang, Pns),
        s(C::PenurunanJabatan, L::Berat, Pns),
        s(C::PembebasanJabatan, L::Berat, Pns),
        s(C::Pemberhentian, L::Berat, Pns),
        s(C::TundaKgb1Tahun, L::Sedang, Pppk),
        s(C::TurunGolongan1Tahun, L::Sedang, Pppk),
        s(C::PhpkDenganHormat, L::Berat, Pppk),
        s(C::PhpkTidakDenganHormat, L::Berat, Pppk),
    ]
};

/// The catalogue entry of `code` (every code has one; a test keeps it so).
pub fn sanction(code: SanctionCode) -> Option<Sanction> {
    SANCTIONS.iter().copied().find(|s| s.code == code)
}

/// The entry of `code` when it may be imposed on `who`.
pub fn sanction_for(code: SanctionCode, who: EmploymentType) -> Option<Sanction> {
    sanction(code).filter(|s| s.applies.to(who))
}

/// Cumulative-days thresholds: the highest row whose `min_days` is reached applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsenceTable {
    pub employment_type: EmploymentType,
    pub rows: Vec<(u32, SanctionCode)>,
    pub consecutive_days_for_dismissal: u32,
    /// What the consecutive-day rule gives.
    pub dismissal: SanctionCode,
    pub basis: &'static str,
    /// Where the rule that salary stops from the month after the consecutive-day threshold
    /// is reached is written, when the table's law has one (PP 94/2021 Pasal 15 ayat (2)).
    pub salary_stop_basis: Option<&'static str>,
}

impl AbsenceTable {
    pub fn pp94() -> Self {
        AbsenceTable {
            employment_type: EmploymentType::Pns,
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
            dismissal: SanctionCode::Pemberhentian,
            basis: "PP 94/2021 tentang Disiplin Pegawai Negeri Sipil",
            salary_stop_basis: Some("PP 94/2021 Pasal 15 ayat (2)"),
        }
    }

    /// PPPK (PP 49/2018 Pasal 52: the instance's PPK sets the discipline rules): the same
    /// day thresholds as PP 94 by default, with PPPK sanctions — ringan as for PNS, sedang
    /// from 11 and 21 days, the end of the work agreement from 28 days or 10 consecutive
    /// working days. `SIDAK_PPPK_ABSENCE_TABLE` replaces the rows.
    pub fn pppk_default() -> Self {
        AbsenceTable {
            employment_type: EmploymentType::Pppk,
            rows: vec![
                (3, SanctionCode::TeguranLisan),
                (4, SanctionCode::TeguranTertulis),
                (7, SanctionCode::PernyataanTidakPuas),
                (11, SanctionCode::TundaKgb1Tahun),
                (21, SanctionCode::TurunGolongan1Tahun),
                (28, SanctionCode::PhpkDenganHormat),
            ],
            consecutive_days_for_dismissal: 10,
            dismissal: SanctionCode::PhpkDenganHormat,
            basis: "Disiplin PPPK (PP 49/2018 Pasal 52, ditetapkan PPK instansi)",
            salary_stop_basis: None,
        }
    }

    /// Parses `days:sanction,days:sanction,…` for `who`: only `who`'s sanction codes.
    pub fn parse(text: &str, who: EmploymentType) -> Result<Self, String> {
        let mut rows = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (days, code) = part
                .split_once(':')
                .ok_or_else(|| format!("`{part}` is not days:sanction"))?;
            let days: u32 = days
                .trim()
                .parse()
                .map_err(|_| format!("`{days}` is not a number of days"))?;
            let code = SanctionCode::parse(code.trim())
                .ok_or_else(|| format!("`{code}` is not a sanction code"))?;
            if sanction_for(code, who).is_none() {
                return Err(format!("`{code}` is not a sanction for {who}"));
            }
            rows.push((days, code));
        }
        rows.sort_by_key(|r| r.0);
        if rows.is_empty() {
            return Err("the table is empty".into());
        }
        let default = match who {
            EmploymentType::Pns => Self::pp94(),
            EmploymentType::Pppk => Self::pppk_default(),
        };
        Ok(AbsenceTable { rows, ..default })
    }
}

/// What the record points to.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Recommendation {
    pub year: i32,
    /// Distinct working days of the year on which a sidak recorded an unexcused absence
    /// (weekends and public holidays do not count).
    pub unexcused_absence_days: u32,
    /// Minutes late and left early in the year's working days: per day the largest of each,
    /// together at most 449, none on a day counted as an absence.
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
    /// Days of the year on which one sidak recorded the official absent without excuse and
    /// another recorded leave, sickness or official duty: the excuse wins (they are not
    /// counted), shown so that someone checks which was right.
    pub conflicting_days: Vec<NaiveDate>,
    pub level: Level,
    /// Sanction code (see `SANCTIONS`), `none` below the first threshold.
    pub sanction: SanctionCode,
    pub sanction_label: String,
    pub legal_basis: String,
    /// Who imposes the recommended sanction on the official in their current placement
    /// (PP 94/2021 Bab IV, as the city configured it); `null` when no sanction is
    /// recommended, or when the placement is a functional position whose grade is not
    /// recorded.
    pub competent_official: Option<super::authority::CompetentOfficial>,
}

/// Is a day a working day (for the official's OPD: see `domain::calendar`).
pub type Working<'a> = &'a dyn Fn(NaiveDate) -> bool;

/// The runs of absence days with no working day between them missing, oldest first; days
/// that are not working days are left out.
pub fn runs(days: &BTreeSet<NaiveDate>, working: Working) -> Vec<Vec<NaiveDate>> {
    let mut out: Vec<Vec<NaiveDate>> = Vec::new();
    let mut prev: Option<NaiveDate> = None;
    for day in days.iter().copied().filter(|d| working(*d)) {
        let adjacent = prev.is_some_and(|p| {
            let mut d = p.succ_opt();
            while let Some(x) = d {
                if x >= day {
                    break;
                }
                if working(x) {
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
pub fn longest_run(days: &BTreeSet<NaiveDate>, working: Working) -> u32 {
    runs(days, working)
        .iter()
        .map(|r| r.len() as u32)
        .max()
        .unwrap_or(0)
}

/// The most minutes one day's late arrival and early leave count together: 450 working
/// minutes (7.5 hours) make a day, and a day missed is an absence, not time lost.
pub const MAX_LATE_MINUTES: u32 = 449;

/// Time lost on one day in one report: minutes late (already no more than the minutes since
/// work started when the sidak saw it) or minutes left early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeLost {
    pub day: NaiveDate,
    pub late: u32,
    pub early: u32,
}

/// The minutes of lateness and early leave that count towards the total: on each working
/// day the largest lateness plus the largest early leave recorded (two sidak the same day
/// that both find an official late are one late arrival), together at most
/// [`MAX_LATE_MINUTES`], and none on a day counted as an absence.
pub fn countable_late_minutes(
    lost: &[TimeLost],
    absence_days: &BTreeSet<NaiveDate>,
    working: Working,
) -> u32 {
    let mut per_day: std::collections::BTreeMap<NaiveDate, (u32, u32)> = Default::default();
    for t in lost {
        if working(t.day) && !absence_days.contains(&t.day) {
            let m = per_day.entry(t.day).or_default();
            *m = (m.0.max(t.late), m.1.max(t.early));
        }
    }
    per_day
        .values()
        .map(|(late, early)| (late + early).min(MAX_LATE_MINUTES))
        .sum()
}

/// Splits the days a sidak recorded an unexcused absence into those that count and those
/// another report the same day recorded with an excusing status (leave, sick, official
/// duty): the excuse wins, and the conflict is shown.
pub fn without_conflicts(
    absences: &BTreeSet<NaiveDate>,
    excusing: &BTreeSet<NaiveDate>,
) -> (BTreeSet<NaiveDate>, BTreeSet<NaiveDate>) {
    absences.iter().partition(|d| !excusing.contains(d))
}

/// What the record of an official holds around a year.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// Days a sidak recorded an unexcused absence (not excused since).
    pub absences: BTreeSet<NaiveDate>,
    /// Days a sidak recorded leave, sickness or official duty.
    pub excusing: BTreeSet<NaiveDate>,
    pub time_lost: Vec<TimeLost>,
}

/// Reads the table for an official's year. `record` may hold days around the year: a run
/// of consecutive absences over the new year counts for both years.
pub fn recommend(
    year: i32,
    record: &Record,
    minutes_per_day: u32,
    working: Working,
    table: &AbsenceTable,
) -> Recommendation {
    let (absence_days, conflicts) = without_conflicts(&record.absences, &record.excusing);
    let late_minutes = countable_late_minutes(
        &record
            .time_lost
            .iter()
            .copied()
            .filter(|t| t.day.year() == year)
            .collect::<Vec<_>>(),
        &absence_days,
        working,
    );
    let days = absence_days
        .iter()
        .filter(|d| d.year() == year && working(**d))
        .count() as u32;
    let late_days = late_minutes / minutes_per_day.max(1);
    let total = days + late_days;
    let threshold = table.consecutive_days_for_dismissal.max(1) as usize;
    let touching: Vec<Vec<NaiveDate>> = runs(&absence_days, working)
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
        code = table.dismissal;
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
             {year}, ditambah {late_days} hari dari {late_minutes} menit keterlambatan dan pulang \
             sebelum waktunya: {total} hari kerja — {CONFIRM}",
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
        conflicting_days: conflicts.into_iter().filter(|d| d.year() == year).collect(),
        level: s.level,
        sanction: s.code,
        sanction_label: s.label.to_string(),
        legal_basis,
        competent_official: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::{is_working_day, WorkWeek};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn absences(days: BTreeSet<NaiveDate>) -> Record {
        Record {
            absences: days,
            ..Default::default()
        }
    }

    /// Monday to Friday, with `holidays`.
    fn mon_fri(holidays: &BTreeSet<NaiveDate>) -> impl Fn(NaiveDate) -> bool + '_ {
        move |day| is_working_day(day, WorkWeek::MonFri, holidays)
    }

    fn read(year: i32, record: &Record, holidays: &BTreeSet<NaiveDate>) -> Recommendation {
        recommend(year, record, 450, &mon_fri(holidays), &AbsenceTable::pp94())
    }

    /// `n` absence days on separate weeks' Wednesdays, so no run builds up.
    fn scattered(n: u32) -> BTreeSet<NaiveDate> {
        (0..n)
            .map(|i| d(2026, 1, 7) + chrono::Duration::weeks(i64::from(i)))
            .collect()
    }

    fn read_with(days: u32, table: &AbsenceTable) -> Recommendation {
        recommend(
            2026,
            &absences(scattered(days)),
            450,
            &mon_fri(&BTreeSet::new()),
            table,
        )
    }

    /// `n` consecutive working days from `first` (Monday to Friday, `holidays` skipped).
    fn run_from(first: NaiveDate, n: usize, holidays: &BTreeSet<NaiveDate>) -> BTreeSet<NaiveDate> {
        let mut days = BTreeSet::new();
        let mut day = first;
        while days.len() < n {
            if is_working_day(day, WorkWeek::MonFri, holidays) {
                days.insert(day);
            }
            day = day.succ_opt().unwrap();
        }
        days
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
            assert_eq!(
                read_with(days, &AbsenceTable::pp94()).sanction,
                code,
                "{days} days"
            );
        }
        assert_eq!(read_with(10, &AbsenceTable::pp94()).level, Level::Ringan);
        assert_eq!(read_with(11, &AbsenceTable::pp94()).level, Level::Sedang);
        assert_eq!(read_with(21, &AbsenceTable::pp94()).level, Level::Berat);
    }

    #[test]
    fn pppk_have_their_own_sanctions() {
        let table = AbsenceTable::pppk_default();
        let expected = [
            (2, SanctionCode::None),
            (3, SanctionCode::TeguranLisan),
            (7, SanctionCode::PernyataanTidakPuas),
            (10, SanctionCode::PernyataanTidakPuas),
            (11, SanctionCode::TundaKgb1Tahun),
            (20, SanctionCode::TundaKgb1Tahun),
            (21, SanctionCode::TurunGolongan1Tahun),
            (27, SanctionCode::TurunGolongan1Tahun),
            (28, SanctionCode::PhpkDenganHormat),
        ];
        for (days, code) in expected {
            assert_eq!(read_with(days, &table).sanction, code, "{days} days");
        }
        // Every row of each table is a sanction for its own employees only.
        for (table, other) in [
            (AbsenceTable::pp94(), EmploymentType::Pppk),
            (AbsenceTable::pppk_default(), EmploymentType::Pns),
        ] {
            for (_, code) in &table.rows {
                assert!(
                    sanction_for(*code, table.employment_type).is_some(),
                    "{code}"
                );
            }
            assert!(sanction_for(table.dismissal, table.employment_type).is_some());
            assert!(sanction_for(table.dismissal, other).is_none());
        }
        assert!(sanction_for(SanctionCode::PenurunanJabatan, EmploymentType::Pppk).is_none());
        assert!(sanction_for(SanctionCode::PhpkTidakDenganHormat, EmploymentType::Pns).is_none());
        assert!(sanction_for(SanctionCode::TeguranLisan, EmploymentType::Pppk).is_some());
        // Ten consecutive working days end a PPPK's agreement, without PP 94's salary rule.
        let run = absences(run_from(d(2026, 3, 2), 10, &BTreeSet::new()));
        let r = recommend(2026, &run, 450, &mon_fri(&BTreeSet::new()), &table);
        assert_eq!(r.sanction, SanctionCode::PhpkDenganHormat);
        assert_eq!(r.level, Level::Berat);
        assert_eq!(r.salary_stops_from, None);
    }

    #[test]
    fn consecutive_working_days() {
        // Monday 5 January 2026 onwards: 9 working days (over a weekend) then 10.
        let none = BTreeSet::new();
        let mut days = run_from(d(2026, 1, 5), 9, &none);
        let r = read(2026, &absences(days.clone()), &none);
        assert_eq!(r.longest_consecutive_absence_working_days, 9);
        assert_eq!(r.sanction, SanctionCode::PernyataanTidakPuas);
        days = run_from(d(2026, 1, 5), 10, &none);
        let r = read(2026, &absences(days.clone()), &none);
        assert_eq!(r.longest_consecutive_absence_working_days, 10);
        assert_eq!(r.sanction, SanctionCode::Pemberhentian);
        assert_eq!(r.level, Level::Berat);
        // A public holiday inside the run does not break it; a working day missing does.
        let holidays = BTreeSet::from([d(2026, 1, 7)]);
        let mut with_gap = days.clone();
        with_gap.remove(&d(2026, 1, 7));
        assert_eq!(longest_run(&with_gap, &mon_fri(&holidays)), 9);
        assert_eq!(longest_run(&with_gap, &mon_fri(&none)), 7);
    }

    #[test]
    fn a_six_day_week_counts_saturdays_and_needs_them_in_a_run() {
        let none = BTreeSet::new();
        let six = |day: NaiveDate| is_working_day(day, WorkWeek::MonSat, &none);
        // Monday 2 to Saturday 7 March 2026, then Monday 9 to Wednesday 11: 9 days in a
        // row for a six-day unit, and Saturday 7 is one of them.
        let mut days: BTreeSet<NaiveDate> = (2..=7).map(|n| d(2026, 3, n)).collect();
        days.extend((9..=11).map(|n| d(2026, 3, n)));
        let r = recommend(
            2026,
            &absences(days.clone()),
            450,
            &six,
            &AbsenceTable::pp94(),
        );
        assert_eq!(r.unexcused_absence_days, 9);
        assert_eq!(r.longest_consecutive_absence_working_days, 9);
        // Without Saturday the six-day run breaks; for a five-day unit it never counted.
        days.remove(&d(2026, 3, 7));
        assert_eq!(longest_run(&days, &six), 5);
        assert_eq!(longest_run(&days, &mon_fri(&none)), 8);
        // Shift units: every day is a possible working day.
        let shifts = |day: NaiveDate| is_working_day(day, WorkWeek::EveryDay, &none);
        let weekend = BTreeSet::from([d(2026, 3, 7), d(2026, 3, 8)]);
        let r = recommend(
            2026,
            &absences(weekend),
            450,
            &shifts,
            &AbsenceTable::pp94(),
        );
        assert_eq!(r.unexcused_absence_days, 2);
        assert_eq!(r.longest_consecutive_absence_working_days, 2);
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
        let r = read(2026, &absences(days), &holidays);
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
        let days = run_from(d(2026, 12, 21), 10, &holidays);
        assert_eq!(days.last(), Some(&d(2027, 1, 5)));
        let record = absences(days);
        for year in [2026, 2027] {
            let r = read(year, &record, &holidays);
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
        assert_eq!(read(2026, &record, &holidays).unexcused_absence_days, 8);
        // A run entirely in the year before does not count for this one.
        let r = read(2028, &record, &holidays);
        assert_eq!(r.longest_consecutive_absence_working_days, 0);
        assert_eq!(r.salary_stops_from, None);
    }

    #[test]
    fn lateness_counts_once_a_day_and_never_on_an_absence_day() {
        let (mon, tue, wed, thu, sat) = (
            d(2026, 3, 2),
            d(2026, 3, 3),
            d(2026, 3, 4),
            d(2026, 3, 5),
            d(2026, 3, 7),
        );
        let late = |day, late| TimeLost {
            day,
            late,
            early: 0,
        };
        let lost = [
            late(mon, 30),
            late(mon, 45),   // a second sidak the same day: the larger lateness counts
            late(tue, 1440), // a whole day claimed: at most 449
            late(wed, 20),   // Wednesday was also an absence
            late(sat, 60),   // not a working day
            // Thursday: late 100 minutes and, in another report, gone 60 minutes early.
            late(thu, 100),
            TimeLost {
                day: thu,
                late: 0,
                early: 60,
            },
            TimeLost {
                day: thu,
                late: 0,
                early: 20,
            },
        ];
        let absent = BTreeSet::from([wed]);
        let none = BTreeSet::new();
        assert_eq!(
            countable_late_minutes(&lost, &absent, &mon_fri(&none)),
            45 + MAX_LATE_MINUTES + 160
        );
        // A public holiday counts no lateness either.
        let holidays = BTreeSet::from([tue]);
        assert_eq!(
            countable_late_minutes(&lost, &absent, &mon_fri(&holidays)),
            45 + 160
        );
        // Late and early together never make a whole day.
        let both = [
            late(mon, 300),
            TimeLost {
                day: mon,
                late: 0,
                early: 300,
            },
        ];
        assert_eq!(
            countable_late_minutes(&both, &none, &mon_fri(&none)),
            MAX_LATE_MINUTES
        );
    }

    #[test]
    fn late_minutes_convert_to_days() {
        let none = BTreeSet::new();
        let with_late = |minutes: u32| Record {
            absences: scattered(2),
            excusing: BTreeSet::new(),
            time_lost: vec![TimeLost {
                day: d(2026, 6, 2),
                late: minutes,
                early: 0,
            }],
        };
        let r = read(2026, &with_late(449), &none);
        assert_eq!(
            (r.late_days, r.total_days, r.sanction.as_str()),
            (0, 2, "none")
        );
        // 450 minutes in one day are capped at 449; two days of 225 make one day.
        let mut record = with_late(225);
        record.time_lost.push(TimeLost {
            day: d(2026, 6, 3),
            late: 0,
            early: 225,
        });
        let r = read(2026, &record, &none);
        assert_eq!(
            (
                r.late_minutes,
                r.late_days,
                r.total_days,
                r.sanction.as_str()
            ),
            (450, 1, 3, "teguran_lisan")
        );
        // Time lost in another year does not count for this one.
        let r = read(2027, &record, &none);
        assert_eq!(r.late_minutes, 0);
    }

    #[test]
    fn an_excuse_the_same_day_wins_and_is_shown() {
        let none = BTreeSet::new();
        let days = run_from(d(2026, 3, 2), 10, &none);
        let sick = d(2026, 3, 4);
        let record = Record {
            absences: days,
            excusing: BTreeSet::from([sick, d(2026, 3, 20)]),
            time_lost: Vec::new(),
        };
        let r = read(2026, &record, &none);
        assert_eq!(r.unexcused_absence_days, 9);
        assert_eq!(r.conflicting_days, vec![sick]);
        // The excused day breaks the run of ten.
        assert_eq!(r.longest_consecutive_absence_working_days, 7);
        assert_eq!(r.sanction, SanctionCode::PernyataanTidakPuas);
    }

    #[test]
    fn tables_parse_for_their_own_employees() {
        let t = AbsenceTable::parse(
            "5:teguran_lisan, 10:phpk_dengan_hormat_tidak_atas_permintaan_sendiri",
            EmploymentType::Pppk,
        )
        .unwrap();
        assert_eq!(
            t.rows,
            vec![
                (5, SanctionCode::TeguranLisan),
                (10, SanctionCode::PhpkDenganHormat)
            ]
        );
        assert_eq!(t.dismissal, SanctionCode::PhpkDenganHormat);
        let err = AbsenceTable::parse("10:pemberhentian", EmploymentType::Pppk).unwrap_err();
        assert!(err.contains("not a sanction for pppk"), "{err}");
        assert!(AbsenceTable::parse("5:hukuman_mati", EmploymentType::Pppk).is_err());
        assert!(AbsenceTable::parse("", EmploymentType::Pppk).is_err());
    }
}
