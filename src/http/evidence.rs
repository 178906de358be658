//! Photo evidence: streamed upload into content-addressed storage, and download.

use actix_multipart::Multipart;
use actix_web::http::{header, StatusCode};
use actix_web::web::{Data, Path, Payload};
use actix_web::{get, post, HttpMessage, HttpRequest, HttpResponse};
use chrono::{DateTime, FixedOffset, Utc};
use futures_util::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::inspections as idb;
use crate::db::DbUuid;
use crate::domain::user::Role;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::conditional;
use crate::http::extract::{accepts_only, parse_json};
use crate::http::inspections::EvidenceOut;
use crate::http::middleware::BodyBudget;
use crate::service::access;
use crate::service::evidence::{self as service, EvidenceInput};
use crate::service::Created;
use crate::service::{Caller, Ctx};
use crate::state::AppState;
use crate::storage;

const META_LIMIT: usize = 16 * 1024;

/// What a photo upload may hold besides the photo: the `meta` part, the part headers and
/// the boundaries.
pub const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// How far a part's headers may run before the upload is cut off (`413`): a boundary and a
/// few header lines take a few hundred bytes.
const PART_HEADER_ROOM: u64 = 64 * 1024;

/// The optional `meta` part.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceMeta {
    /// The phone's id for this photo: sending it again with the same bytes is a replay.
    /// Without it the server makes one (and a retry stores a second record).
    pub id: Option<Uuid>,
    /// A finding of the same report that the photo documents.
    pub finding_id: Option<Uuid>,
    #[serde(default, deserialize_with = "crate::domain::dates::opt_time")]
    pub captured_at: Option<DateTime<FixedOffset>>,
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub latitude: Option<f64>,
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub longitude: Option<f64>,
    /// Hex SHA-256 the phone computed; a mismatch (damage in transit) is refused.
    #[schema(pattern = "^[0-9A-Fa-f]{64}$")]
    pub sha256: Option<String>,
}

/// The multipart form, for the documentation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct EvidenceUpload {
    /// JPEG, PNG or WebP, judged by its bytes.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// `EvidenceMeta` as JSON (the part's `Content-Type` is `application/json`); leave the
    /// part out when there is nothing to say.
    #[schema(value_type = EvidenceMeta, required = false)]
    meta: Option<String>,
}

fn multipart_error(what: &str, e: actix_multipart::MultipartError) -> ApiError {
    match e {
        actix_multipart::MultipartError::Payload(p) => ApiError::unreadable(what, &p),
        other => ApiError::BadRequest(format!("{what} could not be read: {other}")),
    }
}

/// A photo's bytes, as downloaded.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(value_type = String, format = Binary)]
pub struct PhotoBytes(Vec<u8>);

