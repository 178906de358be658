//! HTTP handlers, one module per resource, and the route registration.

pub mod auth;
pub mod extract;
pub mod middleware;
pub mod ops;
pub mod routes;
pub mod users;

use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// One page of a list. `next_cursor` is `null` on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Every documented route. Registering through `utoipa_actix_web` puts each handler's
/// `#[utoipa::path]` into the OpenAPI document, so a route cannot exist undocumented.
pub fn register(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::openapi_yaml)
        .service(auth::login)
        .service(auth::refresh_tokens)
        .service(auth::logout)
        .service(auth::me)
        .service(auth::change_password)
        .service(users::create_user)
        .service(users::list_users)
        .service(users::get_user)
        .service(users::update_user);
}
