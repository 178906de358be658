//! Reference data rules: OPD kinds, coordinates and geofences, position kinds.

use super::vocab::vocabulary;
use crate::error::FieldError;

vocabulary!(
    /// Kind of government work unit.
    OpdKind {
        Sekretariat => "sekretariat" ["Sekretariat", "Secretariat"],
        Dinas => "dinas" ["Dinas", "Agency (dinas)"],
        Badan => "badan" ["Badan", "Board (badan)"],
        Inspektorat => "inspektorat" ["Inspektorat", "Inspectorate"],
        Kecamatan => "kecamatan" ["Kecamatan", "District"],
        Kelurahan => "kelurahan" ["Kelurahan", "Urban village"],
        Other => "other" ["Lainnya", "Other"],
    }
);

vocabulary!(
    /// Kind of position (jabatan): JPT (eselon II), administrator (III), pengawas (IV),
    /// fungsional, pelaksana.
    PositionKind {
        Jpt => "jpt" ["Jabatan Pimpinan Tinggi", "Senior executive"],
        Administrator => "administrator" ["Administrator", "Administrator"],
        Pengawas => "pengawas" ["Pengawas", "Supervisor"],
        Fungsional => "fungsional" ["Fungsional", "Functional"],
        Pelaksana => "pelaksana" ["Pelaksana", "Staff"],
    }
);

vocabulary!(
    /// The grade (jenjang) of a functional position (jabatan fungsional): the expert grades
    /// (keahlian) and the skilled ones (keterampilan).
    JfGrade {
        AhliUtama => "ahli_utama" ["Ahli Utama", "Principal expert"],
        AhliMadya => "ahli_madya" ["Ahli Madya", "Senior expert"],
        AhliMuda => "ahli_muda" ["Ahli Muda", "Expert"],
        AhliPertama => "ahli_pertama" ["Ahli Pertama", "Junior expert"],
        Penyelia => "penyelia" ["Penyelia", "Supervisor grade"],
        Mahir => "mahir" ["Mahir", "Advanced"],
        Terampil => "terampil" ["Terampil", "Skilled"],
        Pemula => "pemula" ["Pemula", "Beginner"],
    }
);

vocabulary!(
    /// An acting post held beside the definitive one: `plt` (pelaksana tugas, a vacant post)
    /// or `plh` (pelaksana harian, the holder is away for a while).
    ActingKind {
        Plt => "plt" ["Pelaksana Tugas (Plt.)", "Acting (Plt.)"],
        Plh => "plh" ["Pelaksana Harian (Plh.)", "Daily acting (Plh.)"],
    }
);

/// A grade belongs to a functional position and to nothing else.
pub fn validate_jf_grade(kind: PositionKind, grade: Option<JfGrade>) -> Result<(), FieldError> {
    match (kind, grade) {
        (PositionKind::Fungsional, _) | (_, None) => Ok(()),
        (_, Some(_)) => Err(FieldError::new(
            "jf_grade",
            "is given only for a functional position (position_kind `fungsional`)",
        )),
    }
}

/// A PPPK in a managerial post below JPT: UU 20/2023 and its implementing rules open
/// administrator and pengawas posts to PNS, so the appointment should be checked.
pub fn pppk_post_warning(
    employment: super::nip::EmploymentType,
    kind: PositionKind,
) -> Option<String> {
    (employment == super::nip::EmploymentType::Pppk
        && matches!(kind, PositionKind::Administrator | PositionKind::Pengawas))
    .then(|| {
        format!(
            "A PPPK holds a {kind} post: UU 20/2023 (which replaced UU 5/2014) and its \
             implementing rules open administrator and pengawas posts to PNS; check the appointment."
        )
    })
}

/// What an admin should check about a placement: [`pppk_post_warning`], and a functional
/// position whose grade is not recorded (the competent official for a sanction depends on it).
pub fn placement_warnings(
    employment: super::nip::EmploymentType,
    kind: PositionKind,
    grade: Option<JfGrade>,
) -> Vec<String> {
    let mut out: Vec<String> = pppk_post_warning(employment, kind).into_iter().collect();
    if kind == PositionKind::Fungsional && grade.is_none() {
        out.push(
            "The functional grade (jf_grade) is not recorded: the official competent to impose \
             a sanction cannot be named without it."
                .to_string(),
        );
    }
    out
}

pub const DEFAULT_GEOFENCE_M: i32 = 150;
pub const GEOFENCE_MIN_M: i32 = 10;
pub const GEOFENCE_MAX_M: i32 = 5000;
pub const NAME_MAX: usize = 200;
pub const CODE_MAX: usize = 32;
pub const ADDRESS_MAX: usize = 500;

