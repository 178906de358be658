//! Inspection rules: vocabularies, limits, and the geofence distance.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }
    };
}

text_enum!(
    /// Where an official was when the inspection checked.
    AttendanceStatus {
        Present => "present",
        Late => "late",
        AbsentUnexcused => "absent_unexcused",
        Leave => "leave",
        Sick => "sick",
        OfficialDuty => "official_duty",
    }
);

text_enum!(
    /// What kind of thing a finding is.
    FindingCategory {
        Absence => "absence",
        Lateness => "lateness",
        Idle => "idle",
        PoorService => "poor_service",
        Facility => "facility",
        Administrative => "administrative",
        Integrity => "integrity",
        Other => "other",
    }
);

text_enum!(
    Severity {
        Low => "low",
        Medium => "medium",
        High => "high",
        Critical => "critical",
    }
);

text_enum!(
    InspectionStatus {
        Draft => "draft",
        Submitted => "submitted",
    }
);

pub const MAX_ATTENDANCE: usize = 500;
pub const MAX_FINDINGS: usize = 200;
pub const DESCRIPTION_MAX: usize = 2000;
pub const NOTES_MAX: usize = 5000;
pub const NOTE_MAX: usize = 1000;
pub const MAX_MINUTES_LATE: i64 = 1440;
/// Clock skew allowed for times sent by phones.
pub const FUTURE_TOLERANCE_MINUTES: i64 = 10;

/// Great-circle distance in metres (haversine, mean Earth radius).
pub fn distance_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const R: f64 = 6_371_008.8;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * R * a.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine() {
        assert!(distance_m(-6.12, 106.15, -6.12, 106.15) < 1e-6);
        // One thousandth of a degree of latitude is about 111 m.
        let d = distance_m(-6.120, 106.15, -6.121, 106.15);
        assert!((d - 111.2).abs() < 0.5, "{d}");
        // Serang to Jakarta, about 75 km.
        let d = distance_m(-6.1149, 106.1503, -6.1754, 106.8272);
        assert!((74_000.0..76_000.0).contains(&d), "{d}");
    }

    #[test]
    fn vocabularies() {
        assert_eq!(
            AttendanceStatus::parse("absent_unexcused"),
            Some(AttendanceStatus::AbsentUnexcused)
        );
        assert_eq!(
            FindingCategory::parse("poor_service"),
            Some(FindingCategory::PoorService)
        );
        assert_eq!(Severity::parse("urgent"), None);
    }
}
