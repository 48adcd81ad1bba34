//! What a call's session is made of: who it acts as ([`Access`]), its connection ([`Conn`]), the
//! [`Session`] that owns them with its timeout and cancellation, and whom the model's reads run
//! as ([`ReadAs`]). `session.rs` opens and ends sessions; each engine's `session.rs` does its part.

use serde_json::Value;
use sqlx::pool::PoolConnection;
use tokio_util::sync::CancellationToken;

use super::{Database, RowSet, mysql, postgres, sqlite};
use crate::error::ToolError;

/// Who a session acts as and what its transaction allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads on the model's behalf (its SQL, on any database): a read-only transaction as the
    /// least-privilege reader (a separate login, or on PostgreSQL a switched role), always
    /// rolled back.
    Reader,
    /// The server's own reads (catalogs, audit rules, the truth behind an RLS test): a
    /// read-only transaction as the connected login, always rolled back.
    Catalog,
    /// A change: a read-write transaction as the connected login, kept only by `commit`.
    Writer,
    /// Something run to be measured or tried (EXPLAIN ANALYZE of a write): a read-write
    /// transaction under a short lock timeout, always rolled back.
    Trial,
    /// The caller runs its own transactions (loads, migrations): the session still sets the
    /// timeouts, watches for cancellation and resets the connection afterwards.
    Manual,
}

/// A pooled connection of one engine.
pub(crate) enum Conn {
    Postgres(PoolConnection<sqlx::Postgres>),
    Mysql(PoolConnection<sqlx::MySql>),
    Sqlite(PoolConnection<sqlx::Sqlite>),
    /// Handed on to the end statements.
    Empty,
}

/// One call's connection, transaction and limits.
pub struct Session<'db> {
    pub(crate) db: &'db Database,
    pub(crate) conn: Conn,
    pub(crate) access: Access,
    pub(crate) timeout_ms: u64,
    cancel: Option<CancellationToken>,
    /// The connection's state is unknown: close it instead of pooling it.
    pub(crate) spoiled: bool,
    pub(super) ended: bool,
    /// Engine-specific state the end must undo (SQLite's query_only, PostgreSQL's server version).
    pub(crate) engine_state: EngineState,
}

#[derive(Default)]
pub(crate) struct EngineState {
    /// SQLite: `PRAGMA query_only` was switched on for this session.
    pub sqlite_query_only: bool,
    /// PostgreSQL: the server checks for a gone client (14+), a setting the reset restores.
    pub pg_client_check: bool,
    /// MySQL/MariaDB: RELEASE_ALL_LOCKS() exists, so the end releases named locks.
    pub mysql_release_locks: bool,
}

/// The model's statement, checked, with the caps its rows are read against.
#[derive(Clone, Copy)]
pub struct UserStatement<'a> {
    /// The statement as given (trimmed of a final `;`).
    pub sql: &'a str,
    pub checked: &'a crate::sql::Checked,
    /// Rows to keep; one more is read to tell whether there were more.
    pub cap: usize,
    /// Stop reading once the decoded values pass this many bytes.
    pub max_bytes: usize,
}

/// What a user statement returned, read against the caps.
pub struct StatementRows {
    pub rows: RowSet,
    /// The byte cap stopped the read (the row cap sets `rows.more`).
    pub cut_at_bytes: bool,
}

/// Whom the model's reads run as on a database, decided once per database on first use.
#[derive(Debug, Clone)]
pub enum ReadAs {
    /// A separate least-privilege login (`reader_url`): the database refuses all but reading
    /// to it, whatever runs.
    ReaderLogin,
    /// The connected login itself: it holds no power beyond its table grants (no superuser,
    /// no file, program, signal or replication rights), and the read-only transaction stops
    /// writes.
    OwnLogin,
    /// PostgreSQL: `SET LOCAL ROLE` to a role that may only read, inside each read-only
    /// transaction. The way back to the login's own role (`set_config('role', ...)`, SQL run
    /// from text) is closed by the parser alone.
    Role(String),
    /// The login holds powers the database cannot take away in a session (superuser, FILE,
    /// SUPER, ...): the read-only transaction stops writes, everything else rests on the parser.
    ParserOnly {
        /// The powers, for env-check.
        powers: String,
        /// The statements that would let the database refuse on its own.
        fix: String,
    },
}

