//! What answers a request no route took: `405` (with `Allow`) for a documented path with the
//! wrong method, `404` for an unknown path (a page, under the console's `/app/`). The documented route table it consults is app
//! data of its own.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use utoipa::openapi::OpenApi;

use crate::error::generic_problem;

#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<Option<String>>, Vec<&'static str>)>,
}

impl RouteTable {
    pub fn from_openapi(api: &OpenApi) -> Self {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = split(path)
                    .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_string()))
                    .collect();
                let mut methods = Vec::new();
                for (name, op) in [
                    ("GET", &item.get),
                    ("POST", &item.post),
                    ("PUT", &item.put),
                    ("PATCH", &item.patch),
                    ("DELETE", &item.delete),
                ] {
                    if op.is_some() {
                        methods.push(name);
                    }
                }
                (segments, methods)
            })
            .collect();
        RouteTable { routes }
    }

    /// The methods documented for `path`, if any documented path matches it.
    pub fn allowed_methods(&self, path: &str) -> Option<Vec<&'static str>> {
        self.methods(path, false)
    }

    /// The methods of a documented path without parameters that equals `path`, if any.
    pub fn literal_methods(&self, path: &str) -> Option<Vec<&'static str>> {
        self.methods(path, true)
    }

    /// Methods of the documented paths matching `path`; `{param}` segments match any
    /// segment unless `literal_only`.
    fn methods(&self, path: &str, literal_only: bool) -> Option<Vec<&'static str>> {
        let parts: Vec<&str> = split(path).collect();
        let mut found: Vec<&'static str> = self
            .routes
            .iter()
            .filter(|(segments, _)| {
                segments.len() == parts.len()
                    && segments.iter().zip(&parts).all(|(seg, part)| match seg {
                        Some(s) => s == part,
                        None => !literal_only,
                    })
            })
            .flat_map(|(_, methods)| methods.iter().copied())
            .collect();
        (!found.is_empty()).then(|| {
            found.sort_unstable();
            found.dedup();
            found
        })
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// The default service: `405` for a documented path, `404` otherwise.
pub async fn fallback(req: HttpRequest, routes: web::Data<RouteTable>) -> HttpResponse {
    let path = req.path();
    if crate::console::is_console_path(path) {
        return crate::console::not_found_page();
    }
    let methods = (routes.literal_methods(path)).or_else(|| routes.allowed_methods(path));
    match methods {
        Some(methods) => method_not_allowed(&methods),
        None => generic_problem(actix_web::http::StatusCode::NOT_FOUND),
    }
}

/// A path parameter that does not parse (`PATCH /api/v1/opds/import` reaching
/// `PATCH /api/v1/opds/{id}`): `405` when the path is a documented fixed path, else `404`.
pub fn path_rejected(req: &HttpRequest) -> actix_web::Error {
    if crate::console::is_console_path(req.path()) {
        let page = crate::console::not_found_page();
        return actix_web::error::InternalError::from_response("path parameter", page).into();
    }
    let literal = req
        .app_data::<web::Data<RouteTable>>()
        .and_then(|routes| routes.literal_methods(req.path()));
    let resp = match literal {
        Some(methods) => method_not_allowed(&methods),
        None => generic_problem(actix_web::http::StatusCode::NOT_FOUND),
    };
    actix_web::error::InternalError::from_response("path parameter", resp).into()
}

fn method_not_allowed(methods: &[&str]) -> HttpResponse {
    let mut resp = generic_problem(actix_web::http::StatusCode::METHOD_NOT_ALLOWED);
    if let Ok(v) = header::HeaderValue::from_str(&methods.join(", ")) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp
}
