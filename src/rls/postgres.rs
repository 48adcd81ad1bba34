//! Row level security on PostgreSQL: planning and applying owner or role policies
//! (policy-apply), and measuring one user's access inside a rolled-back transaction
//! (test-as-user).

use sqlx::{AssertSqlSafe, Executor, PgConnection, Row};

use super::Failure;
use crate::engine::double_quote as ident;
use crate::engine::session::Session;
use crate::{
    config::Mode,
    error::ToolError,
    rls::{
        Access, Cell, Identity, MatrixRow, OPERATIONS, PlannedPolicy, PolicyPlan, PolicyRequest, PolicyStatus,
        Strategy, USER_TABLES, UserReport, UserTest, expected, judge,
    },
};

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

struct Table {
    schema: String,
    name: String,
    rls: bool,
    forced: bool,
    owner: String,
}

impl Table {
    fn qualified(&self) -> String {
        format!("{}.{}", ident(&self.schema), ident(&self.name))
    }
    fn display(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

#[derive(Clone)]
struct ColumnInfo {
    name: String,
    type_name: String,
    not_null: bool,
    has_default: bool,
    generated: bool,
    unique: bool,
    references: Option<String>,
}

async fn table(conn: &mut PgConnection, name: &str) -> Result<Table, Failure> {
    let row = sqlx::query(include_str!("postgres/rls_table.sql")).bind(name).fetch_optional(&mut *conn).await?;
    let row = row.ok_or_else(|| {
        Failure::Tool(ToolError::invalid("table", format!("no table {name:?} (list-objects shows the tables)")))
    })?;
    Ok(Table {
        schema: row.try_get(0)?,
        name: row.try_get(1)?,
        rls: row.try_get(2)?,
        forced: row.try_get(3)?,
        owner: row.try_get(4)?,
    })
}

async fn columns(conn: &mut PgConnection, t: &Table) -> Result<Vec<ColumnInfo>, Failure> {
    let rows = sqlx::query(include_str!("postgres/rls_columns.sql")).bind(t.qualified()).fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| {
            Ok(ColumnInfo {
                name: r.try_get(0)?,
                type_name: r.try_get(1)?,
                not_null: r.try_get(2)?,
                has_default: r.try_get(3)?,
                generated: r.try_get(4)?,
                unique: r.try_get(5)?,
                references: r.try_get(6)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Failure::from)
}

/// The owner column: the one asked for, else a conventional name, else a foreign key to a users
/// table.
fn owner_column<'a>(
    cols: &'a [ColumnInfo],
    asked: Option<&str>,
    table: &str,
) -> Result<(&'a ColumnInfo, String), ToolError> {
    if let Some(asked) = asked {
        return cols
            .iter()
            .find(|c| c.name == asked)
            .map(|c| (c, "given as owner_column".to_string()))
            .ok_or_else(|| ToolError::invalid("owner_column", format!("{table} has no column {asked:?}")));
    }
    for name in crate::rls::OWNER_COLUMNS {
        if let Some(c) = cols.iter().find(|c| c.name == *name) {
            return Ok((c, format!("named {name}")));
        }
    }
    if let Some(c) = cols.iter().find(|c| c.references.as_deref().is_some_and(|r| USER_TABLES.contains(&r))) {
        return Ok((c, format!("foreign key to {}", c.references.as_deref().unwrap_or_default())));
    }
    Err(ToolError::invalid(
        "owner_column",
        format!(
            "{table} has no column that says whose row it is (looked for {} or a foreign key to a users table); \
             pass owner_column",
            crate::rls::OWNER_COLUMNS.join(", ")
        ),
    ))
}

struct IdentityFacts {
    supabase: bool,
    authenticated_role: bool,
    setting_configured: bool,
}

async fn identity_facts(conn: &mut PgConnection, setting: &str) -> Result<IdentityFacts, Failure> {
    let r = sqlx::query(include_str!("postgres/rls_identity.sql")).bind(setting).fetch_one(&mut *conn).await?;
    Ok(IdentityFacts { supabase: r.try_get(0)?, authenticated_role: r.try_get(1)?, setting_configured: r.try_get(2)? })
}

/// `column = (SELECT identity)`: wrapped in a sub-select so it is evaluated once per statement.
fn identity(facts: &IdentityFacts, setting: &str, column: &ColumnInfo) -> Identity {
    if facts.supabase {
        let expression = if column.type_name == "uuid" {
            "(SELECT auth.uid())".to_string()
        } else {
            format!("(SELECT auth.uid()::text::{})", column.type_name)
        };
        return Identity {
            source: "supabase".into(),
            expression,
            how_to_set: "Supabase sets auth.uid() from the request's JWT (its sub claim)".into(),
        };
    }
    Identity {
        source: "setting".into(),
        // current_setting is '' (not NULL) once a transaction-local value has gone, hence NULLIF.
        expression: format!("(SELECT NULLIF(current_setting({}, true), '')::{})", literal(setting), column.type_name),
        how_to_set: format!(
            "the application runs SELECT set_config({}, '<user id>', true) at the start of each transaction",
            literal(setting)
        ),
    }
}

/// A policy the plan wants: name, command, roles and expressions.
struct Wanted {
    name: String,
    command: &'static str,
    roles: String,
    using: Option<String>,
    check: Option<String>,
}

impl Wanted {
    fn create(&self, table: &str) -> String {
        let mut sql = format!("CREATE POLICY {} ON {table} FOR {} TO {}", ident(&self.name), self.command, self.roles);
        if let Some(u) = &self.using {
            sql.push_str(&format!(" USING ({u})"));
        }
        if let Some(c) = &self.check {
            sql.push_str(&format!(" WITH CHECK ({c})"));
        }
        sql
    }
}

fn owner_policies(prefix: &str, roles: &str, own: &str, commands: &[&'static str]) -> Vec<Wanted> {
    commands
        .iter()
        .map(|&command| {
            let (using, check) = match command {
                "SELECT" | "DELETE" => (Some(own.to_string()), None),
                "INSERT" => (None, Some(own.to_string())),
                _ => (Some(own.to_string()), Some(own.to_string())),
            };
            Wanted { name: format!("{prefix}_{}", command.to_lowercase()), command, roles: roles.into(), using, check }
        })
        .collect()
}

const WRITES: [&str; 3] = ["INSERT", "UPDATE", "DELETE"];

fn everything(prefix: &str, roles: &str, command: &'static str) -> Wanted {
    let using = (command != "INSERT").then(|| "true".to_string());
    let check = matches!(command, "INSERT" | "UPDATE").then(|| "true".to_string());
    Wanted { name: format!("{prefix}_{}", command.to_lowercase()), command, roles: roles.into(), using, check }
}

/// Plan inside an open transaction. With `can_write`, existing policies of the same name are
/// compared exactly by creating the planned one under a savepoint and reading it back.
async fn plan_on(conn: &mut PgConnection, req: &PolicyRequest, can_write: bool) -> Result<PolicyPlan, Failure> {
    let t = table(conn, &req.table).await?;
    let qualified = t.qualified();
    let cols = columns(conn, &t).await?;
    let (owner, owner_reason) = owner_column(&cols, req.owner_column.as_deref(), &t.display())?;
    let facts = identity_facts(conn, &req.identity_setting).await?;
    let id = identity(&facts, &req.identity_setting, owner);
    let own = format!("{} = {}", ident(&owner.name), id.expression);
    let mut warnings = Vec::new();
    if !facts.supabase && !facts.setting_configured {
        warnings.push(format!(
            "nothing sets {} yet: until {}, the policies compare with NULL and every row is hidden",
            req.identity_setting, id.how_to_set
        ));
    }
    if !owner.not_null {
        warnings.push(format!("{} allows NULL: rows without an owner will be visible to no one", owner.name));
    }
    let mut statements = Vec::new();
    let mut wanted = Vec::new();
    match req.strategy {
        Strategy::Kiss => {
            let roles = if facts.supabase && facts.authenticated_role { "authenticated" } else { "PUBLIC" };
            wanted.extend(owner_policies("owner", roles, &own, &["SELECT", "INSERT", "UPDATE", "DELETE"]));
        }
        Strategy::Granular => {
            if req.roles.is_empty() {
                return Err(Failure::Tool(ToolError::invalid(
                    "roles",
                    "granular needs roles, e.g. [{\"role\": \"admin\", \"access\": \"all\"}, {\"role\": \"member\", \
                     \"access\": \"read-tenant-write-own\"}, {\"role\": \"anon\", \"access\": \"none\"}]",
                )));
            }
            let names: Vec<String> = req.roles.iter().map(|r| r.role.clone()).collect();
            let existing: Vec<String> =
                sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE rolname = ANY($1)")
                    .bind(&names)
                    .fetch_all(&mut *conn)
                    .await?;
            for r in &req.roles {
                if !existing.contains(&r.role) {
                    if !req.create_roles {
                        return Err(Failure::Tool(ToolError::invalid(
                            "roles",
                            format!(
                                "role {:?} does not exist; create it, or pass create_roles: true to create it (NOLOGIN)",
                                r.role
                            ),
                        )));
                    }
                    statements.push(format!("CREATE ROLE {} NOLOGIN", ident(&r.role)));
                }
                let prefix = r.role.to_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "_");
                let role = ident(&r.role);
                let reads_and_writes = match r.access {
                    Access::All => {
                        wanted.extend(["SELECT", "INSERT", "UPDATE", "DELETE"].map(|c| everything(&prefix, &role, c)));
                        (true, true)
                    }
                    Access::ReadAll => {
                        wanted.push(everything(&prefix, &role, "SELECT"));
                        (true, false)
                    }
                    Access::ReadAllWriteOwn => {
                        wanted.push(everything(&prefix, &role, "SELECT"));
                        wanted.extend(owner_policies(&prefix, &role, &own, &WRITES));
                        (true, true)
                    }
                    Access::Own => {
                        wanted.extend(owner_policies(&prefix, &role, &own, &["SELECT", "INSERT", "UPDATE", "DELETE"]));
                        (true, true)
                    }
                    Access::ReadOwn => {
                        wanted.extend(owner_policies(&prefix, &role, &own, &["SELECT"]));
                        (true, false)
                    }
                    Access::ReadTenantWriteOwn => {
                        let tenant = tenant_column(&cols, req.tenant_column.as_deref(), &t.display())?;
                        let expr = format!(
                            "{} = (SELECT NULLIF(current_setting({}, true), '')::{})",
                            ident(&tenant.name),
                            literal(&req.tenant_setting),
                            tenant.type_name
                        );
                        wanted.extend(owner_policies(&prefix, &role, &expr, &["SELECT"]));
                        wanted.extend(owner_policies(&prefix, &role, &own, &WRITES));
                        (true, true)
                    }
                    Access::None => {
                        warnings.push(format!(
                            "{}: no policy, so with row level security on it sees and changes nothing",
                            r.role
                        ));
                        (false, false)
                    }
                };
                for (wanted_privilege, privilege) in [
                    (reads_and_writes.0, "SELECT"),
                    (reads_and_writes.1, "INSERT"),
                    (reads_and_writes.1, "UPDATE"),
                    (reads_and_writes.1, "DELETE"),
                ] {
                    let has = existing.contains(&r.role)
                        && sqlx::query_scalar::<_, bool>("SELECT has_table_privilege($1, $2, $3)")
                            .bind(&r.role)
                            .bind(&qualified)
                            .bind(privilege)
                            .fetch_one(&mut *conn)
                            .await?;
                    if wanted_privilege && !has {
                        statements.push(format!("GRANT {privilege} ON {qualified} TO {role}"));
                    }
                }
                // Inserting draws ids from the table's sequences, which need their own grant.
                if reads_and_writes.1 {
                    let sequences: Vec<String> = sqlx::query_scalar(
                        "SELECT s FROM (SELECT pg_get_serial_sequence($1, attname) AS s FROM pg_attribute \
                         WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped) q \
                         WHERE s IS NOT NULL AND NOT (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2) \
                         AND has_sequence_privilege($2, s, 'USAGE'))",
                    )
                    .bind(&qualified)
                    .bind(&r.role)
                    .fetch_all(&mut *conn)
                    .await?;
                    for sequence in sequences {
                        statements.push(format!("GRANT USAGE ON SEQUENCE {sequence} TO {role}"));
                    }
                }
            }
        }
    }
    if !t.rls {
        statements.push(format!("ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY"));
    }
    if !t.forced {
        statements.push(format!("ALTER TABLE {qualified} FORCE ROW LEVEL SECURITY"));
    }
    let existing = policies(conn, &t).await?;
    let mut planned = Vec::new();
    for w in &wanted {
        let create = w.create(&qualified);
        let status = match existing.iter().find(|p| p[0] == w.name) {
            None => PolicyStatus::New,
            Some(_) if !can_write => PolicyStatus::Exists,
            Some(current) => {
                let same = as_stored(conn, &t, &qualified, w, &create).await? == *current;
                match (same, req.replace) {
                    (true, _) => PolicyStatus::Unchanged,
                    (false, false) => PolicyStatus::Differs,
                    (false, true) => PolicyStatus::Replaced,
                }
            }
        };
        if status == PolicyStatus::Replaced {
            statements.push(format!("DROP POLICY {} ON {qualified}", ident(&w.name)));
        }
        if matches!(status, PolicyStatus::New | PolicyStatus::Replaced) {
            statements.push(create);
        }
        let existing_definition = existing
            .iter()
            .find(|p| p[0] == w.name)
            .filter(|_| matches!(status, PolicyStatus::Differs | PolicyStatus::Replaced))
            .map(|p| format!("FOR {} TO {} USING ({}) WITH CHECK ({})", p[1], p[2], p[3], p[4]));
        planned.push(PlannedPolicy {
            name: w.name.clone(),
            command: w.command.into(),
            roles: w.roles.clone(),
            status,
            existing: existing_definition,
        });
    }
    let others: Vec<_> =
        existing.iter().filter(|p| !wanted.iter().any(|w| w.name == p[0])).map(|p| p[0].clone()).collect();
    if !others.is_empty() {
        warnings.push(format!(
            "the table has other policies ({}); permissive policies add up, so they still grant what they grant",
            others.join(", ")
        ));
    }
    Ok(PolicyPlan {
        table: t.display(),
        strategy: req.strategy,
        owner_column: owner.name.clone(),
        owner_column_reason: owner_reason,
        identity: id,
        rls_enabled: t.rls,
        rls_forced: t.forced,
        policies: planned,
        statements,
        warnings,
    })
}

fn tenant_column<'a>(cols: &'a [ColumnInfo], asked: Option<&str>, table: &str) -> Result<&'a ColumnInfo, Failure> {
    let names = ["tenant_id", "org_id", "organization_id", "account_id", "team_id", "workspace_id"];
    let found = match asked {
        Some(asked) => cols.iter().find(|c| c.name == asked),
        None => cols.iter().find(|c| names.contains(&c.name.as_str())),
    };
    found.ok_or_else(|| {
        Failure::Tool(ToolError::invalid(
            "tenant_column",
            format!("{table} has no tenant column (looked for {}); pass tenant_column", names.join(", ")),
        ))
    })
}

/// The table's policies as `[name, command, roles, using, check, permissive]`.
async fn policies(conn: &mut PgConnection, t: &Table) -> Result<Vec<[String; 6]>, Failure> {
    let rows = sqlx::query(include_str!("postgres/rls_policies.sql"))
        .bind(&t.schema)
        .bind(&t.name)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| Ok([r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?]))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Failure::from)
}

