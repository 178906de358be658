//! Use cases: validation against the database, writes in one transaction with their audit
//! entry. Shared by the HTTP handlers and the command line.

pub mod dashboards;
pub mod demo;
pub mod followups;
pub mod import;
pub mod inspections;
pub mod officials;
pub mod opds;

/// "Today" in the deployment's time zone.
pub fn today(tz: chrono_tz::Tz) -> chrono::NaiveDate {
    chrono::Utc::now().with_timezone(&tz).date_naive()
}
