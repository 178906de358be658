//! Where snapshots go and come from: a folder, or an S3-compatible bucket
//! (`s3://bucket[/prefix]`, with the same `AWS_*` settings as the photo store).
//!
//! In a folder a snapshot is sealed by renaming `sidak-<time>.partial` to `sidak-<time>`; the
//! process writing a `.partial` folder holds a lock on it, so a leftover one (its writer was
//! killed) is told from one being written. In a bucket a snapshot is the objects under
//! `sidak-<time>/`, and it is sealed by uploading its `manifest.json` last: objects without a
//! manifest are an unfinished snapshot, never read as one.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::storage::{EvidenceLocation, ObjectStoreFront};

/// A bucket folder without a manifest and untouched for this long is left over from a
/// backup that died (a running one adds an object at least every few minutes).
const UNFINISHED_IN_BUCKET: Duration = Duration::from_secs(24 * 3600);

pub enum BackupTarget {
    Dir(PathBuf),
    Bucket {
        front: ObjectStoreFront,
        /// `s3://bucket[/prefix]`, for messages.
        url: String,
    },
}

/// One snapshot in a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    /// Sealed: complete and checked when it was written.
    pub sealed: bool,
}

/// What [`prune`] removed.
#[derive(Debug, Default)]
pub struct Pruned {
    pub snapshots: Vec<String>,
    pub unfinished: Vec<String>,
}

/// A snapshot's folder name: `sidak-<UTC time>`, optionally `.partial`.
pub(super) fn is_snapshot_name(name: &str) -> bool {
    let stem = name.strip_suffix(".partial").unwrap_or(name);
    stem.strip_prefix("sidak-").is_some_and(|t| {
        t.len() >= 16
            && t.ends_with('Z')
            && t.bytes().all(|b| b.is_ascii_digit() || b"TZ.".contains(&b))
    })
}

impl BackupTarget {
    pub fn open(location: &EvidenceLocation) -> Result<BackupTarget, String> {
        Ok(match location {
            EvidenceLocation::Local(dir) => BackupTarget::Dir(dir.clone()),
            EvidenceLocation::S3 {
                bucket,
                prefix,
                settings,
            } => BackupTarget::Bucket {
                front: ObjectStoreFront::s3(bucket, prefix, settings)?,
                url: location.describe(),
            },
        })
    }

    /// A snapshot as the command line names it (a folder, or `s3://bucket[/prefix]/sidak-…`):
    /// its target and its name. S3 settings are read through `get`.
    pub fn for_snapshot(
        snapshot: &str,
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<(BackupTarget, String), String> {
        let trimmed = snapshot.trim().trim_end_matches('/');
        let (parent, name) = if let Some(rest) = trimmed.strip_prefix("s3://") {
            let (parent, name) = rest.rsplit_once('/').ok_or_else(|| {
                format!(
                    "`{snapshot}`: name the snapshot's folder in the bucket, s3://bucket[/prefix]/sidak-<time>"
                )
            })?;
            (format!("s3://{parent}"), name.to_string())
        } else {
            let path = Path::new(trimmed);
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .ok_or_else(|| format!("`{snapshot}` is not a snapshot's folder"))?;
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.display().to_string(),
                _ => ".".to_string(),
            };
            (parent, name)
        };
        let location =
            EvidenceLocation::parse_setting("the snapshot", Some(&parent), Path::new("."), get)?;
        Ok((BackupTarget::open(&location)?, name))
    }

    /// For messages: no credentials.
    pub fn describe(&self) -> String {
        match self {
            BackupTarget::Dir(dir) => dir.display().to_string(),
            BackupTarget::Bucket { url, .. } => url.clone(),
        }
    }

    /// Where the snapshot `name` is, as `backup verify` and `restore --from` take it.
    pub fn locate(&self, name: &str) -> String {
        match self {
            BackupTarget::Dir(dir) => dir.join(name).display().to_string(),
            BackupTarget::Bucket { url, .. } => format!("{url}/{name}"),
        }
    }