/// Removes the temporary file of an upload when the request is done with it.
struct TempFile(Option<std::path::PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

struct Received {
    sha256: String,
    size: u64,
    head: Vec<u8>,
    tail: Vec<u8>,
}

async fn receive_file(
    field: &mut actix_multipart::Field,
    path: &std::path::Path,
    max: u64,
) -> ApiResult<Received> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(ApiError::internal)?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut head = Vec::with_capacity(16);
    let mut tail: Vec<u8> = Vec::with_capacity(64);
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| multipart_error("The upload", e))?;
        size += chunk.len() as u64;
        if size > max {
            return Err(ApiError::PayloadTooLarge(format!(
                "A photo may be at most {max} bytes."
            )));
        }
        if head.len() < 16 {
            let take = (16 - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        tail.extend_from_slice(&chunk[chunk.len().saturating_sub(32)..]);
        if tail.len() > 32 {
            tail.drain(..tail.len() - 32);
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.sync_all().await.map_err(ApiError::internal)?;
    Ok(Received {
        sha256: hex::encode(hasher.finalize()),
        size,
        head,
        tail,
    })
}

/// Add a photo to a report (`multipart/form-data`: `file`, optional `meta`).
///
/// The author (or an admin) may add photos to a draft and, for 7 days (configurable) after
/// submission, to the submitted report. Evidence is never replaced or deleted.
#[utoipa::path(
    tag = "inspections",
    params(("id" = Uuid, Path, description = "Report id")),
    request_body(content(
        (EvidenceUpload = "multipart/form-data", encoding(("meta" = (content_type = "application/json")))),
    )),
    responses(
        (status = 201, description = "Stored", body = EvidenceOut),
        (status = 200, description = "A replay: the same id with the same bytes", body = EvidenceOut),
        (status = 403, description = "Not the author", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The id holds other bytes, or the report no longer takes evidence", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The photo is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not a multipart form, or the file is not JPEG, PNG or WebP", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/inspections/{id}/evidence")]
pub async fn upload_evidence(
    req: HttpRequest,
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    id: Path<Uuid>,
    payload: Payload,
) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Inspector, Role::Admin])?;
    let inspection = DbUuid(id.into_inner());
    let is_multipart = req
        .mime_type()
        .ok()
        .flatten()
        .is_some_and(|m| m.type_() == "multipart" && m.subtype() == "form-data");
    if !is_multipart {
        return Err(ApiError::UnsupportedMediaType(
            "The upload must be multipart/form-data.".into(),
        ));
    }
    let max = state.config.evidence_max_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max + MULTIPART_OVERHEAD) {
        return Err(ApiError::PayloadTooLarge(format!(
            "A photo may be at most {max} bytes."
        )));
    }
    // Refuse early what would be refused anyway, before reading megabytes.
    let who = caller.clone();
    super::run(&state.pool, move |conn| {
        let row = access::load_visible(conn, &who, inspection)?;
        access::check_evidence_author(&who, &row)
    })
    .await?;

    // Counted as it arrives, declared length or not: the whole form at most the photo and
    // its overhead, and a part's headers (which the multipart reader buffers until they
    // end) only a little.
    let budget = BodyBudget::new(max + MULTIPART_OVERHEAD);
    let mut form = Multipart::new(req.headers(), budget.wrap(payload));
    // Outer `Some` once the part was read; its JSON may be `null`.
    let mut meta: Option<Option<EvidenceMeta>> = None;
    let mut received: Option<Received> = None;
    let mut temp = TempFile(None);
    loop {
        budget.allow_at_most(PART_HEADER_ROOM);
        let Some(field) = form.next().await else {
            break;
        };
        budget.allow_all();
        let mut field = field.map_err(|e| multipart_error("The multipart form", e))?;
        match field.name() {
            Some("meta") if meta.is_none() => {
                let mut bytes = Vec::new();
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(|e| multipart_error("The meta part", e))?;
                    if bytes.len() + chunk.len() > META_LIMIT {
                        return Err(ApiError::PayloadTooLarge(format!(
                            "The meta part may be at most {META_LIMIT} bytes."
                        )));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                meta = Some(parse_json::<Option<EvidenceMeta>>(&bytes).map_err(|e| {
                    match e {
                        ApiError::Validation(errs) => ApiError::Validation(
                            errs.into_iter()
                                .map(|mut f| {
                                    f.field = format!("meta.{}", f.field);
                                    f
                                })
                                .collect(),
                        ),
                        ApiError::BadRequest(m) => ApiError::invalid("meta", m),
                        other => other,
                    }
                })?);
            }
            Some("file") if received.is_none() => {
                let path = state.evidence.temp_path();
                temp.0 = Some(path.clone());
                received = Some(receive_file(&mut field, &path, max).await?);
            }
            Some(name @ ("meta" | "file")) => {
                return Err(ApiError::invalid(name, "appears more than once"))
            }
            other => {
                return Err(ApiError::invalid(
                    other.unwrap_or("form"),
                    "unknown part; the form takes `file` and optionally `meta`",
                ))
            }
        }
    }
    let Some(file) = received else {
        return Err(ApiError::invalid("file", "is required"));
    };
    let meta = meta.flatten().unwrap_or(EvidenceMeta {
        id: None,
        finding_id: None,
        captured_at: None,
        latitude: None,
        longitude: None,
        sha256: None,
    });
    let Some(content_type) = storage::sniff(&file.head) else {
        return Err(ApiError::UnsupportedMediaType(
            "The file is not a JPEG, PNG or WebP image.".into(),
        ));
    };
    if !storage::is_complete(content_type, &file.head, &file.tail, file.size) {
        return Err(ApiError::invalid(
            "file",
            "the image is truncated or damaged",
        ));
    }
    if let Some(claimed) = &meta.sha256 {
        if !claimed.eq_ignore_ascii_case(&file.sha256) {
            return Err(ApiError::invalid(
                "meta.sha256",
                "does not match the bytes received (damaged in transit?)",
            ));
        }
    }
    let input = EvidenceInput {
        id: meta.id.unwrap_or_else(Uuid::new_v4),
        finding_id: meta.finding_id,
        captured_at: meta.captured_at.map(|t| t.with_timezone(&Utc)),
        latitude: meta.latitude,
        longitude: meta.longitude,
    };
    // Decide before storing anything, so that a refused upload leaves no file behind.
    let (who, check_input, sha, check_ctx) = (
        caller.clone(),
        input.clone(),
        file.sha256.clone(),
        ctx.clone(),
    );
    let replay = super::run(&state.pool, move |conn| {
        service::check_evidence(conn, &who, inspection, &check_input, &sha, &check_ctx)
    })
    .await?;
    if let Some(existing) = replay {
        return Ok(HttpResponse::Ok().json(EvidenceOut::from(existing)));
    }
    // The bytes are made durable before the record that points at them; the temporary
    // file stays until the record has committed and the bytes are seen in the store.
    let temp_path = temp
        .0
        .clone()
        .ok_or_else(|| ApiError::internal("temporary file missing"))?;
    // The store not answering is the server's trouble, not the photo's: `503`, and the
    // phone sends it again.
    state
        .evidence
        .store(&temp_path, &file.sha256)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "storing evidence bytes failed");
            ApiError::ServiceUnavailable(
                "The photo store did not take the photo; send it again.".into(),
            )
        })?;
    let sha = file.sha256.clone();
    let photo = service::StoredPhoto {
        sha256: file.sha256.clone(),
        content_type,
        size_bytes: file.size as i64,
    };
    let result = super::run(&state.pool, move |conn| {
        service::add_evidence(conn, &caller, inspection, &input, &photo, &ctx)
    })
    .await;
    // Refused after all (a concurrent change): the stored bytes are left to the collection
    // (`sidak evidence gc`, and the periodic one), which removes them once no record points
    // at them and they are old: removing them here could take the bytes of another upload
    // of the same photo committing at this moment.
    let (created, row) = result?;
    if let Err(e) = state.evidence.ensure(&temp_path, &sha).await {
        tracing::error!(sha256 = %sha, error = %e, "could not confirm stored evidence bytes");
    }
    if created == Created::New {
        state.metrics.count("evidence", 1);
    }
    let status = if created == Created::New {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(EvidenceOut::from(row)))
}

