//! One error type, rendered as RFC 9457 `application/problem+json`.
//!
//! 5xx bodies say nothing about internals: the cause is logged (with the request id, which
//! is also in the `X-Request-Id` response header) and the client gets a generic sentence.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// `Retry-After` (seconds) on every `503`: long enough for a conflict or a full pool to clear.
pub const RETRY_AFTER_UNAVAILABLE: &str = "1";

/// One field that failed validation.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// The field, as a JSON path into the request (e.g. `password`, `items[2].nip`).
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem detail.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem.
    #[schema(example = "/problems/validation")]
    pub r#type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Present on `422`: every field that failed, with the reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body stopped arriving (see `SIDAK_BODY_IDLE_TIMEOUT_SECONDS`).
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{detail}")]
    TooManyRequests {
        detail: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    ServiceUnavailable(String),
    /// A transient conflict in the database that outlasted the retries of
    /// [`crate::db::write_tx`] (or, with `retryable: false`, a write lock not granted in
    /// time): `503` with `Retry-After`. Nothing was written; the client may send the same
    /// request again.
    #[error("{cause}")]
    Contention { cause: String, retryable: bool },
    /// The message is logged, never returned.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        ApiError::Internal(e.to_string())
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    /// A body that could not be read: `408` when it stopped arriving, `413` when more
    /// arrived than the route takes, else `400`.
    pub fn unreadable(what: &str, e: &actix_web::error::PayloadError) -> Self {
        match e {
            actix_web::error::PayloadError::Overflow => ApiError::PayloadTooLarge(format!(
                "{what} is larger than this operation accepts; reading stopped there."
            )),
            actix_web::error::PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                ApiError::RequestTimeout(format!(
                    "{what} stopped arriving; the request was abandoned."
                ))
            }
            other => ApiError::BadRequest(format!("{what} could not be read: {other}")),
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound => "not-found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PreconditionFailed(_) => "precondition-failed",
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::RequestTimeout(_) => "request-timeout",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::Validation(_) => "validation",
            ApiError::TooManyRequests { .. } => "too-many-requests",
            ApiError::ServiceUnavailable(_) | ApiError::Contention { .. } => "service-unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

/// Builds a problem response for any status; `errors` only for validation problems.
pub fn problem_response(
    status: StatusCode,
    slug: &str,
    detail: &str,
    errors: Option<Vec<FieldError>>,
) -> HttpResponse {
    let body = Problem {
        r#type: format!("/problems/{slug}"),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail: detail.to_string(),
        errors,
    };
    let json = serde_json::to_string(&body).unwrap_or_else(|_| {
        format!(
            r#"{{"type":"about:blank","title":"Error","status":{},"detail":""}}"#,
            status.as_u16()
        )
    });
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
        .body(json)
}

/// The problem a status gets when nothing more specific is known (used by the middleware
/// for responses that actix produced itself).
pub fn generic_problem(status: StatusCode) -> HttpResponse {
    let detail = match status.as_u16() {
        404 => "There is no resource at this path.",
        405 => "This method is not allowed on this resource.",
        413 => "The request body is too large.",
        415 => "The request has an unsupported content type.",
        s if s >= 500 => "The server could not handle the request; the request id identifies it in the server log.",
        _ => "The request could not be handled.",
    };
    let slug = match status.as_u16() {
        404 => "not-found",
        405 => "method-not-allowed",
        413 => "payload-too-large",
        415 => "unsupported-media-type",
        s if s >= 500 => "internal",
        _ => "bad-request",
    };
    problem_response(status, slug, detail, None)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ServiceUnavailable(_) | ApiError::Contention { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            ApiError::Internal(cause) => {
                tracing::error!(cause = %cause, "internal error");
                generic_problem(status)
            }
            ApiError::ServiceUnavailable(cause) | ApiError::Contention { cause, .. } => {
                tracing::warn!(cause = %cause, "service unavailable");
                let mut resp = problem_response(
                    status,
                    self.slug(),
                    "The service is temporarily unavailable and nothing was changed; send the same request again after `Retry-After` seconds.",
                    None,
                );
                resp.headers_mut().insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from_static(RETRY_AFTER_UNAVAILABLE),
                );
                resp
            }
            ApiError::NotFound => problem_response(
                status,
                self.slug(),
                "The resource does not exist or is not visible to you.",
                None,
            ),
            ApiError::Validation(errors) => {
                let detail = match errors.as_slice() {
                    [one] => format!("{}: {}", one.field, one.message),
                    many => format!("{} fields are invalid; see `errors`.", many.len()),
                };
                problem_response(status, self.slug(), &detail, Some(errors.clone()))
            }
            ApiError::TooManyRequests {
                detail,
                retry_after_secs,
            } => {
                let mut resp = problem_response(status, self.slug(), detail, None);
                if let Ok(v) = header::HeaderValue::from_str(&retry_after_secs.max(&1).to_string())
                {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
                resp
            }
            ApiError::RequestTimeout(detail) | ApiError::PayloadTooLarge(detail) => {
                // The rest of the body may still be on its way and is not read: the
                // connection is not reused.
                let mut resp = problem_response(status, self.slug(), detail, None);
                resp.headers_mut().insert(
                    header::CONNECTION,
                    header::HeaderValue::from_static("close"),
                );
                resp
            }
            ApiError::Unauthorized(detail) => {
                let mut resp = problem_response(status, self.slug(), detail, None);
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer realm=\"sidak\""),
                );
                resp
            }
            other => problem_response(status, self.slug(), &other.to_string(), None),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => ApiError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                ApiError::Conflict("A record with the same unique value already exists.".into())
            }
            e if crate::db::tx::is_transient(&e) => ApiError::Contention {
                retryable: crate::db::tx::is_retryable(&e),
                cause: format!("database: {e}"),
            },
            other => ApiError::Internal(format!("database: {other}")),
        }
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        ApiError::ServiceUnavailable(format!("database pool: {e}"))
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(format!("blocking task failed: {e}"))
    }
}

impl crate::db::TxError for ApiError {
    fn is_retryable(&self) -> bool {
        matches!(
            self,
            ApiError::Contention {
                retryable: true,
                ..
            }
        )
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
