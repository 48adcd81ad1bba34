//! Row level security tools' entry points: PostgreSQL does the work; other engines explain
//! their equivalent.

use super::{Failure, postgres};
use crate::engine::{
    Database,
    session::{Access, Session},
};
use crate::{
    config::{Engine, Mode},
    error::ToolError,
    rls::{PolicyPlan, PolicyRequest, UserReport, UserTest},
};

fn rls_failure(db: &Database, f: Failure) -> ToolError {
    match f {
        Failure::Sql(e) => db.db_error(e, db.config.statement_timeout_ms),
        Failure::Tool(e) => e,
    }
}

/// What this engine offers instead of row level security.
fn without_row_security(db: &Database, what: &str) -> ToolError {
    let hint = match db.config.engine {
        Engine::Mysql => {
            "MySQL/MariaDB have no row level security: expose a view per role that filters on the owner column \
             (WHERE user_id = <session variable or CURRENT_USER()>), GRANT the role that view only (no grant on the \
             table), and use WITH CHECK OPTION on updatable views"
        }
        Engine::Sqlite => {
            "SQLite has no users or row level security: give each user or tenant its own database file, or enforce \
             the owner filter in the application's data layer"
        }
        Engine::Mongodb => {
            "MongoDB has no row level security: create a role per tenant or user whose privileges cover a view \
             (a read-only view with a $match on the owner field), or enforce the filter in the application; \
             Atlas App Services rules add per-document filters"
        }
        Engine::Postgres => "",
    };
    ToolError::Unsupported { what: what.into(), engine: db.config.engine, hint: hint.into() }
}

/// A session that tries changes and always rolls back (a catalog read on a read-only
/// database, where nothing is tried).
async fn rolled_back_session(db: &Database, timeout_ms: u64) -> Result<Session<'_>, ToolError> {
    let access = if db.config.mode == Mode::ReadWrite { Access::Trial } else { Access::Catalog };
    db.session(access, timeout_ms).await
}

/// The policies policy-apply would create, from a transaction that is rolled back.
pub async fn plan_policies(db: &Database, req: &PolicyRequest) -> Result<PolicyPlan, ToolError> {
    if !db.capabilities().row_level_security {
        return Err(without_row_security(db, "policy-apply"));
    }
    let mut session = rolled_back_session(db, db.config.statement_timeout_ms).await?;
    let plan = postgres::plan_policies(&mut session, req, db.config.mode).await;
    session.rollback().await?;
    plan.map_err(|f| rls_failure(db, f))
}

/// Apply the plan in one transaction, if it is still the one confirmed.
pub async fn apply_policies(db: &Database, req: &PolicyRequest, confirmed: &[String]) -> Result<PolicyPlan, ToolError> {
    if !db.capabilities().row_level_security {
        return Err(without_row_security(db, "policy-apply"));
    }
    let mut session = db.session(Access::Writer, db.config.statement_timeout_ms).await?;
    match postgres::apply_policies(&mut session, req, confirmed).await {
        Ok(plan) => {
            session.commit().await?;
            Ok(plan)
        }
        Err(f) => {
            let _ = session.rollback().await;
            Err(rls_failure(db, f))
        }
    }
}

/// One user's access matrix, measured in a transaction that is always rolled back.
pub async fn test_as_user(db: &Database, test: &UserTest) -> Result<UserReport, ToolError> {
    if !db.capabilities().row_level_security {
        return Err(without_row_security(db, "test-as-user"));
    }
    let mut session = rolled_back_session(db, test.timeout_ms).await?;
    let report = postgres::test_as_user(&mut session, test, db.config.mode).await;
    session.rollback().await?;
    report.map_err(|f| rls_failure(db, f))
}
