//! Accounts: roles, usernames and the password policy.

use super::vocab::vocabulary;
use crate::error::FieldError;

vocabulary!(
    /// What an account may do.
    Role {
        Admin => "admin" ["Admin", "Admin"],
        Supervisor => "supervisor" ["Supervisor", "Supervisor"],
        Inspector => "inspector" ["Inspektur", "Inspector"],
        Viewer => "viewer" ["Pemantau", "Viewer"],
    }
);

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 64;
pub const PASSWORD_MIN_CHARS: usize = 10;
/// Longer passwords are refused: hashing cost must not be the client's choice.
pub const PASSWORD_MAX_CHARS: usize = 1024;
pub const FULL_NAME_MAX: usize = 200;

/// The key usernames are unique by: trimmed and lowercased.
pub fn username_key(username: &str) -> String {
    username.trim().to_lowercase()
}

pub fn validate_username(username: &str) -> Result<(), FieldError> {
    let len = username.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
        return Err(FieldError::new(
            "username",
            format!("must be {USERNAME_MIN}–{USERNAME_MAX} characters"),
        ));
    }
    let ok_chars = username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok_chars || !username.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(FieldError::new(
            "username",
            "may contain only letters, digits, '.', '_' and '-', and must start with a letter or digit",
        ));
    }
    Ok(())
}

pub fn validate_full_name(full_name: &str) -> Result<(), FieldError> {
    let trimmed = full_name.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new("full_name", "must not be empty"));
    }
    if trimmed.chars().count() > FULL_NAME_MAX {
        return Err(FieldError::new(
            "full_name",
            format!("must be at most {FULL_NAME_MAX} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(FieldError::new(
            "full_name",
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// 10 to 1024 characters, and not the username (in any letter case).
pub fn validate_password(field: &str, password: &str, username: &str) -> Result<(), FieldError> {
    if password.chars().count() < PASSWORD_MIN_CHARS {
        return Err(FieldError::new(
            field,
            format!("must be at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if password.chars().count() > PASSWORD_MAX_CHARS {
        return Err(FieldError::new(
            field,
            format!("must be at most {PASSWORD_MAX_CHARS} characters"),
        ));
    }
    if password.trim().to_lowercase() == username_key(username) {
        return Err(FieldError::new(field, "must not be the username"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(validate_username("inspektur.01").is_ok());
        assert!(validate_username("ab").is_err());
        assert!(validate_username(".dot").is_err());
        assert!(validate_username("spasi ada").is_err());
        assert!(validate_username(&"a".repeat(65)).is_err());
        assert_eq!(username_key("  Budi.S "), "budi.s");
    }

    #[test]
    fn passwords() {
        assert!(validate_password("password", "kuatsekali-123", "budi").is_ok());
        assert!(validate_password("password", "pendek", "budi").is_err());
        assert!(validate_password("password", "Inspektur01", "inspektur01").is_err());
        assert!(validate_password("password", &"x".repeat(1025), "budi").is_err());
        // Ten characters of multi-byte text are enough.
        assert!(validate_password("password", "éééééééééé", "budi").is_ok());
    }

    #[test]
    fn roles_round_trip() {
        for &r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
