//! PostgreSQL's half of a call's session: the begin (transaction, role, timeouts) travels in one
//! round trip with the model's statement in a second; the end and the reset travel together,
//! off the caller's path for reads.

use sqlx::{AssertSqlSafe, Executor, PgPool, SqlSafeStr};

use super::super::{
    Database, RowSet,
    connection::{Access, Conn, ReadAs, Session, UserStatement},
};
use crate::{error::ToolError, sql::StatementKind};

const CURSOR: &str = "__data_engineer_rows";

/// The role read-only work switches to when none is configured: it may read every table, view
/// and sequence and nothing else (PostgreSQL 14+).
const DEFAULT_READER_ROLE: &str = "pg_read_all_data";

pub(crate) async fn open<'db>(
    db: &'db Database,
    pool: &PgPool,
    access: Access,
    timeout_ms: u64,
) -> Result<Session<'db>, ToolError> {
    open_probing(db, pool, access, timeout_ms, &[]).await.map(|(s, _)| s)
}

/// Open a session; for a reader, also say which of `relations` row level security filters for
/// it (read in the same round trip as the begin).
pub(crate) async fn open_probing<'db>(
    db: &'db Database,
    pool: &PgPool,
    access: Access,
    timeout_ms: u64,
    relations: &[String],
) -> Result<(Session<'db>, Vec<String>), ToolError> {
    let mut begin = match access {
        Access::Reader | Access::Catalog => "BEGIN READ ONLY".to_string(),
        Access::Writer => "BEGIN".to_string(),
        Access::Trial => "BEGIN; SET LOCAL lock_timeout = 2000".to_string(),
        Access::Manual => String::new(),
    };
    let mut pool = pool;
    if access == Access::Reader {
        let read_as = read_as(db, pool).await?;
        match read_as {
            ReadAs::ReaderLogin => {
                if let Some(super::super::Pool::Postgres(p)) = db.reader_pool().await? {
                    pool = p;
                }
            }
            ReadAs::Role(role) => begin.push_str(&format!("; SET LOCAL ROLE {}", super::super::double_quote(role))),
            ReadAs::OwnLogin | ReadAs::ParserOnly { .. } => {}
        }
    }
    if timeout_ms != db.config.statement_timeout_ms {
        let local = if access == Access::Manual { "" } else { "LOCAL " };
        begin.push_str(&format!("; SET {local}statement_timeout = {timeout_ms}"));
    }
    let probe = access == Access::Reader && !relations.is_empty();
    if probe {
        begin.push_str(&format!("; {}", rls_probe(relations)));
    }
    let begin = begin.trim_start_matches("; ").to_string();
    let (conn, filtered) = acquire(pool, &begin, probe).await.map_err(|e| db.db_error(e, timeout_ms))?;
    let client_check = conn.server_version_num().is_some_and(|v| v >= 140000);
    let mut session = Session::new(db, Conn::Postgres(conn), access, timeout_ms);
    session.engine_state.pg_client_check = client_check;
    Ok((session, filtered))
}

/// A pooled connection with `begin` run on it; one that died while idle (the server restarted)
/// is replaced, which is safe because nothing has run on it yet. With `probe`, the begin's last
/// statement returns the names of the tables row level security filters.
async fn acquire(
    pool: &PgPool,
    begin: &str,
    probe: bool,
) -> Result<(sqlx::pool::PoolConnection<sqlx::Postgres>, Vec<String>), sqlx::Error> {
    let mut attempt = 0;
    loop {
        let mut conn = pool.acquire().await?;
        let ran = if begin.is_empty() {
            Ok(vec![])
        } else if probe {
            sqlx::raw_sql(AssertSqlSafe(begin.to_string()))
                .fetch_all(&mut *conn)
                .await
                .map(|rows| rows.iter().filter_map(|r| sqlx::Row::try_get::<String, _>(r, 0).ok()).collect::<Vec<_>>())
        } else {
            conn.execute(AssertSqlSafe(begin.to_string())).await.map(|_| vec![])
        };
        match ran {
            Err(e) if super::super::is_connection_error(&e) && attempt < pool.options().get_max_connections() => {
                attempt += 1;
                conn.close_on_drop();
            }
            Err(e) => {
                // The transaction may be half begun: never pool this connection.
                conn.close_on_drop();
                return Err(e);
            }
            Ok(names) => return Ok((conn, names)),
        }
    }
}

