//! The content-addressed store of photo bytes: each file under
//! `<data dir>/evidence/ab/cd/<sha256>`, written
//! through a temporary file that is fsynced and renamed into place, so a file is either
//! complete under its hash or absent. The client's file name is never used in a path.

use std::path::{Path, PathBuf};

pub const JPEG: &str = "image/jpeg";
pub const PNG: &str = "image/png";
pub const WEBP: &str = "image/webp";

#[derive(Debug, Clone)]
pub struct ContentStore {
    root: PathBuf,
}

impl ContentStore {
    /// Creates the folders and removes temporary files a crash may have left behind.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        let root = data_dir.join("evidence");
        let tmp = root.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        for entry in std::fs::read_dir(&tmp)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(ContentStore { root })
    }

    pub fn temp_path(&self) -> PathBuf {
        self.root
            .join("tmp")
            .join(format!("{}.part", uuid::Uuid::new_v4().simple()))
    }

    /// Where the bytes with this (validated, lowercase hex) hash live.
    pub fn path_for(&self, sha256: &str) -> Option<PathBuf> {
        if sha256.len() != 64
            || !sha256
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return None;
        }
        Some(
            self.root
                .join(&sha256[0..2])
                .join(&sha256[2..4])
                .join(sha256),
        )
    }

    /// Moves a complete, fsynced temporary file into place (or drops it when the same
    /// bytes are stored already) and makes the directory entry durable. `true` when the
    /// file is new.
    pub fn commit(&self, temp: &Path, sha256: &str) -> std::io::Result<bool> {
        let target = self
            .path_for(sha256)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad hash"))?;
        let dir = target
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        std::fs::create_dir_all(&dir)?;
        if target.exists() {
            std::fs::remove_file(temp)?;
            Ok(false)
        } else {
            std::fs::rename(temp, &target)?;
            std::fs::File::open(&dir)?.sync_all()?;
            Ok(true)
        }
    }

    /// Removes a file stored for an upload that was then refused, unless a record uses it.
    pub fn discard(&self, sha256: &str, still_used: bool) {
        if !still_used {
            if let Some(p) = self.path_for(sha256) {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// The image type by its first bytes: JPEG, PNG or WebP; anything else is `None`.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(JPEG)
    } else if head.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(PNG)
    } else if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some(WEBP)
    } else {
        None
    }
}

/// Whether the file ends the way a whole image of its type ends (a cut-off upload does not):
/// JPEG with the end-of-image marker, PNG with the `IEND` chunk, WebP as long as its RIFF
/// header says.
pub fn is_complete(content_type: &str, head: &[u8], tail: &[u8], size: u64) -> bool {
    match content_type {
        JPEG => {
            let trimmed: &[u8] = {
                let end = tail
                    .iter()
                    .rposition(|b| *b != 0)
                    .map(|i| i + 1)
                    .unwrap_or(0);
                &tail[..end]
            };
            size >= 4 && trimmed.ends_with(&[0xFF, 0xD9])
        }
        PNG => size >= 20 && tail.ends_with(&[0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]),
        WEBP => {
            head.len() >= 12
                && u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]])) + 8 == size
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_bytes() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Some(JPEG));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some(PNG));
        assert_eq!(sniff(b"RIFF\x10\x00\x00\x00WEBPVP8 "), Some(WEBP));
        assert_eq!(sniff(b"#!/bin/sh\nrm -rf /"), None);
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn completeness() {
        assert!(is_complete(JPEG, b"", &[1, 2, 0xFF, 0xD9], 100));
        assert!(is_complete(JPEG, b"", &[0xFF, 0xD9, 0, 0], 100));
        assert!(!is_complete(JPEG, b"", &[1, 2, 3, 4], 100));
        let webp = b"RIFF\x04\x00\x00\x00WEBP";
        assert!(is_complete(WEBP, webp, b"", 12));
        assert!(!is_complete(WEBP, webp, b"", 11));
    }

    #[test]
    fn paths_only_from_hashes() {
        let store = ContentStore {
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
