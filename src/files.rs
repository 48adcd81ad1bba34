//! Which files the server may read and write. File-taking tools (seed, load-csv, verify-order,
//! bootstrap, migrations, snapshots) resolve every path here first: a model cannot point them at
//! `~/.ssh` or `/etc` unless the user allowed that directory.
//!
//! Checking a path is not enough on its own: a folder may hold links leading out, and a path may
//! change between the check and the open. So every file a tool reads is opened here
//! ([`FileAccess::open`]: no link followed at the last step, then the opened file compared with the
//! checked one), every folder is listed here ([`FileAccess::list`]: each entry and each link's
//! target judged), and every file written is created here ([`FileAccess::create`]: relative to the
//! checked folder, never through a link, never over an existing file unless asked).

use std::{
    fs::File,
    io::Read,
    os::{fd::OwnedFd, unix::fs::MetadataExt},
    path::{Component, Path, PathBuf},
};

use rustix::{
    fs::{AtFlags, FileType, Mode, OFlags},
    io::Errno,
};

use crate::error::ToolError;

#[derive(Debug, Clone)]
pub struct FileAccess {
    /// Allowed directories, absolute; a path is allowed when it is one of them or inside one.
    roots: Vec<PathBuf>,
}

/// One file of a folder, checked by [`FileAccess::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name.
    pub name: String,
    /// The folder's resolved path joined with the name (a link keeps its own name).
    pub path: PathBuf,
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
        self.resolve(argument, Path::new(trimmed))
    }

    fn resolve(&self, argument: &str, path: &Path) -> Result<PathBuf, ToolError> {
        let wanted = absolute(path);
        let Some(resolved) = canonical(&wanted) else {
            return Err(ToolError::invalid(
                argument,
                format!("{} cannot be resolved (a dangling link, or .. past what exists)", wanted.display()),
            ));
        };
        if self.inside(&resolved) {
            return Ok(resolved);
        }
        Err(self.outside(format!("{} is outside", resolved.display())))
    }

    fn inside(&self, resolved: &Path) -> bool {
        self.roots.iter().any(|root| resolved.starts_with(root))
    }

    /// `what` ("X is outside", "X links to Y, outside") the allowed directories.
    fn outside(&self, what: String) -> ToolError {
        let roots = self.roots.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", ");
        ToolError::refused(
            format!("{what} the directories this server may use ({roots})"),
            "use a path inside one of them, or ask the user to allow the directory (start the server with \
             --allow-dir DIR, or list it under [files] roots in the config)",
        )
    }

    /// Open a file to read. The path is resolved and checked, opened without following a link at
    /// its last step and without blocking (a named pipe would wait for a writer forever), and the
    /// opened file must be the regular file the check saw: a link swapped in between is refused.
    pub fn open(&self, argument: &str, path: &Path) -> Result<File, ToolError> {
        let resolved = self.resolve(argument, path)?;
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = rustix::fs::open(&resolved, flags, Mode::empty()).map_err(|e| match e {
            Errno::NOENT => ToolError::invalid(argument, format!("cannot read {}: no such file", path.display())),
            Errno::LOOP => changed(path),
            e => ToolError::invalid(argument, format!("cannot read {}: {e}", path.display())),
        })?;
        let stat =
            rustix::fs::fstat(&fd).map_err(|e| ToolError::invalid(argument, format!("{}: {e}", path.display())))?;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => {}
            FileType::Directory => {
                return Err(ToolError::invalid(argument, format!("{} is a folder; give a file", path.display())));
            }
            _ => return Err(not_regular(path)),
        }
        self.still_checked(argument, path, &resolved, &stat)?;
        Ok(File::from(fd))
    }

    /// A file's text, opened by [`FileAccess::open`].
    pub fn read_to_string(&self, argument: &str, path: &Path) -> Result<String, ToolError> {
        let mut text = String::new();
        self.open(argument, path)?
            .read_to_string(&mut text)
            .map_err(|e| ToolError::invalid(argument, format!("cannot read {} as UTF-8 text: {e}", path.display())))?;
        Ok(text)
    }

    /// The one way tools read a folder: its files whose names `wanted` keeps, by name. Every kept
    /// entry is judged on its own: a link is resolved and must lead inside the allowed directories
    /// to a file (a link to a folder is left out, like a folder); a dangling link, a pipe, socket
    /// or device is refused. Names `wanted` drops are never looked at.
    pub fn list(&self, argument: &str, dir: &Path, wanted: impl Fn(&str) -> bool) -> Result<Vec<Entry>, ToolError> {
        let (resolved, found) = self.entries(argument, dir, wanted)?;
        let mut entries = Vec::new();
        for (name, kind) in found {
            let shown = dir.join(&name);
            match kind {
                FileType::RegularFile => {}
                FileType::Directory => continue,
                FileType::Symlink => {
                    let Some(target) = canonical(&resolved.join(&name)) else {
                        return Err(ToolError::refused(
                            format!("{} is a link that leads nowhere (its target does not exist)", shown.display()),
                            "remove the link, or replace it with the file itself",
                        ));
                    };
                    if !self.inside(&target) {
                        let what = format!("{} links to {}, outside", shown.display(), target.display());
                        return Err(match self.outside(what) {
                            ToolError::Refused { reason, .. } => ToolError::refused(
                                reason,
                                "replace the link with a copy of the file or remove it, or ask the user to allow \
                                 the directory it leads to (--allow-dir DIR, or [files] roots in the config)",
                            ),
                            other => other,
                        });
                    }
                    match std::fs::metadata(&target) {
                        Ok(m) if m.is_dir() => continue,
                        Ok(m) if m.is_file() => {}
                        _ => return Err(not_regular(&shown)),
                    }
                }
                _ => return Err(not_regular(&shown)),
            }
            entries.push(Entry { path: resolved.join(&name), name });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// The real folders inside `dir` whose names `wanted` keeps (a link to a folder is not one),
    /// read from the opened, checked folder like [`FileAccess::list`] reads its files.
    pub fn subfolders(
        &self,
        argument: &str,
        dir: &Path,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Vec<Entry>, ToolError> {
        let (resolved, found) = self.entries(argument, dir, wanted)?;
        let mut folders: Vec<Entry> = found
            .into_iter()
            .filter(|(_, kind)| *kind == FileType::Directory)
            .map(|(name, _)| Entry { path: resolved.join(&name), name })
            .collect();
        folders.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(folders)
    }

    /// The names in the opened, checked folder that `wanted` keeps, each with its own type (a
    /// link is a link here, not followed); the folder's resolved path first.
    fn entries(
        &self,
        argument: &str,
        dir: &Path,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<(PathBuf, Vec<(String, FileType)>), ToolError> {
        let (resolved, fd) = self.open_dir(argument, dir)?;
        let cannot = |e: Errno| ToolError::invalid(argument, format!("cannot list {}: {e}", dir.display()));
        let mut found = Vec::new();
        for item in rustix::fs::Dir::read_from(&fd).map_err(cannot)? {
            let item = item.map_err(cannot)?;
            let name = item.file_name().to_string_lossy().into_owned();
            if name == "." || name == ".." || !wanted(&name) {
                continue;
            }
            let stat = rustix::fs::statat(&fd, item.file_name(), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| ToolError::invalid(argument, format!("{}: {e}", dir.join(&name).display())))?;
            found.push((name, FileType::from_raw_mode(stat.st_mode)));
        }
        Ok((resolved, found))
    }

    /// Create a file to write, in a folder that exists. The folder is resolved and checked; the file
    /// is created relative to the opened folder, never through a link (even one leading inside),
    /// and never over an existing file unless `overwrite` (then not over one with other hard
    /// links either: writing it would change them too).
    pub fn create(&self, argument: &str, path: &Path, overwrite: bool) -> Result<File, ToolError> {
        let (name, parent) = split_file(argument, path)?;
        let (_, dir) = self.open_dir(argument, &parent)?;
        let mut flags = OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        if !overwrite {
            flags |= OFlags::EXCL;
        }
        let fd = match rustix::fs::openat(&dir, &name, flags, Mode::from_raw_mode(0o666)) {
            Ok(fd) => fd,
            // With EXCL a link is "existing" too, dangling or not.
            Err(Errno::EXIST) => return Err(self.existing(argument, &dir, &name, path)),
            Err(Errno::LOOP) => return Err(through_link(path)),
            Err(Errno::ISDIR) => {
                return Err(ToolError::invalid(argument, format!("{} is a folder; give a file name", path.display())));
            }
            Err(e) => return Err(ToolError::invalid(argument, format!("cannot create {}: {e}", path.display()))),
        };
        if overwrite {
            let stat =
                rustix::fs::fstat(&fd).map_err(|e| ToolError::invalid(argument, format!("{}: {e}", path.display())))?;
            if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
                return Err(not_regular(path));
            }
            if stat.st_nlink > 1 {
                return Err(ToolError::refused(
                    format!("{} has other hard links: writing it would change those files too", path.display()),
                    "remove it first, or choose another file name",
                ));
            }
            rustix::fs::ftruncate(&fd, 0)
                .map_err(|e| ToolError::invalid(argument, format!("cannot empty {}: {e}", path.display())))?;
        }
        Ok(File::from(fd))
    }

    /// Whether [`FileAccess::create`] would accept `path` now, without creating anything: for a
    /// tool that does its work first and writes the file last, so a refusal comes before the work.
    pub fn creatable(&self, argument: &str, path: &Path, overwrite: bool) -> Result<(), ToolError> {
        let (name, parent) = split_file(argument, path)?;
        let (_, dir) = self.open_dir(argument, &parent)?;
        match rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => Ok(()),
            Ok(stat) if overwrite && FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile => Ok(()),
            Ok(_) => Err(self.existing(argument, &dir, &name, path)),
            Err(e) => Err(ToolError::invalid(argument, format!("{}: {e}", path.display()))),
        }
    }

    /// Create a folder (and its parents) inside the allowed directories; returns it resolved.
    pub fn create_dir_all(&self, argument: &str, dir: &Path) -> Result<PathBuf, ToolError> {
        let resolved = self.resolve(argument, dir)?;
        std::fs::create_dir_all(&resolved)
            .map_err(|e| ToolError::invalid(argument, format!("cannot create {}: {e}", dir.display())))?;
        // Judged again: a part created meanwhile by someone else may be a link.
        self.open_dir(argument, dir).map(|(resolved, _)| resolved)
    }

    /// Open a folder, checked like [`FileAccess::open`] checks a file.
    fn open_dir(&self, argument: &str, dir: &Path) -> Result<(PathBuf, OwnedFd), ToolError> {
        let resolved = self.resolve(argument, dir)?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::open(&resolved, flags, Mode::empty()).map_err(|e| match e {
            Errno::NOENT => ToolError::invalid(argument, format!("folder {} does not exist", dir.display())),
            Errno::NOTDIR => ToolError::invalid(argument, format!("{} is not a folder", dir.display())),
            Errno::LOOP => changed(dir),
            e => ToolError::invalid(argument, format!("cannot open {}: {e}", dir.display())),
        })?;
        let stat =
            rustix::fs::fstat(&fd).map_err(|e| ToolError::invalid(argument, format!("{}: {e}", dir.display())))?;
        self.still_checked(argument, dir, &resolved, &stat)?;
        Ok((resolved, fd))
    }

    /// The opened file is the one at the checked path: resolving `path` again gives the same place
    /// and that place holds the same file (device and inode). Otherwise a part of the path was
    /// swapped (for a link) between the check and the open.
    fn still_checked(
        &self,
        argument: &str,
        path: &Path,
        resolved: &Path,
        opened: &rustix::fs::Stat,
    ) -> Result<(), ToolError> {
        // The stat fields' integer types differ by platform (u64 on Linux, i32 st_dev on macOS).
        #[allow(clippy::unnecessary_cast)]
        let (dev, ino) = (opened.st_dev as u64, opened.st_ino as u64);
        let again = self.resolve(argument, path)?;
        let same = again == resolved && std::fs::metadata(&again).is_ok_and(|m| m.dev() == dev && m.ino() == ino);
        if same { Ok(()) } else { Err(changed(path)) }
    }

    /// The refusal for a name that exists where a file is to be created.
    fn existing(&self, argument: &str, dir: &OwnedFd, name: &std::ffi::OsStr, path: &Path) -> ToolError {
        match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map(|s| FileType::from_raw_mode(s.st_mode)) {
            Ok(FileType::Symlink) => through_link(path),
            Ok(FileType::Directory) => {
                ToolError::invalid(argument, format!("{} is a folder; give a file name", path.display()))
            }
            _ => ToolError::refused(
                format!("{} already exists; nothing was written", path.display()),
                "pass overwrite: true to replace it, or choose another file name",
            ),
        }
    }
}

/// The file name and its folder; the name must be a plain name (not `..`, not a folder path).
fn split_file(argument: &str, path: &Path) -> Result<(std::ffi::OsString, PathBuf), ToolError> {
    let path = absolute(path);
    match (path.components().next_back(), path.parent()) {
        (Some(Component::Normal(name)), Some(parent)) => Ok((name.to_owned(), parent.to_path_buf())),
        _ => Err(ToolError::invalid(argument, format!("{} does not name a file", path.display()))),
    }
}

fn changed(path: &Path) -> ToolError {
    ToolError::refused(
        format!("{} changed while it was opened (a part of it became a link)", path.display()),
        "check what is replacing files in that folder, then call again",
    )
}

fn through_link(path: &Path) -> ToolError {
    ToolError::refused(
        format!("{} is a symlink; files are never written through one", path.display()),
        "choose another file name, or remove the link",
    )
}

fn not_regular(path: &Path) -> ToolError {
    ToolError::refused(
        format!("{} is not a regular file (a pipe, socket or device)", path.display()),
        "give a regular file, or remove it from the folder",
    )
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
    use std::io::Write;

    use super::*;

    fn setup() -> (tempfile::TempDir, PathBuf, tempfile::TempDir, FileAccess) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir(&root).unwrap();
        let outside = tempfile::tempdir().unwrap();
        let access = FileAccess::new(vec![root.clone()]);
        (dir, root, outside, access)
    }

    fn kind(e: ToolError) -> String {
        format!("{}: {e} / {}", e.kind(), e.hint().unwrap_or_default())
    }

    #[test]
    fn paths_inside_a_root_pass_and_escapes_do_not() {
        let (_dir, root, _outside, access) = setup();
        std::fs::write(root.join("a.csv"), "x").unwrap();
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

    #[test]
    fn open_reads_regular_files_inside_only() {
        let (_dir, root, outside, access) = setup();
        std::fs::write(root.join("a.sql"), "select 1").unwrap();
        std::fs::write(outside.path().join("secret"), "s3cret").unwrap();
        assert_eq!(access.read_to_string("path", &root.join("a.sql")).unwrap(), "select 1");
        // A link inside leading inside is read; one leading out is not.
        std::os::unix::fs::symlink(root.join("a.sql"), root.join("b.sql")).unwrap();
        assert_eq!(access.read_to_string("path", &root.join("b.sql")).unwrap(), "select 1");
        std::os::unix::fs::symlink(outside.path().join("secret"), root.join("c.sql")).unwrap();
        let e = kind(access.open("path", &root.join("c.sql")).unwrap_err());
        assert!(e.contains("outside the directories"), "{e}");
        // A named pipe is refused at once, not waited on.
        let fifo = root.join("pipe.csv");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = kind(access.open("path", &fifo).unwrap_err());
        assert!(e.contains("not a regular file"), "{e}");
        let e = kind(access.open("path", &root).unwrap_err());
        assert!(e.contains("is a folder"), "{e}");
    }

    #[test]
    fn list_judges_every_entry_it_keeps() {
        let (_dir, root, outside, access) = setup();
        let sql = |n: &str| n.ends_with(".sql");
        std::fs::write(root.join("2_b.sql"), "b").unwrap();
        std::fs::write(root.join("1_a.sql"), "a").unwrap();
        std::fs::write(root.join("notes.txt"), "x").unwrap();
        std::fs::create_dir(root.join("sub.sql")).unwrap();
        std::os::unix::fs::symlink(root.join("2_b.sql"), root.join("3_c.sql")).unwrap();
        // Entries the caller does not want are never judged.
        std::os::unix::fs::symlink(outside.path(), root.join("elsewhere")).unwrap();
        let names: Vec<String> = access.list("folder", &root, sql).unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["1_a.sql", "2_b.sql", "3_c.sql"]);

        std::fs::write(outside.path().join("x.sql"), "secret").unwrap();
        std::os::unix::fs::symlink(outside.path().join("x.sql"), root.join("4_d.sql")).unwrap();
        let e = kind(access.list("folder", &root, sql).unwrap_err());
        assert!(e.starts_with("refused") && e.contains("4_d.sql links to") && e.contains("outside"), "{e}");
        std::fs::remove_file(root.join("4_d.sql")).unwrap();
        // A linked folder leading out, kept by name, is refused too.
        std::os::unix::fs::symlink(outside.path(), root.join("5_e.sql")).unwrap();
        assert!(kind(access.list("folder", &root, sql).unwrap_err()).contains("5_e.sql links to"));
        std::fs::remove_file(root.join("5_e.sql")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("nothing"), root.join("6_f.sql")).unwrap();
        assert!(kind(access.list("folder", &root, sql).unwrap_err()).contains("leads nowhere"));
        std::fs::remove_file(root.join("6_f.sql")).unwrap();
        // The folder itself must be inside.
        assert!(kind(access.list("folder", outside.path(), sql).unwrap_err()).contains("outside"));
        assert!(kind(access.list("folder", &root.join("elsewhere"), sql).unwrap_err()).contains("outside"));
    }

    #[test]
    fn create_never_follows_a_link_nor_overwrites_unasked() {
        let (_dir, root, outside, access) = setup();
        let new = root.join("out.json");
        access.create("file", &new, false).unwrap().write_all(b"one").unwrap();
        let e = kind(access.create("file", &new, false).unwrap_err());
        assert!(e.contains("already exists") && e.contains("overwrite: true"), "{e}");
        assert!(access.creatable("file", &new, false).is_err() && access.creatable("file", &new, true).is_ok());
        access.create("file", &new, true).unwrap().write_all(b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&new).unwrap(), "two", "replaced, not appended to");

        // A dangling link (planted where a file will be written) is never followed.
        let planted = root.join("planted.json");
        std::os::unix::fs::symlink(outside.path().join("created.json"), &planted).unwrap();
        for overwrite in [false, true] {
            let e = kind(access.create("file", &planted, overwrite).unwrap_err());
            assert!(e.contains("symlink"), "{e}");
            assert!(access.creatable("file", &planted, overwrite).is_err());
        }
        assert!(!outside.path().join("created.json").exists());
        // Nor is a link to a file inside.
        std::os::unix::fs::symlink(&new, root.join("link.json")).unwrap();
        assert!(kind(access.create("file", &root.join("link.json"), true).unwrap_err()).contains("symlink"));
        assert_eq!(std::fs::read_to_string(&new).unwrap(), "two");
        // A hard link would carry the write elsewhere.
        std::fs::hard_link(&new, root.join("hard.json")).unwrap();
        assert!(kind(access.create("file", &root.join("hard.json"), true).unwrap_err()).contains("hard links"));
        assert_eq!(std::fs::read_to_string(&new).unwrap(), "two");
        // Folders: outside, missing, or a link out.
        assert!(kind(access.create("file", &outside.path().join("x"), false).unwrap_err()).contains("outside"));
        assert!(kind(access.create("file", &root.join("missing/x"), false).unwrap_err()).contains("does not exist"));
        std::os::unix::fs::symlink(outside.path(), root.join("away")).unwrap();
        assert!(kind(access.create("file", &root.join("away/x"), false).unwrap_err()).contains("outside"));
        assert!(kind(access.create("file", &root.join(".."), false).unwrap_err()).contains("does not name a file"));
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0, "nothing was written outside");
        // create_dir_all stays inside too.
        assert!(access.create_dir_all("folder", &root.join("a/b")).is_ok());
        assert!(access.create_dir_all("folder", &root.join("away/c")).is_err());
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
