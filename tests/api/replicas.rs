//! More than one server: on PostgreSQL several servers share the login throttle and the
//! API keys' allowance through the database; on SQLite a second server on the same file is
//! refused.

use futures_util::future::join_all;
use sidak::db::{leases, write_tx, DbConnection};

use crate::api_keys::create_key;
use crate::both_backends;
use crate::helpers::{free_port, Backend, EmptyDatabase, TestApp, PASSWORD};

both_backends!(several_servers_share_limits, one_server_holds_a_lease);

use crate::helpers::connect;

/// Periodic work runs on one server at a time: whoever holds its lease, which one holder
/// renews, nobody else takes while it runs, and anyone takes once it ran out or was given up.
async fn one_server_holds_a_lease(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = app.database_url();
    let (mut a, mut b) = (connect(&url), connect(&url));
    let acquire = |conn: &mut DbConnection, who: &str, ttl: i64| {
        write_tx(conn, |c| leases::acquire(c, "job", who, ttl)).unwrap()
    };
    assert!(acquire(&mut a, "one", 60_000));
    assert!(!acquire(&mut b, "two", 60_000), "held by another");
    assert!(acquire(&mut a, "one", 60_000), "renewed by its holder");
    write_tx(&mut a, |c| leases::release(c, "job", "one")).unwrap();
    assert!(acquire(&mut b, "two", 50), "free once given up");
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    assert!(acquire(&mut a, "one", 60_000), "taken once it ran out");

    // Eight servers asking at once for a lease nobody holds: one gets it.
    let taken: Vec<bool> = join_all((0..8).map(|i| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = connect(&url);
            write_tx(&mut conn, |c| {
                leases::acquire(c, "burst", &format!("server-{i}"), 60_000)
            })
            .unwrap()
        })
    }))
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect();
    assert_eq!(taken.iter().filter(|t| **t).count(), 1, "{taken:?}");
}

async fn several_servers_share_limits(backend: Backend) {
    if backend == Backend::Sqlite {
        return one_server_per_sqlite_file().await;
    }
    let first = TestApp::spawn_with(backend, &[("SIDAK_API_KEY_RATE_PER_MINUTE", "5")]).await;
    let second = first.sibling(&[]).await;
    let admin = first.admin_token().await;
    first.create_user(&admin, "sari", "inspector").await;

    // Wrong passwords sent at once, half to each server: five are verified (401), the rest
    // refused before verifying (429), and then the right password is refused too.
    let wrong: Vec<String> = (0..12).map(|i| format!("wrong-password-{i}")).collect();
    let guesses = wrong.iter().enumerate().map(|(i, password)| {
        let app = if i % 2 == 0 { &first } else { &second };
        app.login("sari", password)
    });
    let statuses: Vec<u16> = join_all(guesses)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        7,
        "{statuses:?}"
    );
    for app in [&first, &second] {
        assert_eq!(app.login("sari", PASSWORD).await.status(), 429);
    }

    // An API key allowed 5 requests a minute gets 5 through, however they are spread.
    let (_, key) = create_key(&first, &admin, "viewer").await;
    let calls = (0..10).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        app.get("/api/v1/dashboard/summary", Some(&key))
    });
    let statuses: Vec<u16> = join_all(calls)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        5,
        "{statuses:?}"
    );
}

/// A second `sidak serve` on a SQLite file that is being served stops with a message that
/// says why; the first keeps serving, and once it is gone a new one starts.
async fn one_server_per_sqlite_file() {
    let db = EmptyDatabase::new(Backend::Sqlite);
    let port = free_port();
    let mut first = db.server(port);
    let client = reqwest::Client::new();
    let ready = |port: u16| {
        let client = client.clone();
        async move {
            for _ in 0..300 {
                if let Ok(r) = client
                    .get(format!("http://127.0.0.1:{port}/readyz"))
                    .send()
                    .await
                {
                    if r.status() == 200 {
                        return true;
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            false
        }
    };
    assert!(ready(port).await, "the first server starts");
    let other = free_port();
    let mut second = db.server(other);
    let status = tokio::task::spawn_blocking(move || second.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success());
    let log = std::fs::read_to_string(db.server_log(other)).unwrap();
    assert!(
        log.contains("another Sidak server") && log.contains("one server per SQLite file"),
        "{log}"
    );
    assert!(ready(port).await, "the first server still serves");
    first.kill().unwrap();
    first.wait().unwrap();
    let third_port = free_port();
    let mut third = db.server(third_port);
    assert!(
        ready(third_port).await,
        "a server starts once the first is gone"
    );
    third.kill().unwrap();
    third.wait().unwrap();
}
