use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(
    health_readiness_and_docs,
    metrics_have_bounded_labels,
    labels_for_every_vocabulary
);

async fn health_readiness_and_docs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let health: Value = app.get("/healthz", None).await.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(ready["database"], expected);
    // Every field the spec requires is there, null when it has no value yet (no schedule,
    // no backup taken): generated clients read the object without special cases.
    let backup = ready["backup"].as_object().unwrap();
    for key in [
        "schedule",
        "next_at",
        "last_at",
        "last_outcome",
        "last_success_at",
    ] {
        assert_eq!(backup.get(key), Some(&Value::Null), "readyz backup.{key}");
    }

    let spec = app.get("/openapi.yaml", None).await;
    assert_eq!(spec.status(), 200);
    assert!(spec.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/yaml"));
    let served = spec.text().await.unwrap();
    assert_eq!(served, sidak::openapi::yaml().unwrap());
    // A client that takes only text gets the same document as text/plain.
    let as_text = app
        .client
        .get(app.url("/openapi.yaml"))
        .header("accept", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(as_text.status(), 200);
    assert!(as_text.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(as_text.text().await.unwrap(), served);

    let docs = app.get("/docs/", None).await;
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));

    // The first start wrote a private JWT secret only when none was configured.
    assert!(!app.data_dir().join("jwt_secret").exists());
}

async fn metrics_have_bounded_labels(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    app.get("/healthz", None).await;
    let id = uuid::Uuid::new_v4();
    app.get(&format!("/api/v1/users/{id}"), Some(&admin)).await;
    app.get("/nothing/at/all/xyz", None).await;
    app.login("admin", "wrong-password-x").await;
    let resp = app.get("/metrics", Some(&admin)).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = resp.text().await.unwrap();
    assert!(
        text.contains(r#"sidak_http_requests_total{method="GET",route="/healthz",status="2xx"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/users/{id}",status="4xx""#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched""#));
    assert!(
        !text.contains(&id.to_string()) && !text.contains("xyz"),
        "raw paths never become labels"
    );
    assert!(
        text.contains(r#"sidak_login_failures_total{reason="credentials"} 1"#),
        "{text}"
    );
    assert!(text.contains("sidak_db_pool_connections_idle"));
    assert!(text.contains("sidak_http_request_duration_seconds_bucket"));
    let viewer = app.token_for_role(&admin, "viewer").await;
    assert_eq!(app.get("/metrics", Some(&viewer)).await.status(), 403);
    assert_eq!(app.get("/metrics", None).await.status(), 401);
}

#[tokio::test]
async fn development_jwt_secret_is_generated_private_and_kept() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("SIDAK_JWT_SECRET", "")]).await;
    let path = app.data_dir().join("jwt_secret");
    let secret = std::fs::read_to_string(&path).unwrap();
    assert!(secret.len() >= 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let token = app.admin_token().await;
    // After a restart the same secret is used: the token still works.
    let restarted = app.sibling(&[]).await;
    assert_eq!(
        restarted.get("/api/v1/me", Some(&token)).await.status(),
        200
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), secret);
}

