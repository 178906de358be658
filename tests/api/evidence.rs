//! Photo evidence: byte checks, sizes, replays, storage, visibility.

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::every_store;
use crate::helpers::{assert_problem, store_settings, Backend, Store};
use crate::inspections::Field;

every_store!(
    photos_are_checked_stored_and_served,
    evidence_follows_its_report,
    evidence_window_closes
);

/// A field on `backend` whose photos go to `store`, with `extra` settings.
async fn field(backend: Backend, store: Store, extra: &[(&str, &str)]) -> Field {
    let settings = store_settings(store).await;
    let mut all: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.extend_from_slice(extra);
    Field::with(backend, &all).await
}

pub fn jpeg(fill: u8, len: usize) -> Vec<u8> {
    let mut v = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ];
    v.resize(len.max(16) - 2, fill);
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

fn png() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde".to_vec();
    v.extend_from_slice(&[0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]);
    v
}

fn webp() -> Vec<u8> {
    let body = b"WEBPVP8 \x04\x00\x00\x00abcd";
    let mut v = b"RIFF".to_vec();
    v.extend_from_slice(&(body.len() as u32).to_le_bytes());
    v.extend_from_slice(body);
    v
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub async fn upload(
    f: &Field,
    token: &str,
    report: &str,
    bytes: Vec<u8>,
    filename: &str,
    meta: Option<Value>,
) -> reqwest::Response {
    let mut form = Form::new().part(
        "file",
        Part::bytes(bytes)
            .file_name(filename.to_string())
            .mime_str("image/jpeg")
            .unwrap(),
    );
    if let Some(m) = meta {
        form = form.text("meta", m.to_string());
    }
    f.app
        .client
        .post(f.app.url(&format!("/api/v1/inspections/{report}/evidence")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

async fn photos_are_checked_stored_and_served(backend: Backend, store: Store) {
    let f = field(backend, store, &[]).await;
    let body = f.report();
    let report = body["id"].as_str().unwrap().to_string();
    f.post_report(&f.inspector, &body).await;
    let finding = body["findings"][0]["id"].clone();

    for (bytes, ct) in [
        (jpeg(7, 5000), "image/jpeg"),
        (png(), "image/png"),
        (webp(), "image/webp"),
    ] {
        let id = uuid::Uuid::new_v4();
        let meta = json!({"id": id, "finding_id": finding, "sha256": sha(&bytes), "captured_at": chrono::Utc::now().to_rfc3339(),
                          "latitude": -6.117, "longitude": 106.153});
        let resp = upload(
            &f,
            &f.inspector,
            &report,
            bytes.clone(),
            "../../x.jpg",
            Some(meta.clone()),
        )
        .await;
        assert_eq!(resp.status(), 201, "{ct}");
        let ev: Value = resp.json().await.unwrap();
        assert_eq!(ev["content_type"], ct);
        assert_eq!(ev["sha256"], sha(&bytes));
        assert_eq!(ev["size_bytes"], bytes.len());
        // Replay: same id, same bytes.
        let again = upload(
            &f,
            &f.inspector,
            &report,
            bytes.clone(),
            "x.jpg",
            Some(meta.clone()),
        )
        .await;
        assert_eq!(again.status(), 200);
        assert_eq!(again.json::<Value>().await.unwrap(), ev);
        // Served back byte for byte.
        let resp = f
            .app
            .get(ev["content_url"].as_str().unwrap(), Some(&f.inspector))
            .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], ct);
        assert_eq!(
            resp.headers()["etag"].to_str().unwrap(),
            format!("\"{}\"", sha(&bytes))
        );
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
        assert_eq!(resp.bytes().await.unwrap().to_vec(), bytes);
    }

    // The client's file name never reaches the store: objects are named by their hash,
    // and the upload's temporary files are gone.
    let stored = f.app.stored_objects().await;
    assert_eq!(stored.len(), 3, "{stored:?}");
    let files = files_under(&f.app.data_dir());
    assert!(
        files
            .iter()
            .all(|p| !p.to_string_lossy().contains("x.jpg")
                && !p.to_string_lossy().ends_with(".part")),
        "{files:?}"
    );
    let local = files_under(&f.app.data_dir().join("evidence"))
        .into_iter()
        .filter(|p| !p.starts_with(f.app.data_dir().join("evidence").join("tmp")))
        .count();
    assert_eq!(local, if store == Store::Local { 3 } else { 0 });
    assert!(!f.app.data_dir().parent().unwrap().join("x.jpg").exists());

    // Same id, other bytes → 409.
    let id = uuid::Uuid::new_v4();
    assert_eq!(
        upload(
            &f,
            &f.inspector,
            &report,
            jpeg(1, 3000),
            "a.jpg",
            Some(json!({"id": id}))
        )
        .await
        .status(),
        201
    );
    assert_problem(
        upload(
            &f,
            &f.inspector,
            &report,
            jpeg(2, 3000),
            "a.jpg",
            Some(json!({"id": id})),
        )
        .await,
        409,
    )
    .await;
    // A script named .jpg, a GIF, a truncated JPEG, a wrong hash.
    assert_problem(
        upload(
            &f,
            &f.inspector,
            &report,
            b"#!/bin/sh\nrm -rf /\n".to_vec(),
            "photo.jpg",
            None,
        )
        .await,
        415,
    )
    .await;
    assert_problem(
        upload(
            &f,
            &f.inspector,
            &report,
            b"GIF89a\x01\x00\x01\x00".to_vec(),
            "photo.jpg",
            None,
        )
        .await,
        415,
    )
    .await;
    let mut cut = jpeg(3, 4000);
    cut.truncate(2500);
    let problem = assert_problem(
        upload(&f, &f.inspector, &report, cut, "cut.jpg", None).await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "file");
    let bytes = jpeg(4, 3000);
    let problem = assert_problem(
        upload(
            &f,
            &f.inspector,
            &report,
            bytes,
            "a.jpg",
            Some(json!({"sha256": "0".repeat(64)})),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "meta.sha256");
    // A finding of another report, bad meta JSON, no file part.
    let problem = assert_problem(
        upload(
            &f,
            &f.inspector,
            &report,
            jpeg(5, 3000),
            "a.jpg",
            Some(json!({"finding_id": uuid::Uuid::new_v4()})),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "meta.finding_id");
    let form = Form::new().text("meta", "{not json");
    let resp = f
        .app
        .client
        .post(f.app.url(&format!("/api/v1/inspections/{report}/evidence")))
        .bearer_auth(&f.inspector)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 422).await;
    let form = Form::new().text("meta", json!({"id": uuid::Uuid::new_v4()}).to_string());
    let resp = f
        .app
        .client
        .post(f.app.url(&format!("/api/v1/inspections/{report}/evidence")))
        .bearer_auth(&f.inspector)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_problem(resp, 422).await;
    // Not multipart.
    let resp = f
        .app
        .client
        .post(f.app.url(&format!("/api/v1/inspections/{report}/evidence")))
        .bearer_auth(&f.inspector)
        .header("content-type", "image/jpeg")
        .body(jpeg(1, 100))
        .send()
        .await
        .unwrap();
    assert_problem(resp, 415).await;
    // 15 MiB + 1 byte.
    let big = jpeg(9, 15 * 1024 * 1024 + 1);
    assert_problem(
        upload(&f, &f.inspector, &report, big, "big.jpg", None).await,
        413,
    )
    .await;

    // None of the refused uploads left a file or a record behind.
    let r: Value = f
        .app
        .get(&format!("/api/v1/inspections/{report}"), Some(&f.inspector))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["evidence"].as_array().unwrap().len(), 4);
    assert_eq!(f.app.stored_objects().await.len(), 4);
}

async fn evidence_follows_its_report(backend: Backend, store: Store) {
    let f = field(backend, store, &[]).await;
    let body = f.report();
    let report = body["id"].as_str().unwrap().to_string();
    f.post_report(&f.inspector, &body).await;
    let resp = upload(&f, &f.inspector, &report, jpeg(1, 2000), "a.jpg", None).await;
    let ev: Value = resp.json().await.unwrap();
    let url = ev["content_url"].as_str().unwrap().to_string();
    // Another inspector knows nothing of the draft or its photos.
    assert_problem(f.app.get(&url, Some(&f.other_inspector)).await, 404).await;
    assert_problem(
        upload(
            &f,
            &f.other_inspector,
            &report,
            jpeg(2, 2000),
            "b.jpg",
            None,
        )
        .await,
        404,
    )
    .await;
    let viewer = f.app.token_for_role(&f.admin, "viewer").await;
    assert_problem(f.app.get(&url, Some(&viewer)).await, 403).await;
    assert_problem(f.app.get(&url, None).await, 401).await;
    let supervisor = f.app.token_for_role(&f.admin, "supervisor").await;
    assert_eq!(f.app.get(&url, Some(&supervisor)).await.status(), 200);
    assert_problem(
        upload(&f, &supervisor, &report, jpeg(2, 2000), "b.jpg", None).await,
        403,
    )
    .await;
    assert_problem(
        f.app
            .get(
                &format!("/api/v1/evidence/{}/content", uuid::Uuid::new_v4()),
                Some(&f.inspector),
            )
            .await,
        404,
    )
    .await;
    // After submission every inspector may see it; photos still arrive from the author.
    f.app
        .post(
            &format!("/api/v1/inspections/{report}/submit"),
            Some(&f.inspector),
            &json!({}),
        )
        .await;
    assert_eq!(
        f.app.get(&url, Some(&f.other_inspector)).await.status(),
        200
    );
    assert_eq!(
        upload(&f, &f.inspector, &report, jpeg(3, 2000), "c.jpg", None)
            .await
            .status(),
        201
    );
    assert_problem(
        upload(
            &f,
            &f.other_inspector,
            &report,
            jpeg(4, 2000),
            "d.jpg",
            None,
        )
        .await,
        403,
    )
    .await;
    // 304 on the same ETag.
    let etag = format!("\"{}\"", ev["sha256"].as_str().unwrap());
    let resp = f
        .app
        .client
        .get(f.app.url(&url))
        .bearer_auth(&f.inspector)
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    assert_eq!(resp.headers()["etag"], etag.as_str());
    // A client that takes only octets (a generated client) gets the same bytes so labelled;
    // an Accept that also names an image type gets the photo's own.
    for (accept, want) in [
        ("application/octet-stream", "application/octet-stream"),
        ("image/jpeg, application/octet-stream;q=0.5", "image/jpeg"),
        ("*/*", "image/jpeg"),
    ] {
        let resp = f
            .app
            .client
            .get(f.app.url(&url))
            .bearer_auth(&f.inspector)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{accept}");
        assert_eq!(resp.headers()["content-type"], want, "{accept}");
        assert_eq!(resp.headers()["etag"], etag.as_str(), "{accept}");
        assert_eq!(
            sha(&resp.bytes().await.unwrap()),
            ev["sha256"].as_str().unwrap()
        );
    }
}

async fn evidence_window_closes(backend: Backend, store: Store) {
    let f = field(backend, store, &[("SIDAK_EVIDENCE_WINDOW_DAYS", "0")]).await;
    let body = f.report();
    let report = body["id"].as_str().unwrap().to_string();
    f.post_report(&f.inspector, &body).await;
    let meta = json!({"id": uuid::Uuid::new_v4()});
    assert_eq!(
        upload(
            &f,
            &f.inspector,
            &report,
            jpeg(1, 2000),
            "a.jpg",
            Some(meta.clone())
        )
        .await
        .status(),
        201
    );
    f.app
        .post(
            &format!("/api/v1/inspections/{report}/submit"),
            Some(&f.inspector),
            &json!({}),
        )
        .await;
    assert_problem(
        upload(&f, &f.inspector, &report, jpeg(2, 2000), "b.jpg", None).await,
        409,
    )
    .await;
    // A late retry of a photo that did arrive is still recognised.
    assert_eq!(
        upload(
            &f,
            &f.inspector,
            &report,
            jpeg(1, 2000),
            "a.jpg",
            Some(meta)
        )
        .await
        .status(),
        200
    );
}

every_store!(the_store_is_kept);

/// Large photos, a second server on the same store, collecting objects no record points
/// at, and copying every photo to another store.
async fn the_store_is_kept(backend: Backend, store: Store) {
    let f = field(backend, store, &[]).await;
    let body = f.report();
    let report = body["id"].as_str().unwrap().to_string();
    f.post_report(&f.inspector, &body).await;
    // One photo larger than an S3 part (a multipart upload there), one small.
    let large = jpeg(11, 6 * 1024 * 1024 + 12345);
    let small = jpeg(12, 4000);
    let mut urls = Vec::new();
    for bytes in [&large, &small] {
        let resp = upload(&f, &f.inspector, &report, bytes.clone(), "p.jpg", None).await;
        assert_eq!(resp.status(), 201);
        let ev: Value = resp.json().await.unwrap();
        urls.push((
            ev["content_url"].as_str().unwrap().to_string(),
            bytes.clone(),
        ));
    }
    let download = |app: &crate::helpers::TestApp, url: String| {
        let (client, url, token) = (app.client.clone(), app.url(&url), f.inspector.clone());
        async move {
            let resp = client.get(url).bearer_auth(token).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.bytes().await.unwrap().to_vec()
        }
    };
    // Another server on the same database and store serves them byte for byte.
    let other = f.app.sibling(&[]).await;
    for (url, bytes) in &urls {
        assert!(download(&other, url.clone()).await == *bytes, "{url}");
    }
    let ready: Value = other.get("/readyz", None).await.json().await.unwrap();
    assert_eq!(
        ready["evidence"],
        if store == Store::S3 { "s3" } else { "local" }
    );
    let mut referenced = vec![sha(&large), sha(&small)];
    referenced.sort();
    assert_eq!(f.app.stored_objects().await, referenced);

    // An object no record points at (an upload refused after its bytes were stored, or a
    // record never written): kept while young, collected after the grace period.
    let orphan = jpeg(13, 2000);
    let temp = f.app.data_dir().join("orphan.part");
    std::fs::write(&temp, &orphan).unwrap();
    assert!(f
        .app
        .evidence_store()
        .store(&temp, &sha(&orphan))
        .await
        .unwrap());
    assert_eq!(f.app.stored_objects().await.len(), 3);
    let out = f.app.cli(&["evidence", "gc"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(f.app.stored_objects().await.len(), 3, "young: kept");
    let out = f
        .app
        .cli(&["evidence", "gc", "--grace-hours", "0", "--dry-run"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("would remove {}", sha(&orphan)))
    );
    assert_eq!(
        f.app.stored_objects().await.len(),
        3,
        "a dry run removes nothing"
    );
    let out = f.app.cli(&["evidence", "gc", "--grace-hours", "0"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        f.app.stored_objects().await,
        referenced,
        "only the orphan went"
    );

    // Every photo copied to another store: to S3 from files (when an endpoint is there),
    // to files from S3; then a server on the new store serves them.
    let target: Vec<(String, String)> = if store == Store::Local && crate::helpers::s3_enabled() {
        store_settings(Store::S3).await
    } else {
        vec![(
            "SIDAK_EVIDENCE_URL".to_string(),
            f.app.data_dir().join("moved").display().to_string(),
        )]
    };
    let target_url = target[0].1.clone();
    // The target's S3 settings, for the command (the server's are the source's).
    let target_env: Vec<(&str, &str)> = target[1..]
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let out = f
        .app
        .cli(&["evidence", "migrate", "--to", &target_url], &target_env);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{out:?}");
    assert!(
        text.contains("2 photos: 2 copied, 0 in the target already, 0 failed"),
        "{text}"
    );
    let out = f
        .app
        .cli(&["evidence", "migrate", "--to", &target_url], &target_env);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("2 photos: 0 copied, 2 in the target already"),
        "{text}"
    );
    let changes: Vec<(&str, Option<&str>)> = target
        .iter()
        .map(|(k, v)| (k.as_str(), Some(v.as_str())))
        .collect();
    let moved = f.app.sibling(&changes).await;
    for (url, bytes) in &urls {
        assert!(download(&moved, url.clone()).await == *bytes, "{url}");
    }
    assert_eq!(moved.stored_objects().await, referenced);

    // Damaged bytes in the source are found, named, and not copied.
    let damaged = jpeg(14, 4000);
    let temp = f.app.data_dir().join("damaged.part");
    std::fs::write(&temp, &damaged).unwrap();
    match store {
        Store::Local => {
            let path = f
                .app
                .data_dir()
                .join("evidence")
                .join(&sha(&small)[0..2])
                .join(&sha(&small)[2..4])
                .join(sha(&small));
            std::fs::write(path, &damaged).unwrap();
        }
        Store::S3 => {
            f.app
                .evidence_store()
                .store(&temp, &sha(&small))
                .await
                .unwrap();
        }
    }
    let elsewhere = f.app.data_dir().join("elsewhere").display().to_string();
    let out = f.app.cli(&["evidence", "migrate", "--to", &elsewhere], &[]);
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains(&sha(&small)) && err.contains("damaged"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 copied"));

    // A server collects such objects itself, on a timer: an orphan goes, records stay.
    let orphan = jpeg(15, 2000);
    let temp = f.app.data_dir().join("orphan2.part");
    std::fs::write(&temp, &orphan).unwrap();
    f.app
        .evidence_store()
        .store(&temp, &sha(&orphan))
        .await
        .unwrap();
    let _collector = f
        .app
        .sibling(&[
            ("SIDAK_EVIDENCE_GC_INTERVAL_SECONDS", Some("1")),
            ("SIDAK_EVIDENCE_GC_GRACE_HOURS", Some("0")),
        ])
        .await;
    let mut left = Vec::new();
    for _ in 0..100 {
        left = f.app.stored_objects().await;
        if !left.contains(&sha(&orphan)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(left, referenced, "the orphan collected, the photos kept");
}