/// The tables among `relations` that row level security filters for the current role, one per
/// row. Names are passed as literals; `standard_conforming_strings` is on for every connection
/// (see `pool`), so doubling the quote is the whole escape.
fn rls_probe(relations: &[String]) -> String {
    let literal = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let oids: Vec<String> = relations
        .iter()
        .filter(|r| !r.contains('\0'))
        .map(|r| {
            let quoted: Vec<String> = r.split('.').map(super::super::double_quote).collect();
            format!("to_regclass({})", literal(&quoted.join(".")))
        })
        .collect();
    format!(
        "SELECT c.oid::regclass::text FROM pg_class c WHERE c.oid IN ({}) AND row_security_active(c.oid)",
        oids.join(", ")
    )
}

/// Whom reads run as on this database: decided once, from the login's own rights.
pub(crate) async fn read_as<'a>(db: &'a Database, pool: &PgPool) -> Result<&'a ReadAs, ToolError> {
    db.read_as
        .get_or_try_init(|| async {
            if db.config.reader_url.is_some() {
                return Ok(ReadAs::ReaderLogin);
            }
            let role = db.config.reader_role.clone().unwrap_or_else(|| DEFAULT_READER_ROLE.to_string());
            let t = db.config.statement_timeout_ms;
            let mut conn = pool.acquire().await.map_err(|e| db.db_error(e, t))?;
            let (powers, reader_exists, login): (Option<String>, bool, String) =
                sqlx::query_as(include_str!("read_as.sql"))
                    .bind(&role)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(|e| db.db_error(e, t))?;
            let Some(powers) = powers.filter(|p| !p.is_empty()) else { return Ok(ReadAs::OwnLogin) };
            if reader_exists {
                // Whether the login may switch to it is decided by the server: try it.
                let tried = conn
                    .execute(AssertSqlSafe(format!(
                        "BEGIN READ ONLY; SET LOCAL ROLE {}; ROLLBACK",
                        super::super::double_quote(&role)
                    )))
                    .await;
                if tried.is_ok() {
                    return Ok(ReadAs::Role(role));
                }
                let _ = conn.execute("ROLLBACK").await;
            }
            let login = super::super::double_quote(&login);
            Ok(ReadAs::ParserOnly {
                powers,
                fix: format!(
                    "GRANT {} TO {login}; (read-only work then switches to it) or give read-only work its own login \
                     and set reader_url to it: CREATE ROLE data_engineer_reader LOGIN PASSWORD '<secret>' IN ROLE \
                     pg_read_all_data, pg_read_all_stats;",
                    super::super::double_quote(&role)
                ),
            })
        })
        .await
}

/// Run the model's statement in the open transaction: the query's own LIMIT caps it when the
/// parser could rewrite it, a cursor stops the server otherwise.
pub(crate) async fn statement(
    session: &mut Session<'_>,
    call: &UserStatement<'_>,
) -> Result<(RowSet, bool), ToolError> {
    let first = session.guard(async |conn, _| run(conn, call, true).await).await;
    match first {
        // Queries are cached as prepared statements (one round trip when repeated). A schema
        // change can invalidate one: begin again and run the statement once more, uncached.
        // sqlx 0.9 looks up a type it has not seen on this connection (an enum, a composite, an
        // extension's type) with a simple query between Parse and Bind, which drops an unnamed
        // statement (26000, sqlx issue 4305); the type is known to the connection afterwards,
        // so the second run succeeds. Nothing of the statement ran: the Bind failed.
        Err(ToolError::Database { code: Some(code), message, .. })
            if (code == "0A000" && message.contains("cached plan")) || code == "26000" =>
        {
            let access = session.access();
            let begin = match access {
                Access::Reader | Access::Catalog => "BEGIN READ ONLY",
                _ => "BEGIN",
            };
            let role = match (access, session.db.read_as.get()) {
                (Access::Reader, Some(ReadAs::Role(r))) => {
                    format!("; SET LOCAL ROLE {}", super::super::double_quote(r))
                }
                _ => String::new(),
            };
            let timeout = session.timeout_ms;
            session
                .guard(async |conn, _| {
                    let Conn::Postgres(c) = conn else { unreachable!() };
                    c.execute("ROLLBACK").await?;
                    sqlx::Connection::clear_cached_statements(&mut **c).await?;
                    c.execute(AssertSqlSafe(format!("{begin}{role}; SET LOCAL statement_timeout = {timeout}"))).await?;
                    run(conn, call, false).await
                })
                .await
        }
        other => other,
    }
}

