//! A call's session on a SQL engine, owned in one place: which connection (the main login, or
//! the least-privilege reader), the transaction and its read-only-ness, the role, the statement
//! and lock timeouts, cancellation, and the reset before the connection goes back to the pool.
//! Every tool reaches a SQL database through a [`Session`]; the engine-specific halves are
//! `postgres/session.rs`, `mysql/session.rs` and `sqlite/session.rs`.
//!
//! A session whose state is unknown (cancelled mid-statement, a result abandoned at a cap, a
//! failed end) is closed, never pooled: nothing of it can leak into the next call.

pub(crate) use super::connection::Conn;
use super::connection::ended;
pub use super::connection::{Access, ReadAs, Session, StatementRows, UserStatement};
use super::{Database, mysql, postgres, sqlite};
use crate::{config::Mode, error::ToolError};

impl Session<'_> {
    /// Run the model's statement over the extended (prepared) protocol, reading rows as they
    /// arrive and stopping at the row or byte cap: no more than that plus one row is held.
    pub async fn statement(&mut self, call: &UserStatement<'_>) -> Result<StatementRows, ToolError> {
        let (rows, stopped_early) = match &self.conn {
            Conn::Postgres(_) => postgres::session::statement(self, call).await?,
            Conn::Mysql(_) => mysql::session::statement(self, call).await?,
            Conn::Sqlite(_) => sqlite::session::statement(self, call).await?,
            Conn::Empty => return Err(self.db.db_error(ended(), self.timeout_ms)),
        };
        let cut_at_bytes = stopped_early && !rows.more;
        if stopped_early && !matches!(self.conn, Conn::Sqlite(_)) {
            // The server is still sending the rest: closing the connection stops it, where
            // draining would read every row.
            self.spoiled = true;
        }
        Ok(StatementRows { rows, cut_at_bytes })
    }

    /// Keep what the transaction did (Writer sessions), then reset the connection.
    pub async fn commit(mut self) -> Result<(), ToolError> {
        if !matches!(self.access, Access::Writer | Access::Manual) {
            return Err(ToolError::refused(
                "this session cannot keep changes",
                "report this as a bug: only write sessions commit",
            ));
        }
        self.end(true).await
    }

    /// Undo the transaction and reset the connection, awaited.
    pub async fn rollback(mut self) -> Result<(), ToolError> {
        self.end(false).await
    }

    /// End without waiting: roll back and reset off the caller's path (reads). The connection
    /// returns to the pool only when that is done.
    pub fn close(mut self) {
        let end = self.end_sql(false);
        let conn = std::mem::replace(&mut self.conn, Conn::empty());
        self.ended = true;
        if self.spoiled {
            conn.closed();
            return;
        }
        tokio::spawn(async move {
            let _ = end_on(conn, end).await;
        });
    }

    async fn end(&mut self, commit: bool) -> Result<(), ToolError> {
        self.ended = true;
        if self.spoiled {
            return Err(ToolError::Cancelled);
        }
        // The end statements are computed before the connection is handed on: they depend on it.
        let end = self.end_sql(commit);
        let conn = std::mem::replace(&mut self.conn, Conn::empty());
        end_on(conn, end).await.map_err(|e| self.db.db_error(e, self.timeout_ms))
    }

    fn end_sql(&self, commit: bool) -> String {
        match &self.conn {
            Conn::Postgres(_) => postgres::session::end_sql(self, commit),
            Conn::Mysql(_) => mysql::session::end_sql(self, commit),
            Conn::Sqlite(_) => sqlite::session::end_sql(self, commit),
            Conn::Empty => String::new(),
        }
    }
}

/// Run the end statements and hand the connection back, or close it when they fail.
async fn end_on(conn: Conn, end: String) -> Result<(), sqlx::Error> {
    use sqlx::Executor as _;
    let sql = sqlx::AssertSqlSafe(end);
    match conn {
        Conn::Postgres(mut c) => {
            let r = c.execute(sql).await.map(drop);
            if r.is_err() {
                c.close_on_drop();
            }
            r
        }
        Conn::Mysql(mut c) => {
            let r = c.execute(sql).await.map(drop);
            if r.is_err() {
                c.close_on_drop();
            }
            r
        }
        Conn::Sqlite(mut c) => {
            let r = c.execute(sql).await.map(drop);
            if let Ok(mut h) = c.lock_handle().await {
                h.remove_progress_handler();
            }
            if r.is_err() {
                c.close_on_drop();
            }
            r
        }
        Conn::Empty => Ok(()),
    }
}

