//! The dates Sidak accepts: every date and time that comes in — in a body, a query string
//! or a CSV import — lies within 1900-01-01 … 2100-12-31 (as written, in its own offset).
//! Outside it a date is a typing error, and some are not even storable (PostgreSQL has no
//! year 0, chrono panics near year ±262143), so it is refused with `422` naming the field
//! before anything computes with it.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use serde::{Deserialize, Deserializer};

use crate::error::FieldError;

pub const EARLIEST_YEAR: i32 = 1900;
pub const LATEST_YEAR: i32 = 2100;
pub const OUT_OF_RANGE: &str = "must lie between 1900-01-01 and 2100-12-31";

/// A time as stored: truncated to microseconds (PostgreSQL's precision), so that a value read
/// back equals the value written on both backends.
pub fn truncate_micros(t: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    use chrono::Timelike;
    let nanos = t.nanosecond();
    t.with_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
}

/// The local calendar day (in the deployment's time zone) of a stored UTC time: the one
/// rule for "which day" — a sidak at 06:30 WIB belongs to that WIB day.
pub fn local_day(t: chrono::NaiveDateTime, tz: chrono_tz::Tz) -> NaiveDate {
    t.and_utc().with_timezone(&tz).date_naive()
}

/// When local day `d` begins, in UTC (the earliest moment, should a day begin twice).
pub fn day_start(d: NaiveDate, tz: chrono_tz::Tz) -> chrono::NaiveDateTime {
    use chrono::TimeZone;
    let midnight = d.and_time(chrono::NaiveTime::MIN);
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.naive_utc())
        .unwrap_or(midnight)
}

/// `[start, end)` of a local calendar year, in UTC.
pub fn year_bounds(year: i32, tz: chrono_tz::Tz) -> (chrono::NaiveDateTime, chrono::NaiveDateTime) {
    let start = |y: i32| {
        NaiveDate::from_ymd_opt(y, 1, 1)
            .map(|d| day_start(d, tz))
            .unwrap_or_default()
    };
    (start(year), start(year + 1))
}

/// "Today" in the deployment's time zone.
pub fn today(tz: chrono_tz::Tz) -> NaiveDate {
    chrono::Utc::now().with_timezone(&tz).date_naive()
}

pub fn in_range(d: NaiveDate) -> bool {
    (EARLIEST_YEAR..=LATEST_YEAR).contains(&d.year())
}

/// `Err` naming `field` when `d` lies outside the accepted range.
pub fn check(field: &str, d: NaiveDate) -> Result<NaiveDate, FieldError> {
    if in_range(d) {
        Ok(d)
    } else {
        Err(FieldError::new(field, OUT_OF_RANGE))
    }
}

/// [`check`] for an optional date.
pub fn check_opt(field: &str, d: Option<NaiveDate>) -> Result<Option<NaiveDate>, FieldError> {
    d.map(|d| check(field, d)).transpose()
}

fn bounded<E: serde::de::Error>(d: NaiveDate) -> Result<NaiveDate, E> {
    if in_range(d) {
        Ok(d)
    } else {
        Err(E::custom(OUT_OF_RANGE))
    }
}

/// `#[serde(deserialize_with = "…::date")]` for a `NaiveDate` body field.
pub fn date<'de, D: Deserializer<'de>>(de: D) -> Result<NaiveDate, D::Error> {
    bounded(NaiveDate::deserialize(de)?)
}

/// For an `Option<NaiveDate>` body field (with `#[serde(default)]`).
pub fn opt_date<'de, D: Deserializer<'de>>(de: D) -> Result<Option<NaiveDate>, D::Error> {
    Option::<NaiveDate>::deserialize(de)?
        .map(bounded)
        .transpose()
}

/// For a `DateTime<FixedOffset>` body field: the date as written must be in range.
pub fn time<'de, D: Deserializer<'de>>(de: D) -> Result<DateTime<FixedOffset>, D::Error> {
    let t = DateTime::<FixedOffset>::deserialize(de)?;
    bounded(t.date_naive()).map(|_| t)
}

/// For an `Option<DateTime<FixedOffset>>` body field (with `#[serde(default)]`).
pub fn opt_time<'de, D: Deserializer<'de>>(
    de: D,
) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
    let t = Option::<DateTime<FixedOffset>>::deserialize(de)?;
    match t {
        Some(t) => bounded(t.date_naive()).map(|_| Some(t)),
        None => Ok(None),
    }
}

/// For an `Option<Option<DateTime<FixedOffset>>>` field where `null` clears the value and an
/// absent field leaves it (with `#[serde(default)]`).
pub fn nullable_time<'de, D: Deserializer<'de>>(
    de: D,
) -> Result<Option<Option<DateTime<FixedOffset>>>, D::Error> {
    opt_time(de).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        #[serde(deserialize_with = "date")]
        day: NaiveDate,
        #[serde(default, deserialize_with = "opt_time")]
        at: Option<DateTime<FixedOffset>>,
    }

    #[test]
    fn the_bounds_are_inclusive_and_as_written() {
        let ok = |s: &str| serde_json::from_str::<Body>(s).is_ok();
        assert!(ok(r#"{"day":"1900-01-01"}"#));
        assert!(ok(
            r#"{"day":"2100-12-31","at":"2100-12-31T23:59:59-12:00"}"#
        ));
        // As written: 1900-01-01 07:00+07:00 is 1900-01-01 00:00Z; 1900-01-01T00:00+07:00 is
        // still the first day of 1900 where it was written.
        assert!(ok(
            r#"{"day":"2000-01-01","at":"1900-01-01T00:00:00+07:00"}"#
        ));
        assert!(!ok(r#"{"day":"1899-12-31"}"#));
        assert!(!ok(r#"{"day":"2101-01-01"}"#));
        assert!(!ok(r#"{"day":"+10000-01-01"}"#));
        assert!(!ok(r#"{"day":"2000-01-01","at":"0000-01-01T00:00:00Z"}"#));
        let err = serde_json::from_str::<Body>(r#"{"day":"0001-01-01"}"#).unwrap_err();
        assert!(err.to_string().contains(OUT_OF_RANGE));
        assert!(check("to", NaiveDate::MIN).is_err());
        assert_eq!(check_opt("to", None), Ok(None));
    }
}