    /// The snapshots in the target, newest first (by name, which is the UTC time).
    pub async fn list(&self) -> Result<Vec<Listed>, String> {
        let mut out = Vec::new();
        match self {
            BackupTarget::Dir(dir) => {
                let entries = match std::fs::read_dir(dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
                    Err(e) => return Err(format!("{}: {e}", dir.display())),
                };
                for entry in entries.flatten() {
                    let name = entry.file_name().to_string_lossy().to_string();
                    if !is_snapshot_name(&name) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
                        continue;
                    }
                    let sealed =
                        !name.ends_with(".partial") && entry.path().join(super::MANIFEST).exists();
                    out.push(Listed { name, sealed });
                }
            }
            BackupTarget::Bucket { front, url } => {
                let folders = front
                    .list_folders("")
                    .await
                    .map_err(|e| format!("listing {url}: {e}"))?;
                for name in folders.into_iter().filter(|n| is_snapshot_name(n)) {
                    let sealed = front
                        .size_of(&format!("{name}/{}", super::MANIFEST))
                        .await
                        .map_err(|e| format!("{url}/{name}: {e}"))?
                        .is_some();
                    out.push(Listed { name, sealed });
                }
            }
        }
        out.sort_by(|a, b| b.name.cmp(&a.name));
        Ok(out)
    }

    /// Removes the sealed snapshots beyond the newest `keep` (none when `keep` is 0), and
    /// what backups that died left: `.partial` folders no process holds (here and in
    /// `staging`, where backups to a bucket are assembled), and bucket folders without a
    /// manifest untouched for a day.
    pub async fn prune(&self, keep: usize, staging: &Path) -> Result<Pruned, String> {
        let mut pruned = Pruned::default();
        let listed = self.list().await?;
        let sealed: Vec<&Listed> = listed.iter().filter(|l| l.sealed).collect();
        if keep > 0 {
            for old in sealed.iter().skip(keep) {
                self.remove(&old.name).await?;
                pruned.snapshots.push(old.name.clone());
            }
        }
        for dir in [Some(staging), self.dir()].into_iter().flatten() {
            pruned.unfinished.extend(remove_abandoned(dir)?);
        }
        if let BackupTarget::Bucket { front, url } = self {
            for unsealed in listed.iter().filter(|l| !l.sealed) {
                let objects = front
                    .list_under(&unsealed.name)
                    .await
                    .map_err(|e| format!("{url}/{}: {e}", unsealed.name))?;
                let newest = objects.iter().map(|(_, _, at)| *at).max();
                let idle = newest
                    .and_then(|at| SystemTime::now().duration_since(at).ok())
                    .unwrap_or_default();
                if idle > UNFINISHED_IN_BUCKET {
                    self.remove(&unsealed.name).await?;
                    pruned.unfinished.push(unsealed.name.clone());
                }
            }
        }
        Ok(pruned)
    }

    fn dir(&self) -> Option<&Path> {
        match self {
            BackupTarget::Dir(dir) => Some(dir),
            BackupTarget::Bucket { .. } => None,
        }
    }

    /// Removes the snapshot `name` whole.
    pub async fn remove(&self, name: &str) -> Result<(), String> {
        match self {
            BackupTarget::Dir(dir) => {
                let path = dir.join(name);
                std::fs::remove_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))
            }
            BackupTarget::Bucket { front, url } => front
                .delete_under(name)
                .await
                .map_err(|e| format!("{url}/{name}: {e}")),
        }
    }
}

/// Removes the `.partial` folders under `dir` that no process holds the lock of.
fn remove_abandoned(dir: &Path) -> Result<Vec<String>, String> {
    let mut removed = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        // A backup's folder, or a bucket snapshot's download (`fetch-<id>.partial`).
        let ours = is_snapshot_name(&name) || name.starts_with("fetch-");
        if !name.ends_with(".partial") || !ours {
            continue;
        }
        let Ok(handle) = std::fs::File::open(entry.path()) else {
            continue;
        };
        if crate::storage::try_lock(&handle).is_ok() {
            std::fs::remove_dir_all(entry.path())
                .map_err(|e| format!("{}: {e}", entry.path().display()))?;
            removed.push(name);
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names() {
        assert!(is_snapshot_name("sidak-20261207T020000.123Z"));
        assert!(is_snapshot_name("sidak-20261207T020000.123Z.partial"));
        assert!(!is_snapshot_name("sidak-latest"));
        assert!(!is_snapshot_name("photos"));
        assert!(!is_snapshot_name("sidak-../../etc"));
    }

    #[test]
    fn snapshots_are_named_by_their_folder() {
        let none = |_: &str| None;
        let (t, name) = BackupTarget::for_snapshot("/srv/backups/sidak-1/", &none).unwrap();
        assert_eq!(name, "sidak-1");
        assert_eq!(t.describe(), "/srv/backups");
        let (t, name) = BackupTarget::for_snapshot("sidak-1", &none).unwrap();
        assert_eq!((t.describe().as_str(), name.as_str()), (".", "sidak-1"));
        let (t, name) =
            BackupTarget::for_snapshot("s3://city-backups/sidak/sidak-1", &none).unwrap();
        assert_eq!(t.describe(), "s3://city-backups/sidak");
        assert_eq!(name, "sidak-1");
        assert!(BackupTarget::for_snapshot("s3://city-backups", &none).is_err());
    }
}
