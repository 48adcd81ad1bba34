//! SQLite's half of a call's session: a read-only database's file is opened read-only (SQLite
//! itself refuses every write, and no connection may attach another file, see `pool`); reads
//! on a read-write file run with `query_only`; the statement timeout and cancellation are a
//! progress handler.

use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Executor, SqlitePool};

use super::super::{
    Database, RowSet,
    connection::{Access, Conn, Session, UserStatement},
};
use crate::{config::Mode, error::ToolError};

pub(crate) async fn open<'db>(
    db: &'db Database,
    pool: &SqlitePool,
    access: Access,
    timeout_ms: u64,
) -> Result<Session<'db>, ToolError> {
    let fail = |e| db.db_error(e, timeout_ms);
    let mut conn = pool.acquire().await.map_err(fail)?;
    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    // Returning false interrupts the statement (SQLITE_INTERRUPT).
    let cancel = super::super::cancel_token().unwrap_or_default();
    conn.lock_handle()
        .await
        .map_err(fail)?
        .set_progress_handler(1_000, move || Instant::now() < deadline && !cancel.is_cancelled());
    let query_only = matches!(access, Access::Reader | Access::Catalog) && db.config.mode == Mode::ReadWrite;
    let begin = match access {
        Access::Reader | Access::Catalog if query_only => "PRAGMA query_only = ON; BEGIN",
        Access::Reader | Access::Catalog => "BEGIN",
        Access::Writer | Access::Trial => "BEGIN IMMEDIATE",
        Access::Manual => "",
    };
    if !begin.is_empty()
        && let Err(e) = conn.execute(begin).await
    {
        conn.close_on_drop();
        return Err(fail(e));
    }
    let mut session = Session::new(db, Conn::Sqlite(conn), access, timeout_ms);
    session.engine_state.sqlite_query_only = query_only;
    Ok(session)
}

/// Run the model's statement; SQLite runs in-process, so stopping at a cap costs nothing.
pub(crate) async fn statement(
    session: &mut Session<'_>,
    call: &UserStatement<'_>,
) -> Result<(RowSet, bool), ToolError> {
    session
        .guard(async |conn, _| {
            let Conn::Sqlite(c) = conn else { unreachable!("a SQLite session") };
            let UserStatement { sql, checked, cap, max_bytes } = *call;
            let sql = checked.capped_sql.clone().unwrap_or_else(|| sql.to_string());
            let query = sqlx::query(AssertSqlSafe(sql));
            let (mut out, affected, stopped) =
                stream_rows!(&mut **c, query, cap, max_bytes, super::cell, super::storage_class);
            if checked.kind.writes() {
                out.rows_affected = Some(affected);
            }
            Ok((out, stopped))
        })
        .await
}

pub(crate) fn end_sql(session: &Session<'_>, commit: bool) -> String {
    if session.access() == Access::Manual {
        // The caller ended its own transactions; a ROLLBACK with none open is an error here.
        return String::new();
    }
    let end = if commit { "COMMIT" } else { "ROLLBACK" };
    if session.engine_state.sqlite_query_only { format!("{end}; PRAGMA query_only = OFF") } else { end.to_string() }
}
