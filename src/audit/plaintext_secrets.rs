//! plaintext-secret-columns: a column named like a secret (password, token, api_key, ssn, card
//! number) whose sampled values are not hashes. Needs the values, so it runs in Rust over a
//! sample; evidence names counts and lengths, never a value.

use crate::plan::Severity;

pub const CODE: &str = "plaintext-secret-columns";
pub const SEVERITY: Severity = Severity::Critical;
pub const WHY: &str =
    "secrets stored as plain text are read by anyone who can read the table, its backups or its replicas";
/// Values sampled per column.
pub const SAMPLE: i64 = 20;

/// A stored value that is a password hash or digest rather than the secret itself.
pub fn looks_hashed(value: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "$2a$", "$2b$", "$2y$", "$argon2", "$scrypt$", "$s0$", "$pbkdf2", "pbkdf2_", "$6$", "$5$", "$1$", "sha256$",
        "bcrypt$", "argon2$",
    ];
    let hex = |s: &str| s.chars().all(|c| c.is_ascii_hexdigit());
    PREFIXES.iter().any(|p| value.starts_with(p))
        || (matches!(value.len(), 32 | 40 | 64 | 96 | 128) && hex(value))
        || value.starts_with("\\x")
}

/// The finding's detail when some sampled values are not hashed.
pub fn judge(values: &[String]) -> Option<String> {
    let plain: Vec<&String> = values.iter().filter(|v| !looks_hashed(v)).collect();
    if plain.is_empty() {
        return None;
    }
    let mut lengths: Vec<usize> = plain.iter().map(|v| v.chars().count()).collect();
    lengths.sort_unstable();
    Some(format!(
        "{} of {} sampled values are not hashes (lengths {}..{}; values withheld)",
        plain.len(),
        values.len(),
        lengths[0],
        lengths[lengths.len() - 1]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn err_plain_passwords() {
        let d = judge(&["hunter2".into(), "$2b$12$abcdefghijklmnopqrstuv".into()]).unwrap();
        assert_eq!(d, "1 of 2 sampled values are not hashes (lengths 7..7; values withheld)");
        assert!(!d.contains("hunter2"));
    }

    #[test]
    fn ok_hashes_and_digests() {
        assert!(
            judge(&[
                "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA".into(),
                "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8".into(),
                "pbkdf2_sha256$600000$salt$hash".into(),
            ])
            .is_none()
        );
    }
}
