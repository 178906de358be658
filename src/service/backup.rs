//! Backups: a consistent snapshot of the database and of every photo it points at, with a
//! manifest; checking one; restoring one into an empty data directory or database.
//!
//! A snapshot is a folder `sidak-<UTC time>` holding the database (`sidak.db`, made by
//! SQLite's `VACUUM INTO` while the server writes; or `database.pgdump`, made by `pg_dump`
//! from a snapshot exported by the transaction that also reads the manifest's figures), the
//! photos under `evidence/ab/cd/<sha256>`, and `manifest.json`: when, which database and
//! schema version, row counts, the audit chain's head, and the SHA-256 and size of every
//! file. It is written as `sidak-<time>.partial` and renamed only once everything is written,
//! fsynced and checked against the manifest: a backup killed midway leaves a `.partial`
//! folder, which nothing takes for a snapshot.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::{audit, DbConnection};
use crate::storage::EvidenceStore;

pub const MANIFEST: &str = "manifest.json";
const FORMAT: &str = "sidak-backup/1";
const SQLITE_FILE: &str = "sidak.db";
const PG_FILE: &str = "database.pgdump";

/// The tables whose rows a manifest counts.
const COUNTED: &[&str] = &[
    "users",
    "opds",
    "officials",
    "inspections",
    "attendance",
    "findings",
    "evidence",
    "follow_ups",
    "audit_log",
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: String,
    pub created_at: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// The newest migration the database had.
    pub schema_version: String,
    pub counts: BTreeMap<String, i64>,
    pub audit_head: AuditHead,
    pub files: Vec<FileEntry>,
}

