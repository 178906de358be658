//! Photo bytes in local files: each under `<root>/ab/cd/<sha256>`, written through a
//! temporary file that is fsynced and linked into place (with the folder entry fsynced), so a
//! file is either complete under its hash or absent. The client's file name is never used
//! in a path. The temporary files live in `<root>/tmp` (same file system, so linking is
//! atomic); the server removes those a crash left behind when it starts.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{valid_sha, StoredObject};

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// Creates the folders.
    pub fn open(root: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(LocalStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn temp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Where the bytes with this (validated, lowercase hex) hash live.
    pub fn path_for(&self, sha256: &str) -> Option<PathBuf> {
        valid_sha(sha256).then(|| {
            self.root
                .join(&sha256[0..2])
                .join(&sha256[2..4])
                .join(sha256)
        })
    }

    fn target(&self, sha256: &str) -> std::io::Result<PathBuf> {
        self.path_for(sha256)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad hash"))
    }

    /// Links a complete, fsynced temporary file into place and makes the folder entry
    /// durable; when the same bytes are stored already, marks that file as just stored (its
    /// modification time, which [`super::EvidenceStore::collect`] reads). The temporary file
    /// stays. `true` when the file is new.
    pub fn store(&self, temp: &Path, sha256: &str) -> std::io::Result<bool> {
        let target = self.target(sha256)?;
        let dir = target
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        std::fs::create_dir_all(&dir)?;
        match std::fs::hard_link(temp, &target) {
            Ok(()) => {
                std::fs::File::open(&dir)?.sync_all()?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                std::fs::File::options()
                    .write(true)
                    .open(&target)?
                    .set_modified(SystemTime::now())?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    pub fn modified(&self, sha256: &str) -> std::io::Result<Option<SystemTime>> {
        match std::fs::metadata(self.target(sha256)?) {
            Ok(m) => Ok(Some(m.modified()?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn delete(&self, sha256: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.target(sha256)?) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every stored file named by a hash (anything else under the root is not ours and is
    /// left out).
    pub fn list(&self) -> std::io::Result<Vec<StoredObject>> {
        let mut out = Vec::new();
        for a in read_dirs(&self.root)? {
            for b in read_dirs(&a)? {
                for entry in std::fs::read_dir(&b)? {
                    let entry = entry?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let meta = entry.metadata()?;
                    if meta.is_file() && valid_sha(&name) {
                        out.push(StoredObject {
                            sha256: name,
                            size: meta.len(),
                            modified: meta.modified()?,
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The two-hex-digit folders under `dir`.
fn read_dirs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if entry.file_type()?.is_dir()
            && name.len() == 2
            && name
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            out.push(entry.path());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_only_from_hashes() {
        let store = LocalStore {
            root: PathBuf::from("/x/evidence"),
        };
        let sha = "ab".repeat(32);
        assert_eq!(
            store.path_for(&sha).unwrap(),
            PathBuf::from(format!("/x/evidence/ab/ab/{sha}"))
        );
        assert!(store.path_for("../../etc/passwd").is_none());
        assert!(store.path_for(&"AB".repeat(32)).is_none());
    }
}
