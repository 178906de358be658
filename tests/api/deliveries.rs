//! Webhook deliveries to a real HTTP receiver started by the test: signed per the Standard
//! Webhooks specification, retried with the same `webhook-id` until accepted, logged, sent
//! again by hand, never to an inactive subscription or (by default) a private address, once
//! per event with two servers, again after a crash between sending and recording, and
//! `follow_up.overdue` raised once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::both_backends;
use crate::helpers::{postgres_enabled, token_of, Backend, EmptyDatabase, Served, ADMIN_PASSWORD};
use crate::inspections::Field;

both_backends!(
    deliveries_are_signed_and_retried_with_the_same_id_until_accepted,
    refusals_inactive_subscriptions_and_failing_endpoints,
    private_addresses_are_refused_unless_allowed,
    a_delivery_interrupted_by_a_crash_is_sent_again_after_restart,
    an_overdue_follow_up_raises_its_event_once,
    the_readme_receiver_verifies_and_deduplicates,
    old_events_and_finished_deliveries_are_removed,
);

/// Settings that make deliveries quick enough for a test, to a receiver on loopback.
const QUICK: &[(&str, &str)] = &[
    ("SIDAK_WEBHOOK_ALLOW_PRIVATE", "true"),
    ("SIDAK_WEBHOOK_POLL_MS", "50"),
    ("SIDAK_WEBHOOK_RETRY_SCHEDULE", "200ms,200ms,200ms"),
    ("SIDAK_WEBHOOK_TIMEOUT_SECONDS", "2"),
];

/// What the receiver answers a request with.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Status(u16),
    /// Reads the request and never answers.
    Hang,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn id(&self) -> &str {
        &self.headers["webhook-id"]
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// Whether it carries a valid signature made with `secret` (`whsec_…`).
    pub fn verifies(&self, secret: &str) -> bool {
        let secret = sidak::domain::webhook_signature::Secret::parse(secret).expect("secret");
        let ts: i64 = self.headers["webhook-timestamp"]
            .parse()
            .expect("timestamp");
        sidak::domain::webhook_signature::verify(
            &secret,
            self.id(),
            ts,
            chrono::Utc::now().timestamp(),
            &self.headers["webhook-signature"],
            &self.body,
        )
        .is_ok()
    }
}

/// A plain HTTP/1.1 receiver on loopback: answers each request with the next scripted
/// answer (200 once the script runs out) and keeps what it received.
pub struct Receiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received { headers, body })
}

