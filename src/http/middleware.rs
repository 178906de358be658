//! The one middleware every request passes through: request id, a tracing span, an access
//! log line, security headers, and problem+json for every error response — including the
//! ones actix produces itself.

use std::cell::Cell;
use std::rc::Rc;
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

/// The first query parameter whose name or value holds a control character (NUL, line
/// breaks, escapes…): no parameter means one, and PostgreSQL cannot even compare text
/// holding NUL. `None` for a query that does not decode (its extractor answers `400`).
fn control_character_in_query(query: &str) -> Option<String> {
    if query.is_empty() {
        return None;
    }
    let pairs = actix_web::web::Query::<Vec<(String, String)>>::from_query(query).ok()?;
    pairs
        .0
        .into_iter()
        .find(|(k, v)| k.chars().chain(v.chars()).any(char::is_control))
        .map(|(k, _)| {
            if k.is_empty() || k.chars().any(char::is_control) {
                "query".to_string()
            } else {
                k
            }
        })
}

/// A request body counted as it arrives, whatever length it declares (or none, when
/// chunked): once more bytes have arrived than it is allowed, it ends with
/// `PayloadError::Overflow` — answered `413` — and nothing more is read or buffered.
///
/// The allowance can be narrowed while the body is read: a multipart reader waiting for a
/// part's headers is allowed only a little more ([`BodyBudget::allow_at_most`]), so a header
/// that never ends is cut off after kilobytes, not after the whole limit. A reader pulls
/// whatever has arrived before it parses, so the chunk that would go past a narrowed
/// allowance is cut there: what fits is delivered, the rest held back once and the reader
/// woken to parse what it has. If that finishes the headers the allowance is widened and the
/// rest delivered; if not, the body is cut off.
#[derive(Clone)]
pub struct BodyBudget {
    limit: u64,
    seen: Rc<Cell<u64>>,
    allowed: Rc<Cell<u64>>,
    narrowed: Rc<Cell<bool>>,
    /// A chunk was already held back under the current allowance.
    deferred: Rc<Cell<bool>>,
}

impl BodyBudget {
    pub fn new(limit: u64) -> Self {
        BodyBudget {
            limit,
            seen: Rc::new(Cell::new(0)),
            allowed: Rc::new(Cell::new(limit)),
            narrowed: Rc::new(Cell::new(false)),
            deferred: Rc::new(Cell::new(false)),
        }
    }

    /// From now on at most `more` further bytes (and never past the limit).
    pub fn allow_at_most(&self, more: u64) {
        self.allowed
            .set(self.seen.get().saturating_add(more).min(self.limit));
        self.narrowed.set(true);
        self.deferred.set(false);
    }

    /// Back to the whole limit.
    pub fn allow_all(&self) {
        self.allowed.set(self.limit);
        self.narrowed.set(false);
        self.deferred.set(false);
    }

    pub fn wrap<S>(&self, inner: S) -> Payload
    where
        S: futures_util::Stream<Item = Result<actix_web::web::Bytes, PayloadError>>
            + Unpin
            + 'static,
    {
        let boxed: std::pin::Pin<
            Box<dyn futures_util::Stream<Item = Result<actix_web::web::Bytes, PayloadError>>>,
        > = Box::pin(Counted {
            inner,
            budget: self.clone(),
            held: None,
            failed: false,
        });
        Payload::from(boxed)
    }
}

struct Counted<S> {
    inner: S,
    budget: BodyBudget,
    /// A chunk held back at a narrowed allowance (see [`BodyBudget`]).
    held: Option<actix_web::web::Bytes>,
    /// The allowance was exceeded: the stream has ended and pulls nothing more.
    failed: bool,
}

impl<S> futures_util::Stream for Counted<S>
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, PayloadError>> + Unpin,
{
    type Item = Result<actix_web::web::Bytes, PayloadError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        if self.failed {
            return Poll::Ready(None);
        }
        let mut chunk = match self.held.take() {
            Some(chunk) => chunk,
            None => match std::pin::Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => chunk,
                other => return other,
            },
        };
        let budget = &self.budget;
        let seen = budget.seen.get().saturating_add(chunk.len() as u64);
        if seen <= budget.allowed.get() {
            budget.seen.set(seen);
            return Poll::Ready(Some(Ok(chunk)));
        }
        if budget.narrowed.get() {
            let room = budget.allowed.get().saturating_sub(budget.seen.get());
            if room > 0 {
                // What fits is delivered (the headers may end in it), the rest held back.
                let head = chunk.split_to(room as usize);
                budget.seen.set(budget.allowed.get());
                self.held = Some(chunk);
                return Poll::Ready(Some(Ok(head)));
            }
            if !budget.deferred.get() {
                budget.deferred.set(true);
                self.held = Some(chunk);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
        self.failed = true;
        Poll::Ready(Some(Err(PayloadError::Overflow)))
    }
}

/// The most a request body may hold before it is cut off with `413`: a photo upload its
/// photo and the form around it, anything else the largest JSON or CSV body a route takes
/// (each of those extractors also stops at its own route's smaller limit as it reads).
pub fn body_limit(method: &Method, path: &str, config: &crate::config::Config) -> u64 {
    if method == Method::POST && path.ends_with("/evidence") {
        config.evidence_max_bytes + crate::http::evidence::MULTIPART_OVERHEAD
    } else {
        crate::http::extract::LARGEST_BODY as u64
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
    let is_page = crate::console::is_console_path(&path);
    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, path = %path);

    // Handlers and extractors turn their errors into responses, so an `Err` here can only
    // come from actix itself; it renders that error as usual.
    let state = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .cloned();
    if let Some(state) = &state {
        let payload = req.take_payload();
        let budget = BodyBudget::new(body_limit(&method, &path, &state.config));
        req.set_payload(budget.wrap(idle_timeout(payload, state.config.body_idle_timeout)));
    }
    // A key may only read: any other request carrying one is refused before a handler or
    // its extractors look at the body, so it is `403` whatever the body holds.
    let key_writes = method != Method::OPTIONS
        && !crate::auth::extract::reads_only(&method)
        && crate::auth::extract::carries_api_key(req.request());
    let bad_parameter = control_character_in_query(req.query_string());
    let mut res: ServiceResponse<BoxBody> = if key_writes {
        let refusal = crate::auth::extract::key_write_refused();
        req.into_response(actix_web::ResponseError::error_response(&refusal))
    } else if let Some(field) = bad_parameter {
        // Refused alike on both databases, before any handler sees it.
        let refusal = crate::error::ApiError::invalid(field, "must not contain control characters");
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
    // The console's pages answer their errors as pages.
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if status.as_u16() >= 400 && !is_problem && !(is_page && is_html) {
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
    if (is_api || is_page) && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if is_page {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(crate::console::CSP),
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_queries_are_found_by_name() {
        assert_eq!(control_character_in_query(""), None);
        assert_eq!(control_character_in_query("q=dinas&limit=5"), None);
        assert_eq!(control_character_in_query("q=%00"), Some("q".into()));
        assert_eq!(
            control_character_in_query("limit=5&q=a%0Ab"),
            Some("q".into())
        );
        assert_eq!(control_character_in_query("a%00=1"), Some("query".into()));
        assert_eq!(control_character_in_query("q=kecamatan%20serang"), None);
    }
}