/// What the snapshot's database says about itself, read in the snapshot.
struct Figures {
    schema_version: String,
    counts: BTreeMap<String, i64>,
    audit_head: AuditHead,
    shas: Vec<String>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

fn figures(conn: &mut DbConnection) -> Result<Figures, String> {
    let err = |e: diesel::result::Error| format!("reading the snapshot: {e}");
    let schema_version =
        diesel::sql_query("SELECT max(version) AS version FROM __diesel_schema_migrations")
            .get_result::<Version>(conn)
            .map_err(err)?
            .version;
    let mut counts = BTreeMap::new();
    for table in COUNTED {
        let n = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result::<Count>(conn)
            .map_err(err)?
            .n;
        counts.insert(table.to_string(), n);
    }
    let (seq, hash) = audit::head(conn).map_err(err)?;
    let shas = crate::db::inspections::stored_shas(conn).map_err(err)?;
    Ok(Figures {
        schema_version,
        counts,
        audit_head: AuditHead { seq, hash },
        shas,
    })
}

fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

fn photo_path(sha256: &str) -> String {
    format!("evidence/{}/{}/{sha256}", &sha256[0..2], &sha256[2..4])
}

/// Copies the photo `sha256` from `store` to `target`, checking its hash on the way.
async fn copy_photo(store: &EvidenceStore, sha256: &str, target: &Path) -> Result<u64, String> {
    if let Some(dir) = target.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let (got, size) = store
        .read_into(sha256, Some(target))
        .await
        .map_err(|e| format!("photo {sha256} could not be copied from the store: {e}"))?;
    if got != sha256 {
        return Err(format!(
            "photo {sha256} is damaged in the store (its bytes hash to {got})"
        ));
    }
    Ok(size)
}

/// Runs one of PostgreSQL's client tools; its error output when it fails.
fn pg_tool(cmd: &mut std::process::Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| {
        format!(
            "{what} could not be run ({e}): install PostgreSQL's client tools (the server's major \
             version or newer); without them, back the database up with `pg_dump --format=custom` \
             and the photos with `sidak evidence migrate --to DIR`"
        )
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[derive(QueryableByName)]
struct Snapshot {
    #[diesel(sql_type = Text)]
    id: String,
}

/// Inside a repeatable-read transaction on `conn`: exports its snapshot, has `pg_dump` dump
/// that snapshot into `target`, and reads the figures in it.
fn pg_dump_in_snapshot(
    conn: &mut DbConnection,
    url: &str,
    target: &Path,
) -> Result<Figures, String> {
    let snap = diesel::sql_query("SELECT pg_export_snapshot() AS id")
        .get_result::<Snapshot>(conn)
        .map_err(|e| format!("exporting a snapshot: {e}"))?;
    pg_tool(
        std::process::Command::new("pg_dump")
            .arg("--format=custom")
            .arg("--no-owner")
            .arg(format!("--snapshot={}", snap.id))
            .arg(format!("--file={}", target.display()))
            .arg(url),
        "pg_dump",
    )?;
    figures(conn)
}

/// Takes a snapshot into a new folder under `to` and returns its path. `database_url` is
/// the server's; `conn` a connection to it.
pub async fn create(
    conn: &mut DbConnection,
    database_url: &crate::db::DatabaseUrl,
    store: &EvidenceStore,
    to: &Path,
) -> Result<(PathBuf, Manifest), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let now = chrono::Utc::now();
    let name = format!("sidak-{}", now.format("%Y%m%dT%H%M%S%.3fZ"));
    let partial = to.join(format!("{name}.partial"));
    let done = to.join(&name);
    std::fs::create_dir(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
    let (database, file, figures) = match conn {
        DbConnection::Sqlite(c) => {
            let target = partial.join(SQLITE_FILE);
            // A consistent copy, made in one read transaction while the server writes.
            diesel::sql_query("VACUUM INTO ?")
                .bind::<Text, _>(target.to_string_lossy().to_string())
                .execute(c)
                .map_err(|e| format!("copying the database (VACUUM INTO): {e}"))?;
            let mut copy = DbConnection::Sqlite(
                diesel::SqliteConnection::establish(&target.to_string_lossy())
                    .map_err(|e| format!("opening the copy: {e}"))?,
            );
            if let DbConnection::Sqlite(c) = &mut copy {
                use diesel::connection::SimpleConnection;
                c.batch_execute("PRAGMA journal_mode = DELETE")
                    .map_err(|e| format!("the copy's journal: {e}"))?;
            }
            let figures = figures(&mut copy)?;
            drop(copy);
            ("sqlite", SQLITE_FILE, figures)
        }
        DbConnection::Pg(_) => {
            let crate::db::DatabaseUrl::Postgres(url) = database_url else {
                return Err("a PostgreSQL connection without a PostgreSQL URL".into());
            };
            let target = partial.join(PG_FILE);
            // One snapshot for the dump and the manifest's figures: this transaction exports
            // it, pg_dump reads it, and the figures are read in it.
            let err = |e: diesel::result::Error| format!("reading the database: {e}");
            diesel::sql_query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(conn)
                .map_err(err)?;
            let figures = pg_dump_in_snapshot(conn, url, &target);
            let _ = diesel::sql_query("COMMIT").execute(conn);
            ("postgres", PG_FILE, figures?)
        }
    };
    let mut files = Vec::new();
    let (sha, size) = hash_file(&partial.join(file)).map_err(|e| format!("{file}: {e}"))?;
    files.push(FileEntry {
        path: file.to_string(),
        sha256: sha,
        size,
    });
    for sha in &figures.shas {
        let path = photo_path(sha);
        let size = copy_photo(store, sha, &partial.join(&path)).await?;
        files.push(FileEntry {
            path,
            sha256: sha.clone(),
            size,
        });
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        created_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        database: database.into(),
        schema_version: figures.schema_version,
        counts: figures.counts,
        audit_head: figures.audit_head,
        files,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    let manifest_path = partial.join(MANIFEST);
    let mut f = std::fs::File::create(&manifest_path).map_err(|e| format!("{MANIFEST}: {e}"))?;
    f.write_all(&text).map_err(|e| format!("{MANIFEST}: {e}"))?;
    f.sync_all().map_err(|e| format!("{MANIFEST}: {e}"))?;
    check_files(&partial, &manifest)?;
    for dir in walk_dirs(&partial) {
        fsync_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::rename(&partial, &done).map_err(|e| format!("sealing the snapshot: {e}"))?;
    fsync_dir(to).map_err(|e| format!("{}: {e}", to.display()))?;
    Ok((done, manifest))
}

fn walk_dirs(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(entries) = std::fs::read_dir(&out[i]) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    out.push(e.path());
                }
            }
        }
        i += 1;
    }
    out
}

/// Every file the manifest lists is there with its hash and size.
fn check_files(snapshot: &Path, manifest: &Manifest) -> Result<(), String> {
    for f in &manifest.files {
        if f.path.split('/').any(|p| p == ".." || p.is_empty()) {
            return Err(format!(
                "the manifest names a path outside the snapshot: {}",
                f.path
            ));
        }
        let (sha, size) =
            hash_file(&snapshot.join(&f.path)).map_err(|e| format!("{}: {e}", f.path))?;
        if sha != f.sha256 || size != f.size {
            return Err(format!(
                "{} is not as the manifest says (hash or size differs)",
                f.path
            ));
        }
    }
    Ok(())
}

/// Reads a snapshot's manifest; a folder that is not a sealed snapshot is refused.
pub fn read_manifest(snapshot: &Path) -> Result<Manifest, String> {
    if snapshot
        .file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with(".partial"))
    {
        return Err(format!(
            "{} is an unfinished backup (interrupted before it was sealed); it cannot be used",
            snapshot.display()
        ));
    }
    let text = std::fs::read(snapshot.join(MANIFEST)).map_err(|e| {
        format!(
            "{}: no manifest ({e}): not a Sidak snapshot",
            snapshot.display()
        )
    })?;
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| format!("the manifest is unreadable: {e}"))?;
    if manifest.format != FORMAT {
        return Err(format!("unknown snapshot format `{}`", manifest.format));
    }
    Ok(manifest)
}

