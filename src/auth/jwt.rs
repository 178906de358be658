//! HS256 access tokens. Every claim is required; a refresh or other token type cannot pass
//! as an access token (`typ`).

use std::time::Duration;

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ISSUER: &str = "sidak";
pub const AUDIENCE: &str = "sidak-api";
pub const ACCESS_TYPE: &str = "access";
/// The web console's session cookie: refused as an access token, and an access token is
/// refused as a cookie.
pub const CONSOLE_TYPE: &str = "console";
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: u64,
    pub nbf: u64,
    pub iat: u64,
    pub jti: String,
    pub role: String,
    pub typ: String,
    /// The login session the token belongs to (its refresh tokens' family): logging out,
    /// a replayed refresh token, a password change or a deactivation ends the session, and
    /// the token is refused from that moment though it has not expired.
    pub sid: String,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl JwtKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["iss", "aud", "sub", "exp", "nbf"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues an access token; returns it with its lifetime in seconds.
    pub fn issue(&self, user_id: Uuid, role: &str, session: Uuid) -> Result<(String, u64), String> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: user_id.to_string(),
            exp: now + self.ttl.as_secs(),
            nbf: now,
            iat: now,
            jti: Uuid::new_v4().to_string(),
            role: role.into(),
            typ: ACCESS_TYPE.into(),
            sid: session.to_string(),
        };
        self.sign(&claims).map(|t| (t, self.ttl.as_secs()))
    }

    /// Issues the console's session cookie value for `session`, valid for `ttl`. Its `jti`
    /// is the session's CSRF token (see `console::session`).
    pub fn issue_console(
        &self,
        user_id: Uuid,
        role: &str,
        session: Uuid,
        ttl: Duration,
    ) -> Result<(String, Claims), String> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: user_id.to_string(),
            exp: now + ttl.as_secs(),
            nbf: now,
            iat: now,
            jti: crate::auth::refresh::generate(),
            role: role.into(),
            typ: CONSOLE_TYPE.into(),
            sid: session.to_string(),
        };
        self.sign(&claims).map(|t| (t, claims))
    }

    /// Validates a console cookie as [`JwtKeys::verify`] does an access token.
    pub fn verify_console(&self, token: &str) -> Result<Claims, String> {
        self.verify_typed(token, CONSOLE_TYPE)
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, String> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| format!("signing a token failed: {e}"))
    }

    /// Validates signature, algorithm, issuer, audience, times and type.
    pub fn verify(&self, token: &str) -> Result<Claims, String> {
        self.verify_typed(token, ACCESS_TYPE)
    }

    fn verify_typed(&self, token: &str, typ: &str) -> Result<Claims, String> {
        let data =
            decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| e.to_string())?;
        let claims = data.claims;
        if claims.typ != typ {
            return Err(format!("not a {typ} token"));
        }
        if claims.iat > jsonwebtoken::get_current_timestamp() + LEEWAY_SECS {
            return Err("issued in the future".into());
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let keys = JwtKeys::new(&[7u8; 32], Duration::from_secs(60));
        let id = Uuid::new_v4();
        let session = Uuid::new_v4();
        let (token, ttl) = keys.issue(id, "admin", session).unwrap();
        assert_eq!(ttl, 60);
        let claims = keys.verify(&token).unwrap();
        assert_eq!(claims.sub, id.to_string());
        assert_eq!(claims.sid, session.to_string());
        let other = JwtKeys::new(&[8u8; 32], Duration::from_secs(60));
        assert!(other.verify(&token).is_err());
        let mut c = claims.clone();
        c.typ = "refresh".into();
        assert!(keys.verify(&keys.sign(&c).unwrap()).is_err());
        let mut c = claims;
        c.exp = c.iat - 100;
        assert!(keys.verify(&keys.sign(&c).unwrap()).is_err());
    }
}
