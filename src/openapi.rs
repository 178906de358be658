//! The OpenAPI 3.1 document, generated from the handlers' annotations.
//!
//! [`document`] builds the same app the server runs and takes its spec, then [`finish`]
//! adds the error responses every operation shares (401 where a token is needed, 400/413/
//! 415/422 where a body or query is parsed, 404 where the path names a record, 500 and 503
//! always),
//! so that each handler only documents the errors particular to it.

use actix_web::App;
use std::collections::BTreeSet;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};

use utoipa::openapi::schema::{ArrayItems, ObjectBuilder, Schema, Type};
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
Errors are RFC 9457 `application/problem+json`; every response carries `X-Request-Id`.\n\n\
Enumerations only grow: a later version may add values to any enum here (a status, a category, \
a sanction code), never remove or rename one. A client must accept a value it does not know \
(show it as text, count it as \"other\") rather than fail."
    ),
    servers((url = "/", description = "The server this document was fetched from")),
    security(("bearer" = []), ("api_key" = [])),
    modifiers(&BearerScheme),
    components(schemas(Problem, FieldError, crate::http::dashboards::Format, crate::service::dashboards::Interval)),
    tags(
        (name = "auth", description = "Login, tokens, the caller's own account"),
        (name = "users", description = "User administration (admin only)"),
        (name = "api-keys", description = "Read-only keys for dashboards and other machines (admin only)"),
        (name = "reference", description = "OPDs, officials (ASN) and their placements, the holiday calendar, CSV imports, the phone's offline sync"),
        (name = "inspections", description = "Inspection reports from the field: attendance, findings, photo evidence"),
        (name = "follow-ups", description = "Flags on officials, the supervisors' review and the PP 94/2021 recommendation"),
        (name = "dashboards", description = "Aggregates for dashboards, from rollups; JSON or CSV"),
        (name = "audit", description = "The append-only, hash-chained audit trail"),
        (name = "webhooks", description = "Subscriptions to Sidak's events, delivered signed per the Standard Webhooks specification (admin only). Deliveries are at least once — a retry or a resend after a server restart carries the same `webhook-id`, which receivers deduplicate on — and in no promised order. Timeouts, connection errors, 408, 429 and 5xx are retried after 5 s, 30 s, 2 min, 10 min, 1 h, 6 h and 24 h (or a longer `Retry-After`); a subscription with no success for three days is turned off with a reason."),
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
    ("ClientError", "4XX", "The request is malformed (a query string with control characters, say)"),
    ("InternalError", "500", "Unexpected server error; nothing internal is disclosed, the request id identifies it in the log"),
    ("ServiceUnavailable", "503", "The database is busy (a write conflict outlasted the server's retries, or no connection was free in time), or the photo store did not answer. Nothing was changed: send the same request again after `Retry-After` seconds; a replayed create is recognised by its id"),
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
            // `security(())` on a handler marks it public; OpenAPI says that with an empty list
            // (`security: []`), which generated clients read as "no credential".
            let public = op.security.as_ref().is_some_and(|reqs| {
                reqs.is_empty() || serde_json::to_value(reqs).ok() == Some(serde_json::json!([{}]))
            });
            if public {
                op.security = Some(Vec::new());
            }
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
            let has_4xx = op.responses.responses.keys().any(|s| s.starts_with('4'));
            if !has_4xx {
                // The probes and the document: only a malformed request is refused.
                add(op, "ClientError");
            }
            add(op, "InternalError");
            add(op, "ServiceUnavailable");
            add_links(op);
        }
    }
    require_sent_properties(spec);
    page_items_by_reference(spec);
}

/// utoipa copies the item schema into each generic page (`Page_Inspection` holds a copy of
/// `Inspection`), which generated clients turn into a second class per resource. Each page's
/// `items` refers to the item's own schema instead.
fn page_items_by_reference(spec: &mut Spec) {
    let Some(components) = spec.components.as_mut() else {
        return;
    };
    let names: Vec<String> = components.schemas.keys().cloned().collect();
    for page in names.iter().filter(|n| n.starts_with("Page_")) {
        let item = &page["Page_".len()..];
        if !components.schemas.contains_key(item) {
            continue;
        }
        if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(page) {
            if let Some(RefOr::T(Schema::Array(items))) = object.properties.get_mut("items") {
                items.items =
                    ArrayItems::RefOrSchema(Box::new(RefOr::Ref(Ref::from_schema_name(item))));
            }
        }
    }
}

/// Response schemas that leave a property out when it has no value (RFC 9457 problem
/// details: `errors` only on 422). Every other object the server sends sends every property
/// it declares, `null` when empty.
const OMIT_ABSENT: &[&str] = &["Problem"];

/// Marks every property of the objects only responses use as required: the server always
/// sends them (as `null` when they have no value), so a generated client needs no check for
/// a missing key. Schemas that a request body or parameter also uses keep their optional
/// properties, and so do those in [`OMIT_ABSENT`].
fn require_sent_properties(spec: &mut Spec) {
    let Ok(doc) = serde_json::to_value(&*spec) else {
        return;
    };
    let schemas = doc
        .pointer("/components/schemas")
        .cloned()
        .unwrap_or_default();
    let (mut sent, mut received) = (BTreeSet::new(), BTreeSet::new());
    for item in doc["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            reachable(&op["responses"], &schemas, &mut sent);
            reachable(&op["requestBody"], &schemas, &mut received);
            reachable(&op["parameters"], &schemas, &mut received);
        }
    }
    let Some(components) = spec.components.as_mut() else {
        return;
    };
    for name in sent.difference(&received) {
        if OMIT_ABSENT.contains(&name.as_str()) {
            continue;
        }
        if let Some(RefOr::T(schema)) = components.schemas.get_mut(name) {
            require_all(schema);
        }
    }
}

fn require_all(schema: &mut Schema) {
    match schema {
        Schema::Object(object) => {
            object.required = object.properties.keys().cloned().collect();
        }
        Schema::AllOf(all) => {
            for part in &mut all.items {
                if let RefOr::T(inner) = part {
                    require_all(inner);
                }
            }
        }
        _ => {}
    }
}

/// Adds to `found` every component schema `value` refers to, and those they refer to.
fn reachable(value: &serde_json::Value, schemas: &serde_json::Value, found: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(|r| r.as_str())
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                if found.insert(name.to_string()) {
                    reachable(&schemas[name], schemas, found);
                }
            }
            for v in map.values() {
                reachable(v, schemas, found);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                reachable(v, schemas, found);
            }
        }
        _ => {}
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
        &[
            "get_official",
            "update_official",
            "official_record",
            "start_acting",
        ],
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