impl Receiver {
    pub async fn start(script: &[Answer]) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/sidak", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let (g, s) = (got.clone(), script.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let (g, s) = (g.clone(), s.clone());
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    g.lock().unwrap().push(request);
                    let answer = s.lock().unwrap().pop_front().unwrap_or(Answer::Status(200));
                    match answer {
                        Answer::Hang => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                        }
                        Answer::Status(code) => {
                            let text = format!("answered {code}");
                            let reply = format!(
                                "HTTP/1.1 {code} X\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                                text.len()
                            );
                            let _ = stream.write_all(reply.as_bytes()).await;
                            let _ = stream.shutdown().await;
                        }
                    }
                });
            }
        });
        Receiver {
            url,
            got,
            script,
            task,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub fn then(&self, answers: &[Answer]) {
        self.script.lock().unwrap().extend(answers.iter().copied());
    }

    /// Waits until `done` holds for what was received (at most `secs` seconds).
    pub async fn wait(&self, secs: u64, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.received();
            if done(&got) || tokio::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// A subscription to `types` at `url`; returns its id and secret.
async fn subscribe(
    app: &crate::helpers::TestApp,
    admin: &str,
    url: &str,
    types: &[&str],
) -> (String, String) {
    let made = app
        .post(
            "/api/v1/webhooks",
            Some(admin),
            &json!({"url": url, "event_types": types}),
        )
        .await;
    assert_eq!(made.status(), 201);
    let made: Value = made.json().await.unwrap();
    (
        made["id"].as_str().unwrap().to_string(),
        made["secret"].as_str().unwrap().to_string(),
    )
}

/// A report with two absences, submitted: `inspection.submitted` and two `follow_up.raised`.
async fn submit(f: &Field) -> Value {
    let mut body = f.report();
    body["submit"] = json!(true);
    let resp = f.post_report(&f.inspector, &body).await;
    assert_eq!(resp.status(), 201);
    body
}

async fn deliveries(app: &crate::helpers::TestApp, admin: &str, hook: &str) -> Vec<Value> {
    let page: Value = app
        .get(
            &format!("/api/v1/webhooks/{hook}/deliveries?limit=200"),
            Some(admin),
        )
        .await
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

/// Waits until every delivery of `hook` has left `pending` (at most `secs` seconds).
async fn settled(
    app: &crate::helpers::TestApp,
    admin: &str,
    hook: &str,
    n: usize,
    secs: u64,
) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let all = deliveries(app, admin, hook).await;
        if (all.len() >= n && all.iter().all(|d| d["status"] != "pending"))
            || tokio::time::Instant::now() > deadline
        {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn deliveries_are_signed_and_retried_with_the_same_id_until_accepted(backend: Backend) {
    let f = Field::with(backend, QUICK).await;
    // The first two requests fail, then all succeed.
    let receiver = Receiver::start(&[Answer::Status(503), Answer::Status(500)]).await;
    let (hook, secret) = subscribe(
        &f.app,
        &f.admin,
        &receiver.url,
        &["inspection.submitted", "follow_up.raised"],
    )
    .await;
    let report = submit(&f).await;
    let stored = crate::webhooks::events(&f.app.database_url());
    assert_eq!(stored.len(), 3);
    let ids: HashSet<String> = stored.iter().map(|e| e.4.clone()).collect();
    let got = receiver
        .wait(30, |got| {
            got.len() >= 5
                && ids
                    .iter()
                    .all(|id| got.iter().filter(|r| r.id() == id).count() >= 1)
        })
        .await;
    assert_eq!(
        got.len(),
        5,
        "three events, two of them tried twice: {got:?}"
    );
    for r in &got {
        assert!(r.verifies(&secret), "signature: {:?}", r.headers);
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(r.headers["webhook-id"].starts_with("evt_"));
        assert!(r.headers["user-agent"].starts_with("Sidak-Webhooks/"));
        // The body is the stored event, byte for byte.
        let event = stored
            .iter()
            .find(|e| e.4 == r.id())
            .expect("a stored event");
        assert_eq!(r.json(), event.3);
    }
    // The failed attempts were repeated with the same id.
    let first_two: Vec<&str> = got[..2].iter().map(|r| r.id()).collect();
    for id in &first_two {
        assert!(got[2..].iter().any(|r| r.id() == *id), "{id} tried again");
    }
    let by_type: Vec<Value> = got.iter().map(|r| r.json()).collect();
    let submitted = by_type
        .iter()
        .find(|b| b["type"] == "inspection.submitted")
        .unwrap();
    assert_eq!(submitted["data"]["inspection_id"], report["id"]);
    let raised: Vec<&Value> = by_type
        .iter()
        .filter(|b| b["type"] == "follow_up.raised")
        .collect();
    assert!(raised.iter().all(|b| b["data"]["official_nip"].is_string()));

    // The log: all delivered, the retried ones with their attempts.
    let log = settled(&f.app, &f.admin, &hook, 3, 10).await;
    assert_eq!(log.len(), 3, "{log:?}");
    let attempts: i64 = log.iter().map(|d| d["attempts"].as_i64().unwrap()).sum();
    assert_eq!(attempts, 5, "{log:?}");
    for d in &log {
        assert_eq!(d["status"], "delivered", "{d}");
        assert_eq!(d["response_status"], 200);
        assert_eq!(d["response_body"], "answered 200");
        assert!(d["next_attempt_at"].is_null() && d["delivered_at"].is_string());
        assert!(ids.contains(d["event_id"].as_str().unwrap()));
    }
    // Only the delivered ones, then a page of one with a cursor.
    let failed: Value = f
        .app
        .get(
            &format!("/api/v1/webhooks/{hook}/deliveries?status=failed"),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(failed["items"], json!([]));
    let page: Value = f
        .app
        .get(
            &format!("/api/v1/webhooks/{hook}/deliveries?limit=1"),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let cursor = page["next_cursor"].as_str().unwrap();
    let next: Value = f
        .app
        .get(
            &format!("/api/v1/webhooks/{hook}/deliveries?limit=5&cursor={cursor}"),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["items"].as_array().unwrap().len(), 2);
    // Metrics: what this server sent, and nothing waiting.
    let metrics = f
        .app
        .get("/metrics", Some(&f.admin))
        .await
        .text()
        .await
        .unwrap();
    for line in [
        "sidak_webhook_deliveries_total{outcome=\"delivered\"} 3",
        "sidak_webhook_deliveries_total{outcome=\"retried\"} 2",
        "sidak_webhook_backlog 0",
        "sidak_webhook_oldest_undelivered_seconds 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    // After a rotation, deliveries verify with the new secret and, for the grace period,
    // with the previous one.
    let rotated: Value = f
        .app
        .post(
            &format!("/api/v1/webhooks/{hook}/secret"),
            Some(&f.admin),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let new_secret = rotated["secret"].as_str().unwrap();
    submit(&f).await;
    let got = receiver.wait(30, |g| g.len() >= 6).await;
    assert_eq!(got.len(), 6);
    let latest = &got[5];
    assert_eq!(latest.json()["type"], "inspection.submitted");
    assert!(latest.verifies(new_secret) && latest.verifies(&secret));
    assert_eq!(latest.headers["webhook-signature"].split(' ').count(), 2);
    // Not for anyone but admins.
    let supervisor = f.app.token_for_role(&f.admin, "supervisor").await;
    assert_eq!(
        f.app
            .get(
                &format!("/api/v1/webhooks/{hook}/deliveries"),
                Some(&supervisor)
            )
            .await
            .status(),
        403
    );
}

async fn refusals_inactive_subscriptions_and_failing_endpoints(backend: Backend) {
    let f = Field::with(backend, QUICK).await;
    let off = Receiver::start(&[]).await;
    let refusing = Receiver::start(&[Answer::Status(410)]).await;
    let (off_hook, _) = subscribe(&f.app, &f.admin, &off.url, &["inspection.submitted"]).await;
    let resp = f
        .app
        .patch(
            &format!("/api/v1/webhooks/{off_hook}"),
            Some(&f.admin),
            &json!({"active": false}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let (hook, secret) =
        subscribe(&f.app, &f.admin, &refusing.url, &["inspection.submitted"]).await;
    submit(&f).await;
    // A 410 is the receiver's refusal: failed at once, not retried.
    let log = settled(&f.app, &f.admin, &hook, 1, 20).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], "failed", "{log:?}");
    assert_eq!(log[0]["attempts"], 1);
    assert_eq!(log[0]["response_status"], 410);
    assert_eq!(log[0]["error"], "answered 410");
    // Sent again by hand: the same id, now accepted; the resend is audited.
    let delivery = log[0]["id"].as_str().unwrap();
    let again = f
        .app
        .post(
            &format!("/api/v1/webhooks/{hook}/deliveries/{delivery}/redeliver"),
            Some(&f.admin),
            &json!({}),
        )
        .await;
    assert_eq!(again.status(), 202);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["status"], "pending");
    assert_eq!(again["attempts"], 0);
    let got = refusing.wait(20, |g| g.len() >= 2).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id(), got[1].id());
    assert!(got[1].verifies(&secret));
    let log = settled(&f.app, &f.admin, &hook, 1, 20).await;
    assert_eq!(log[0]["status"], "delivered", "{log:?}");
    let audit: Value = f
        .app
        .get("/api/v1/audit?entity=webhook&limit=50", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    assert!(audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "webhook.redeliver" && e["details"]["delivery_id"] == delivery));
    // Unknown delivery: 404.
    let missing = f
        .app
        .post(
            &format!(
                "/api/v1/webhooks/{hook}/deliveries/{}/redeliver",
                uuid::Uuid::new_v4()
            ),
            Some(&f.admin),
            &json!({}),
        )
        .await;
    assert_eq!(missing.status(), 404);

    // The inactive subscription got nothing, and has no deliveries to resend.
    assert!(off.received().is_empty());
    assert!(deliveries(&f.app, &f.admin, &off_hook).await.is_empty());

    // An endpoint that has failed for more than three days is turned off, and says why.
    let database = f.app.database_url();
    let four_days_ago = chrono::Utc::now().timestamp_millis() - 4 * 86_400_000;
    let hook_id = hook.clone();
    tokio::task::spawn_blocking(move || {
        use diesel::prelude::*;
        use sidak::db::schema::webhooks::dsl::*;
        let mut conn = crate::helpers::connect(&database);
        diesel::update(webhooks.filter(id.eq(hook_id)))
            .set(failing_since.eq(Some(four_days_ago)))
            .execute(&mut conn)
            .unwrap();
    })
    .await
    .unwrap();
    refusing.then(&[Answer::Status(500); 10]);
    submit(&f).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let turned_off = loop {
        let h: Value = f
            .app
            .get(&format!("/api/v1/webhooks/{hook}"), Some(&f.admin))
            .await
            .json()
            .await
            .unwrap();
        if h["active"] == false || tokio::time::Instant::now() > deadline {
            break h;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(turned_off["active"], false, "{turned_off}");
    let reason = turned_off["disabled_reason"].as_str().unwrap();
    assert!(
        reason.contains("72 hours") && reason.contains("answered 500"),
        "{reason}"
    );
    assert!(turned_off["disabled_at"].is_string());
    // While off, a resend is refused; nothing more is sent.
    let pending: Vec<Value> = deliveries(&f.app, &f.admin, &hook)
        .await
        .into_iter()
        .filter(|d| d["status"] == "pending")
        .collect();
    assert_eq!(pending.len(), 1, "the retry waits for the subscription");
    let refused = f
        .app
        .post(
            &format!(
                "/api/v1/webhooks/{hook}/deliveries/{}/redeliver",
                pending[0]["id"].as_str().unwrap()
            ),
            Some(&f.admin),
            &json!({}),
        )
        .await;
    assert_eq!(refused.status(), 409);
    let sent = refusing.received().len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(refusing.received().len(), sent);
    // Turned on again: the reason is cleared and the waiting delivery goes out.
    refusing.script.lock().unwrap().clear();
    let on: Value = f
        .app
        .patch(
            &format!("/api/v1/webhooks/{hook}"),
            Some(&f.admin),
            &json!({"active": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        on["disabled_reason"].is_null() && on["failing_since"].is_null(),
        "{on}"
    );
    let log = settled(&f.app, &f.admin, &hook, 2, 20).await;
    assert!(log.iter().all(|d| d["status"] == "delivered"), "{log:?}");
}

async fn private_addresses_are_refused_unless_allowed(backend: Backend) {
    let f = Field::with(
        backend,
        &[
            ("SIDAK_WEBHOOK_POLL_MS", "50"),
            ("SIDAK_WEBHOOK_RETRY_SCHEDULE", "10m"),
        ],
    )
    .await;
    let receiver = Receiver::start(&[]).await;
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let (literal, _) = subscribe(&f.app, &f.admin, &receiver.url, &["inspection.submitted"]).await;
    let (named, _) = subscribe(&f.app, &f.admin, &by_name, &["inspection.submitted"]).await;
    submit(&f).await;
    for hook in [&literal, &named] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let d = loop {
            let log = deliveries(&f.app, &f.admin, hook).await;
            if log.first().is_some_and(|d| d["attempts"] == 1)
                || tokio::time::Instant::now() > deadline
            {
                break log[0].clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(d["status"], "pending", "{d}");
        assert_eq!(d["attempts"], 1, "{d}");
        assert!(d["response_status"].is_null());
        let error = d["error"].as_str().unwrap();
        assert!(error.contains("SIDAK_WEBHOOK_ALLOW_PRIVATE"), "{error}");
    }
    assert!(receiver.received().is_empty());
}

async fn a_delivery_interrupted_by_a_crash_is_sent_again_after_restart(backend: Backend) {
    let db = EmptyDatabase::new(backend);
    let port = crate::helpers::free_port();
    let server = Served::start(&db, port, QUICK).await;
    let client = reqwest::Client::new();
    let login: Value = client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin = token_of(&login);
    // The receiver takes the first request and never answers it.
    let receiver = Receiver::start(&[Answer::Hang]).await;
    let post = |path: &str, body: Value| {
        let req = client
            .post(server.url(path))
            .bearer_auth(&admin)
            .json(&body);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let hook = post(
        "/api/v1/webhooks",
        json!({"url": receiver.url, "event_types": ["official.transferred"]}),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap().to_string();
    let mut opds = Vec::new();
    for code in ["DINKES", "DISDIK"] {
        let opd = post(
            "/api/v1/opds",
            json!({"code": code, "name": format!("Dinas {code}"), "kind": "dinas"}),
        )
        .await;
        opds.push(opd["id"].as_str().unwrap().to_string());
    }
    let official = post(
        "/api/v1/officials",
        json!({"nip": crate::imports::nip_for(0), "full_name": "Pegawai Mutasi",
               "employment_type": "pns", "position_title": "Staf", "position_kind": "pelaksana",
               "opd_id": opds[0], "effective_from": "2024-01-02"}),
    )
    .await;
    let moved = client
        .patch(server.url(&format!(
            "/api/v1/officials/{}",
            official["id"].as_str().unwrap()
        )))
        .bearer_auth(&admin)
        .json(&json!({"opd_id": opds[1], "position_title": "Staf", "position_kind": "pelaksana"}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    // Sent, not yet answered: the server dies before it can record anything.
    let got = receiver.wait(30, |g| !g.is_empty()).await;
    assert_eq!(got.len(), 1);
    drop(server);
    // Started again, it sends the same event again (once the dead server's lease has run
    // out), with the same id; this time it is accepted and recorded.
    let server = Served::start(&db, port, QUICK).await;
    let got = receiver.wait(60, |g| g.len() >= 2).await;
    assert_eq!(got.len(), 2, "sent again after the restart");
    assert_eq!(got[0].id(), got[1].id());
    assert_eq!(got[0].body, got[1].body);
    assert!(got[1].verifies(&secret));
    assert_eq!(got[1].json()["type"], "official.transferred");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let log = loop {
        let page: Value = client
            .get(server.url(&format!(
                "/api/v1/webhooks/{}/deliveries",
                hook["id"].as_str().unwrap()
            )))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if page["items"][0]["status"] == "delivered" || tokio::time::Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(log["items"].as_array().unwrap().len(), 1, "{log}");
    assert_eq!(log["items"][0]["status"], "delivered", "{log}");
    // Nothing else arrives.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 2);
}

async fn an_overdue_follow_up_raises_its_event_once(backend: Backend) {
    let f = Field::with(backend, QUICK).await;
    let receiver = Receiver::start(&[]).await;
    let (hook, secret) = subscribe(&f.app, &f.admin, &receiver.url, &["follow_up.overdue"]).await;
    submit(&f).await;
    let raised: Vec<String> = crate::webhooks::events(&f.app.database_url())
        .iter()
        .filter(|e| e.1 == "follow_up.raised")
        .map(|e| e.2.clone())
        .collect();
    assert_eq!(raised.len(), 2);
    // One of them is made two days overdue (local date); the other is not yet due.
    let late = raised[0].clone();
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive();
    let due = today - chrono::Duration::days(2);
    let url = f.app.database_url();
    let id_text = late.clone();
    tokio::task::spawn_blocking(move || {
        use diesel::prelude::*;
        use sidak::db::schema::follow_ups::dsl::*;
        let mut conn = crate::helpers::connect(&url);
        diesel::update(follow_ups.filter(id.eq(id_text)))
            .set(due_date.eq(due))
            .execute(&mut conn)
            .unwrap();
    })
    .await
    .unwrap();
    // The worker looks about every 60 polls (3 s here).
    let got = receiver.wait(30, |g| !g.is_empty()).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].verifies(&secret));
    let body = got[0].json();
    assert_eq!(body["type"], "follow_up.overdue");
    assert_eq!(body["data"]["follow_up_id"], late.as_str());
    assert_eq!(body["data"]["due_date"], due.to_string());
    assert_eq!(body["data"]["days_overdue"], 2);
    assert_eq!(body["data"]["official_nip"].as_str().unwrap().len(), 18);
    assert!(body["data"]["official_name"].is_string());
    // Several more looks later, still once.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(receiver.received().len(), 1);
    let log = deliveries(&f.app, &f.admin, &hook).await;
    assert_eq!(log.len(), 1);
    assert_eq!(
        crate::webhooks::events(&f.app.database_url())
            .iter()
            .filter(|e| e.1 == "follow_up.overdue")
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_deliver_each_event_once() {
    if !postgres_enabled() {
        return;
    }
    let f = Field::with(Backend::Postgres, QUICK).await;
    let second = f.app.sibling(&[]).await;
    let receiver = Receiver::start(&[]).await;
    let (hook, secret) = subscribe(
        &f.app,
        &f.admin,
        &receiver.url,
        &["inspection.submitted", "follow_up.raised"],
    )
    .await;
    // Reports through both servers at once.
    let mut bodies = Vec::new();
    for _ in 0..12 {
        let mut b = f.report();
        b["submit"] = json!(true);
        bodies.push(b);
    }
    let posts = bodies.iter().enumerate().map(|(i, b)| {
        let app = if i % 2 == 0 { &f.app } else { &second };
        app.post("/api/v1/inspections", Some(&f.inspector), b)
    });
    for resp in futures_util::future::join_all(posts).await {
        assert_eq!(resp.status(), 201);
    }
    let stored = crate::webhooks::events(&f.app.database_url());
    assert_eq!(stored.len(), 14, "12 submitted, 2 follow-ups raised");
    let got = receiver.wait(30, |g| g.len() >= stored.len()).await;
    // Give a second sender, if there were one, time to send its copies.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let got_after = receiver.received();
    assert_eq!(got.len(), got_after.len());
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in &got_after {
        assert!(r.verifies(&secret));
        *counts.entry(r.id().to_string()).or_default() += 1;
    }
    let expected: HashSet<String> = stored.iter().map(|e| e.4.clone()).collect();
    assert_eq!(counts.keys().cloned().collect::<HashSet<_>>(), expected);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    let log = settled(&second, &f.admin, &hook, stored.len(), 10).await;
    assert_eq!(log.len(), stored.len());
    assert!(log
        .iter()
        .all(|d| d["status"] == "delivered" && d["attempts"] == 1));
}

async fn the_readme_receiver_verifies_and_deduplicates(backend: Backend) {
    let f = Field::with(backend, QUICK).await;
    let port = crate::helpers::free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let (hook, secret) = subscribe(
        &f.app,
        &f.admin,
        &url,
        &["inspection.submitted", "follow_up.raised"],
    )
    .await;
    let out = std::env::temp_dir().join(format!(
        "sidak-receiver-{}.log",
        uuid::Uuid::new_v4().simple()
    ));
    let mut child = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/webhook-receiver.py"
        ))
        .args(["--port", &port.to_string()])
        .env("SIDAK_WEBHOOK_SECRET", &secret)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 runs the example receiver");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the example receiver exited: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _guard = Kill(child);
    submit(&f).await;
    let stored = crate::webhooks::events(&f.app.database_url());
    // Complete lines only: the receiver may be writing the next one.
    let lines = |path: &std::path::Path| -> Vec<Value> {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while lines(&out).len() < stored.len() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let handled = lines(&out);
    let ids: HashSet<&str> = handled.iter().map(|l| l["id"].as_str().unwrap()).collect();
    let expected: HashSet<&str> = stored.iter().map(|e| e.4.as_str()).collect();
    assert_eq!(ids, expected, "{handled:?}");
    let log = settled(&f.app, &f.admin, &hook, stored.len(), 10).await;
    assert!(
        log.iter()
            .all(|d| d["status"] == "delivered" && d["response_status"] == 204),
        "{log:?}"
    );

    // A forged signature and a stale timestamp are refused; a repeat is accepted and not
    // handled twice.
    let event = &stored[0];
    let key = sidak::domain::webhook_signature::Secret::parse(&secret).unwrap();
    let send = |ts: i64, signature: String| {
        client
            .post(&url)
            .header("webhook-id", event.4.clone())
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(serde_json::to_vec(&event.3).unwrap())
            .send()
    };
    let now = chrono::Utc::now().timestamp();
    let body = serde_json::to_vec(&event.3).unwrap();
    let forged = send(
        now,
        "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
    )
    .await
    .unwrap();
    assert_eq!(forged.status(), 401);
    let stale = send(now - 3600, key.sign(&event.4, now - 3600, &body))
        .await
        .unwrap();
    assert_eq!(stale.status(), 401);
    let repeat = send(now, key.sign(&event.4, now, &body)).await.unwrap();
    assert_eq!(repeat.status(), 204);
    assert_eq!(lines(&out).len(), stored.len());
    let _ = std::fs::remove_file(&out);
}

/// Sets every stored event's time `days` days back.
async fn age_events(database: String, days: i64) {
    tokio::task::spawn_blocking(move || {
        use diesel::prelude::*;
        use sidak::db::schema::webhook_events::dsl::*;
        let mut conn = crate::helpers::connect(&database);
        diesel::update(webhook_events)
            .set(occurred_at.eq(occurred_at - days * 86_400_000))
            .execute(&mut conn)
            .unwrap();
    })
    .await
    .unwrap();
}

async fn old_events_and_finished_deliveries_are_removed(backend: Backend) {
    let f = Field::with(
        backend,
        &[
            ("SIDAK_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("SIDAK_WEBHOOK_POLL_MS", "50"),
            ("SIDAK_WEBHOOK_RETRY_SCHEDULE", "1h"),
            ("SIDAK_WEBHOOK_RETENTION_DAYS", "1"),
        ],
    )
    .await;
    let ok = Receiver::start(&[]).await;
    let down = Receiver::start(&[Answer::Status(503); 3]).await;
    let types = ["inspection.submitted", "follow_up.raised"];
    let (delivered, _) = subscribe(&f.app, &f.admin, &ok.url, &types).await;
    let (waiting, _) = subscribe(&f.app, &f.admin, &down.url, &types).await;
    submit(&f).await;
    let database = f.app.database_url();
    assert_eq!(crate::webhooks::events(&database).len(), 3);
    assert_eq!(settled(&f.app, &f.admin, &delivered, 3, 20).await.len(), 3);
    // The down receiver's deliveries wait an hour for their second attempt.
    down.wait(20, |g| g.len() >= 3).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while deliveries(&f.app, &f.admin, &waiting)
        .await
        .iter()
        .any(|d| d["attempts"] == 0)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Two days old: the delivered ones go; the pending ones, and their events, stay.
    age_events(database.clone(), 2).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !deliveries(&f.app, &f.admin, &delivered).await.is_empty()
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(deliveries(&f.app, &f.admin, &delivered).await.is_empty());
    let pending = deliveries(&f.app, &f.admin, &waiting).await;
    assert_eq!(pending.len(), 3);
    assert!(pending
        .iter()
        .all(|d| d["status"] == "pending" && d["attempts"] == 1));
    assert_eq!(crate::webhooks::events(&database).len(), 3);
    // With the waiting subscription gone, its events go too; a new event stays.
    let gone = f
        .app
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/webhooks/{waiting}"),
            Some(&f.admin),
            None,
        )
        .await;
    assert_eq!(gone.status(), 204);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !crate::webhooks::events(&database).is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(crate::webhooks::events(&database).is_empty());
    submit(&f).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        crate::webhooks::events(&database).len(),
        1,
        "a recent event stays"
    );
    assert_eq!(settled(&f.app, &f.admin, &delivered, 1, 20).await.len(), 1);
}
