//! Where photo bytes live: local files (the zero-set-up default) or an S3-compatible bucket
//! (`SIDAK_EVIDENCE_URL`), content-addressed by SHA-256 in both.
//!
//! What every store keeps to, whatever it is:
//! - an upload is received into a local temporary file (fsynced, hashed as it arrives);
//!   only when it has been checked does [`EvidenceStore::store`] put it in the store, and
//!   the record that points at it is written after the store has said the bytes are durable
//!   (a local file fsynced with its folder entry; an S3 `PUT` or multipart upload answered);
//! - storing bytes that are stored already marks them as just stored (a local file's
//!   modification time; S3: they are written again), so that [`EvidenceStore::collect`],
//!   which removes only objects no record points at and older than a grace period, never
//!   takes the bytes of an upload in flight; after its record commits, the upload checks
//!   the bytes are there and stores them again if not ([`EvidenceStore::ensure`]);
//! - a key is made from a validated hash only (`ab/cd/<sha256>`), never from a client's
//!   file name.
//!
//! The bucket is reached through the `object_store` crate; the folder through `local.rs`,
//! not `object_store`'s `LocalFileSystem`, which renames its files into place without
//! `fsync` (a power cut could then lose a photo whose record had committed).

pub mod image;
pub mod local;
pub mod object;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use image::{is_complete, sniff, PNG, WEBP};
pub use local::LocalStore;
pub use object::ObjectStoreFront;

/// The settings S3 credentials and endpoints are read from (besides the process environment,
/// which `AmazonS3Builder::from_env` reads): the standard names.
pub const S3_SETTINGS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT",
    "AWS_ALLOW_HTTP",
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
];

/// Takes an exclusive advisory lock (`flock`) on `file` (a file or a folder) without waiting:
/// `WouldBlock` when another open file holds it. The kernel releases it when the file is
/// closed, however the process ends.
#[cfg(unix)]
pub fn try_lock(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `flock` on a descriptor the caller keeps open; it only takes or refuses an
    // advisory lock.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
pub fn try_lock(_file: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

/// Where the store is, as configured (`SIDAK_EVIDENCE_URL`).
#[derive(Clone, PartialEq, Eq)]
pub enum EvidenceLocation {
    /// A folder (a bare path or `file:///…`).
    Local(PathBuf),
    /// `s3://bucket[/prefix]`, with S3 settings by their standard names (see [`S3_SETTINGS`]).
    S3 {
        bucket: String,
        prefix: String,
        settings: Vec<(String, String)>,
    },
}

impl std::fmt::Debug for EvidenceLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Settings may hold credentials: named, never shown.
        match self {
            EvidenceLocation::Local(p) => write!(f, "Local({})", p.display()),
            EvidenceLocation::S3 {
                bucket,
                prefix,
                settings,
            } => {
                let names: Vec<&str> = settings.iter().map(|(k, _)| k.as_str()).collect();
                write!(f, "S3(s3://{bucket}/{prefix}, settings {names:?})")
            }
        }
    }
}

