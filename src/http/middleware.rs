//! The one middleware every request passes through: request id, a tracing span, an access
//! log line, security headers, and problem+json for every error response — including the
//! ones actix produces itself.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::Method;
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

/// The request body, ended with a timed-out error when no bytes arrive for `idle` (a
/// trickling client must not hold a worker's connection and the handler forever).
fn idle_timeout(payload: Payload, idle: std::time::Duration) -> Payload {
    let boxed: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<actix_web::web::Bytes, PayloadError>>>,
    > = Box::pin(IdleTimeout {
        inner: payload,
        idle,
        deadline: Box::pin(tokio::time::sleep(idle)),
        done: false,
    });
    Payload::from(boxed)
}

struct IdleTimeout {
    inner: Payload,
    idle: std::time::Duration,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// Ended (by the body or the timeout): keeps answering `None` if polled again.
    done: bool,
}

impl futures_util::Stream for IdleTimeout {
    type Item = Result<actix_web::web::Bytes, PayloadError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::future::Future;
        use std::task::Poll;
        if self.done {
            return Poll::Ready(None);
        }
        match std::pin::Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(item)) => {
                let next = tokio::time::Instant::now() + self.idle;
                self.deadline.as_mut().reset(next);
                Poll::Ready(Some(item))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.done = true;
                    Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "no body bytes within the idle timeout",
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

pub async fn around(
    mut req: ServiceRequest,
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
    if let Some(state) = &state {
        let payload = req.take_payload();
        req.set_payload(idle_timeout(payload, state.config.body_idle_timeout));
    }
    // A key may only read: any other request carrying one is refused before a handler or
    // its extractors look at the body, so it is `403` whatever the body holds.
    let key_writes = method != Method::OPTIONS
        && !crate::auth::extract::reads_only(&method)
        && crate::auth::extract::carries_api_key(req.request());
    let mut res: ServiceResponse<BoxBody> = if key_writes {
        let refusal = crate::auth::extract::key_write_refused();
        req.into_response(actix_web::ResponseError::error_response(&refusal))
    } else {
        next.call(req)
            .instrument(span.clone())
            .await?
            .map_into_boxed_body()
    };

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
