//! Signing webhook deliveries as the Standard Webhooks specification says
//! (<https://www.standardwebhooks.com/>), so that receivers verify them with the existing
//! libraries: a secret `whsec_<base64 of 24–64 random bytes>`; for a delivery the headers
//! `webhook-id` (the event's id, the same on every retry), `webhook-timestamp` (Unix seconds)
//! and `webhook-signature: v1,<base64 of HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`,
//! one `v1,…` per valid secret separated by spaces (while a rotated secret is still honoured).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of every signing secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// How far a receiver should accept a timestamp from its own clock (the specification's
/// suggestion), in seconds.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

/// A signing secret: its key bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    /// A new random secret of 32 bytes.
    pub fn generate() -> Secret {
        use rand::RngCore;
        let mut key = vec![0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Secret(key)
    }

    /// Reads `whsec_<base64>`; `None` for anything else or a key shorter than 24 bytes.
    pub fn parse(text: &str) -> Option<Secret> {
        let key = STANDARD.decode(text.strip_prefix(SECRET_PREFIX)?).ok()?;
        (key.len() >= 24 && key.len() <= 64).then_some(Secret(key))
    }

    /// The secret as shown once to its owner and stored: `whsec_<base64>`.
    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The signature of one delivery: `v1,<base64>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header for a delivery signed with each of `secrets` (the current
/// one and, during a rotation's grace period, the previous one).
pub fn signature_header(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a delivery does not verify.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The timestamp is further than [`TOLERANCE_SECONDS`] from `now`.
    Stale,
    /// No `v1` signature in the header matches.
    NoMatch,
}

/// What a receiver does (and what the tests do): the timestamp within the tolerance of
/// `now`, and one of the header's `v1` signatures made with `secret`, compared in constant
/// time.
pub fn verify(
    secret: &Secret,
    id: &str,
    timestamp: i64,
    now: i64,
    header: &str,
    body: &[u8],
) -> Result<(), Refused> {
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(Refused::Stale);
    }
    let expected = secret.sign(id, timestamp, body);
    let found = header.split(' ').any(|candidate| {
        candidate.starts_with("v1,")
            && bool::from(subtle::ConstantTimeEq::ct_eq(
                candidate.as_bytes(),
                expected.as_bytes(),
            ))
    });
    if found {
        Ok(())
    } else {
        Err(Refused::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The specification's own example (its reference libraries test against it).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_specifications_example() {
        let secret = Secret::parse(SECRET).unwrap();
        assert_eq!(secret.sign(ID, TIMESTAMP, BODY), SIGNATURE);
        assert_eq!(secret.to_text(), SECRET);
        assert_eq!(
            verify(&secret, ID, TIMESTAMP, TIMESTAMP + 10, SIGNATURE, BODY),
            Ok(())
        );
    }

    #[test]
    fn refuses_what_was_changed_or_is_old() {
        let secret = Secret::parse(SECRET).unwrap();
        let other = Secret::generate();
        assert_eq!(
            verify(
                &secret,
                ID,
                TIMESTAMP,
                TIMESTAMP,
                SIGNATURE,
                br#"{"test": 2432232315}"#
            ),
            Err(Refused::NoMatch)
        );
        assert_eq!(
            verify(&secret, "msg_other", TIMESTAMP, TIMESTAMP, SIGNATURE, BODY),
            Err(Refused::NoMatch)
        );
        assert_eq!(
            verify(&other, ID, TIMESTAMP, TIMESTAMP, SIGNATURE, BODY),
            Err(Refused::NoMatch)
        );
        assert_eq!(
            verify(
                &secret,
                ID,
                TIMESTAMP,
                TIMESTAMP + TOLERANCE_SECONDS + 1,
                SIGNATURE,
                BODY
            ),
            Err(Refused::Stale)
        );
    }

    #[test]
    fn during_a_rotation_both_secrets_verify() {
        let old = Secret::parse(SECRET).unwrap();
        let new = Secret::generate();
        let header = signature_header(&[new.clone(), old.clone()], ID, TIMESTAMP, BODY);
        assert_eq!(header.split(' ').count(), 2);
        assert_eq!(
            verify(&old, ID, TIMESTAMP, TIMESTAMP, &header, BODY),
            Ok(())
        );
        assert_eq!(
            verify(&new, ID, TIMESTAMP, TIMESTAMP, &header, BODY),
            Ok(())
        );
    }

    #[test]
    fn secrets_are_whsec_and_long_enough() {
        let s = Secret::generate();
        assert!(s.to_text().starts_with("whsec_"));
        assert_eq!(Secret::parse(&s.to_text()), Some(s));
        assert_eq!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), None);
        assert_eq!(Secret::parse("whsec_c2hvcnQ="), None);
        assert_eq!(Secret::parse("whsec_not base64!"), None);
    }
}
