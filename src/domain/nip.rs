//! The NIP (Nomor Induk Pegawai): 18 digits.
//!
//! PNS: `YYYYMMDD` birth date · `YYYYMM` CPNS start (TMT) · gender digit (1 male, 2 female)
//! · 3-digit sequence from 001. PPPK numbers are 18 digits too, but digits 9–12 are the
//! appointment year (PPPK were first appointed in 2019) and 13–14 a code, not a month.
//!
//! People type a NIP as BKN prints it (`19660801 198803 1 001`, `19660801.198803.1.001`) and
//! spreadsheets prefix a `'`: [`normalize`] takes those back to the 18 digits that are stored
//! and searched.

use super::vocab::vocabulary;
use chrono::{Datelike, NaiveDate};

vocabulary!(
    /// PNS (civil servant) or PPPK (government employee on contract).
    EmploymentType {
        Pns => "pns" ["PNS", "Civil servant (PNS)"],
        Pppk => "pppk" ["PPPK", "Contract civil servant (PPPK)"],
    }
);

vocabulary!(
    Gender {
        Male => "male" ["Laki-laki", "Male"],
        Female => "female" ["Perempuan", "Female"],
    }
);

/// What a valid NIP tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NipInfo {
    pub birth_date: NaiveDate,
    pub gender: Gender,
    /// The CPNS start month (first day), for PNS only.
    pub cpns_start: Option<NaiveDate>,
}

pub const MIN_BIRTH_YEAR: i32 = 1940;
/// The year the first PPPK were appointed.
pub const FIRST_PPPK_YEAR: i32 = 2019;
/// A PPPK is appointed at 20 at the earliest.
pub const PPPK_MIN_AGE: i32 = 20;

/// The NIP as typed, without the spaces and dots of BKN's printed form and a spreadsheet's
/// leading `'`; surrounding white space is dropped. What is left is validated as it is.
pub fn normalize(typed: &str) -> String {
    let t = typed.trim();
    let t = t.strip_prefix('\'').unwrap_or(t);
    t.chars().filter(|c| *c != ' ' && *c != '.').collect()
}

fn digits(s: &str, from: usize, to: usize) -> u32 {
    s[from..to].parse().unwrap_or(0)
}

/// Checks `nip` for `kind` against `today` (local date). Every failed rule is reported.
pub fn validate(nip: &str, kind: EmploymentType, today: NaiveDate) -> Result<NipInfo, Vec<String>> {
    if nip.len() != 18 || !nip.bytes().all(|b| b.is_ascii_digit()) {
        return Err(vec!["NIP must be exactly 18 digits".into()]);
    }
    let mut errors = Vec::new();
    let birth = NaiveDate::from_ymd_opt(
        digits(nip, 0, 4) as i32,
        digits(nip, 4, 6),
        digits(nip, 6, 8),
    );
    match birth {
        None => errors.push("NIP digits 1–8 are not a valid birth date (YYYYMMDD)".into()),
        Some(b) if b.year() < MIN_BIRTH_YEAR => errors.push(format!(
            "NIP birth year {} is before {MIN_BIRTH_YEAR}",
            b.year()
        )),
        Some(b) if b > today => errors.push("NIP birth date (digits 1–8) is in the future".into()),
        Some(_) => {}
    }
    if digits(nip, 15, 18) == 0 {
        errors.push("NIP sequence (digits 16–18) starts at 001".into());
    }
    let mut cpns_start = None;
    if kind == EmploymentType::Pppk {
        let year = digits(nip, 8, 12) as i32;
        if year < FIRST_PPPK_YEAR || year > today.year() {
            errors.push(format!(
                "NIP appointment year (digits 9–12) must be {FIRST_PPPK_YEAR}–{} for PPPK",
                today.year()
            ));
        } else if birth.is_some_and(|b| year < b.year() + PPPK_MIN_AGE) {
            errors.push(format!(
                "NIP appointment year (digits 9–12) is less than {PPPK_MIN_AGE} years after the birth year"
            ));
        }
    }
    if kind == EmploymentType::Pns {
        match NaiveDate::from_ymd_opt(digits(nip, 8, 12) as i32, digits(nip, 12, 14), 1) {
            None => errors.push("NIP digits 9–14 are not a valid CPNS start month (YYYYMM)".into()),
            Some(start) => {
                let this_month =
                    NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
                if start > this_month {
                    errors.push("NIP CPNS start month (digits 9–14) is in the future".into());
                }
                if let Some(b) = birth {
                    let seventeenth = b
                        .with_year(b.year() + 17)
                        .or_else(|| NaiveDate::from_ymd_opt(b.year() + 17, 3, 1))
                        .unwrap_or(b);
                    // The start month counts when the 17th birthday falls within it.
                    let month_end = start
                        .checked_add_months(chrono::Months::new(1))
                        .and_then(|d| d.pred_opt())
                        .unwrap_or(start);
                    if month_end < seventeenth {
                        errors.push(
                            "NIP CPNS start month (digits 9–14) is before the 17th birthday".into(),
                        );
                    }
                }
                cpns_start = Some(start);
            }
        }
    }
    let gender = match &nip[14..15] {
        "1" => Some(Gender::Male),
        "2" => Some(Gender::Female),
        _ => {
            errors.push("NIP digit 15 (gender) must be 1 or 2".into());
            None
        }
    };
    match (birth, gender) {
        (Some(birth_date), Some(gender)) if errors.is_empty() => Ok(NipInfo {
            birth_date,
            gender,
            cpns_start,
        }),
        _ => Err(errors),
    }
}

