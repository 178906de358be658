//! Backups: a consistent snapshot of the database and of every photo it points at, with a
//! manifest; checking one; restoring one into an empty data directory or database; taking
//! them on a schedule (`schedule`), into a folder or a bucket (`target`).
//!
//! A snapshot is a folder `sidak-<UTC time>` holding the database (`sidak.db`, made by
//! SQLite's `VACUUM INTO` while the server writes; or `database.pgdump`, made by `pg_dump`
//! from a snapshot exported by the transaction that also reads the manifest's figures), the
//! photos under `evidence/ab/cd/<sha256>`, and `manifest.json`: when, which database and
//! schema version, row counts, the audit chain's head, and the SHA-256 and size of every
//! file. In a folder it is written as `sidak-<time>.partial` and renamed only once
//! everything is written, fsynced and checked against the manifest; in a bucket its files
//! are uploaded one by one (each checked to be there whole) and the manifest last. Either
//! way a backup killed midway leaves nothing that is taken for a snapshot.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::{audit, DbConnection};
use crate::storage::EvidenceStore;

pub mod schedule;
pub mod target;

pub use schedule::Schedule;
pub use target::BackupTarget;

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

/// A backup being written: its name and the folder it is assembled in (`<name>.partial`,
/// under the target folder, or under the staging folder for a bucket), which this process
/// holds a lock on until it is done.
pub struct Stage {
    name: String,
    created: chrono::DateTime<chrono::Utc>,
    dir: PathBuf,
    _lock: std::fs::File,
}

