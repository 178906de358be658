//! Authentication: password hashing, access tokens, refresh tokens, login throttling, and
//! the extractor that turns a bearer token into the calling user.

pub mod api_key;
pub mod extract;
pub mod jwt;
pub mod password;
pub mod refresh;
pub mod throttle;

pub use extract::AuthUser;
pub use jwt::{Claims, JwtKeys};
pub use password::PasswordHasher;
pub use throttle::LoginThrottle;