/// The error of a session used after its end (a bug).
pub(super) fn ended() -> sqlx::Error {
    sqlx::Error::Protocol("the session has ended".into())
}

impl Access {
    pub(super) fn writes(self) -> bool {
        matches!(self, Access::Writer | Access::Trial | Access::Manual)
    }
}

impl<'db> Session<'db> {
    pub(crate) fn new(db: &'db Database, conn: Conn, access: Access, timeout_ms: u64) -> Self {
        Session {
            db,
            conn,
            access,
            timeout_ms,
            cancel: super::cancel_token(),
            spoiled: false,
            ended: false,
            engine_state: EngineState::default(),
        }
    }

    /// Run `work` on the connection unless the client cancels first; a cancelled session is
    /// spoiled (closed, never pooled), so the server stops the statement and rolls back.
    pub(crate) async fn race<T>(&mut self, work: impl AsyncFnOnce(&mut Conn) -> T) -> Result<T, ToolError> {
        let cancel = self.cancel.clone();
        let result = {
            let fut = work(&mut self.conn);
            match cancel {
                Some(token) => tokio::select! {
                    r = fut => Some(r),
                    () = token.cancelled() => None,
                },
                None => Some(fut.await),
            }
        };
        result.ok_or_else(|| {
            self.spoiled = true;
            ToolError::Cancelled
        })
    }

    /// [`Session::race`] for driver calls: their errors become tool errors the model can read.
    pub(crate) async fn guard<T>(
        &mut self,
        work: impl AsyncFnOnce(&mut Conn, &mut EngineState) -> Result<T, sqlx::Error>,
    ) -> Result<T, ToolError> {
        let cancel = self.cancel.clone();
        let result = {
            let fut = work(&mut self.conn, &mut self.engine_state);
            match cancel {
                Some(token) => tokio::select! {
                    r = fut => Some(r),
                    () = token.cancelled() => None,
                },
                None => Some(fut.await),
            }
        };
        match result {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(self.db.db_error(e, self.timeout_ms)),
            None => {
                self.spoiled = true;
                Err(ToolError::Cancelled)
            }
        }
    }

    /// Rows of one of the server's own statements, as objects keyed by column name, with
    /// JSON values bound in order.
    pub async fn rows(&mut self, sql: impl Into<String>, binds: &[Value]) -> Result<Vec<Value>, ToolError> {
        let sql = sql.into();
        self.guard(async move |conn, _| match conn {
            Conn::Postgres(c) => super::objects(&bound!(sql, binds).fetch_all(&mut **c).await?, postgres::cell),
            Conn::Mysql(c) => super::objects(&bound!(sql, binds).fetch_all(&mut **c).await?, mysql::cell),
            Conn::Sqlite(c) => super::objects(&bound!(sql, binds).fetch_all(&mut **c).await?, sqlite::cell),
            Conn::Empty => Err(ended()),
        })
        .await
    }

    /// The first column of the first row (NULL when there is none).
    pub async fn scalar(&mut self, sql: impl Into<String>, binds: &[Value]) -> Result<Value, ToolError> {
        let rows = self.rows(sql, binds).await?;
        Ok(rows.first().and_then(Value::as_object).and_then(|o| o.values().next().cloned()).unwrap_or(Value::Null))
    }

    /// Run one of the server's own statements with binds; rows affected.
    pub async fn execute(&mut self, sql: impl Into<String>, binds: &[Value]) -> Result<u64, ToolError> {
        let sql = sql.into();
        self.guard(async move |conn, _| {
            Ok(match conn {
                Conn::Postgres(c) => bound!(sql, binds).execute(&mut **c).await?.rows_affected(),
                Conn::Mysql(c) => bound!(sql, binds).execute(&mut **c).await?.rows_affected(),
                Conn::Sqlite(c) => bound!(sql, binds).execute(&mut **c).await?.rows_affected(),
                Conn::Empty => return Err(ended()),
            })
        })
        .await
    }

