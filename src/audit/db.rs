//! security-audit's entry points on a database.

use crate::{
    config::Engine,
    engine::{Database, session::Access},
    error::ToolError,
};

/// Text columns named like secrets whose sampled values are not hashes.
pub async fn plaintext_secrets(db: &Database) -> Result<Option<Vec<crate::audit::AuditFinding>>, ToolError> {
    if db.config.engine != Engine::Postgres {
        return Ok(None);
    }
    let mut session = db.session(Access::Catalog, db.config.statement_timeout_ms).await?;
    let found = super::postgres::plaintext_secrets(&mut session).await;
    session.close();
    found.map(Some)
}

/// Run catalog audit rules; `None` where the engine has no rules yet.
pub async fn audit(
    db: &Database,
    rules: &[&crate::audit::Rule],
) -> Result<Option<Vec<crate::audit::AuditFinding>>, ToolError> {
    if !matches!(db.config.engine, Engine::Postgres | Engine::Mysql) {
        return Ok(None);
    }
    let mut session = db.session(Access::Catalog, db.config.statement_timeout_ms).await?;
    let found = match db.config.engine {
        Engine::Postgres => super::postgres::audit(&mut session, rules).await,
        _ => super::mysql::audit(&mut session, rules).await,
    };
    session.close();
    found.map(Some)
}

/// Run the document-database audit rules `wanted` selects: how many ran and what they found;
/// `None` on SQL engines (their rules are catalog SQL, see [`Database::audit`]).
pub async fn audit_documents(
    db: &Database,
    wanted: impl Fn(crate::audit::Scope) -> bool,
) -> Result<Option<(usize, Vec<crate::audit::AuditFinding>)>, ToolError> {
    if db.engine() != Engine::Mongodb {
        return Ok(None);
    }
    let facts = super::mongodb::facts::audit_facts(db.mongo().await?).await?;
    Ok(Some(crate::audit::mongodb::run(&facts, wanted)))
}

/// The catalog audit rules of this engine.
pub fn audit_rules(db: &Database) -> &'static [crate::audit::Rule] {
    match db.config.engine {
        Engine::Postgres => &crate::audit::POSTGRES_RULES,
        Engine::Mysql => &crate::audit::MYSQL_RULES,
        _ => &[],
    }
}
