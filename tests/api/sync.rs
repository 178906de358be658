//! The phone's offline sync: paging, deactivations, and no change ever skipped.

use std::collections::HashSet;
use std::sync::mpsc;

use serde_json::{json, Value};
use sidak::db::reference as refdb;
use sidak::db::{self as sdb, ConnectionManager, DatabaseUrl, DbUuid, SqliteSynchronous};

use crate::both_backends;
use crate::helpers::{assert_problem, Backend, TestApp};
use crate::imports::nip_for;
use crate::reference::{create_opd, official_body};

both_backends!(
    sync_pages_through_everything,
    sync_never_skips_a_concurrent_change
);

async fn sync(app: &TestApp, token: &str, cursor: Option<&str>, limit: usize) -> Value {
    let path = match cursor {
        Some(c) => format!("/api/v1/sync?since={c}&limit={limit}"),
        None => format!("/api/v1/sync?limit={limit}"),
    };
    let resp = app.get(&path, Some(token)).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

async fn sync_pages_through_everything(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let inspector = app.token_for_role(&admin, "inspector").await;
    let mut opds = Vec::new();
    for code in ["A", "B", "C"] {
        opds.push(create_opd(&app, &admin, code).await);
    }
    let mut officials = Vec::new();
    for i in 0..5 {
        let resp = app
            .post(
                "/api/v1/officials",
                Some(&admin),
                &official_body(&nip_for(i), &opds[i % 3]),
            )
            .await;
        officials.push(
            resp.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }

    // Everything, three records at a time.
    let (mut seen_opds, mut seen_officials) = (Vec::new(), Vec::new());
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = sync(&app, &inspector, cursor.as_deref(), 3).await;
        pages += 1;
        let n =
            page["opds"].as_array().unwrap().len() + page["officials"].as_array().unwrap().len();
        assert!(n <= 3);
        seen_opds.extend(ids(&page, "opds"));
        seen_officials.extend(ids(&page, "officials"));
        cursor = Some(page["next_cursor"].as_str().unwrap().to_string());
        if !page["has_more"].as_bool().unwrap() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen_opds, opds, "in change order, no duplicates");
    assert_eq!(seen_officials, officials);
    assert!(
        sync(&app, &inspector, cursor.as_deref(), 3).await["officials"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A deactivation and a transfer show up in the next sync, and nothing else.
    app.patch(
        &format!("/api/v1/opds/{}", opds[1]),
        Some(&admin),
        &json!({"active": false}),
    )
    .await;
    app.patch(
        &format!("/api/v1/officials/{}", officials[0]),
        Some(&admin),
        &json!({"opd_id": opds[2]}),
    )
    .await;
    let page = sync(&app, &inspector, cursor.as_deref(), 100).await;
    assert_eq!(ids(&page, "opds"), [opds[1].clone()]);
    assert_eq!(page["opds"][0]["active"], false);
    assert_eq!(ids(&page, "officials"), [officials[0].clone()]);
    assert_eq!(
        page["officials"][0]["current_assignment"]["opd_id"],
        json!(opds[2])
    );
    // No cursor: everything again.
    let all = sync(&app, &inspector, None, 1000).await;
    assert_eq!(
        all["opds"].as_array().unwrap().len() + all["officials"].as_array().unwrap().len(),
        8
    );

    for bad in [
        "since=nonsense",
        "since=eyJhZnRlciI6LTF9",
        "limit=0",
        "limit=1001",
    ] {
        assert_problem(
            app.get(&format!("/api/v1/sync?{bad}"), Some(&inspector))
                .await,
            422,
        )
        .await;
    }
}

/// A write that took its sequence number but has not committed while a sync runs must be
/// in the next sync — together with a write that queued behind it.
async fn sync_never_skips_a_concurrent_change(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let first = create_opd(&app, &admin, "SLOW").await;
    let second = create_opd(&app, &admin, "FAST").await;
    let start = sync(&app, &admin, None, 100).await;
    let cursor = start["next_cursor"].as_str().unwrap().to_string();

    // A writer that holds its transaction open after taking its number.
    let (taken_tx, taken_rx) = mpsc::channel::<()>();
    let (commit_tx, commit_rx) = mpsc::channel::<()>();
    let url = app.database_url();
    let slow_id = DbUuid(uuid::Uuid::parse_str(&first).unwrap());
    let writer = std::thread::spawn(move || {
        let manager =
            ConnectionManager::new(DatabaseUrl::parse(&url).unwrap(), SqliteSynchronous::Full);
        let mut conn = manager.establish().unwrap();
        sdb::write_tx(&mut conn, |conn| {
            let seq = refdb::take_seq(conn)?;
            let mut fields = refdb::find_opd(conn, slow_id)?.fields();
            fields.name = "Renamed by the slow writer".into();
            refdb::update_opd(conn, slow_id, &fields, seq)?;
            taken_tx.send(()).unwrap();
            commit_rx.recv().unwrap();
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    });
    taken_rx.recv().unwrap();

    // A second writer through the API: it must queue behind the first.
    let fast = {
        let client = app.client.clone();
        let url = app.url(&format!("/api/v1/opds/{second}"));
        let admin = admin.clone();
        tokio::spawn(async move {
            client
                .patch(url)
                .bearer_auth(admin)
                .json(&json!({"name": "Renamed through the API"}))
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // A sync while both are in flight sees neither, and must not move its cursor past them.
    let during = sync(&app, &admin, Some(&cursor), 100).await;
    assert!(ids(&during, "opds").is_empty(), "{during}");
    let during_cursor = during["next_cursor"].as_str().unwrap().to_string();

    commit_tx.send(()).unwrap();
    writer.join().unwrap();
    assert_eq!(fast.await.unwrap(), 200);

    let after = sync(&app, &admin, Some(&during_cursor), 100).await;
    let got: HashSet<String> = ids(&after, "opds").into_iter().collect();
    assert_eq!(
        got,
        HashSet::from([first.clone(), second.clone()]),
        "{after}"
    );
    let names: HashSet<&str> = after["opds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        HashSet::from(["Renamed by the slow writer", "Renamed through the API"])
    );
}