impl EvidenceLocation {
    /// `url` as `SIDAK_EVIDENCE_URL` gives it; `None` is `<data_dir>/evidence`.
    pub fn parse(
        url: Option<&str>,
        data_dir: &Path,
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<EvidenceLocation, String> {
        Self::parse_setting("SIDAK_EVIDENCE_URL", url, &data_dir.join("evidence"), get)
    }

    /// A folder or bucket as the setting `name` gives it (a path, `file:///…` or
    /// `s3://bucket[/prefix]`); `None` is `default`. Also where backups go.
    pub fn parse_setting(
        name: &str,
        url: Option<&str>,
        default: &Path,
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<EvidenceLocation, String> {
        let url = url.map(str::trim).filter(|u| !u.is_empty());
        let Some(url) = url else {
            return Ok(EvidenceLocation::Local(default.to_path_buf()));
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid_bucket = (3..=63).contains(&bucket.len())
                && bucket.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                });
            if !valid_bucket {
                return Err(format!(
                    "{name} `{url}`: `{bucket}` is not an S3 bucket name (3-63 lowercase letters, digits, `-` and `.`)"
                ));
            }
            let prefix = prefix.trim_matches('/').to_string();
            if prefix
                .split('/')
                .any(|part| part == "." || part == ".." || (part.is_empty() && !prefix.is_empty()))
            {
                return Err(format!(
                    "{name} `{url}`: the prefix may not hold empty, `.` or `..` parts"
                ));
            }
            let settings = S3_SETTINGS
                .iter()
                .filter_map(|k| get(k).map(|v| (k.to_string(), v)))
                .collect();
            return Ok(EvidenceLocation::S3 {
                bucket: bucket.to_string(),
                prefix,
                settings,
            });
        }
        if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(format!(
                    "{name} `{url}`: a file URL needs an absolute path (`file:///srv/sidak/evidence`)"
                ));
            }
            return Ok(EvidenceLocation::Local(PathBuf::from(path)));
        }
        if url.contains("://") {
            return Err(format!(
                "{name} `{url}`: only a path, `file:///…` or `s3://bucket[/prefix]`"
            ));
        }
        Ok(EvidenceLocation::Local(PathBuf::from(url)))
    }

    /// For logs and messages: no credentials.
    pub fn describe(&self) -> String {
        match self {
            EvidenceLocation::Local(p) => format!("local folder {}", p.display()),
            EvidenceLocation::S3 { bucket, prefix, .. } if prefix.is_empty() => {
                format!("s3://{bucket}")
            }
            EvidenceLocation::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
        }
    }
}

/// One stored object, named by its hash.
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub sha256: String,
    pub size: u64,
    pub modified: SystemTime,
}

/// A photo's bytes, ready to send.
pub enum Download {
    /// A local file (served with range support by `actix-files`).
    File(PathBuf),
    /// A stream from the object store, of `size` bytes.
    Stream {
        size: u64,
        body: futures_util::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>,
    },
}

#[derive(Clone)]
enum Backend {
    Local(LocalStore),
    Object(ObjectStoreFront),
}

/// The store the server was configured with. Cheap to clone.
#[derive(Clone)]
pub struct EvidenceStore {
    backend: Backend,
    location: EvidenceLocation,
    temp_dir: PathBuf,
}

impl std::fmt::Debug for EvidenceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.location.describe())
    }
}

fn io_err(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Runs `f` on the local store on the blocking pool (its file operations block).
async fn blocking<T: Send + 'static>(
    store: &LocalStore,
    f: impl FnOnce(&LocalStore) -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(io_err)?
}

impl EvidenceStore {
    /// Opens the store for the server, which also removes the temporary files of uploads a
    /// crash left behind (only the server uploads; the command line's tools open the store
    /// with [`EvidenceStore::open`], which leaves a running server's uploads alone).
    pub fn open_for_server(
        location: &EvidenceLocation,
        data_dir: &Path,
    ) -> Result<EvidenceStore, String> {
        let store = Self::open(location, data_dir)?;
        clear_temp(&store.temp_dir)
            .map_err(|e| format!("cannot clear {}: {e}", store.temp_dir.display()))?;
        Ok(store)
    }

