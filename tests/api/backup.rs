//! Backups: a snapshot taken while reports and photos arrive restores into a fresh data
//! directory (or database) with everything acknowledged before it began, nothing half
//! there, and the audit chain intact; a damaged or unfinished snapshot is refused.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::both_backends;
use crate::evidence::{jpeg, upload};
use crate::helpers::{Backend, EmptyDatabase};
use crate::inspections::Field;

both_backends!(a_backup_taken_while_reports_arrive_restores);

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
    drop(empty_pg);
}
