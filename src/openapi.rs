//! The OpenAPI 3.1 document, generated from the handlers' annotations.
//!
//! [`document`] builds the same app the server runs and takes its spec, then [`finish`]
//! adds the error responses every operation shares (401 where a token is needed, 400/413/
//! 415/422 where a body or query is parsed, 404 where the path names a record, 500 and 503
//! always),
//! so that each handler only documents the errors particular to it.

use actix_web::App;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Spec, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::error::{FieldError, Problem, PROBLEM_JSON};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sidak API",
        version = "1.0.0",
        description = "Backend of the surprise-inspection (sidak) teams of Indonesian local governments: \
inspection reports from the field, officials flagged by findings, supervisors' follow-ups, dashboards.\n\n\
Errors are RFC 9457 `application/problem+json`; every response carries `X-Request-Id`."
    ),
    security(("bearer" = []), ("api_key" = [])),
    modifiers(&BearerScheme),
    components(schemas(Problem, FieldError, crate::http::dashboards::Format, crate::service::dashboards::Interval)),
    tags(
        (name = "auth", description = "Login, tokens, the caller's own account"),
        (name = "users", description = "User administration (admin only)"),
        (name = "api-keys", description = "Read-only keys for dashboards and other machines (admin only)"),
        (name = "reference", description = "OPDs, officials (ASN) and their placements, CSV imports, the phone's offline sync"),
        (name = "inspections", description = "Inspection reports from the field: attendance, findings, photo evidence"),
        (name = "follow-ups", description = "Flags on officials, the supervisors' review and the PP 94/2021 recommendation"),
        (name = "dashboards", description = "Aggregates for dashboards, from rollups; JSON or CSV"),
        (name = "audit", description = "The append-only, hash-chained audit trail"),
        (name = "operations", description = "Health, readiness, this document"),
    )
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut Spec) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "Access token from `POST /api/v1/auth/login` (15 minutes by default), \
or an API key (`sdk_…`) in its place.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "API key from `POST /api/v1/api-keys` (`sdk_…`): reads only (any other method \
is `403`), as the key's role (viewer or supervisor) allows. Send it here or as \
`Authorization: Bearer <key>`, not both.",
            ))),
        );
    }
}

/// The complete document, as served at `/openapi.yaml` and committed as `openapi.yaml`.
pub fn document() -> Spec {
    let (_, mut spec) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::http::routes::register)
        .split_for_parts();
    finish(&mut spec);
    spec
}

pub fn yaml() -> Result<String, String> {
    document()
        .to_yaml()
        .map_err(|e| format!("cannot render the OpenAPI document: {e}"))
}

const SHARED: &[(&str, &str, &str)] = &[
    ("BadRequest", "400", "Malformed JSON, an unreadable body, or a malformed query string"),
    ("Unauthorized", "401", "Missing, invalid or expired access token"),
    ("Forbidden", "403", "The caller's role may not do this, or an API key asked to change data (keys only read)"),
    ("NotFound", "404", "No such record, or not visible to the caller"),
    ("PayloadTooLarge", "413", "The body is larger than this operation accepts"),
    ("UnsupportedMediaType", "415", "The body is not of the media type this operation takes"),
    ("ValidationFailed", "422", "The request is well-formed but a field is invalid; `errors` names each"),
    ("InternalError", "500", "Unexpected server error; nothing internal is disclosed, the request id identifies it in the log"),
    ("ServiceUnavailable", "503", "The database is busy (a write conflict outlasted the server's retries, or no connection was free in time). Nothing was changed: send the same request again after `Retry-After` seconds; a replayed create is recognised by its id"),
];

fn problem_response(name: &str, description: &str) -> Response {
    let mut response = ResponseBuilder::new().description(description).content(
        PROBLEM_JSON,
        Content::new(Some(Ref::from_schema_name("Problem"))),
    );
    if name == "ServiceUnavailable" {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                )
                .description(Some("Seconds to wait before sending the request again"))
                .build(),
        );
    }
    response.build()
}

fn add(op: &mut Operation, name: &str) {
    if let Some((_, status, _)) = SHARED.iter().find(|(n, _, _)| *n == name) {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    }
}

pub fn finish(spec: &mut Spec) {
    let components = spec.components.get_or_insert_with(Default::default);
    for (name, _, description) in SHARED {
        components.responses.insert(
            name.to_string(),
            RefOr::T(problem_response(name, description)),
        );
    }
    for (path, item) in spec.paths.paths.iter_mut() {
        let has_path_params = path.contains('{');
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            let public = op.security.as_ref().is_some_and(|reqs| {
                serde_json::to_value(reqs).ok() == Some(serde_json::json!([{}]))
            });
            if !public {
                add(op, "Unauthorized");
            }
            // A request carrying an API key is refused anything but reading.
            if !public || op.request_body.is_some() {
                add(op, "Forbidden");
            }
            if op.request_body.is_some() {
                for name in [
                    "BadRequest",
                    "PayloadTooLarge",
                    "UnsupportedMediaType",
                    "ValidationFailed",
                ] {
                    add(op, name);
                }
            }
            let has_query = op
                .parameters
                .as_ref()
                .is_some_and(|ps| ps.iter().any(|p| p.parameter_in == ParameterIn::Query));
            if has_query {
                add(op, "BadRequest");
                add(op, "ValidationFailed");
            }
            if has_path_params {
                add(op, "NotFound");
            }
            add(op, "InternalError");
            add(op, "ServiceUnavailable");
            add_links(op);
        }
    }
}

/// OpenAPI links from each create to what can be done with the record it returns (its `id`),
/// so that clients and Schemathesis's stateful phase can chain create → read → act.
const LINKS: &[(&str, &[&str])] = &[
    (
        "create_inspection",
        &[
            "get_inspection",
            "update_inspection",
            "add_finding",
            "submit_inspection",
            "upload_evidence",
        ],
    ),
    ("upload_evidence", &["evidence_content"]),
    ("raise_follow_up", &["get_follow_up", "act_on_follow_up"]),
    (
        "create_official",
        &["get_official", "update_official", "official_record"],
    ),
    ("create_opd", &["get_opd", "update_opd"]),
    ("create_user", &["get_user", "update_user"]),
    ("create_api_key", &["revoke_api_key"]),
];

fn add_links(op: &mut Operation) {
    let Some(targets) = op
        .operation_id
        .as_deref()
        .and_then(|id| LINKS.iter().find(|(from, _)| *from == id))
        .map(|(_, targets)| *targets)
    else {
        return;
    };
    for status in ["200", "201"] {
        if let Some(RefOr::T(response)) = op.responses.responses.get_mut(status) {
            for target in targets {
                // utoipa 5.5 writes `Link::operation_id` as `operation_id`, not the
                // `operationId` OpenAPI names; the flattened extensions map writes the key as
                // given.
                let mut key = Extensions::default();
                key.insert("operationId".to_string(), serde_json::json!(target));
                let link = LinkBuilder::new()
                    .parameter("id", "$response.body#/id")
                    .extensions(Some(key))
                    .build();
                response.links.insert(target.to_string(), RefOr::T(link));
            }
        }
    }
}