    /// Opens the store (for S3, builds the client; nothing is asked of the server yet:
    /// [`EvidenceStore::check`] does). Temporary files of uploads go under `<data_dir>`
    /// for an object store, and inside the folder for a local one (so that linking a file
    /// into place is atomic).
    pub fn open(location: &EvidenceLocation, data_dir: &Path) -> Result<EvidenceStore, String> {
        let (backend, temp_dir) = match location {
            EvidenceLocation::Local(root) => {
                let store = LocalStore::open(root.clone()).map_err(|e| {
                    format!("cannot prepare the evidence folder {}: {e}", root.display())
                })?;
                let temp = store.temp_dir();
                (Backend::Local(store), temp)
            }
            EvidenceLocation::S3 {
                bucket,
                prefix,
                settings,
            } => {
                let front = ObjectStoreFront::s3(bucket, prefix, settings)?;
                let temp = data_dir.join("evidence-uploads");
                std::fs::create_dir_all(&temp).map_err(|e| {
                    format!("cannot prepare the upload folder {}: {e}", temp.display())
                })?;
                (Backend::Object(front), temp)
            }
        };
        Ok(EvidenceStore {
            backend,
            location: location.clone(),
            temp_dir,
        })
    }

    pub fn location(&self) -> &EvidenceLocation {
        &self.location
    }

    /// A new temporary file name for an upload.
    pub fn temp_path(&self) -> PathBuf {
        self.temp_dir
            .join(format!("{}.part", uuid::Uuid::new_v4().simple()))
    }

    /// Puts a complete, fsynced temporary file in the store under its hash and returns once
    /// the bytes are durable there. The temporary file stays (the caller removes it, after
    /// [`EvidenceStore::ensure`]). `true` when the bytes were not stored before.
    pub async fn store(&self, temp: &Path, sha256: &str) -> std::io::Result<bool> {
        if !valid_sha(sha256) {
            return Err(io_err("bad hash"));
        }
        match &self.backend {
            Backend::Local(l) => {
                let (temp, sha) = (temp.to_path_buf(), sha256.to_string());
                blocking(l, move |l| l.store(&temp, &sha)).await
            }
            Backend::Object(o) => o.store(temp, sha256).await,
        }
    }

    /// After the record pointing at the bytes committed: stores them again from the
    /// temporary file if they are gone (collected between [`EvidenceStore::store`] and the
    /// commit, which takes a collection run and an upload of the same bytes at one moment).
    pub async fn ensure(&self, temp: &Path, sha256: &str) -> std::io::Result<()> {
        if !self.exists(sha256).await? {
            tracing::warn!(
                sha256,
                "stored bytes vanished before their record committed; storing them again"
            );
            self.store(temp, sha256).await?;
        }
        Ok(())
    }

    pub async fn exists(&self, sha256: &str) -> std::io::Result<bool> {
        Ok(self.modified(sha256).await?.is_some())
    }

    /// When the bytes were last stored; `None` when they are not.
    pub async fn modified(&self, sha256: &str) -> std::io::Result<Option<SystemTime>> {
        if !valid_sha(sha256) {
            return Err(io_err("bad hash"));
        }
        match &self.backend {
            Backend::Local(l) => {
                let sha = sha256.to_string();
                blocking(l, move |l| l.modified(&sha)).await
            }
            Backend::Object(o) => o.modified(sha256).await,
        }
    }

    /// The bytes, to send. `NotFound` when they are not stored.
    pub async fn get(&self, sha256: &str) -> std::io::Result<Download> {
        match &self.backend {
            Backend::Local(l) => {
                let path = l
                    .path_for(sha256)
                    .ok_or_else(|| io_err("stored hash is malformed"))?;
                Ok(Download::File(path))
            }
            Backend::Object(o) => o.get(sha256).await,
        }
    }

