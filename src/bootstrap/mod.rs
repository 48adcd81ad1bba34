//! bootstrap: scaffold a database project folder from the templates in `templates/bootstrap/`.
//! Never overwrites: a file that exists (even a dangling symlink) is left alone. Writes only under
//! the folder given: no `..`, and no symlink inside it may lead out.

mod tool;

use std::{
    io::Write,
    path::{Component, Path, PathBuf},
};

use serde::Serialize;

use crate::{config::Engine, error::ToolError};

/// One file of a scaffold: where it goes (with `{{version}}` for a migration's version) and its
/// text (with `{{name}}` for the project's name).
struct Template {
    path: &'static str,
    text: &'static str,
}

macro_rules! template {
    ($path:literal, $file:literal) => {
        Template { path: $path, text: include_str!(concat!("../../templates/bootstrap/", $file)) }
    };
}

const POSTGRES: &[Template] = &[
    template!("migrations/{{version}}_baseline.up.sql", "postgres/baseline.up.sql"),
    template!("migrations/{{version}}_baseline.down.sql", "postgres/baseline.down.sql"),
    template!("seeds/001_items.sql", "postgres/seed.sql"),
    template!("snapshots/README.md", "snapshots.md"),
    template!("tests/rls/example.toml", "postgres/rls.toml"),
    template!("data-engineer.toml", "postgres/data-engineer.toml"),
    template!("README.md", "postgres/README.md"),
];

const MYSQL: &[Template] = &[
    template!("migrations/{{version}}_baseline.up.sql", "mysql/baseline.up.sql"),
    template!("migrations/{{version}}_baseline.down.sql", "mysql/baseline.down.sql"),
    template!("seeds/001_items.sql", "mysql/seed.sql"),
    template!("snapshots/README.md", "snapshots.md"),
    template!("data-engineer.toml", "mysql/data-engineer.toml"),
    template!("README.md", "mysql/README.md"),
];

const SQLITE: &[Template] = &[
    template!("migrations/{{version}}_baseline.up.sql", "sqlite/baseline.up.sql"),
    template!("migrations/{{version}}_baseline.down.sql", "sqlite/baseline.down.sql"),
    template!("seeds/001_items.sql", "sqlite/seed.sql"),
    template!("snapshots/README.md", "snapshots.md"),
    template!("data-engineer.toml", "sqlite/data-engineer.toml"),
    template!("README.md", "sqlite/README.md"),
];

const MONGODB: &[Template] = &[
    template!("schemas/items.json", "mongodb/items.schema.json"),
    template!("schemas/items.indexes.json", "mongodb/items.indexes.json"),
    template!("seeds/items.json", "mongodb/items.seed.json"),
    template!("snapshots/README.md", "snapshots.md"),
    template!("data-engineer.toml", "mongodb/data-engineer.toml"),
    template!("README.md", "mongodb/README.md"),
];

fn templates(engine: Engine) -> &'static [Template] {
    match engine {
        Engine::Postgres => POSTGRES,
        Engine::Mysql => MYSQL,
        Engine::Sqlite => SQLITE,
        Engine::Mongodb => MONGODB,
    }
}

/// The engine a project is scaffolded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProjectEngine {
    #[serde(alias = "postgresql")]
    Postgres,
    #[serde(alias = "mariadb")]
    Mysql,
    Sqlite,
    #[serde(alias = "mongo")]
    Mongodb,
}