    /// Run a script of several statements that passed `sql::check_script` (a seed file).
    pub async fn script(&mut self, sql: &str) -> Result<u64, ToolError> {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        self.guard(async move |conn, _| {
            Ok(match conn {
                Conn::Postgres(c) => sqlx::raw_sql(sql).execute(&mut **c).await?.rows_affected(),
                Conn::Mysql(c) => sqlx::raw_sql(sql).execute(&mut **c).await?.rows_affected(),
                Conn::Sqlite(c) => sqlx::raw_sql(sql).execute(&mut **c).await?.rows_affected(),
                Conn::Empty => return Err(ended()),
            })
        })
        .await
    }

    pub fn access(&self) -> Access {
        self.access
    }

    /// The connection itself, for a flow that runs its own transactions and stops its own
    /// statement on the server when cancelled (loads: COPY, staging tables, savepoints).
    pub(crate) fn conn(&mut self) -> &mut Conn {
        &mut self.conn
    }

    /// End without handing the connection back: the flow changed it in ways the reset does not
    /// undo (temporary tables, session memory), or may have left it mid-statement.
    pub(crate) fn discard(mut self) {
        self.ended = true;
        std::mem::replace(&mut self.conn, Conn::Empty).closed();
    }
}

impl Conn {
    /// The engine's own connection, for engine code that needs a driver feature (COPY,
    /// savepoints in a flow of its own).
    pub(crate) fn pg(&mut self) -> &mut sqlx::PgConnection {
        match self {
            Conn::Postgres(c) => c,
            _ => unreachable!("a PostgreSQL session"),
        }
    }
}

impl Conn {
    pub(super) fn empty() -> Conn {
        Conn::Empty
    }

    /// Drop the connection so that it closes instead of returning to the pool.
    pub(super) fn closed(self) {
        match self {
            Conn::Postgres(mut c) => c.close_on_drop(),
            Conn::Mysql(mut c) => c.close_on_drop(),
            Conn::Sqlite(mut c) => c.close_on_drop(),
            Conn::Empty => {}
        }
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        // Dropped unended (an error returned early, or the call was cancelled): the transaction's
        // state is unknown, so the connection is closed and the server rolls it back.
        if !self.ended {
            std::mem::replace(&mut self.conn, Conn::Empty).closed();
        }
    }
}

impl ReadAs {
    /// How to reach a database-enforced boundary from here, when there is a step left.
    pub fn fix(&self, engine: crate::config::Engine) -> Option<String> {
        match self {
            ReadAs::ReaderLogin | ReadAs::OwnLogin => None,
            ReadAs::ParserOnly { fix, .. } => Some(fix.clone()),
            ReadAs::Role(_) if engine == crate::config::Engine::Postgres => Some(
                "for a boundary no SQL can cross, give read-only work its own login and set reader_url to it: \
                 CREATE ROLE data_engineer_reader LOGIN PASSWORD '<secret>' IN ROLE pg_read_all_data, pg_read_all_stats;"
                    .into(),
            ),
            ReadAs::Role(_) => None,
        }
    }

    /// One line for env-check: what the database refuses, what rests on the parser.
    pub fn assurance(&self) -> String {
        match self {
            ReadAs::ReaderLogin => "database-enforced: the model's SQL runs as the least-privilege login reader_url \
                in a read-only transaction; the parser is a second layer"
                .into(),
            ReadAs::OwnLogin => "database-enforced: the connected login holds no superuser, file, program, signal or \
                replication rights, and the model's SQL runs in a read-only transaction; the parser is a second layer"
                .into(),
            ReadAs::Role(role) => format!(
                "partly database-enforced: the model's SQL runs in a read-only transaction as role {role}, so its own \
                 statements reach no files, programs, connections or writes; but a SECURITY DEFINER function owned by \
                 a privileged role (reached through a view) runs with its owner's rights, and the way back to the \
                 login's own role (set_config('role', ...), SQL run from text) is refused by the parser alone"
            ),
            ReadAs::ParserOnly { powers, .. } => format!(
                "parser-enforced: the login holds {powers}, which a session cannot give up; the database refuses \
                 writes (read-only transaction) but files, locks and settings rest on the parser"
            ),
        }
    }
}
