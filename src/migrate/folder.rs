//! A migrations folder in sqlx-cli's formats: `<version>_<name>.up.sql` / `.down.sql` pairs and
//! plain `<version>_<name>.sql`. Checksums and descriptions are computed exactly as sqlx does, so
//! sqlx's `Migrator` and this server agree on what is applied.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha384};

use crate::error::ToolError;

/// A first line that runs the migration outside a transaction (CREATE INDEX CONCURRENTLY).
pub const NO_TRANSACTION: &str = "-- no-transaction";

/// One migration version from the folder.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: i64,
    /// The name with `_` as spaces, as sqlx records it.
    pub description: String,
    /// The up script (or the plain script).
    pub up: String,
    pub up_path: PathBuf,
    /// The down script of a reversible pair.
    pub down: Option<String>,
    /// SHA-384 of the up script's bytes, the ledger's checksum.
    pub checksum: Vec<u8>,
    pub no_transaction: bool,
}

/// sqlx's checksum: SHA-384 of the script.
pub fn checksum(sql: &str) -> Vec<u8> {
    Sha384::digest(sql.as_bytes()).to_vec()
}

pub fn is_no_transaction(sql: &str) -> bool {
    sql.starts_with(NO_TRANSACTION)
}

/// Every migration in the folder, by version. Files not named like migrations are ignored (as
/// sqlx does); a version without an up script, or two scripts for one version, is an error.
pub fn read(folder: &Path) -> Result<Vec<Migration>, ToolError> {
    let entries = std::fs::read_dir(folder)
        .map_err(|e| ToolError::invalid("folder", format!("cannot read {}: {e}", folder.display())))?;
    let mut ups: Vec<(i64, String, PathBuf, String)> = Vec::new();
    let mut downs: Vec<(i64, String)> = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((version, rest)) = name.split_once('_') else { continue };
        if !rest.ends_with(".sql") {
            continue;
        }
        let version: i64 = version.parse().map_err(|_| {
            ToolError::invalid(
                "folder",
                format!("{name}: expected an integer version prefix (e.g. 20260101120000_add_users.sql)"),
            )
        })?;
        let sql = std::fs::read_to_string(&path)
            .map_err(|e| ToolError::invalid("folder", format!("cannot read {}: {e}", path.display())))?;
        if let Some(stem) = rest.strip_suffix(".down.sql") {
            let _ = stem;
            downs.push((version, sql));
        } else {
            let stem = rest.strip_suffix(".up.sql").unwrap_or_else(|| rest.trim_end_matches(".sql"));
            ups.push((version, stem.replace('_', " "), path, sql));
        }
    }
    ups.sort_by_key(|u| u.0);
    if let Some(w) = ups.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(ToolError::invalid("folder", format!("version {} has two up scripts", w[0].0)));
    }
    if let Some((v, _)) = downs.iter().find(|(v, _)| !ups.iter().any(|u| u.0 == *v)) {
        return Err(ToolError::invalid("folder", format!("version {v} has a down script but no up script")));
    }
    Ok(ups
        .into_iter()
        .map(|(version, description, up_path, up)| Migration {
            version,
            description,
            checksum: checksum(&up),
            no_transaction: is_no_transaction(&up),
            down: downs.iter().find(|(v, _)| *v == version).map(|(_, d)| d.clone()),
            up,
            up_path,
        })
        .collect())
}

/// A file-name-safe name: lowercase words joined by `_`.
pub fn slug(name: &str) -> String {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if words.is_empty() { "migration".into() } else { words.join("_") }
}

/// A new version: the UTC timestamp sqlx-cli uses (YYYYMMDDHHMMSS), moved past the folder's
/// newest version so it always sorts last.
pub fn next_version(existing: &[Migration]) -> i64 {
    let now: i64 = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string().parse().unwrap_or(1);
    existing.iter().map(|m| m.version + 1).max().map_or(now, |next| next.max(now))
}

/// Write a reversible pair (or a plain script when there is no down) into the folder; returns the
/// paths written. Refuses to overwrite.
pub fn write(folder: &Path, version: i64, name: &str, up: &str, down: Option<&str>) -> Result<Vec<PathBuf>, ToolError> {
    std::fs::create_dir_all(folder)
        .map_err(|e| ToolError::invalid("folder", format!("cannot create {}: {e}", folder.display())))?;
    let base = format!("{version}_{}", slug(name));
    let files: Vec<(PathBuf, &str)> = match down {
        Some(down) => {
            vec![(folder.join(format!("{base}.up.sql")), up), (folder.join(format!("{base}.down.sql")), down)]
        }
        None => vec![(folder.join(format!("{base}.sql")), up)],
    };
    for (path, _) in &files {
        if path.exists() {
            return Err(ToolError::invalid(
                "folder",
                format!("{} already exists; nothing was written", path.display()),
            ));
        }
    }
    for (path, text) in &files {
        std::fs::write(path, text)
            .map_err(|e| ToolError::invalid("folder", format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pairs_and_plain_scripts_like_sqlx() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("2_add_users.up.sql"), "create table users (id int);\n").unwrap();
        std::fs::write(dir.path().join("2_add_users.down.sql"), "drop table users;\n").unwrap();
        std::fs::write(dir.path().join("1_init.sql"), "-- no-transaction\ncreate table a (x int);").unwrap();
        std::fs::write(dir.path().join("README.md"), "not a migration").unwrap();
        let got = read(dir.path()).unwrap();
        assert_eq!(got.iter().map(|m| m.version).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(got[1].description, "add users");
        assert!(got[0].no_transaction && got[0].down.is_none());
        assert_eq!(got[1].down.as_deref(), Some("drop table users;\n"));
        assert_eq!(hex::encode(&got[1].checksum), hex::encode(Sha384::digest(b"create table users (id int);\n")));
    }

    #[test]
    fn refuses_a_down_without_up_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("3_x.down.sql"), "drop table x;").unwrap();
        assert!(read(dir.path()).is_err());
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), 5, "Add users!", "create table u (id int);", Some("drop table u;")).unwrap();
        assert!(dir.path().join("5_add_users.up.sql").exists());
        assert!(write(dir.path(), 5, "add users", "x", Some("y")).is_err());
    }
}