/// How the database would store the planned policy: created under a savepoint, read back,
/// rolled back.
async fn as_stored(
    conn: &mut PgConnection,
    t: &Table,
    qualified: &str,
    w: &Wanted,
    create: &str,
) -> Result<[String; 6], Failure> {
    conn.execute("SAVEPOINT de_policy_compare").await?;
    let tried = async {
        conn.execute(AssertSqlSafe(format!("DROP POLICY {} ON {qualified}", ident(&w.name)))).await?;
        conn.execute(AssertSqlSafe(create.to_string())).await?;
        policies(conn, t).await
    }
    .await;
    conn.execute("ROLLBACK TO SAVEPOINT de_policy_compare").await?;
    tried?.into_iter().find(|p| p[0] == w.name).ok_or_else(|| Failure::Sql(sqlx::Error::RowNotFound))
}

/// The plan, from the session's transaction (rolled back by the caller). On a read-write
/// database each policy is created under a savepoint to compare it with what is stored.
pub(super) async fn plan_policies(
    session: &mut Session<'_>,
    req: &PolicyRequest,
    mode: Mode,
) -> Result<PolicyPlan, Failure> {
    session.race(async |conn| plan_on(conn.pg(), req, mode == Mode::ReadWrite).await).await?
}

/// Re-plan inside the applying transaction; apply only if the plan is the one confirmed. The
/// caller commits.
pub(super) async fn apply_policies(
    session: &mut Session<'_>,
    req: &PolicyRequest,
    confirmed: &[String],
) -> Result<PolicyPlan, Failure> {
    session
        .race(async |conn| {
            let conn = conn.pg();
            conn.execute("SET LOCAL lock_timeout = '5s'").await?;
            let plan = plan_on(conn, req, true).await?;
            if plan.statements != confirmed {
                return Err(Failure::Tool(ToolError::refused(
                    "the table's policies changed while waiting for confirmation",
                    "call policy-apply again to see the new plan",
                )));
            }
            for statement in &plan.statements {
                conn.execute(AssertSqlSafe(statement.clone())).await?;
            }
            Ok(plan)
        })
        .await?
}

