//! Backups: a snapshot taken while reports and photos arrive restores into a fresh data
//! directory (or database) with everything acknowledged before it began, nothing half
//! there, and the audit chain intact; a damaged or unfinished snapshot is refused.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::both_backends;
use crate::evidence::{jpeg, upload};
use crate::helpers::{s3_enabled, s3_settings, Backend, EmptyDatabase, TEST_BUCKET};
use crate::inspections::Field;

both_backends!(
    a_backup_taken_while_reports_arrive_restores,
    scheduled_backups_run_once_per_time_and_keep_the_newest,
    a_failed_backup_shows_and_leaves_nothing,
    backups_go_to_a_bucket_and_come_back
);

/// Acknowledged reports (id, and the photo's bytes when its upload was acknowledged too).
type Acked = Arc<Mutex<Vec<(String, Option<Vec<u8>>)>>>;

async fn writer(f: Arc<Field>, acked: Acked, stop: Arc<AtomicBool>, n: u8) {
    let mut i: u8 = 0;
    while !stop.load(Ordering::Relaxed) {
        i = i.wrapping_add(1);
        let body = f.report();
        let id = body["id"].as_str().unwrap().to_string();
        let resp = f.post_report(&f.inspector, &body).await;
        let status = resp.status();
        assert_eq!(status, 201, "{}", resp.text().await.unwrap_or_default());
        let photo = jpeg(
            n.wrapping_mul(31).wrapping_add(i),
            3000 + usize::from(i) * 7,
        );
        let up = upload(&f, &f.inspector, &id, photo.clone(), "p.jpg", None).await;
        let status = up.status();
        assert_eq!(status, 201, "{}", up.text().await.unwrap_or_default());
        acked.lock().unwrap().push((id, Some(photo)));
    }
}

