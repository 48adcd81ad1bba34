//! MySQL's and MariaDB's half of a call's session. A session cannot give up privileges here, so
//! every begin re-asserts the settings the server relies on (timeouts, an `sql_mode` the parser
//! reads the same way as the server) in the same round trip as the transaction, and every end
//! releases named locks.

use sqlx::{AssertSqlSafe, Executor, MySqlPool};

use super::super::{
    Database, Pool, RowSet,
    connection::{Access, Conn, ReadAs, Session, UserStatement},
};
use crate::error::ToolError;

/// What the server is, read once per database.
pub(crate) struct Flavor {
    /// MariaDB (max_statement_time, seconds) or MySQL (max_execution_time, ms).
    mariadb: bool,
    /// The server's sql_mode without the modes that change how quotes and backslashes read.
    sql_mode: String,
    /// RELEASE_ALL_LOCKS() exists (MariaDB 10.5.2+, MySQL 5.7+).
    release_all_locks: bool,
}

pub(crate) async fn open<'db>(
    db: &'db Database,
    pool: &MySqlPool,
    access: Access,
    timeout_ms: u64,
) -> Result<Session<'db>, ToolError> {
    let mut pool = pool;
    if access == Access::Reader
        && matches!(read_as(db, pool).await?, ReadAs::ReaderLogin)
        && let Some(Pool::Mysql(p)) = db.reader_pool().await?
    {
        pool = p;
    }
    let flavor = flavor(db, pool).await?;
    let lock_wait = if access == Access::Trial { 2 } else { 5 };
    let timeout = if flavor.mariadb {
        format!("max_statement_time = {}", timeout_ms as f64 / 1000.0)
    } else {
        format!("max_execution_time = {timeout_ms}")
    };
    let mut begin = format!(
        "SET SESSION {timeout}, sql_mode = '{}', innodb_lock_wait_timeout = {lock_wait}, lock_wait_timeout = {lock_wait}",
        flavor.sql_mode.replace('\'', "''")
    );
    match access {
        Access::Reader | Access::Catalog => begin.push_str("; START TRANSACTION READ ONLY"),
        Access::Writer | Access::Trial => begin.push_str("; START TRANSACTION"),
        Access::Manual => {}
    }
    let mut conn = pool.acquire().await.map_err(|e| db.db_error(e, timeout_ms))?;
    if let Err(e) = conn.execute(AssertSqlSafe(begin)).await {
        conn.close_on_drop();
        return Err(db.db_error(e, timeout_ms));
    }
    let mut session = Session::new(db, Conn::Mysql(conn), access, timeout_ms);
    session.engine_state.mysql_release_locks = flavor.release_all_locks;
    Ok(session)
}

/// One row of a one-time query, on a connection that is back in the pool when this returns: one
/// still on its way back (as after `fetch_one(pool)`) makes the caller's own session open another.
async fn one_row<T>(pool: &MySqlPool, sql: &'static str) -> Result<T, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::mysql::MySqlRow> + Send + Unpin,
{
    let mut conn = pool.acquire().await?;
    let row = sqlx::query_as(sql).fetch_one(&mut *conn).await;
    conn.return_to_pool().await;
    row
}

async fn flavor<'a>(db: &'a Database, pool: &MySqlPool) -> Result<&'a Flavor, ToolError> {
    db.mysql_flavor
        .get_or_try_init(|| async {
            let t = db.config.statement_timeout_ms;
            let (version, sql_mode): (String, String) =
                one_row(pool, "SELECT VERSION(), @@GLOBAL.sql_mode").await.map_err(|e| db.db_error(e, t))?;
            let mariadb = version.to_ascii_lowercase().contains("mariadb");
            let numbers: Vec<u32> =
                version.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse().ok()).take(3).collect();
            let at_least = |want: [u32; 3]| numbers.as_slice() >= want.as_slice();
            let sql_mode = sql_mode
                .split(',')
                .filter(|m| !matches!(*m, "NO_BACKSLASH_ESCAPES" | "ANSI_QUOTES" | "ANSI" | ""))
                .collect::<Vec<_>>()
                .join(",");
            Ok(Flavor {
                mariadb,
                sql_mode,
                release_all_locks: if mariadb { at_least([10, 5, 2]) } else { at_least([5, 7, 0]) },
            })
        })
        .await
}

/// Whom reads run as: a separate login when configured, the connected one when it holds no
/// privilege a session could abuse, else the parser is the only guard for those.
pub(crate) async fn read_as<'a>(db: &'a Database, pool: &MySqlPool) -> Result<&'a ReadAs, ToolError> {
    db.read_as
        .get_or_try_init(|| async {
            if db.config.reader_url.is_some() {
                return Ok(ReadAs::ReaderLogin);
            }
            let t = db.config.statement_timeout_ms;
            let (powers, account): (Option<String>, String) =
                one_row(pool, include_str!("read_as.sql")).await.map_err(|e| db.db_error(e, t))?;
            Ok(match powers.filter(|p| !p.is_empty()) {
                Some(powers) => ReadAs::ParserOnly {
                    fix: format!(
                        "REVOKE {powers} ON *.* FROM {account}; or give read-only work its own account and set reader_url \
                         to it: CREATE USER 'data_engineer_reader'@'%' IDENTIFIED BY '<secret>'; GRANT SELECT, SHOW VIEW ON \
                         <database>.* TO 'data_engineer_reader'@'%';"
                    ),
                    powers,
                },
                None => ReadAs::OwnLogin,
            })
        })
        .await
}

/// Run the model's statement in the open transaction, as a prepared statement (which cannot
/// carry a second statement).
pub(crate) async fn statement(
    session: &mut Session<'_>,
    call: &UserStatement<'_>,
) -> Result<(RowSet, bool), ToolError> {
    session
        .guard(async |conn, _| {
            let Conn::Mysql(c) = conn else { unreachable!("a MySQL session") };
            let UserStatement { sql, checked, cap, max_bytes } = *call;
            let sql = checked.capped_sql.clone().unwrap_or_else(|| sql.to_string());
            let query = sqlx::query(AssertSqlSafe(sql));
            let (mut out, affected, stopped) =
                stream_rows!(&mut **c, query, cap, max_bytes, super::cell, super::super::declared_type);
            if checked.kind.writes() {
                out.rows_affected = Some(affected);
            }
            Ok((out, stopped))
        })
        .await
}

/// End the transaction and release every named lock (GET_LOCK) the call may have taken.
pub(crate) fn end_sql(session: &Session<'_>, commit: bool) -> String {
    let end = if commit { "COMMIT" } else { "ROLLBACK" };
    if session.engine_state.mysql_release_locks { format!("{end}; DO RELEASE_ALL_LOCKS()") } else { end.to_string() }
}
