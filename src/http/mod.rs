//! HTTP: handlers, one module per resource; the route registration (`routes`); the
//! 404/405 fallback (`fallback`); extractors and the request middleware; list pages and
//! cursors (`paging`); ETags and conditional requests (`conditional`).

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod calendar;
pub mod conditional;
pub mod dashboards;
pub mod evidence;
pub mod extract;
pub mod fallback;
pub mod followups;
pub mod inspections;
pub mod meta;
pub mod middleware;
pub mod officials;
pub mod opds;
pub mod ops;
pub mod paging;
pub mod routes;
pub mod sync;
pub mod users;
pub mod webhooks;

use std::sync::atomic::{AtomicI64, Ordering};

/// Runs `f` on the blocking pool, counted in the `/metrics` gauges: nothing blocking ever
/// runs on the async workers.
async fn on_blocking_pool<T, F>(f: F) -> Result<T, crate::error::ApiError>
where
    F: FnOnce() -> Result<T, crate::error::ApiError> + Send + 'static,
    T: Send + 'static,
{
    let queued = Gauge::enter(&BLOCKING_WAITING);
    actix_web::web::block(move || {
        drop(queued);
        let _running = Gauge::enter(&BLOCKING_RUNNING);
        f()
    })
    .await?
}

/// Runs `f` with a pooled connection on the blocking pool. The connection is checked out
/// inside the closure.
pub async fn run<T, F>(pool: &crate::db::DbPool, f: F) -> Result<T, crate::error::ApiError>
where
    F: FnOnce(&mut crate::db::DbConnection) -> Result<T, crate::error::ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    on_blocking_pool(move || {
        let mut conn = pool.get()?;
        f(&mut conn)
    })
    .await
}

/// Runs the write `f`, which creates the report `creates`, on the blocking pool through the
/// group commit (`db::group`): it shares a transaction with the writes queued beside it and
/// returns once that has committed.
///
/// Before it, in the same job on the blocking pool, `prepare` does what can be done without
/// writing, beside other requests rather than in the group commit's one writer. On
/// PostgreSQL it gets a pooled connection of its own (given back before the write queues):
/// there every statement the writer makes is a round trip that the other writers wait for,
/// and reads made here are not. On SQLite a read costs the writer no more than it costs
/// anywhere, and a second connection with its own read transaction only adds to the work
/// (measured), so `prepare` gets none.
pub async fn run_prepared_grouped<P, T, R, F>(
    state: &actix_web::web::Data<crate::state::AppState>,
    creates: crate::db::DbUuid,
    prepare: R,
    f: F,
) -> Result<T, crate::error::ApiError>
where
    R: FnOnce(Option<&mut crate::db::DbConnection>) -> Result<P, crate::error::ApiError>
        + Send
        + 'static,
    F: FnMut(&mut crate::db::DbConnection, &P) -> Result<T, crate::error::ApiError>
        + Send
        + 'static,
    P: Send + 'static,
    T: Send + 'static,
{
    let state = state.clone();
    on_blocking_pool(move || {
        let prepared = match state.config.database_url {
            crate::db::pool::DatabaseUrl::Postgres(_) => {
                let mut conn = state.pool.get()?;
                prepare(Some(&mut conn))?
            }
            crate::db::pool::DatabaseUrl::Sqlite(_) => prepare(None)?,
        };
        let mut f = f;
        state
            .writes
            .run(&state.pool, Some(creates), move |conn| f(conn, &prepared))
    })
    .await
}

/// Database jobs waiting for a thread of the blocking pool, and running on one (for `/metrics`).
pub static BLOCKING_WAITING: AtomicI64 = AtomicI64::new(0);
pub static BLOCKING_RUNNING: AtomicI64 = AtomicI64::new(0);

/// Counts one job in a gauge while it lives (also when the job is dropped unrun).
struct Gauge(&'static AtomicI64);

impl Gauge {
    fn enter(gauge: &'static AtomicI64) -> Gauge {
        gauge.fetch_add(1, Ordering::Relaxed);
        Gauge(gauge)
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// For PATCH bodies: `Some(None)` when the field is present and `null`, `None` when absent.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// An optional JSON integer that may also be written `53.0`: JSON Schema counts a number
/// with a zero fraction as an integer, so the API takes it as one.
pub fn whole_number<'de, D>(d: D) -> Result<Option<i64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Whole;
    impl serde::de::Visitor<'_> for Whole {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a whole number")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("`{v}` is too large")))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // Whole and well inside the range where f64 holds every integer exactly.
            if v.fract() == 0.0 && v.abs() < 9.0e15 {
                Ok(Some(v as i64))
            } else {
                Err(E::custom(format!("`{v}` is not a whole number in range")))
            }
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Whole)
}