#[test]
fn production_refuses_to_start_without_a_secret() {
    let err = sidak::config::Config::from_lookup(|k| {
        (k == "SIDAK_ENV").then(|| "production".to_string())
    })
    .unwrap_err();
    assert!(err.contains("SIDAK_JWT_SECRET"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sidak"))
        .env("SIDAK_ENV", "production")
        .env_remove("SIDAK_JWT_SECRET")
        .env(
            "SIDAK_DATA_DIR",
            std::env::temp_dir().join("sidak-never-created"),
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SIDAK_JWT_SECRET"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sidak"))
        .env("DATABASE_URL", "mysql://localhost/sidak")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported scheme"));
}

#[test]
fn committed_openapi_yaml_is_current() {
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.yaml"))
            .unwrap();
    let generated = sidak::openapi::yaml().unwrap();
    assert!(
        committed == generated,
        "openapi.yaml is stale: run `cargo run -- openapi > openapi.yaml`"
    );
}

/// Every `#[get("…")]`-style route attribute in `src/` must be a documented operation.
#[test]
fn every_registered_route_is_in_the_spec() {
    let spec = sidak::openapi::document();
    let documented: BTreeSet<(String, String)> = spec
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            [
                ("get", item.get.is_some()),
                ("post", item.post.is_some()),
                ("put", item.put.is_some()),
                ("patch", item.patch.is_some()),
                ("delete", item.delete.is_some()),
            ]
            .into_iter()
            .filter(|(_, present)| *present)
            .map(move |(m, _)| (m.to_string(), path.clone()))
        })
        .collect();

    let mut registered = BTreeSet::new();
    let console_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console");
    let mut console_routes = BTreeSet::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines().map(str::trim) {
                for method in ["get", "post", "put", "patch", "delete"] {
                    if let Some(rest) = line.strip_prefix(&format!("#[{method}(\"")) {
                        let route = rest.split('"').next().unwrap().to_string();
                        registered.insert((method.to_string(), route));
                    }
                }
                // The console's pages are HTML, documented in the README (checked below),
                // not in the API's spec.
                if path.starts_with(&console_dir) {
                    if let Some(rest) = line.split(".route(\"").nth(1) {
                        console_routes.insert(rest.split('"').next().unwrap().to_string());
                    }
                    continue;
                }
                assert!(
                    !line.contains(".route(\"") && !line.contains("web::resource("),
                    "{}: register routes through a documented handler, not `{line}`",
                    path.display()
                );
            }
        }
    }
    assert!(registered.len() >= 10, "found only {registered:?}");
    let missing: Vec<_> = registered.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the spec: {missing:?}"
    );
    // Every page of the console is in the README.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(console_routes.len() >= 8, "{console_routes:?}");
    for route in &console_routes {
        assert!(
            readme.contains(&format!("`{route}")) || route == "/" || route == "/app",
            "the console's {route} is not in the README"
        );
    }
}

#[test]
fn migration_trees_match() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let names = |backend: &str| -> BTreeSet<String> {
        std::fs::read_dir(root.join(backend))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect()
    };
    let sqlite = names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, names("postgres"));
    for name in &sqlite {
        for backend in ["sqlite", "postgres"] {
            for file in ["up.sql", "down.sql"] {
                assert!(
                    root.join(backend).join(name).join(file).exists(),
                    "{backend}/{name}/{file}"
                );
            }
        }
    }
}