/// Download a photo.
///
/// The bytes as stored, with the photo's own image type (or `application/octet-stream` when
/// that alone is accepted) and `ETag` = its SHA-256; `If-None-Match` gives `304`. Visible
/// to whoever may see its report.
#[utoipa::path(
    tag = "inspections",
    params(
        ("id" = Uuid, Path, description = "Evidence id"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy the client holds: `304` while it is current"),
        ("Accept" = Option<String>, Header, description = "`application/octet-stream` (alone) labels the bytes so; otherwise they come as the photo's own image type"),
    ),
    responses(
        (status = 200, description = "The photo's bytes", content(
            (PhotoBytes = "image/jpeg"),
            (PhotoBytes = "image/png"),
            (PhotoBytes = "image/webp"),
            (PhotoBytes = "application/octet-stream"),
        ), headers(("ETag" = String, description = "The SHA-256 of the bytes, quoted"))),
        (status = 304, description = "Not modified since the given ETag (no body)", headers(("ETag" = String))),
        (status = 403, description = "Viewers see no evidence", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/evidence/{id}/content")]
pub async fn evidence_content(
    req: HttpRequest,
    state: Data<AppState>,
    caller: AuthUser,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    photo(&req, &state, caller.caller, id.into_inner()).await
}

/// The bytes of the photo `id` as `caller` may read them (the API and the console): its
/// report must be visible to the caller; `If-None-Match` on its SHA-256.
pub async fn photo(
    req: &HttpRequest,
    state: &Data<AppState>,
    caller: Caller,
    id: Uuid,
) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Inspector, Role::Supervisor, Role::Admin])?;
    let id = DbUuid(id);
    let row = super::run(&state.pool, move |conn| {
        let ev = idb::find_evidence(conn, id)?.ok_or(ApiError::NotFound)?;
        access::load_visible(conn, &caller, ev.inspection_id)?;
        Ok(ev)
    })
    .await?;
    let etag = header::EntityTag::new_strong(row.sha256.clone());
    if conditional::none_match(req, &etag) {
        return Ok(conditional::not_modified(etag));
    }
    let download = state.evidence.get(&row.sha256).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            // A record without its bytes: never meant to happen, so it is the server's error.
            ApiError::internal(format!(
                "evidence bytes {} are not in the store",
                row.sha256
            ))
        } else {
            tracing::error!(sha256 = %row.sha256, error = %e, "reading evidence bytes failed");
            ApiError::ServiceUnavailable("The photo store did not answer; try again.".into())
        }
    })?;
    // A client that asks for nothing but `application/octet-stream` gets the bytes so
    // labelled (generated clients that handle only that type); everyone else the image type.
    let mime: mime::Mime = if accepts_only(req, "application/octet-stream") {
        mime::APPLICATION_OCTET_STREAM
    } else {
        row.content_type.parse().map_err(ApiError::internal)?
    };
    let ext = match row.content_type.as_str() {
        storage::PNG => "png",
        storage::WEBP => "webp",
        _ => "jpg",
    };
    let disposition = header::ContentDisposition {
        disposition: header::DispositionType::Inline,
        parameters: vec![header::DispositionParam::Filename(format!(
            "{}.{ext}",
            row.id
        ))],
    };
    let mut resp = match download {
        storage::Download::File(path) => actix_files::NamedFile::open_async(&path)
            .await
            .map_err(|e| ApiError::internal(format!("evidence file {}: {e}", row.sha256)))?
            .set_content_type(mime)
            .use_etag(false)
            .use_last_modified(false)
            .set_content_disposition(disposition)
            .into_response(req),
        storage::Download::Stream { size, body } => HttpResponse::Ok()
            .content_type(mime)
            .insert_header((header::CONTENT_DISPOSITION, disposition))
            .no_chunking(size)
            .streaming(body),
    };
    if let Ok(v) = header::HeaderValue::from_str(&etag.to_string()) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}