/// Reads what a stored (already validated) NIP tells, for output.
pub fn info(nip: &str) -> Option<(NaiveDate, Gender)> {
    if nip.len() != 18 || !nip.is_ascii() {
        return None;
    }
    let birth = NaiveDate::from_ymd_opt(
        digits(nip, 0, 4) as i32,
        digits(nip, 4, 6),
        digits(nip, 6, 8),
    )?;
    let gender = match &nip[14..15] {
        "1" => Gender::Male,
        "2" => Gender::Female,
        _ => return None,
    };
    Some((birth, gender))
}

/// PNS golongan/ruang I/a … IV/e; PPPK grades I … XVII.
pub fn validate_rank(rank: &str, kind: EmploymentType) -> Result<(), String> {
    let ok = match kind {
        EmploymentType::Pns => match rank.split_once('/') {
            Some(("I", r)) | Some(("II", r)) | Some(("III", r)) => {
                matches!(r, "a" | "b" | "c" | "d")
            }
            Some(("IV", r)) => matches!(r, "a" | "b" | "c" | "d" | "e"),
            _ => false,
        },
        EmploymentType::Pppk => PPPK_GRADES.contains(&rank),
    };
    if ok {
        Ok(())
    } else {
        Err(match kind {
            EmploymentType::Pns => format!("`{rank}` is not a PNS rank (I/a … IV/e)"),
            EmploymentType::Pppk => format!("`{rank}` is not a PPPK grade (I … XVII)"),
        })
    }
}

