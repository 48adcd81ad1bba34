//! Prompts are Markdown files in `prompts/` with TOML front matter, embedded at build time.
//! `{{argument}}` placeholders are filled from the request; absent optional ones read `(not given)`.

use std::sync::LazyLock;

use rmcp::model::{GetPromptResult, Prompt, PromptArgument, PromptMessage, Role};
use serde::Deserialize;

/// Every prompt file, embedded. A test checks this list matches the folder.
pub const FILES: &[(&str, &str)] = &[
    ("data-engineer.md", include_str!("../prompts/data-engineer.md")),
    ("create-schema.md", include_str!("../prompts/create-schema.md")),
    ("model-domain.md", include_str!("../prompts/model-domain.md")),
    ("create-rls-policies.md", include_str!("../prompts/create-rls-policies.md")),
    ("design-indexes.md", include_str!("../prompts/design-indexes.md")),
    ("create-migration-plan.md", include_str!("../prompts/create-migration-plan.md")),
    ("research.md", include_str!("../prompts/research.md")),
    ("execute-checklist.md", include_str!("../prompts/execute-checklist.md")),
    ("guide.md", include_str!("../prompts/guide.md")),
];

const ABSENT: &str = "(not given)";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub arguments: Vec<ArgumentSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgumentSpec {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug)]
pub struct PromptFile {
    pub front: FrontMatter,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("{file}: the file must start with a +++ line, then TOML front matter, then a closing +++ line")]
    NoFrontMatter { file: String },
    #[error("{file}: invalid front matter: {message}")]
    FrontMatter { file: String, message: String },
}

pub fn parse(file: &str, text: &str) -> Result<PromptFile, PromptError> {
    let no_front = || PromptError::NoFrontMatter { file: file.into() };
    let rest = text.strip_prefix("+++\n").ok_or_else(no_front)?;
    let (front, body) = rest.split_once("\n+++\n").ok_or_else(no_front)?;
    let front: FrontMatter = toml::from_str(front)
        .map_err(|e| PromptError::FrontMatter { file: file.into(), message: e.message().into() })?;
    Ok(PromptFile { front, body: body.trim().to_string() })
}

/// Parsed once, on first use: startup stays free of work nobody asked for yet.
static PROMPTS: LazyLock<Vec<PromptFile>> = LazyLock::new(|| {
    FILES.iter().map(|(file, text)| parse(file, text).expect("prompt files are checked by tests")).collect()
});

pub fn list() -> Vec<Prompt> {
    PROMPTS
        .iter()
        .map(|p| {
            let arguments = p
                .front
                .arguments
                .iter()
                .map(|a| PromptArgument::new(&a.name).with_description(&a.description).with_required(a.required))
                .collect();
            Prompt::new(&p.front.name, Some(&p.front.description), Some(arguments))
        })
        .collect()
}

pub fn find(name: &str) -> Option<&'static PromptFile> {
    PROMPTS.iter().find(|p| p.front.name == name)
}

#[derive(Debug, thiserror::Error)]
pub enum GetError {
    #[error("unknown prompt {0:?}")]
    Unknown(String),
    #[error("prompt {prompt} needs the argument {argument}")]
    Missing { prompt: String, argument: String },
}

/// Fill a prompt's placeholders with the given arguments.
pub fn get(name: &str, args: &serde_json::Map<String, serde_json::Value>) -> Result<GetPromptResult, GetError> {
    let prompt = find(name).ok_or_else(|| GetError::Unknown(name.into()))?;
    let mut text = prompt.body.clone();
    for spec in &prompt.front.arguments {
        let value = match args.get(&spec.name) {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(v) if !v.is_null() && !v.is_string() => v.to_string(),
            _ if spec.required => {
                return Err(GetError::Missing { prompt: name.into(), argument: spec.name.clone() });
            }
            _ => ABSENT.to_string(),
        };
        text = text.replace(&format!("{{{{{}}}}}", spec.name), &value);
    }
    Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
        .with_description(&prompt.front.description))
}

/// The persona in brief, sent as the server's instructions to clients that never open prompts.
pub const INSTRUCTIONS: &str = include_str!("instructions.md");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_the_folder_is_embedded_parses_and_uses_its_arguments() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/prompts");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".md") && n != "README.md")
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = FILES.iter().map(|(f, _)| f.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded, "prompts/ and prompts::FILES differ");
        for (file, text) in FILES {
            let p = parse(file, text).unwrap();
            assert_eq!(format!("{}.md", p.front.name), *file);
            for a in &p.front.arguments {
                assert!(p.body.contains(&format!("{{{{{}}}}}", a.name)), "{file} never uses {{{{{}}}}}", a.name);
            }
            let filled =
                get(&p.front.name, &p.front.arguments.iter().map(|a| (a.name.clone(), "X".into())).collect()).unwrap();
            let json = serde_json::to_string(&filled).unwrap();
            assert!(!json.contains("{{"), "{file} has a placeholder that is not an argument");
        }
    }

    #[test]
    fn missing_required_argument_is_an_error_and_optional_reads_not_given() {
        assert!(matches!(get("create-schema", &Default::default()), Err(GetError::Missing { .. })));
        let args = serde_json::json!({"domain": "billing"}).as_object().unwrap().clone();
        let r = serde_json::to_string(&get("create-schema", &args).unwrap()).unwrap();
        assert!(r.contains("billing") && r.contains(ABSENT));
    }

    #[test]
    fn instructions_stay_brief() {
        let words = INSTRUCTIONS.split_whitespace().count();
        assert!((120..=450).contains(&words), "instructions have {words} words");
    }
}