async fn run(conn: &mut Conn, call: &UserStatement<'_>, cache: bool) -> Result<(RowSet, bool), sqlx::Error> {
    let Conn::Postgres(c) = conn else { unreachable!("a PostgreSQL session") };
    let UserStatement { sql, checked, cap, max_bytes } = *call;
    let kind = checked.kind;
    let (mut out, _, stopped) = match (&checked.capped_sql, kind) {
        // The query itself stops at cap + 1 rows.
        (Some(capped), _) => {
            let query = sqlx::query(AssertSqlSafe(capped.clone())).persistent(cache);
            stream_rows!(&mut **c, query, cap, max_bytes, super::cell, super::super::declared_type)
        }
        // A query whose LIMIT could not be rewritten: a cursor stops the server instead.
        (None, StatementKind::Query) => {
            c.execute(
                sqlx::query(AssertSqlSafe(format!("DECLARE {CURSOR} NO SCROLL CURSOR FOR {sql}"))).persistent(false),
            )
            .await?;
            // Not cached: the same FETCH text returns different columns from call to call.
            let query =
                sqlx::query(AssertSqlSafe(format!("FETCH FORWARD {} FROM {CURSOR}", cap + 1))).persistent(false);
            let read = stream_rows!(&mut **c, query, cap, max_bytes, super::cell, super::super::declared_type);
            if !read.2 {
                c.execute(AssertSqlSafe(format!("CLOSE {CURSOR}"))).await?;
            }
            read
        }
        (None, kind) => {
            let query = sqlx::query(AssertSqlSafe(sql.to_string())).persistent(false);
            let mut read = stream_rows!(&mut **c, query, cap, max_bytes, super::cell, super::super::declared_type);
            if kind.writes() {
                read.0.rows_affected = Some(read.1);
            }
            read
        }
    };
    if out.columns.is_empty() && kind == StatementKind::Query && !stopped {
        // No row to read column types from: ask the server to describe the statement.
        let prepared = (&mut **c).prepare(AssertSqlSafe(sql.to_string()).into_sql_str()).await?;
        out.columns = sqlx::Statement::columns(&prepared)
            .iter()
            .map(|col| super::super::Column {
                name: sqlx::Column::name(col).to_string(),
                type_name: sqlx::TypeInfo::name(sqlx::Column::type_info(col)).to_string(),
            })
            .collect();
    }
    Ok((out, stopped))
}

/// End the transaction, then put the session back as the pool handed it out: the login's own
/// role and authorization, every setting at its connection default, no advisory lock, no
/// LISTEN, no temporary table. A read-only transaction rolled back leaves only session-level
/// advisory locks behind (a rollback undoes settings, role switches and LISTEN, and it could
/// create no temporary table): those alone are released.
pub(crate) fn end_sql(session: &Session<'_>, commit: bool) -> String {
    if !commit && matches!(session.access(), Access::Reader | Access::Catalog) {
        return "ROLLBACK; SELECT pg_advisory_unlock_all()".into();
    }
    let end = if commit { "COMMIT" } else { "ROLLBACK" };
    let mut sql = format!(
        "{end}; RESET SESSION AUTHORIZATION; RESET ROLE; RESET ALL; SELECT pg_advisory_unlock_all(); UNLISTEN *; DISCARD TEMP"
    );
    if session.engine_state.pg_client_check {
        sql.push_str("; SET client_connection_check_interval = 1000");
    }
    sql
}
