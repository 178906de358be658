//! The NIP (Nomor Induk Pegawai): 18 digits.
//!
//! PNS: `YYYYMMDD` birth date · `YYYYMM` CPNS start (TMT) · gender digit (1 male, 2 female)
//! · 3-digit sequence. PPPK numbers are 18 digits too, but digits 9–14 are the appointment
//! year and a code, not a month, so only the birth date and the gender digit are checked.

use super::vocab::vocabulary;
use chrono::{Datelike, NaiveDate};

vocabulary!(
    /// PNS (civil servant) or PPPK (government employee on contract).
    EmploymentType {
        Pns => "pns",
        Pppk => "pppk",
    }
);

vocabulary!(
    Gender {
        Male => "male",
        Female => "female",
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
    let mut cpns_start = None;
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
