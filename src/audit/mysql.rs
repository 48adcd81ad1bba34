//! MySQL's and MariaDB's side of security-audit: the rule queries, with the rules an account may
//! not read reported instead of failing.

/// Run audit rules in one read-only transaction; each returns `(object, detail, fix)` rows.
pub(crate) async fn audit(
    session: &mut crate::engine::session::Session<'_>,
    rules: &[&crate::audit::Rule],
) -> Result<Vec<crate::audit::AuditFinding>, crate::error::ToolError> {
    let mut out = Vec::new();
    for rule in rules {
        let fetched = session
            .guard(async |conn, _| {
                let crate::engine::session::Conn::Mysql(c) = conn else { unreachable!() };
                Ok(sqlx::query(rule.sql).fetch_all(&mut **c).await)
            })
            .await?;
        let rows = match fetched {
            Ok(rows) => rows,
            // A rule over mysql.* tables the account may not read: say what was not checked.
            Err(sqlx::Error::Database(d))
                if d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .is_some_and(|e| matches!(e.number(), 1044 | 1142 | 1143 | 1227)) =>
            {
                out.push(crate::audit::AuditFinding {
                    code: rule.code.clone(),
                    severity: crate::plan::Severity::Info,
                    object: "(not visible)".into(),
                    detail: format!("not checked: {}", d.message()),
                    why: rule.why.clone(),
                    fix: "run security-audit once as an administrator account to check this rule".into(),
                });
                continue;
            }
            Err(e) => return Err(session.db.db_error(e, session.timeout_ms)),
        };
        for row in crate::engine::objects(&rows, crate::engine::mysql::cell)
            .map_err(|e| session.db.db_error(e, session.timeout_ms))?
        {
            let text = |k: &str| row[k].as_str().unwrap_or_default().to_string();
            out.push(crate::audit::AuditFinding {
                code: rule.code.clone(),
                severity: rule.severity,
                object: text("object"),
                detail: text("detail"),
                why: rule.why.clone(),
                fix: text("fix"),
            });
        }
    }
    Ok(out)
}