/// Checks a snapshot: every file's hash and size, and the database: for SQLite the audit
/// chain of a copy up to the head the manifest recorded; for PostgreSQL that `pg_restore`
/// reads the archive's table of contents (the chain is checked when it is restored).
pub fn verify(snapshot: &Path) -> Result<Manifest, String> {
    let manifest = read_manifest(snapshot)?;
    check_files(snapshot, &manifest)?;
    if manifest.database == "sqlite" {
        // On a copy: opening a database may write to it.
        let scratch =
            std::env::temp_dir().join(format!("sidak-verify-{}.db", uuid::Uuid::new_v4().simple()));
        std::fs::copy(snapshot.join(SQLITE_FILE), &scratch)
            .map_err(|e| format!("{SQLITE_FILE}: {e}"))?;
        let checked = (|| {
            let mut conn = DbConnection::Sqlite(
                diesel::SqliteConnection::establish(&scratch.to_string_lossy())
                    .map_err(|e| format!("opening the database copy: {e}"))?,
            );
            chain_reaches(&mut conn, &manifest.audit_head)
        })();
        let _ = std::fs::remove_file(&scratch);
        checked?;
    } else {
        pg_tool(
            std::process::Command::new("pg_restore")
                .arg("--list")
                .arg(snapshot.join(PG_FILE)),
            "pg_restore --list",
        )
        .map_err(|e| format!("{PG_FILE} is not a readable archive: {e}"))?;
    }
    Ok(manifest)
}

/// The audit chain verifies and reaches `head` with its hash.
fn chain_reaches(conn: &mut DbConnection, head: &AuditHead) -> Result<(), String> {
    let v = audit::verify(conn, Some((head.seq, head.hash.as_str())))
        .map_err(|e| format!("reading the audit chain: {e}"))?;
    if v.ok {
        Ok(())
    } else {
        Err(format!(
            "the audit chain does not verify up to seq {} (first bad entry {})",
            head.seq,
            v.first_bad_id.unwrap_or(0)
        ))
    }
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    pub photos: usize,
}