/// OPD codes are stored upper-case; letters, digits, `.`, `_`, `-`.
pub fn normalize_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

pub fn validate_code(field: &str, code: &str) -> Result<(), FieldError> {
    let code = code.trim();
    if code.is_empty() || code.len() > CODE_MAX {
        return Err(FieldError::new(
            field,
            format!("must be 1–{CODE_MAX} characters"),
        ));
    }
    if !code
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(FieldError::new(
            field,
            "may contain only letters, digits, '.', '_' and '-'",
        ));
    }
    Ok(())
}

/// A required, trimmed, single-line text of at most `max` characters.
pub fn validate_text(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Latitude and longitude come together, each in range; the geofence radius in 10..5000 m.
pub fn validate_location(
    latitude: Option<f64>,
    longitude: Option<f64>,
    geofence_radius_m: Option<i64>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    match (latitude, longitude) {
        (Some(_), None) => errors.push(FieldError::new(
            "longitude",
            "is required when latitude is given",
        )),
        (None, Some(_)) => errors.push(FieldError::new(
            "latitude",
            "is required when longitude is given",
        )),
        _ => {}
    }
    if let Some(lat) = latitude {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            errors.push(FieldError::new("latitude", "must be between -90 and 90"));
        }
    }
    if let Some(lon) = longitude {
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            errors.push(FieldError::new("longitude", "must be between -180 and 180"));
        }
    }
    if let Some(r) = geofence_radius_m {
        if !(i64::from(GEOFENCE_MIN_M)..=i64::from(GEOFENCE_MAX_M)).contains(&r) {
            errors.push(FieldError::new(
                "geofence_radius_m",
                format!("must be between {GEOFENCE_MIN_M} and {GEOFENCE_MAX_M} metres"),
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert!(validate_location(Some(-6.12), Some(106.15), Some(150)).is_empty());
        assert!(validate_location(None, None, None).is_empty());
        assert_eq!(
            validate_location(Some(-6.1), None, None)[0].field,
            "longitude"
        );
        assert_eq!(
            validate_location(Some(91.0), Some(0.0), None)[0].field,
            "latitude"
        );
        assert_eq!(
            validate_location(Some(0.0), Some(-181.0), None)[0].field,
            "longitude"
        );
        assert_eq!(
            validate_location(None, None, Some(9))[0].field,
            "geofence_radius_m"
        );
        assert_eq!(
            validate_location(None, None, Some(5001))[0].field,
            "geofence_radius_m"
        );
    }

    #[test]
    fn codes_and_kinds() {
        assert_eq!(normalize_code(" dinkes "), "DINKES");
        assert!(validate_code("code", "DISDIK-01").is_ok());
        assert!(validate_code("code", "").is_err());
        assert!(validate_code("code", "A B").is_err());
        assert_eq!(OpdKind::parse("Kecamatan"), Some(OpdKind::Kecamatan));
        assert_eq!(PositionKind::parse("JPT"), Some(PositionKind::Jpt));
        assert_eq!(PositionKind::parse("eselon"), None);
        assert_eq!(JfGrade::parse("Ahli_Muda"), Some(JfGrade::AhliMuda));
        assert!(validate_jf_grade(PositionKind::Fungsional, Some(JfGrade::Mahir)).is_ok());
        assert!(validate_jf_grade(PositionKind::Fungsional, None).is_ok());
        assert!(validate_jf_grade(PositionKind::Pelaksana, None).is_ok());
        assert!(validate_jf_grade(PositionKind::Pelaksana, Some(JfGrade::Mahir)).is_err());
    }

    #[test]
    fn warnings_for_placements() {
        use crate::domain::nip::EmploymentType::{Pns, Pppk};
        use PositionKind as K;
        for kind in [K::Administrator, K::Pengawas] {
            assert_eq!(placement_warnings(Pppk, kind, None).len(), 1, "{kind}");
            assert!(placement_warnings(Pns, kind, None).is_empty(), "{kind}");
        }
        for kind in [K::Jpt, K::Pelaksana] {
            assert!(placement_warnings(Pppk, kind, None).is_empty(), "{kind}");
        }
        assert!(placement_warnings(Pppk, K::Fungsional, Some(JfGrade::AhliPertama)).is_empty());
        assert_eq!(placement_warnings(Pns, K::Fungsional, None).len(), 1);
    }
}