/// What one table looks like to the privileged connection: the truth the user's view is
/// measured against.
struct Truth {
    table: Table,
    owner: ColumnInfo,
    columns: Vec<ColumnInfo>,
    own: i64,
    others: i64,
    own_sample: Option<serde_json::Value>,
    other_sample: Option<serde_json::Value>,
}

async fn truth(conn: &mut PgConnection, name: &str, test: &UserTest) -> Result<Result<Truth, String>, Failure> {
    let t = table(conn, name).await?;
    let cols = columns(conn, &t).await?;
    let owner = match owner_column(&cols, test.owner_column.as_deref(), &t.display()) {
        Ok((c, _)) => c.clone(),
        Err(_) => {
            return Ok(Err(format!(
                "{}: no owner column found, so own and others' rows cannot be told apart; pass owner_column",
                t.display()
            )));
        }
    };
    let q = t.qualified();
    let col = ident(&owner.name);
    conn.execute("SAVEPOINT de_truth").await?;
    // Off means "raise an error rather than filter": the counts are the whole truth or nothing.
    conn.execute("SET LOCAL row_security = off").await?;
    let counted = async {
        let (own, others): (i64, i64) = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT count(*) FILTER (WHERE {col}::text = $1), count(*) FILTER (WHERE {col}::text IS DISTINCT FROM $1) FROM {q}"
        )))
        .bind(&test.user_id)
        .fetch_one(&mut *conn)
        .await?;
        let sample = |cond: &str| format!("SELECT to_jsonb(x) FROM {q} x WHERE x.{col}::text {cond} $1 LIMIT 1");
        let own_sample: Option<serde_json::Value> = sqlx::query_scalar(AssertSqlSafe(sample("=")))
            .bind(&test.user_id)
            .fetch_optional(&mut *conn)
            .await?;
        let other_sample: Option<serde_json::Value> =
            sqlx::query_scalar(AssertSqlSafe(sample("IS DISTINCT FROM")))
                .bind(&test.user_id)
                .fetch_optional(&mut *conn)
                .await?;
        Ok::<_, sqlx::Error>((own, others, own_sample, other_sample))
    }
    .await;
    match counted {
        Ok((own, others, own_sample, other_sample)) => {
            conn.execute("RELEASE SAVEPOINT de_truth").await?;
            conn.execute("SET LOCAL row_security = on").await?;
            Ok(Ok(Truth { table: t, owner, columns: cols, own, others, own_sample, other_sample }))
        }
        Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("42501") => {
            conn.execute("ROLLBACK TO SAVEPOINT de_truth").await?;
            Err(Failure::Tool(ToolError::refused(
                format!(
                    "the connected role is itself subject to row level security on {}, so the real row counts cannot be read",
                    t.display()
                ),
                "connect test-as-user's database as a superuser, a BYPASSRLS role, or the table owner (without FORCE)",
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// Run one probe under a savepoint; its effect is always undone.
async fn probe(conn: &mut PgConnection, sql: &str, bind: Option<&str>) -> Result<Result<u64, sqlx::Error>, Failure> {
    conn.execute("SAVEPOINT de_probe").await?;
    let q = sqlx::query(AssertSqlSafe(sql.to_string()));
    let q = match bind {
        Some(b) => q.bind(b.to_string()),
        None => q,
    };
    let result = q.execute(&mut *conn).await.map(|r| r.rows_affected());
    conn.execute("ROLLBACK TO SAVEPOINT de_probe").await?;
    Ok(result)
}

async fn count(conn: &mut PgConnection, sql: &str, user: &str) -> Result<Result<i64, sqlx::Error>, Failure> {
    conn.execute("SAVEPOINT de_probe").await?;
    let result = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.to_string())).bind(user).fetch_one(&mut *conn).await;
    conn.execute("ROLLBACK TO SAVEPOINT de_probe").await?;
    Ok(result)
}

fn outcome(reached: u64, total: i64) -> Cell {
    let total = total.max(0) as u64;
    let rows = Some(format!("{reached}/{total}"));
    let outcome = if total == 0 {
        "no-rows"
    } else if reached == 0 {
        "denied"
    } else if reached >= total {
        "allowed"
    } else {
        "partial"
    };
    Cell { outcome: outcome.into(), rows, detail: None }
}

/// What an error during a probe says about access: denied by a policy or grant, or unrelated.
fn failed(e: &sqlx::Error, operation: &str) -> Cell {
    let (code, message) = match e {
        sqlx::Error::Database(d) => (d.code().unwrap_or_default().to_string(), d.message().to_string()),
        other => (String::new(), other.to_string()),
    };
    match code.as_str() {
        "42501" => Cell { outcome: "denied".into(), rows: None, detail: Some(message) },
        // The rows were reachable; a foreign key stopped the delete, not a policy.
        "23503" if operation == "delete" => {
            Cell { outcome: "allowed".into(), rows: None, detail: Some(format!("reached, then {message}")) }
        }
        _ => Cell { outcome: "inconclusive".into(), rows: None, detail: Some(message) },
    }
}

/// The INSERT of a copy of `sample` with `owner` set: defaults fill keys, unique values get a
/// suffix so the copy does not collide with the original.
fn insert_copy(t: &Truth, sample: &serde_json::Value, owner: &str) -> Option<(String, String)> {
    let mut row = sample.as_object()?.clone();
    row.insert(t.owner.name.clone(), serde_json::Value::String(owner.to_string()));
    let mut cols = Vec::new();
    for c in &t.columns {
        if c.generated || (c.has_default && c.unique && c.name != t.owner.name) {
            continue;
        }
        if c.unique
            && c.name != t.owner.name
            && let Some(v) = row.get_mut(&c.name)
        {
            match v {
                serde_json::Value::String(s) => s.push_str("-de-test"),
                serde_json::Value::Number(n) => *v = serde_json::json!(n.as_i64().unwrap_or(0) + 1_000_003),
                _ => {}
            }
        }
        cols.push(ident(&c.name));
    }
    let list = cols.join(", ");
    Some((
        format!(
            "INSERT INTO {q} ({list}) SELECT {list} FROM jsonb_populate_record(NULL::{q}, $1::jsonb)",
            q = t.table.qualified()
        ),
        serde_json::Value::Object(row).to_string(),
    ))
}

/// The matrix for one user, measured inside the session's transaction, which the caller always
/// rolls back.
pub(super) async fn test_as_user(
    session: &mut Session<'_>,
    test: &UserTest,
    mode: Mode,
) -> Result<UserReport, Failure> {
    session.race(async |conn| measure(conn.pg(), test, mode).await).await?
}

async fn measure(conn: &mut PgConnection, test: &UserTest, mode: Mode) -> Result<UserReport, Failure> {
    let names: Vec<String> = if test.tables.is_empty() {
        sqlx::query_scalar(include_str!("postgres/rls_tables.sql")).fetch_all(&mut *conn).await?
    } else {
        test.tables.clone()
    };
    if names.is_empty() {
        return Err(Failure::Tool(ToolError::invalid(
            "tables",
            "no table has row level security on; pass tables to test, or close them first with policy-apply",
        )));
    }
    let mut notes = Vec::new();
    let mut truths = Vec::new();
    for name in &names {
        match truth(conn, name, test).await? {
            Ok(t) => truths.push(t),
            Err(note) => notes.push(note),
        }
    }
    let facts = identity_facts(conn, &test.identity_setting).await?;
    let role = choose_role(conn, test, &facts, &truths, mode).await?;
    let identity = if facts.supabase {
        sqlx::query("SELECT set_config('request.jwt.claims', json_build_object('sub', $1::text, 'role', 'authenticated')::text, true), set_config('request.jwt.claim.sub', $1::text, true)")
            .bind(&test.user_id)
            .execute(&mut *conn)
            .await?;
        format!("request.jwt.claims = {{\"sub\": {:?}, \"role\": \"authenticated\"}}", test.user_id)
    } else {
        sqlx::query("SELECT set_config($1, $2, true)")
            .bind(&test.identity_setting)
            .bind(&test.user_id)
            .execute(&mut *conn)
            .await?;
        format!("{} = {:?}", test.identity_setting, test.user_id)
    };
    let mut identity = identity;
    for (name, value) in &test.settings {
        sqlx::query("SELECT set_config($1, $2, true)").bind(name).bind(value).execute(&mut *conn).await?;
        identity.push_str(&format!(", {name} = {value:?}"));
    }
    conn.execute(AssertSqlSafe(format!("SET LOCAL ROLE {}", ident(&role.0)))).await?;
    let mut matrix = Vec::new();
    let mut contradictions = Vec::new();
    for t in &truths {
        if !t.table.rls {
            notes.push(format!("{}: row level security is off, so only grants decide", t.table.display()));
        } else if t.table.owner == role.0 && !t.table.forced {
            notes.push(format!(
                "{}: {} owns the table and RLS is not forced, so policies do not apply to it",
                t.table.display(),
                role.0
            ));
        }
        let q = t.table.qualified();
        let col = ident(&t.owner.name);
        for operation in OPERATIONS {
            let mut cells = Vec::new();
            for (rows, cond, total) in [("own", "=", t.own), ("others", "IS DISTINCT FROM", t.others)] {
                let filter = format!("{col}::text {cond} $1");
                let cell = match operation {
                    "select" => {
                        match count(conn, &format!("SELECT count(*) FROM {q} WHERE {filter}"), &test.user_id).await? {
                            Ok(n) => outcome(n as u64, total),
                            Err(e) => failed(&e, operation),
                        }
                    }
                    _ if mode == Mode::ReadOnly => Cell {
                        outcome: "skipped".into(),
                        rows: None,
                        detail: Some("read-only database: writes are not tried".into()),
                    },
                    "update" | "delete" => {
                        let sql = if operation == "update" {
                            format!("UPDATE {q} SET {col} = {col} WHERE {filter}")
                        } else {
                            format!("DELETE FROM {q} WHERE {filter}")
                        };
                        match probe(conn, &sql, Some(&test.user_id)).await? {
                            Ok(n) => outcome(n, total),
                            Err(e) => failed(&e, operation),
                        }
                    }
                    _ => {
                        let (sample, owner) = if rows == "own" {
                            (t.own_sample.as_ref().or(t.other_sample.as_ref()), Some(test.user_id.clone()))
                        } else {
                            let other_owner =
                                t.other_sample.as_ref().and_then(|s| s.get(&t.owner.name)).and_then(|v| match v {
                                    serde_json::Value::Null => None,
                                    serde_json::Value::String(s) => Some(s.clone()),
                                    v => Some(v.to_string()),
                                });
                            (t.other_sample.as_ref(), other_owner)
                        };
                        match (sample, owner) {
                            (Some(sample), Some(owner)) => match insert_copy(t, sample, &owner) {
                                Some((sql, row)) => match probe(conn, &sql, Some(&row)).await? {
                                    Ok(n) => outcome(n, 1),
                                    Err(e) => failed(&e, operation),
                                },
                                None => Cell { outcome: "no-rows".into(), rows: None, detail: None },
                            },
                            _ => Cell {
                                outcome: "no-rows".into(),
                                rows: None,
                                detail: Some("no row to copy for the test insert".into()),
                            },
                        }
                    }
                };
                let expect = expected(&test.expectations, &t.table.display(), operation, rows);
                contradictions.extend(judge(&t.table.display(), operation, rows, &cell, expect));
                cells.push(crate::rls::cell_text(&cell));
            }
            matrix.push(MatrixRow {
                table: t.table.display(),
                operation: operation.into(),
                own: cells[0].clone(),
                others: cells[1].clone(),
            });
        }
    }
    contradictions.sort_by_key(|c| std::cmp::Reverse(c.severity));
    Ok(UserReport { user_id: test.user_id.clone(), role: role.1, identity, matrix, contradictions, notes })
}

/// The role to test as: the one given, Supabase's `authenticated`, or a role created inside the
/// transaction with plain privileges on the tables, so that only the policies decide.
async fn choose_role(
    conn: &mut PgConnection,
    test: &UserTest,
    facts: &IdentityFacts,
    truths: &[Truth],
    mode: Mode,
) -> Result<(String, String), Failure> {
    let bypass = "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = $1";
    if let Some(role) = &test.role {
        let bypasses: Option<bool> = sqlx::query_scalar(bypass).bind(role).fetch_optional(&mut *conn).await?;
        return match bypasses {
            None => Err(Failure::Tool(ToolError::invalid("role", format!("role {role:?} does not exist")))),
            Some(true) => Err(Failure::Tool(ToolError::invalid(
                "role",
                format!(
                    "{role} is a superuser or has BYPASSRLS: every policy would be skipped; pick the application's role"
                ),
            ))),
            Some(false) => Ok((role.clone(), format!("{role} (given)"))),
        };
    }
    if facts.supabase && facts.authenticated_role {
        return Ok(("authenticated".into(), "authenticated (Supabase)".into()));
    }
    if mode == Mode::ReadOnly {
        return Err(Failure::Tool(ToolError::invalid(
            "role",
            "on a read-only database no test role can be created; pass role: the application's role (not a superuser, no BYPASSRLS)",
        )));
    }
    let role = format!("de_test_user_{}", std::process::id());
    let created = async {
        conn.execute(AssertSqlSafe(format!("CREATE ROLE {} NOLOGIN NOBYPASSRLS", ident(&role)))).await?;
        let superuser: bool = sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut *conn)
            .await?;
        if !superuser {
            conn.execute(AssertSqlSafe(format!("GRANT {} TO current_user", ident(&role)))).await?;
        }
        for t in truths {
            let schema = ident(&t.table.schema);
            conn.execute(AssertSqlSafe(format!("GRANT USAGE ON SCHEMA {schema} TO {}", ident(&role)))).await?;
            conn.execute(AssertSqlSafe(format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}",
                t.table.qualified(),
                ident(&role)
            )))
            .await?;
            conn.execute(AssertSqlSafe(format!(
                "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {}",
                ident(&role)
            )))
            .await?;
        }
        Ok::<_, sqlx::Error>(())
    }
    .await;
    match created {
        Ok(()) => Ok((
            role.clone(),
            format!("{role} (created for this test with SELECT, INSERT, UPDATE, DELETE on the tables; rolled back)"),
        )),
        Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("42501") => {
            Err(Failure::Tool(ToolError::refused(
                format!("cannot create a test role: {}", d.message()),
                "pass role: the application's role (not a superuser, no BYPASSRLS), or connect as a role with CREATEROLE",
            )))
        }
        Err(e) => Err(e.into()),
    }
}