const PPPK_GRADES: [&str; 17] = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV",
    "XVI", "XVII",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
    }

    fn pns(nip: &str) -> Result<NipInfo, Vec<String>> {
        validate(nip, EmploymentType::Pns, today())
    }

    #[test]
    fn valid_pns() {
        let info = pns("198503152010011002").unwrap();
        assert_eq!(
            info.birth_date,
            NaiveDate::from_ymd_opt(1985, 3, 15).unwrap()
        );
        assert_eq!(info.gender, Gender::Male);
        assert_eq!(info.cpns_start, NaiveDate::from_ymd_opt(2010, 1, 1));
        assert_eq!(
            pns("199002292015032001"),
            Err(vec![
                "NIP digits 1–8 are not a valid birth date (YYYYMMDD)".to_string()
            ])
        );
        assert!(
            pns("199202292015032001").is_ok(),
            "29 February of a leap year"
        );
    }

    #[test]
    fn invalid_pns_reasons() {
        assert_eq!(
            pns("12345").unwrap_err(),
            vec!["NIP must be exactly 18 digits"]
        );
        assert!(pns("19850315201001100a").is_err());
        assert!(pns("19850315201001100２").is_err());
        assert!(pns("198513152010011002").unwrap_err()[0].contains("birth date"));
        assert!(pns("193812012010011002").unwrap_err()[0].contains("before 1940"));
        assert!(pns("203001012010011002")
            .unwrap_err()
            .iter()
            .any(|e| e.contains("future")));
        assert!(pns("198503152010131002").unwrap_err()[0].contains("CPNS start month"));
        assert!(pns("198503152010001002").unwrap_err()[0].contains("CPNS start month"));
        assert!(pns("198503152027011002").unwrap_err()[0].contains("in the future"));
        assert!(pns("198503152001031002").unwrap_err()[0].contains("17th birthday"));
        assert!(
            pns("198503152002031002").is_ok(),
            "17th birthday within the start month"
        );
        assert!(pns("198503152010013002").unwrap_err()[0].contains("gender"));
        assert!(pns("198503152010010002").unwrap_err()[0].contains("gender"));
        // Several reasons at once.
        assert_eq!(pns("198513152010133002").unwrap_err().len(), 3);
    }

    #[test]
    fn pppk_is_not_held_to_the_month_rule() {
        // Digits 9–14: appointment year 2023 + code 99 — not a month.
        let info = validate("199001012023991001", EmploymentType::Pppk, today()).unwrap();
        assert_eq!(info.cpns_start, None);
        assert!(validate("199001012023991001", EmploymentType::Pns, today()).is_err());
        assert!(
            validate("199013012023991001", EmploymentType::Pppk, today()).unwrap_err()[0]
                .contains("birth date")
        );
        assert!(
            validate("199001012023993001", EmploymentType::Pppk, today()).unwrap_err()[0]
                .contains("gender")
        );
    }

    #[test]
    fn typed_forms_normalize_to_the_digits() {
        for typed in [
            "19660801 198803 1 001",
            "19660801.198803.1.001",
            "'196608011988031001",
            "  196608011988031001 ",
            "'19660801 198803 1 001",
        ] {
            assert_eq!(normalize(typed), "196608011988031001", "{typed}");
        }
        // Anything else is left for validation to refuse.
        assert_eq!(normalize("19660801-198803-1-001"), "19660801-198803-1-001");
        assert!(pns(&normalize("19660801 198803 1 001")).is_ok());
    }

    #[test]
    fn sequence_starts_at_001() {
        assert!(pns("198503152010011000").unwrap_err()[0].contains("001"));
        assert!(pns("198503152010011001").is_ok());
        assert!(validate("199001012023991000", EmploymentType::Pppk, today()).is_err());
    }

    #[test]
    fn pppk_appointment_year_bounds() {
        let pppk = |nip: &str| validate(nip, EmploymentType::Pppk, today());
        assert!(pppk("199001012019011001").is_ok(), "2019, the first year");
        assert!(pppk("199001012026011001").is_ok(), "this year");
        assert!(pppk("199001012018011001").unwrap_err()[0].contains("2019–2026"));
        assert!(pppk("199001012027011001").unwrap_err()[0].contains("2019–2026"));
        // Born 2000: appointed in 2020 at the earliest.
        assert!(pppk("200001012020011001").is_ok());
        assert!(pppk("200001012019011001").unwrap_err()[0].contains("20 years"));
    }

    #[test]
    fn ranks() {
        for ok in ["I/a", "II/d", "III/c", "IV/e"] {
            assert!(validate_rank(ok, EmploymentType::Pns).is_ok(), "{ok}");
        }
        for bad in ["I/e", "V/a", "III", "iii/a", ""] {
            assert!(validate_rank(bad, EmploymentType::Pns).is_err(), "{bad}");
        }
        assert!(validate_rank("IX", EmploymentType::Pppk).is_ok());
        assert!(validate_rank("XVII", EmploymentType::Pppk).is_ok());
        assert!(validate_rank("XVIII", EmploymentType::Pppk).is_err());
        assert!(validate_rank("III/a", EmploymentType::Pppk).is_err());
    }
}