    /// Streams the stored bytes into the file `out` (fsynced) when one is given, and returns
    /// their SHA-256 and size: what copying a photo elsewhere and checking it both need.
    pub async fn read_into(
        &self,
        sha256: &str,
        out: Option<&Path>,
    ) -> std::io::Result<(String, u64)> {
        use futures_util::StreamExt;
        use sha2::Digest;
        use tokio::io::AsyncWriteExt;
        let mut body = match self.get(sha256).await? {
            Download::Stream { body, .. } => body,
            Download::File(path) => file_stream(tokio::fs::File::open(&path).await?),
        };
        let mut file = match out {
            Some(p) => Some(tokio::fs::File::create(p).await?),
            None => None,
        };
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
            if let Some(f) = file.as_mut() {
                f.write_all(&chunk).await?;
            }
        }
        if let Some(f) = file {
            f.sync_all().await?;
        }
        Ok((hex::encode(hasher.finalize()), size))
    }

    /// Removes the bytes (absent is fine).
    pub async fn delete(&self, sha256: &str) -> std::io::Result<()> {
        if !valid_sha(sha256) {
            return Err(io_err("bad hash"));
        }
        match &self.backend {
            Backend::Local(l) => {
                let sha = sha256.to_string();
                blocking(l, move |l| l.delete(&sha)).await
            }
            Backend::Object(o) => o.delete(sha256).await,
        }
    }

    /// Every object in the store named by a hash.
    pub async fn list(&self) -> std::io::Result<Vec<StoredObject>> {
        match &self.backend {
            Backend::Local(l) => blocking(l, LocalStore::list).await,
            Backend::Object(o) => o.list().await,
        }
    }

    /// Whether the store answers (`/readyz`): the folder can be read, or the bucket listed.
    pub async fn check(&self) -> Result<(), String> {
        match &self.backend {
            Backend::Local(l) => blocking(l, |l| std::fs::read_dir(l.root()).map(|_| ()))
                .await
                .map_err(|e| format!("evidence folder: {e}")),
            Backend::Object(o) => o.check().await,
        }
    }
}

/// Lowercase hex SHA-256: the only names the stores use.
pub fn valid_sha(sha256: &str) -> bool {
    sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// A file as a stream of chunks, like the bucket's downloads.
fn file_stream(
    file: tokio::fs::File,
) -> futures_util::stream::BoxStream<'static, std::io::Result<bytes::Bytes>> {
    use futures_util::StreamExt;
    use tokio::io::AsyncReadExt;
    futures_util::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let mut buf = vec![0u8; 256 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
    .boxed()
}

fn clear_temp(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: Option<&str>) -> Result<EvidenceLocation, String> {
        let get = |k: &str| (k == "AWS_REGION").then(|| "us-east-1".to_string());
        EvidenceLocation::parse(url, Path::new("/data"), &get)
    }

    #[test]
    fn evidence_urls() {
        assert_eq!(
            parse(None).unwrap(),
            EvidenceLocation::Local(PathBuf::from("/data/evidence"))
        );
        assert_eq!(
            parse(Some("  ")).unwrap(),
            EvidenceLocation::Local(PathBuf::from("/data/evidence"))
        );
        assert_eq!(
            parse(Some("/srv/photos")).unwrap(),
            EvidenceLocation::Local(PathBuf::from("/srv/photos"))
        );
        assert_eq!(
            parse(Some("file:///srv/photos")).unwrap(),
            EvidenceLocation::Local(PathBuf::from("/srv/photos"))
        );
        assert_eq!(
            parse(Some("s3://sidak-photos/serang/")).unwrap(),
            EvidenceLocation::S3 {
                bucket: "sidak-photos".into(),
                prefix: "serang".into(),
                settings: vec![("AWS_REGION".into(), "us-east-1".into())],
            }
        );
        let bare = parse(Some("s3://sidak-photos")).unwrap();
        assert_eq!(bare.describe(), "s3://sidak-photos");
        for bad in [
            "s3://UPPER",
            "s3://ab",
            "s3://b/../x",
            "s3://bucket/a//b",
            "file://relative",
            "gs://bucket",
        ] {
            assert!(parse(Some(bad)).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn credentials_are_never_shown() {
        let get = |k: &str| (k == "AWS_SECRET_ACCESS_KEY").then(|| "hunter2".to_string());
        let loc = EvidenceLocation::parse(Some("s3://bucket"), Path::new("/d"), &get).unwrap();
        assert!(!format!("{loc:?}").contains("hunter2"));
        assert!(!loc.describe().contains("hunter2"));
    }
}