impl From<ProjectEngine> for Engine {
    fn from(e: ProjectEngine) -> Engine {
        match e {
            ProjectEngine::Postgres => Engine::Postgres,
            ProjectEngine::Mysql => Engine::Mysql,
            ProjectEngine::Sqlite => Engine::Sqlite,
            ProjectEngine::Mongodb => Engine::Mongodb,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FileStatus {
    Created,
    /// It existed already and was not touched.
    LeftAlone,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScaffoldFile {
    /// Relative to the project folder.
    pub path: String,
    pub status: FileStatus,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Scaffold {
    /// The project folder, absolute.
    pub dir: String,
    pub name: String,
    pub created: usize,
    pub left_alone: usize,
    pub files: Vec<ScaffoldFile>,
}

/// A project name usable as a TOML key and a database name.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.len() <= 63
}

/// The folder's own name made into a project name, or `app`.
pub fn default_name(dir: &Path) -> String {
    let base = dir.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let cleaned: String = base.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let cleaned = cleaned.trim_matches('_').to_string();
    if valid_name(&cleaned) { cleaned } else { "app".into() }
}

/// Write the scaffold for `engine` under `dir`. `version` names the baseline migration
/// (`YYYYMMDDHHMMSS`); an existing `*_baseline.up.sql` keeps its own.
pub fn scaffold(dir: &Path, engine: Engine, name: &str, version: &str) -> Result<Scaffold, ToolError> {
    if dir.as_os_str().is_empty() {
        return Err(ToolError::invalid("dir", "give the project folder"));
    }
    if dir.components().any(|c| c == Component::ParentDir) {
        return Err(ToolError::invalid("dir", "must not contain `..`; give the project folder itself"));
    }
    if !valid_name(name) {
        return Err(ToolError::invalid(
            "name",
            format!(
                "{name:?} is not a usable name: start with a letter, then letters, digits, `_` or `-` (at most 63)"
            ),
        ));
    }
    let io = |what: &str, p: &Path, e: std::io::Error| {
        ToolError::invalid("dir", format!("cannot {what} {}: {e}", p.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
    let root = dir.canonicalize().map_err(|e| io("resolve", dir, e))?;
    let version = existing_baseline(&root).unwrap_or_else(|| version.to_string());

    // Check every path before writing anything, so a refusal leaves nothing half-made.
    let planned: Vec<(String, String)> = templates(engine)
        .iter()
        .map(|t| (t.path.replace("{{version}}", &version), t.text.replace("{{name}}", name)))
        .collect();
    for (rel, _) in &planned {
        stays_inside(&root, rel)?;
    }
    // Written like every file a tool writes: through FileAccess, scoped to the project folder
    // (folders created and judged again, files created relative to the opened folder, no link
    // followed, never over an existing file).
    let access = crate::files::FileAccess::new(vec![root.clone()]);
    let mut files = Vec::new();
    for (rel, text) in planned {
        let path = root.join(&rel);
        let status = if path.symlink_metadata().is_ok() {
            FileStatus::LeftAlone
        } else {
            if let Some(parent) = path.parent() {
                access.create_dir_all("dir", parent)?;
            }
            match access.create("dir", &path, false) {
                Ok(mut f) => {
                    f.write_all(text.as_bytes()).map_err(|e| io("write", &path, e))?;
                    FileStatus::Created
                }
                // Appeared since the check: left alone like any existing file.
                Err(_) if path.symlink_metadata().is_ok() => FileStatus::LeftAlone,
                Err(e) => return Err(e),
            }
        };
        files.push(ScaffoldFile { path: rel, status });
    }
    Ok(Scaffold {
        dir: root.display().to_string(),
        name: name.to_string(),
        created: files.iter().filter(|f| f.status == FileStatus::Created).count(),
        left_alone: files.iter().filter(|f| f.status == FileStatus::LeftAlone).count(),
        files,
    })
}

/// The version of a baseline migration already in the folder: a second run must not add another.
/// Listed like every folder a tool reads (a `migrations` link leading out of `root` is not read).
fn existing_baseline(root: &Path) -> Option<String> {
    let files = crate::files::FileAccess::new(vec![root.to_path_buf()]);
    let baseline = |n: &str| n.ends_with("_baseline.up.sql");
    let entries = files.list("dir", &root.join("migrations"), baseline).ok()?;
    let mut versions: Vec<String> =
        entries.iter().filter_map(|e| e.name.strip_suffix("_baseline.up.sql").map(str::to_string)).collect();
    versions.sort();
    versions.into_iter().next()
}

/// Refuse a path whose existing parts lead outside `root` through a symlink.
fn stays_inside(root: &Path, rel: &str) -> Result<(), ToolError> {
    let mut at = PathBuf::from(root);
    for part in Path::new(rel).components() {
        at.push(part);
        let Ok(meta) = at.symlink_metadata() else { break };
        if meta.file_type().is_symlink() {
            let inside = at.canonicalize().is_ok_and(|target| target.starts_with(root));
            // A dangling link as the file itself is harmless: it is left alone, never followed.
            if !inside && at != root.join(rel) {
                return Err(ToolError::refused(
                    format!("{} is a symlink that leads outside {}", at.display(), root.display()),
                    "remove the symlink or choose another folder; bootstrap writes only inside the folder given",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("shop") && valid_name("my-shop_2"));
        assert!(!valid_name("2shop") && !valid_name("a b") && !valid_name("") && !valid_name("x\"]"));
        assert_eq!(default_name(Path::new("/tmp/My Shop")), "my_shop");
        assert_eq!(default_name(Path::new("/")), "app");
        assert_eq!(default_name(Path::new("/srv/shop/.")), "shop");
    }

    #[test]
    fn every_template_names_the_project_and_no_placeholder_is_left() {
        for engine in [Engine::Postgres, Engine::Mysql, Engine::Sqlite, Engine::Mongodb] {
            for t in templates(engine) {
                let text = t.text.replace("{{name}}", "shop");
                assert!(!text.contains("{{"), "{engine} {}: a placeholder is left", t.path);
                if t.path.ends_with(".json") {
                    serde_json::from_str::<serde_json::Value>(&text).unwrap_or_else(|e| panic!("{}: {e}", t.path));
                }
                if t.path.ends_with(".toml") {
                    toml::from_str::<toml::Table>(&text).unwrap_or_else(|e| panic!("{}: {e}", t.path));
                }
            }
            let toml = templates(engine).iter().find(|t| t.path == "data-engineer.toml").unwrap();
            let text = toml.text.replace("{{name}}", "shop");
            let cfg = crate::config::Config::from_toml(&text, "t.toml", &|_| None).unwrap();
            assert_eq!(cfg.databases[0].engine, engine, "the default URL has the engine's scheme");
            assert_eq!(cfg.databases[0].name, "shop");
        }
    }

    #[test]
    fn writes_once_and_never_outside() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("p");
        let first = scaffold(&dir, Engine::Postgres, "p", "20260101000000").unwrap();
        assert_eq!((first.created, first.left_alone), (7, 0));
        let second = scaffold(&dir, Engine::Postgres, "p", "20270101000000").unwrap();
        assert_eq!((second.created, second.left_alone), (0, 7), "{:?}", second.files);
        assert!(second.files[0].path.starts_with("migrations/20260101000000_"), "the baseline keeps its version");
        assert!(scaffold(&tmp.path().join("p/../q"), Engine::Sqlite, "q", "1").is_err());
        #[cfg(unix)]
        {
            let outside = tempfile::tempdir().unwrap();
            let evil = tmp.path().join("evil");
            std::fs::create_dir(&evil).unwrap();
            std::os::unix::fs::symlink(outside.path(), evil.join("seeds")).unwrap();
            let e = scaffold(&evil, Engine::Sqlite, "evil", "1").unwrap_err();
            assert!(e.to_string().contains("symlink"), "{e}");
            assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0, "nothing written outside");
            assert_eq!(std::fs::read_dir(&evil).unwrap().count(), 1, "nothing written at all");
        }
    }
}