impl Stage {
    /// Removes what was written (the backup failed).
    pub fn abandon(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The database's part of a snapshot, written into the stage.
pub struct Dumped {
    database: &'static str,
    file: &'static str,
    figures: Figures,
}

/// A backup taken.
#[derive(Debug)]
pub struct Taken {
    /// Where it is, as `backup verify` and `restore --from` take it.
    pub location: String,
    pub manifest: Manifest,
    /// The bytes of all its files.
    pub bytes: u64,
}

/// Starts a backup into `target`: a new locked `.partial` folder (in `staging` for a bucket).
pub fn begin(target: &BackupTarget, staging: &Path) -> Result<Stage, String> {
    let root = match target {
        BackupTarget::Dir(dir) => dir.as_path(),
        BackupTarget::Bucket { .. } => staging,
    };
    std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let created = chrono::Utc::now();
    let name = format!("sidak-{}", created.format("%Y%m%dT%H%M%S%.3fZ"));
    let dir = root.join(format!("{name}.partial"));
    std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let lock = std::fs::File::open(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    crate::storage::try_lock(&lock).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(Stage {
        name,
        created,
        dir,
        _lock: lock,
    })
}

/// Writes the database's consistent copy into the stage and reads the manifest's figures
/// in the same snapshot (blocking: run it off the async runtime).
pub fn dump_database(
    conn: &mut DbConnection,
    database_url: &crate::db::DatabaseUrl,
    stage: &Stage,
) -> Result<Dumped, String> {
    match conn {
        DbConnection::Sqlite(c) => {
            let target = stage.dir.join(SQLITE_FILE);
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
            Ok(Dumped {
                database: "sqlite",
                file: SQLITE_FILE,
                figures,
            })
        }
        DbConnection::Pg(_) => {
            let crate::db::DatabaseUrl::Postgres(url) = database_url else {
                return Err("a PostgreSQL connection without a PostgreSQL URL".into());
            };
            let target = stage.dir.join(PG_FILE);
            // One snapshot for the dump and the manifest's figures: this transaction exports
            // it, pg_dump reads it, and the figures are read in it.
            let err = |e: diesel::result::Error| format!("reading the database: {e}");
            diesel::sql_query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(conn)
                .map_err(err)?;
            let figures = pg_dump_in_snapshot(conn, url, &target);
            let _ = diesel::sql_query("COMMIT").execute(conn);
            Ok(Dumped {
                database: "postgres",
                file: PG_FILE,
                figures: figures?,
            })
        }
    }
}

/// Copies every photo the dumped database points at, writes the manifest, checks, and
/// seals the snapshot. On failure nothing that looks like a snapshot remains.
pub async fn finish(
    stage: Stage,
    dumped: Dumped,
    store: &EvidenceStore,
    target: &BackupTarget,
) -> Result<Taken, String> {
    let result = write_snapshot(&stage, dumped, store, target).await;
    if result.is_err() {
        if let BackupTarget::Bucket { front, .. } = target {
            let _ = front.delete_under(&stage.name).await;
        }
    }
    // Gone in every case: a sealed folder snapshot was renamed away from it; a bucket's
    // was uploaded from it.
    stage.abandon();
    result
}

/// Takes a snapshot into `target` of the database at `database_url` (through a connection
/// of `pool`, held only while the database is copied, off the async runtime) and of the
/// photos of `store`; `staging` is where a backup to a bucket is assembled, file by file.
pub async fn create(
    pool: &crate::db::DbPool,
    database_url: &crate::db::DatabaseUrl,
    store: &EvidenceStore,
    target: &BackupTarget,
    staging: &Path,
) -> Result<Taken, String> {
    let stage = begin(target, staging)?;
    let pool = pool.clone();
    let url = database_url.clone();
    let (stage, dumped) = tokio::task::spawn_blocking(move || {
        let dumped = pool
            .get()
            .map_err(|e| format!("no database connection: {e}"))
            .and_then(|mut conn| dump_database(&mut conn, &url, &stage));
        (stage, dumped)
    })
    .await
    .map_err(|e| format!("copying the database: {e}"))?;
    match dumped {
        Ok(dumped) => finish(stage, dumped, store, target).await,
        Err(e) => {
            stage.abandon();
            Err(e)
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Records a backup starting (`db::backups::start`); `None` when `slot` was claimed already.
pub async fn record_start(
    pool: &crate::db::DbPool,
    slot: Option<String>,
    trigger: &'static str,
    holder: String,
) -> Result<Option<i64>, String> {
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        crate::db::write_tx(&mut conn, |c| {
            crate::db::backups::start(c, slot.as_deref(), trigger, &holder, now_ms())
        })
        .map_err(|e| format!("recording the backup: {e}"))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Records how the backup `id` ended; a failure to record is logged.
pub async fn record_finish(pool: &crate::db::DbPool, id: i64, taken: &Result<Taken, String>) {
    let pool = pool.clone();
    let (ok, location, files, bytes, error) = match taken {
        Ok(t) => (
            true,
            Some(t.location.clone()),
            i64::try_from(t.manifest.files.len()).ok(),
            i64::try_from(t.bytes).ok(),
            None,
        ),
        Err(e) => (false, None, None, None, Some(e.clone())),
    };
    let recorded = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        crate::db::write_tx(&mut conn, |c| {
            crate::db::backups::finish(
                c,
                id,
                now_ms(),
                crate::db::backups::Finished {
                    ok,
                    location: location.as_deref(),
                    files,
                    bytes,
                    error: error.as_deref(),
                },
            )
        })
        .map_err(|e| e.to_string())
    })
    .await;
    if let Ok(Err(e)) | Err(e) = recorded.map_err(|e| e.to_string()) {
        tracing::warn!(error = %e, "could not record how the backup ended");
    }
}

async fn write_snapshot(
    stage: &Stage,
    dumped: Dumped,
    store: &EvidenceStore,
    target: &BackupTarget,
) -> Result<Taken, String> {
    let mut files = Vec::new();
    let file = dumped.file;
    let local = stage.dir.join(file);
    let (sha, size) = hash_file(&local).map_err(|e| format!("{file}: {e}"))?;
    ship(target, stage, file, &local, size).await?;
    files.push(FileEntry {
        path: file.to_string(),
        sha256: sha,
        size,
    });
    for sha in &dumped.figures.shas {
        let path = photo_path(sha);
        let local = stage.dir.join(&path);
        let size = copy_photo(store, sha, &local).await?;
        ship(target, stage, &path, &local, size).await?;
        files.push(FileEntry {
            path,
            sha256: sha.clone(),
            size,
        });
    }
    let bytes = files.iter().map(|f| f.size).sum();
    let figures = dumped.figures;
    let manifest = Manifest {
        format: FORMAT.into(),
        created_at: stage
            .created
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        database: dumped.database.into(),
        schema_version: figures.schema_version,
        counts: figures.counts,
        audit_head: figures.audit_head,
        files,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    match target {
        BackupTarget::Dir(to) => {
            let manifest_path = stage.dir.join(MANIFEST);
            let mut f =
                std::fs::File::create(&manifest_path).map_err(|e| format!("{MANIFEST}: {e}"))?;
            f.write_all(&text).map_err(|e| format!("{MANIFEST}: {e}"))?;
            f.sync_all().map_err(|e| format!("{MANIFEST}: {e}"))?;
            check_files(&stage.dir, &manifest)?;
            for dir in walk_dirs(&stage.dir) {
                fsync_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            std::fs::rename(&stage.dir, to.join(&stage.name))
                .map_err(|e| format!("sealing the snapshot: {e}"))?;
            fsync_dir(to).map_err(|e| format!("{}: {e}", to.display()))?;
        }
        BackupTarget::Bucket { front, url } => {
            // Last: the manifest's presence is what makes the snapshot complete.
            front
                .put_bytes(&format!("{}/{MANIFEST}", stage.name), text)
                .await
                .map_err(|e| format!("sealing the snapshot in {url}: {e}"))?;
        }
    }
    Ok(Taken {
        location: target.locate(&stage.name),
        manifest,
        bytes,
    })
}

/// For a bucket: uploads a file just written to the stage, checks that the bucket holds
/// all of it, and removes the local copy (so a backup needs room for one file at a time).
async fn ship(
    target: &BackupTarget,
    stage: &Stage,
    rel: &str,
    local: &Path,
    size: u64,
) -> Result<(), String> {
    let BackupTarget::Bucket { front, url } = target else {
        return Ok(());
    };
    let key = format!("{}/{rel}", stage.name);
    front
        .put_file(&key, local)
        .await
        .map_err(|e| format!("uploading {rel} to {url}: {e}"))?;
    match front.size_of(&key).await {
        Ok(Some(stored)) if stored == size => {}
        Ok(stored) => {
            return Err(format!(
                "{url}/{key} holds {stored:?} bytes after its upload, not {size}"
            ))
        }
        Err(e) => return Err(format!("{url}/{key}: {e}")),
    }
    tokio::fs::remove_file(local)
        .await
        .map_err(|e| format!("{}: {e}", local.display()))
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
    parse_manifest(&text)
}

/// A manifest's text, read and checked: its format, and no path that leaves the snapshot.
fn parse_manifest(text: &[u8]) -> Result<Manifest, String> {
    let manifest: Manifest =
        serde_json::from_slice(text).map_err(|e| format!("the manifest is unreadable: {e}"))?;
    if manifest.format != FORMAT {
        return Err(format!("unknown snapshot format `{}`", manifest.format));
    }
    for f in &manifest.files {
        if f.path.starts_with('/')
            || f.path
                .split('/')
                .any(|p| p == ".." || p == "." || p.is_empty())
        {
            return Err(format!(
                "the manifest names a path outside the snapshot: {}",
                f.path
            ));
        }
    }
    Ok(manifest)
}

/// Checks a snapshot: every file's hash and size, and the database: for SQLite the audit
/// chain of a copy up to the head the manifest recorded; for PostgreSQL that `pg_restore`
/// reads the archive's table of contents (the chain is checked when it is restored).
pub fn verify_folder(snapshot: &Path) -> Result<Manifest, String> {
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

/// A snapshot on this machine: its own folder, or a copy fetched from a bucket into the
/// staging folder (removed when this is dropped).
struct Fetched {
    dir: PathBuf,
    temp: Option<(PathBuf, std::fs::File)>,
}

impl Drop for Fetched {
    fn drop(&mut self) {
        if let Some((root, _lock)) = &self.temp {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

/// The snapshot `name` of `target` as a folder here: a bucket's is downloaded into a
/// locked `.partial` folder under `staging`, file by file as its manifest lists them.
async fn fetch(target: &BackupTarget, name: &str, staging: &Path) -> Result<Fetched, String> {
    let (front, url) = match target {
        BackupTarget::Dir(dir) => {
            return Ok(Fetched {
                dir: dir.join(name),
                temp: None,
            })
        }
        BackupTarget::Bucket { front, url } => (front, url),
    };
    let text = front
        .get_bytes(&format!("{name}/{MANIFEST}"))
        .await
        .map_err(|e| format!("{url}/{name}: {e}"))?
        .ok_or_else(|| {
            format!(
                "{url}/{name}: no manifest: an unfinished backup (interrupted before it was sealed), or not a Sidak snapshot"
            )
        })?;
    let manifest = parse_manifest(&text)?;
    std::fs::create_dir_all(staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    let root = staging.join(format!("fetch-{}.partial", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let lock = std::fs::File::open(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    crate::storage::try_lock(&lock).map_err(|e| format!("{}: {e}", root.display()))?;
    let fetched = Fetched {
        dir: root.join(name),
        temp: Some((root, lock)),
    };
    std::fs::create_dir_all(&fetched.dir).map_err(|e| e.to_string())?;
    std::fs::write(fetched.dir.join(MANIFEST), &text).map_err(|e| e.to_string())?;
    for f in &manifest.files {
        let local = fetched.dir.join(&f.path);
        if let Some(parent) = local.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        front
            .get_file(&format!("{name}/{}", f.path), &local)
            .await
            .map_err(|e| format!("{url}/{name}/{}: {e}", f.path))?;
    }
    Ok(fetched)
}

/// Checks the snapshot `name` of `target` (see [`verify_folder`]); a bucket's is downloaded
/// into `staging` first, and removed after.
pub async fn verify(target: &BackupTarget, name: &str, staging: &Path) -> Result<Manifest, String> {
    let fetched = fetch(target, name, staging).await?;
    let dir = fetched.dir.clone();
    tokio::task::spawn_blocking(move || verify_folder(&dir))
        .await
        .map_err(|e| e.to_string())?
}

/// Restores the snapshot `name` of `target` into the database at `database_url` and the
/// photo store `store`: verifies the snapshot first (a bucket's, downloaded into `staging`);
/// refuses a database that holds data unless `force`; ends with the audit chain verified
/// up to the manifest's head.
#[allow(clippy::too_many_arguments)]
pub async fn restore(
    target: &BackupTarget,
    name: &str,
    staging: &Path,
    database_url: &crate::db::DatabaseUrl,
    synchronous: crate::db::SqliteSynchronous,
    store: &EvidenceStore,
    force: bool,
) -> Result<Restored, String> {
    let fetched = fetch(target, name, staging).await?;
    let snapshot = fetched.dir.as_path();
    let manifest = verify_folder(snapshot)?;
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