/// What generated clients need from the document (scripts/client-check.py runs the clients
/// themselves; this keeps each rule in plain sight).
#[test]
fn the_document_reads_cleanly_for_generated_clients() {
    let doc = serde_json::to_value(sidak::openapi::document()).unwrap();
    assert_eq!(doc["servers"][0]["url"], "/");
    let mut public = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or(path);
            assert!(
                op["description"]
                    .as_str()
                    .is_some_and(|d| !d.trim().is_empty()),
                "{id} has no description"
            );
            let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
            assert!(
                statuses.iter().any(|s| s.starts_with('4')),
                "{id} documents no 4xx"
            );
            if op["security"] == serde_json::json!([]) {
                public.push(format!("{method} {path}"));
            }
            assert_ne!(op["security"], serde_json::json!([{}]), "{id}");
        }
    }
    public.sort();
    assert_eq!(
        public,
        [
            "get /api/v1/meta",
            "get /healthz",
            "get /openapi.yaml",
            "get /readyz",
            "post /api/v1/auth/login",
            "post /api/v1/auth/refresh",
        ]
    );
    let schemas = &doc["components"]["schemas"];
    // Pages refer to their item schema instead of copying it.
    for (name, page) in schemas.as_object().unwrap() {
        if let Some(item) = name.strip_prefix("Page_") {
            assert_eq!(
                page["properties"]["items"]["items"]["$ref"],
                format!("#/components/schemas/{item}"),
                "{name}"
            );
        }
    }
    // Always-sent fields are required; arrays that are never null are not nullable.
    let inspection = &schemas["Inspection"]["allOf"][1];
    assert_eq!(
        inspection["required"],
        serde_json::json!(["attendance", "evidence", "findings"])
    );
    assert_eq!(inspection["properties"]["findings"]["type"], "array");
    let head = &schemas["ReportHead"];
    for field in ["ended_at", "notes", "location", "submitted_at", "version"] {
        assert!(
            head["required"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == field),
            "ReportHead.{field} is always sent"
        );
    }
    // Closed vocabularies are enums.
    assert!(schemas["SanctionCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "teguran_lisan"));
    assert_eq!(
        schemas["ActionRequest"]["properties"]["sanction"]["oneOf"][1]["$ref"],
        "#/components/schemas/SanctionCode"
    );
    // The photo: binary under its real types; the upload's meta is JSON, optional, not null.
    let download = &doc["paths"]["/api/v1/evidence/{id}/content"]["get"];
    for media in [
        "image/jpeg",
        "image/png",
        "image/webp",
        "application/octet-stream",
    ] {
        assert_eq!(
            download["responses"]["200"]["content"][media]["schema"]["$ref"],
            "#/components/schemas/PhotoBytes"
        );
    }
    assert_eq!(schemas["PhotoBytes"]["format"], "binary");
    let names: Vec<&str> = download["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(names.contains(&"If-None-Match"), "{names:?}");
    let upload = &doc["paths"]["/api/v1/inspections/{id}/evidence"]["post"]["requestBody"]
        ["content"]["multipart/form-data"];
    assert_eq!(
        upload["encoding"]["meta"]["contentType"],
        "application/json"
    );
    let form = &schemas["EvidenceUpload"];
    assert_eq!(form["required"], serde_json::json!(["file"]));
    assert_eq!(
        form["properties"]["meta"]["$ref"],
        "#/components/schemas/EvidenceMeta"
    );
}

/// `GET /api/v1/meta`: every code the spec declares for the vocabularies it serves has an
/// Indonesian and an English label; the answer is cacheable and public.
async fn labels_for_every_vocabulary(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app.get("/api/v1/meta", None).await;
    assert_eq!(resp.status(), 200);
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let meta: Value = resp.json().await.unwrap();
    assert_eq!(
        meta["attendance_status"]["late"],
        serde_json::json!({"id": "Terlambat", "en": "Late"})
    );
    assert_eq!(
        meta["follow_up_status"]["in_review"]["id"],
        "Sedang ditinjau"
    );
    assert_eq!(
        meta["sanction"]["teguran_lisan"],
        serde_json::json!({"id": "Teguran lisan", "en": "Oral reprimand"})
    );
    // Every label is filled in, in both languages.
    let vocabularies = meta.as_object().unwrap();
    assert!(vocabularies.len() >= 20, "{vocabularies:?}");
    for (name, codes) in vocabularies {
        let codes = codes.as_object().unwrap();
        assert!(!codes.is_empty(), "{name}");
        for (code, label) in codes {
            for lang in ["id", "en"] {
                let text = label[lang].as_str().unwrap_or_default();
                assert!(!text.trim().is_empty(), "{name}.{code}.{lang}");
            }
        }
    }
    // The codes are exactly the spec's enums for the same fields.
    let spec: Value = serde_json::to_value(sidak::openapi::document()).unwrap();
    let schemas = &spec["components"]["schemas"];
    for (vocabulary, schema) in [
        ("attendance_status", "AttendanceStatus"),
        ("finding_category", "FindingCategory"),
        ("severity", "Severity"),
        ("follow_up_status", "FollowUpStatus"),
        ("sanction", "SanctionCode"),
        ("position_kind", "PositionKind"),
        ("role", "Role"),
    ] {
        let mut declared: Vec<&str> = schemas[schema]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema} has no enum"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        declared.sort_unstable();
        let labelled: Vec<&str> = vocabularies[vocabulary]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(labelled, declared, "{vocabulary}");
    }
    // Conditional reads.
    let again = app
        .client
        .get(app.url("/api/v1/meta"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
}