/// Restores `snapshot` into the database at `database_url` and the photo store `store`:
/// verifies the snapshot first; refuses a database that holds data unless `force`; ends
/// with the audit chain verified up to the manifest's head.
pub async fn restore(
    snapshot: &Path,
    database_url: &crate::db::DatabaseUrl,
    synchronous: crate::db::SqliteSynchronous,
    store: &EvidenceStore,
    force: bool,
) -> Result<Restored, String> {
    let manifest = verify(snapshot)?;
    match (database_url, manifest.database.as_str()) {
        (crate::db::DatabaseUrl::Sqlite(path), "sqlite") => {
            if path.exists() && !force {
                return Err(format!(
                    "{} exists; restore into an empty data directory, or add --force to replace it",
                    path.display()
                ));
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            let temp = path.with_extension("restoring");
            std::fs::copy(snapshot.join(SQLITE_FILE), &temp)
                .map_err(|e| format!("copying the database: {e}"))?;
            std::fs::File::open(&temp)
                .and_then(|f| f.sync_all())
                .map_err(|e| format!("{}: {e}", temp.display()))?;
            for suffix in ["-wal", "-shm"] {
                let mut side = path.clone().into_os_string();
                side.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(side));
            }
            std::fs::rename(&temp, path).map_err(|e| format!("placing the database: {e}"))?;
        }
        (crate::db::DatabaseUrl::Postgres(url), "postgres") => {
            let mut conn = diesel::PgConnection::establish(url)
                .map_err(|e| format!("cannot open the database: {e}"))?;
            let tables = diesel::sql_query(
                "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .get_result::<Count>(&mut conn)
            .map_err(|e| e.to_string())?
            .n;
            if tables > 0 && !force {
                return Err(
                    "the database holds tables; restore into an empty database, or add --force to replace them"
                        .into(),
                );
            }
            let mut cmd = std::process::Command::new("pg_restore");
            cmd.arg("--no-owner").arg("--exit-on-error");
            if tables > 0 {
                cmd.arg("--clean").arg("--if-exists");
            }
            pg_tool(
                cmd.arg(format!("--dbname={url}"))
                    .arg(snapshot.join(PG_FILE)),
                "pg_restore",
            )?;
        }
        (_, kind) => {
            return Err(format!(
                "the snapshot holds a {kind} database and DATABASE_URL names the other kind"
            ))
        }
    }
    // The photos, each copied to an upload's temporary file of the configured store (a
    // folder or a bucket) and stored from there: never linked to the snapshot's own file,
    // which may sit on another disk and must stay the snapshot's.
    let mut photos = 0;
    for f in manifest
        .files
        .iter()
        .filter(|f| f.path.starts_with("evidence/"))
    {
        let temp = store.temp_path();
        let stored = async {
            std::fs::copy(snapshot.join(&f.path), &temp).map_err(|e| e.to_string())?;
            std::fs::File::open(&temp)
                .and_then(|t| t.sync_all())
                .map_err(|e| e.to_string())?;
            store
                .store(&temp, &f.sha256)
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        let _ = std::fs::remove_file(&temp);
        stored.map_err(|e| format!("restoring photo {}: {e}", f.sha256))?;
        photos += 1;
    }
    // The restored database: migrated to this version, and its chain as recorded.
    let mut conn = crate::db::ConnectionManager::new(database_url.clone(), synchronous)
        .establish()
        .map_err(|e| format!("opening the restored database: {e}"))?;
    crate::db::run_migrations(&mut conn)?;
    chain_reaches(&mut conn, &manifest.audit_head)?;
    Ok(Restored { manifest, photos })
}