impl Database {
    /// Run `work` on a connection in a session of its own (`Access::Catalog` reads, or a
    /// `Writer` that commits when `work` returns), then end it. `work` gets the connection and
    /// returns what it likes (a driver error it wants to judge itself, too).
    pub(crate) async fn with_session<T>(
        &self,
        access: Access,
        work: impl AsyncFnOnce(&mut Conn) -> T,
    ) -> Result<T, ToolError> {
        let mut session = self.session(access, self.config.statement_timeout_ms).await?;
        let out = session.race(work).await?;
        if access == Access::Writer {
            session.commit().await?;
        } else {
            session.close();
        }
        Ok(out)
    }

    /// [`Database::with_session`] for driver calls: their errors become tool errors.
    pub(crate) async fn catalog<T>(
        &self,
        work: impl AsyncFnOnce(&mut Conn) -> Result<T, sqlx::Error>,
    ) -> Result<T, ToolError> {
        let t = self.config.statement_timeout_ms;
        self.with_session(Access::Catalog, work).await?.map_err(|e| self.db_error(e, t))
    }

    /// The session the model's statement runs in: as the reader, read-only, on a read-only
    /// database; as the login, committing only when asked, on a read-write one. On PostgreSQL a
    /// reader's session also says which of the named `relations` row level security filters
    /// for it (read in the same round trip as the begin).
    pub async fn statement_session(
        &self,
        relations: &[String],
        timeout_ms: u64,
    ) -> Result<(Session<'_>, Vec<String>), ToolError> {
        let access = if self.config.mode == Mode::ReadOnly { Access::Reader } else { Access::Writer };
        match self.pool().await? {
            super::Pool::Postgres(p) => postgres::session::open_probing(self, p, access, timeout_ms, relations).await,
            _ => Ok((self.session(access, timeout_ms).await?, vec![])),
        }
    }

    /// Open a session for one call: the right connection, its transaction begun, its role and
    /// timeouts set. `timeout_ms` is the statement timeout (the call's, never above the
    /// database's).
    pub async fn session(&self, access: Access, timeout_ms: u64) -> Result<Session<'_>, ToolError> {
        if access.writes() && self.config.mode == Mode::ReadOnly {
            return Err(ToolError::refused(
                format!("database {} is read-only", self.config.name),
                "use a database configured with mode = \"read-write\"",
            ));
        }
        match self.pool().await? {
            super::Pool::Postgres(p) => postgres::session::open(self, p, access, timeout_ms).await,
            super::Pool::Mysql(p) => mysql::session::open(self, p, access, timeout_ms).await,
            super::Pool::Sqlite(p) => sqlite::session::open(self, p, access, timeout_ms).await,
            super::Pool::Mongo(_) => Err(self.needs_sql("a SQL session")),
        }
    }
}

impl Database {
    /// What refuses the model's reads on this database, in one line, and the step that would
    /// make the database refuse on its own where one is left.
    pub async fn assurance(&self) -> Result<(String, Option<String>), ToolError> {
        let engine = self.config.engine;
        let read_write = self.config.mode == Mode::ReadWrite;
        let reads = match self.pool().await? {
            super::Pool::Postgres(p) => Some(postgres::session::read_as(self, p).await?),
            super::Pool::Mysql(p) => Some(mysql::session::read_as(self, p).await?),
            _ => None,
        };
        let (line, fix) = match (reads, engine) {
            (Some(read_as), _) => (read_as.assurance(), read_as.fix(engine)),
            (None, crate::config::Engine::Sqlite) => (
                "database-enforced: the file is opened read-only (SQLite refuses every write) and SQLite refuses to \
                 attach other files; the parser is a second layer"
                    .to_string(),
                None,
            ),
            (None, _) => (
                "parser-enforced: $out, $merge and server-side JavaScript are refused at any depth of a filter or \
                 pipeline; MongoDB itself refuses writes only to a user holding nothing but read roles"
                    .to_string(),
                Some(
                    "connect as a user with only the read role on this database: db.createUser({user: \
                     'data_engineer_reader', pwd: '<secret>', roles: [{role: 'read', db: '<database>'}]})"
                        .to_string(),
                ),
            ),
        };
        Ok(if read_write {
            (
                format!(
                    "read-write: the model's statements run as the connected login and commit; its reads for checks \
                     and analysis are {line}"
                ),
                None,
            )
        } else {
            (line, fix)
        })
    }
}
