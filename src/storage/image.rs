//! What a photo is, judged by its bytes: the image type and whether the file is whole.

pub const JPEG: &str = "image/jpeg";
pub const PNG: &str = "image/png";
pub const WEBP: &str = "image/webp";

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
}
