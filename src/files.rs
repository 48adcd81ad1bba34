//! Which files the server may read and write. File-taking tools (seed, load-csv, verify-order,
//! bootstrap, migrations, snapshots) resolve every path here first: a model cannot point them at
//! `~/.ssh` or `/etc` unless the user allowed that directory.

use std::path::{Path, PathBuf};

use crate::error::ToolError;

#[derive(Debug, Clone)]
pub struct FileAccess {
    /// Allowed directories, absolute; a path is allowed when it is one of them or inside one.
    roots: Vec<PathBuf>,
}

impl FileAccess {
    pub fn new(roots: Vec<PathBuf>) -> Self {
        let roots = roots
            .into_iter()
            .map(|r| {
                let r = absolute(&r);
                canonical(&r).unwrap_or(r)
            })
            .collect();
        Self { roots }
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// The absolute, symlink-free form of `path` (relative paths are taken from the working
    /// directory), if it lies inside an allowed directory; the file need not exist yet.
    pub fn check(&self, argument: &str, path: &str) -> Result<PathBuf, ToolError> {
        let trimmed = path.trim();
        if trimmed.is_empty() {
            return Err(ToolError::invalid(argument, "give a path"));
        }
        let wanted = absolute(Path::new(trimmed));
        let Some(resolved) = canonical(&wanted) else {
            return Err(ToolError::invalid(
                argument,
                format!("{} cannot be resolved (a dangling link, or .. past what exists)", wanted.display()),
            ));
        };
        if self.roots.iter().any(|root| resolved.starts_with(root)) {
            return Ok(resolved);
        }
        let roots = self.roots.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", ");
        Err(ToolError::refused(
            format!("{} is outside the directories this server may use ({roots})", resolved.display()),
            "use a path inside one of them, or ask the user to allow the directory (start the server with \
             --allow-dir DIR, or list it under [files] roots in the config)",
        ))
    }
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")).join(path)
    }
}

/// The real path: symlinks and `..` resolved by the OS for the part that exists, the rest (a file
/// not written yet) appended. `None` when it cannot be judged: a `..` in the part that does not
/// exist, or a dangling symlink.
fn canonical(path: &Path) -> Option<PathBuf> {
    let mut existing = path.to_path_buf();
    let mut tail = Vec::new();
    while existing.symlink_metadata().is_err() {
        tail.push(existing.file_name()?.to_owned());
        if !existing.pop() {
            return None;
        }
    }
    let mut out = existing.canonicalize().ok()?;
    out.extend(tail.iter().rev());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_inside_a_root_pass_and_escapes_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("a.csv"), "x").unwrap();
        let access = FileAccess::new(vec![root.clone()]);
        let inside = |p: &Path| access.check("file", p.to_str().unwrap());
        assert!(inside(&root.join("a.csv")).is_ok());
        assert!(inside(&root.join("new/deeper/b.csv")).is_ok(), "not written yet is fine");
        assert!(inside(&root.join("../outside.csv")).is_err());
        assert!(inside(&root.join("new/../../outside.csv")).is_err(), "a .. past what exists is refused");
        assert!(inside(Path::new("/etc/passwd")).is_err());
        // A symlink inside the root that points out of it is judged by its target.
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
        assert!(inside(&root.join("etc/passwd")).is_err());
        assert!(inside(&root.join("etc/../a.csv")).is_err(), "resolved by the OS: /a.csv, outside");
        let e = inside(Path::new("/etc/passwd")).unwrap_err().to_string();
        assert!(e.contains("outside the directories"), "{e}");
    }
}
