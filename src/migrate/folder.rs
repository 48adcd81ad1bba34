//! A migrations folder in sqlx-cli's formats: `<version>_<name>.up.sql` / `.down.sql` pairs and
//! plain `<version>_<name>.sql`. Checksums and descriptions are computed exactly as sqlx does, so
//! sqlx's `Migrator` and this server agree on what is applied.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use sha2::{Digest, Sha384};

use crate::{error::ToolError, files::FileAccess};

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

/// A name sqlx reads as a migration: `<version>_<name>.sql` (and `.up.sql` / `.down.sql`).
fn migration_name(name: &str) -> bool {
    name.split_once('_').is_some_and(|(_, rest)| rest.ends_with(".sql"))
}

/// Every migration in the folder, by version. Files not named like migrations are ignored (as
/// sqlx does); a version without an up script, or two scripts for one version, is an error. Every
/// file is listed and read through `files` (`argument` names the folder's argument in errors).
pub fn read(files: &FileAccess, argument: &str, folder: &Path) -> Result<Vec<Migration>, ToolError> {
    let mut ups: Vec<(i64, String, PathBuf, String)> = Vec::new();
    let mut downs: Vec<(i64, String)> = Vec::new();
    for entry in files.list(argument, folder, migration_name)? {
        let (name, path) = (entry.name, entry.path);
        let Some((version, rest)) = name.split_once('_') else { continue };
        let version: i64 = version.parse().map_err(|_| {
            ToolError::invalid(
                argument,
                format!("{name}: expected an integer version prefix (e.g. 20260101120000_add_users.sql)"),
            )
        })?;
        let sql = files.read_to_string(argument, &path)?;
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

/// The migration files in `folder` as the folder is now, by version; none when the folder does
/// not exist yet (writing creates it).
pub fn read_for_writing(files: &FileAccess, folder: &Path) -> Result<Vec<Migration>, ToolError> {
    match std::fs::symlink_metadata(folder) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
        _ => read(files, "folder", folder),
    }
}

/// Write a reversible pair (or a plain script when there is no down) into the folder; returns the
/// paths written. Files are created through `files`: never through a link, and never over an
/// existing file unless `overwrite`. Every name is checked before the first is written.
pub fn write(
    files: &FileAccess,
    folder: &Path,
    version: i64,
    name: &str,
    up: &str,
    down: Option<&str>,
    overwrite: bool,
) -> Result<Vec<PathBuf>, ToolError> {
    let folder = files.create_dir_all("folder", folder)?;
    let base = format!("{version}_{}", slug(name));
    let planned: Vec<(PathBuf, &str)> = match down {
        Some(down) => {
            vec![(folder.join(format!("{base}.up.sql")), up), (folder.join(format!("{base}.down.sql")), down)]
        }
        None => vec![(folder.join(format!("{base}.sql")), up)],
    };
    for (path, _) in &planned {
        files.creatable("folder", path, overwrite)?;
    }
    for (path, text) in &planned {
        files
            .create("folder", path, overwrite)?
            .write_all(text.as_bytes())
            .map_err(|e| ToolError::invalid("folder", format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(planned.into_iter().map(|(p, _)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &tempfile::TempDir) -> FileAccess {
        FileAccess::new(vec![dir.path().to_path_buf()])
    }

    #[test]
    fn reads_pairs_and_plain_scripts_like_sqlx() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("2_add_users.up.sql"), "create table users (id int);\n").unwrap();
        std::fs::write(dir.path().join("2_add_users.down.sql"), "drop table users;\n").unwrap();
        std::fs::write(dir.path().join("1_init.sql"), "-- no-transaction\ncreate table a (x int);").unwrap();
        std::fs::write(dir.path().join("README.md"), "not a migration").unwrap();
        let got = read(&files(&dir), "folder", dir.path()).unwrap();
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
        assert!(read(&files(&dir), "folder", dir.path()).is_err());
        let dir = tempfile::tempdir().unwrap();
        let f = files(&dir);
        write(&f, dir.path(), 5, "Add users!", "create table u (id int);", Some("drop table u;"), false).unwrap();
        assert!(dir.path().join("5_add_users.up.sql").exists());
        let e = write(&f, dir.path(), 5, "add users", "x", Some("y"), false).unwrap_err().to_string();
        assert!(e.contains("already exists"), "{e}");
        assert_eq!(std::fs::read_to_string(dir.path().join("5_add_users.down.sql")).unwrap(), "drop table u;");
        write(&f, dir.path(), 5, "add users", "x", Some("y"), true).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("5_add_users.down.sql")).unwrap(), "y");
        // A new folder is created; read_for_writing sees none in it yet.
        let new = dir.path().join("new/migrations");
        assert!(read_for_writing(&f, &new).unwrap().is_empty());
        write(&f, &new, 1, "a", "x", None, false).unwrap();
        assert_eq!(read_for_writing(&f, &new).unwrap().len(), 1);
    }
}
