//! API tests through real HTTP against a real database (SQLite, and PostgreSQL when
//! `SIDAK_TEST_POSTGRES_URL` is set).

mod helpers;

mod abuse;
mod api_keys;
mod audit;
mod auth;
mod authz;
mod backup;
mod browser;
mod concurrency;
mod console;
mod dashboards;
mod deliveries;
mod discipline;
mod errors;
mod evidence;
mod followups;
mod hardening;
mod imports;
mod inspections;
mod ops;
mod positions;
mod reference;
mod replicas;
mod sync;
mod tokens;
mod users;
mod webhooks;