fn snapshots(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

async fn a_backup_taken_while_reports_arrive_restores(backend: Backend) {
    let f = Arc::new(Field::new(backend).await);
    let acked: Acked = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|n| tokio::spawn(writer(f.clone(), acked.clone(), stop.clone(), n)))
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // The backup, while the writers go on.
    let backups = f.app.data_dir().join("backups");
    let before: HashSet<String> = acked
        .lock()
        .unwrap()
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    let app = &f.app;
    let out = tokio::task::block_in_place(|| {
        app.cli(&["backup", "--to", &backups.display().to_string()], &[])
    });
    assert!(out.status.success(), "{out:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let sealed = snapshots(&backups);
    assert_eq!(sealed.len(), 1, "{sealed:?}");
    let snapshot = sealed[0].display().to_string();
    assert!(!snapshot.ends_with(".partial"));
    assert!(
        acked.lock().unwrap().len() > before.len(),
        "writers went on during the backup"
    );
    let verified = f.app.cli(&["backup", "verify", &snapshot], &[]);
    assert!(verified.status.success(), "{verified:?}");

    // Restored into a new data directory (and, on PostgreSQL, an empty database).
    let target = f.app.data_dir().join("restored");
    let empty_pg = (backend == Backend::Postgres).then(|| EmptyDatabase::new(backend));
    let url = match &empty_pg {
        Some(db) => db.url.clone(),
        None => format!("sqlite://{}", target.join("sidak.db").display()),
    };
    let target_dir = target.display().to_string();
    let place = [
        ("DATABASE_URL", url.as_str()),
        ("SIDAK_DATA_DIR", target_dir.as_str()),
    ];
    let out = f.app.cli(&["restore", "--from", &snapshot], &place);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("audit chain verified"));
    // Not twice: the target holds data now.
    let again = f.app.cli(&["restore", "--from", &snapshot], &place);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("--force"),
        "{again:?}"
    );

    let restored = f
        .app
        .sibling(&[
            ("DATABASE_URL", Some(&url)),
            ("SIDAK_DATA_DIR", Some(&target_dir)),
        ])
        .await;
    let get = |app: &crate::helpers::TestApp, path: String| {
        let (client, url, token) = (app.client.clone(), app.url(&path), f.admin.clone());
        async move {
            let resp = client.get(url).bearer_auth(token).send().await.unwrap();
            (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
        }
    };
    // Every report acknowledged before the backup began is there as the server had it,
    // with its photo byte for byte.
    let all = acked.lock().unwrap().clone();
    for (id, photo) in all.iter().filter(|(id, _)| before.contains(id)) {
        let (status, there) = get(&restored, format!("/api/v1/inspections/{id}")).await;
        assert_eq!(status, 200, "{id} missing after the restore");
        let (_, here) = get(&f.app, format!("/api/v1/inspections/{id}")).await;
        let (there, here): (Value, Value) = (
            serde_json::from_slice(&there).unwrap(),
            serde_json::from_slice(&here).unwrap(),
        );
        assert_eq!(there, here, "{id} differs after the restore");
        let photo = photo.as_ref().unwrap();
        let url = there["evidence"][0]["content_url"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, bytes) = get(&restored, url).await;
        assert_eq!(status, 200);
        assert!(bytes == *photo, "{id}: the photo differs");
    }
    // Whatever else is there (acknowledged while the backup ran) is whole.
    let (_, page) = get(&restored, "/api/v1/inspections?limit=200".to_string()).await;
    let page: Value = serde_json::from_slice(&page).unwrap();
    for item in page["items"].as_array().unwrap() {
        let id = item["id"].as_str().unwrap();
        let (_, there) = get(&restored, format!("/api/v1/inspections/{id}")).await;
        let (_, here) = get(&f.app, format!("/api/v1/inspections/{id}")).await;
        let (mut there, mut here): (Value, Value) = (
            serde_json::from_slice(&there).unwrap(),
            serde_json::from_slice(&here).unwrap(),
        );
        // A photo added after the snapshot is the only difference allowed.
        there.as_object_mut().unwrap().remove("evidence");
        here.as_object_mut().unwrap().remove("evidence");
        assert_eq!(there, here, "{id} is not whole after the restore");
    }
    let (_, chain) = get(&restored, "/api/v1/audit/verify".to_string()).await;
    let chain: Value = serde_json::from_slice(&chain).unwrap();
    assert_eq!(chain["ok"], true, "{chain}");

    // The restored photos are the store's own files, not the snapshot's: damaging the
    // snapshot below leaves them as they are.
    let (first_id, first_photo) = all
        .iter()
        .find(|(id, _)| before.contains(id))
        .map(|(id, p)| (id.clone(), p.clone().unwrap()))
        .unwrap();

    // A damaged file is found and named.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(sealed[0].join("manifest.json")).unwrap()).unwrap();
    for entry in manifest["files"].as_array().unwrap() {
        let path = entry["path"].as_str().unwrap();
        if path.starts_with("evidence/") {
            std::fs::write(sealed[0].join(path), b"not the photo").unwrap();
        }
    }
    let out = f.app.cli(&["backup", "verify", &snapshot], &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("evidence/"),
        "{out:?}"
    );
    let (_, there) = get(&restored, format!("/api/v1/inspections/{first_id}")).await;
    let there: Value = serde_json::from_slice(&there).unwrap();
    let url = there["evidence"][0]["content_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        get(&restored, url).await.1 == first_photo,
        "a restored photo changed with the snapshot"
    );

    // A backup killed midway leaves no sealed snapshot, and its folder is refused.
    let killed_to = f.app.data_dir().join("killed");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sidak"))
        .args(["backup", "--to", &killed_to.display().to_string()])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", f.app.database_url())
        .env("SIDAK_DATA_DIR", f.app.data_dir())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut partial = None;
    for _ in 0..5000 {
        if let Some(p) = snapshots(&killed_to).into_iter().next() {
            partial = Some(p);
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let left = snapshots(&killed_to);
    let partial = partial.expect("the backup started");
    assert!(
        left.iter()
            .all(|p| p.to_string_lossy().ends_with(".partial")),
        "a killed backup left {left:?}"
    );
    let out = f
        .app
        .cli(&["backup", "verify", &partial.display().to_string()], &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unfinished"),
        "{out:?}"
    );
    let killed = killed_to.display().to_string();
    let listed = f.app.cli(&["backup", "list", "--to", &killed], &[]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("(unfinished)"),
        "{listed:?}"
    );
    // The next backup with --keep removes what the killed one left.
    let out = f.app.cli(&["backup", "--to", &killed, "--keep", "1"], &[]);
    assert!(out.status.success(), "{out:?}");
    let left = snapshots(&killed_to);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(!left[0].to_string_lossy().ends_with(".partial"), "{left:?}");
    drop(empty_pg);
}

/// Every backup the database records.
fn backup_runs(url: &str) -> Vec<sidak::db::backups::BackupRun> {
    use diesel::prelude::*;
    use sidak::db::schema::backup_runs::dsl::*;
    let mut conn = sidak::db::ConnectionManager::new(
        sidak::db::DatabaseUrl::parse(url).unwrap(),
        sidak::db::SqliteSynchronous::Full,
    )
    .establish()
    .unwrap();
    backup_runs
        .order(id)
        .select(sidak::db::backups::BackupRun::as_select())
        .load(&mut conn)
        .unwrap()
}

/// Scheduled backups: at every scheduled time one backup is taken however many servers
/// share the database (two on PostgreSQL), the newest `SIDAK_BACKUP_KEEP` are kept, and the
/// last one shows on `/readyz` and `/metrics`.
async fn scheduled_backups_run_once_per_time_and_keep_the_newest(backend: Backend) {
    let f = Field::with(
        backend,
        &[
            ("SIDAK_BACKUP_SCHEDULE", "every 1s"),
            ("SIDAK_BACKUP_KEEP", "2"),
        ],
    )
    .await;
    let body = f.report();
    assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    let id = body["id"].as_str().unwrap().to_string();
    let photo = jpeg(7, 4000);
    let up = upload(&f, &f.inspector, &id, photo, "p.jpg", None).await;
    assert_eq!(up.status(), 201);
    // A second server on the same PostgreSQL database wakes at the same times.
    let second = match backend {
        Backend::Postgres => Some(f.app.sibling(&[]).await),
        Backend::Sqlite => None,
    };
    let started = std::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let runs = backup_runs(&f.app.database_url());
    let elapsed = started.elapsed().as_secs() + 2;
    let scheduled: Vec<_> = runs.iter().filter(|r| r.trigger == "schedule").collect();
    assert!(scheduled.len() >= 3, "{runs:?}");
    assert!(
        scheduled.len() as u64 <= elapsed,
        "more backups than scheduled times: {runs:?}"
    );
    let finished: Vec<_> = scheduled
        .iter()
        .filter(|r| r.outcome != "running")
        .collect();
    assert!(finished.iter().all(|r| r.outcome == "ok"), "{runs:?}");
    let slots: HashSet<_> = scheduled.iter().map(|r| r.slot.clone()).collect();
    assert_eq!(slots.len(), scheduled.len(), "a time taken twice: {runs:?}");
    if second.is_some() {
        let holders: HashSet<_> = scheduled.iter().map(|r| r.holder.clone()).collect();
        assert!(holders.len() <= 2, "{runs:?}");
    }
    let locations: HashSet<_> = finished.iter().map(|r| r.location.clone()).collect();
    assert_eq!(locations.len(), finished.len(), "{runs:?}");

    // The newest two are kept; the newest verifies and holds the report and its photo.
    let backups = f.app.data_dir().join("backups");
    let sealed: Vec<_> = snapshots(&backups)
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(
        (1..=3).contains(&sealed.len()),
        "SIDAK_BACKUP_KEEP=2 (a third while one is being sealed): {sealed:?}"
    );
    let newest = sealed.last().unwrap().display().to_string();
    let out = f.app.cli(&["backup", "verify", &newest], &[]);
    assert!(out.status.success(), "{out:?}");
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(sealed.last().unwrap().join("manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["counts"]["inspections"], 1);
    assert_eq!(manifest["files"].as_array().unwrap().len(), 2);

    for app in std::iter::once(&f.app).chain(second.as_ref()) {
        let ready: Value = app.get("/readyz", None).await.json().await.unwrap();
        let backup = &ready["backup"];
        assert_eq!(backup["schedule"], "every 1s", "{ready}");
        assert_eq!(backup["last_outcome"], "ok", "{ready}");
        let last: chrono::DateTime<chrono::Utc> =
            backup["last_success_at"].as_str().unwrap().parse().unwrap();
        assert!(
            chrono::Utc::now() - last < chrono::Duration::seconds(10),
            "{ready}"
        );
        assert!(backup["next_at"].is_string(), "{ready}");
        let metrics = app
            .get("/metrics", Some(&f.admin))
            .await
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("sidak_backup_last_ok 1"), "{metrics}");
        let end = metrics
            .lines()
            .find_map(|l| l.strip_prefix("sidak_backup_last_success_timestamp_seconds "))
            .and_then(|v| v.trim().parse::<i64>().ok())
            .unwrap();
        assert!(
            (chrono::Utc::now().timestamp() - end).abs() < 10,
            "{metrics}"
        );
    }
}

/// A backup to a bucket: taken, listed, verified (downloaded and re-hashed), restored into a
/// new data directory with the report and photo as they were; a folder in the bucket without
/// a manifest (a backup that died) is named unfinished and refused.
async fn backups_go_to_a_bucket_and_come_back(backend: Backend) {
    if !s3_enabled() {
        return;
    }
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let s3 = s3_settings(&format!("s3://{TEST_BUCKET}/{prefix}/photos")).await;
    let s3_ref: Vec<(&str, &str)> = s3.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let f = Field::with(backend, &s3_ref).await;
    let body = f.report();
    assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    let id = body["id"].as_str().unwrap().to_string();
    // Above one part of a multipart upload.
    let photo = jpeg(9, 6 * 1024 * 1024);
    let up = upload(&f, &f.inspector, &id, photo.clone(), "p.jpg", None).await;
    assert_eq!(up.status(), 201);

    let to = format!("s3://{TEST_BUCKET}/{prefix}/backups");
    let app = &f.app;
    let out = tokio::task::block_in_place(|| app.cli(&["backup", "--to", &to], &[]));
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let snapshot = stdout.split(": ").next().unwrap().to_string();
    assert!(snapshot.starts_with(&format!("{to}/sidak-")), "{stdout}");
    // Nothing of it stays in the data directory.
    let staging = f.app.data_dir().join("backup-staging");
    assert!(snapshots(&staging).is_empty(), "{:?}", snapshots(&staging));

    // A second one with --keep 1 leaves one; a dead backup's folder is unfinished.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let out = tokio::task::block_in_place(|| app.cli(&["backup", "--to", &to, "--keep", "1"], &[]));
    assert!(out.status.success(), "{out:?}");
    let store = sidak::storage::ObjectStoreFront::s3(
        TEST_BUCKET,
        &format!("{prefix}/backups"),
        &s3.iter()
            .filter(|(k, _)| k.starts_with("AWS_"))
            .cloned()
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let dead = "sidak-20200101T000000.000Z";
    let db_file = std::env::temp_dir().join(format!("sidak-dead-{prefix}"));
    std::fs::write(&db_file, b"half a database").unwrap();
    store
        .put_file(&format!("{dead}/sidak.db"), &db_file)
        .await
        .unwrap();
    let _ = std::fs::remove_file(&db_file);
    let listed = f.app.cli(&["backup", "list", "--to", &to], &[]);
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(lines[0].starts_with(&format!("{to}/sidak-")) && !lines[0].contains("unfinished"));
    assert_eq!(lines[1], format!("{to}/{dead}  (unfinished)"), "{listed}");
    let out = f
        .app
        .cli(&["backup", "verify", &format!("{to}/{dead}")], &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unfinished"),
        "{out:?}"
    );
    let newest = lines[0].to_string();
    let out = tokio::task::block_in_place(|| app.cli(&["backup", "verify", &newest], &[]));
    assert!(out.status.success(), "{out:?}");

    // Restored into a new data directory, its photos into a new prefix.
    let target = f.app.data_dir().join("restored");
    let empty_pg = (backend == Backend::Postgres).then(|| EmptyDatabase::new(backend));
    let url = match &empty_pg {
        Some(db) => db.url.clone(),
        None => format!("sqlite://{}", target.join("sidak.db").display()),
    };
    let target_dir = target.display().to_string();
    let photos = format!("s3://{TEST_BUCKET}/{prefix}/restored-photos");
    let place = [
        ("DATABASE_URL", url.as_str()),
        ("SIDAK_DATA_DIR", target_dir.as_str()),
        ("SIDAK_EVIDENCE_URL", photos.as_str()),
    ];
    let out = tokio::task::block_in_place(|| app.cli(&["restore", "--from", &newest], &place));
    assert!(out.status.success(), "{out:?}");
    assert!(snapshots(&target.join("backup-staging")).is_empty());
    let restored = f
        .app
        .sibling(&[
            ("DATABASE_URL", Some(&url)),
            ("SIDAK_DATA_DIR", Some(&target_dir)),
            ("SIDAK_EVIDENCE_URL", Some(&photos)),
        ])
        .await;
    let there: Value = restored
        .get(&format!("/api/v1/inspections/{id}"), Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    let here: Value = f
        .app
        .get(&format!("/api/v1/inspections/{id}"), Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(there, here);
    let content = there["evidence"][0]["content_url"].as_str().unwrap();
    let bytes = restored
        .get(content, Some(&f.admin))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(bytes.as_ref() == photo.as_slice(), "the photo differs");
    drop(empty_pg);
}

/// A backup that cannot finish (a photo the database points at is gone from the store) is
/// recorded as failed, shows so on `/readyz` and `/metrics`, names the photo, and leaves
/// nothing in the target.
async fn a_failed_backup_shows_and_leaves_nothing(backend: Backend) {
    let f = Field::with(backend, &[("SIDAK_BACKUP_SCHEDULE", "every 1s")]).await;
    let body = f.report();
    assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    let id = body["id"].as_str().unwrap().to_string();
    let up = upload(&f, &f.inspector, &id, jpeg(3, 5000), "p.jpg", None).await;
    assert_eq!(up.status(), 201);
    let sha = up.json::<Value>().await.unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    // The schedule runs from the start: a backup may have succeeded before the photo went.
    let deleted_at = chrono::Utc::now().timestamp_millis();
    f.app.evidence_store().delete(&sha).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let runs = backup_runs(&f.app.database_url());
    let earlier: Vec<_> = runs
        .iter()
        .filter(|r| r.outcome == "ok" && r.started_at < deleted_at)
        .collect();
    let earlier_ok = earlier.iter().filter_map(|r| r.finished_at).max();
    let earlier_snapshots: HashSet<String> = earlier
        .iter()
        .filter_map(|r| r.location.as_deref())
        .filter_map(|l| Some(Path::new(l).file_name()?.to_string_lossy().into_owned()))
        .collect();
    let finished: Vec<_> = runs
        .iter()
        .filter(|r| r.outcome != "running" && r.started_at > deleted_at)
        .collect();
    assert!(!finished.is_empty(), "{runs:?}");
    for run in &finished {
        assert_eq!(run.outcome, "failed", "{runs:?}");
        assert!(
            run.error.as_deref().unwrap_or("").contains(&sha),
            "{runs:?}"
        );
        assert_eq!(run.location, None);
    }
    let ready: Value = f.app.get("/readyz", None).await.json().await.unwrap();
    assert_eq!(
        ready["status"], "ok",
        "a failed backup does not make the server unready"
    );
    assert_eq!(ready["backup"]["last_outcome"], "failed", "{ready}");
    let last_success = ready["backup"]["last_success_at"].as_str().map(|t| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp_millis()
    });
    assert_eq!(last_success, earlier_ok, "{ready}");
    let metrics = f
        .app
        .get("/metrics", Some(&f.admin))
        .await
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("sidak_backup_last_ok 0"), "{metrics}");
    if earlier_ok.is_none() {
        assert!(
            metrics.contains("sidak_backup_last_success_timestamp_seconds 0"),
            "{metrics}"
        );
    }
    // Nothing left behind, by the scheduled ones or by the command.
    let backups = f.app.data_dir().join("backups");
    let out = f.app.cli(&["backup"], &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&sha),
        "{out:?}"
    );
    let left: Vec<_> = snapshots(&backups)
        .into_iter()
        .filter(|p| {
            // One may be being written by the schedule right now; those sealed before the
            // photo went stay.
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                !n.ends_with(".partial") && !earlier_snapshots.contains(n.as_ref())
            })
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
