//! The one middleware every request passes through: request id, a tracing span, an access
//! log line, security headers, and problem+json for every error response — including the
//! ones actix produces itself.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Instrument;

use crate::error::{generic_problem, PROBLEM_JSON};
use crate::http::extract::RequestId;

pub const REQUEST_ID: &str = "x-request-id";

/// Accept a caller's request id only when it is short and plain; otherwise make one.
fn request_id_from(req: &ServiceRequest) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

pub async fn around(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let request_id = request_id_from(&req);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = req.method().clone();
    let path = req.path().to_string();
    let is_api = path.starts_with("/api/");
    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, path = %path);

    // Handlers and extractors turn their errors into responses, so an `Err` here can only
    // come from actix itself; it renders that error as usual.
    let state = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .cloned();
    let mut res: ServiceResponse<BoxBody> = next
        .call(req)
        .instrument(span.clone())
        .await?
        .map_into_boxed_body();

    // Any error response that is not yet a problem document becomes one.
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if status.as_u16() >= 400 && !is_problem {
        let kept: Vec<(HeaderName, HeaderValue)> = res
            .headers()
            .iter()
            .filter(|(name, _)| {
                **name == header::ALLOW
                    || **name == header::RETRY_AFTER
                    || **name == header::WWW_AUTHENTICATE
            })
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        res = res
            .into_response(generic_problem(status))
            .map_into_boxed_body();
        for (name, value) in kept {
            res.headers_mut().insert(name, value);
        }
    }

    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(HeaderName::from_static(REQUEST_ID), v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if is_api && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }

    let elapsed = started.elapsed().as_secs_f64();
    if let Some(state) = &state {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        state
            .metrics
            .observe(&route, method.as_str(), status.as_u16(), elapsed);
    }
    let elapsed_ms = elapsed * 1000.0;
    let _enter = span.enter();
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), elapsed_ms, "request failed");
    } else {
        tracing::info!(status = status.as_u16(), elapsed_ms, "request");
    }
    drop(_enter);
    Ok(res)
}
