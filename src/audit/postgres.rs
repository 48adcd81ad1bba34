//! PostgreSQL's side of security-audit: the rule queries in one catalog session, and the
//! sampled values behind plaintext-secret-columns.

/// Run audit rules in the session (a catalog reader's); each returns `(object, detail, fix)` rows.
pub(crate) async fn audit(
    session: &mut crate::engine::session::Session<'_>,
    rules: &[&crate::audit::Rule],
) -> Result<Vec<crate::audit::AuditFinding>, crate::error::ToolError> {
    let mut out = Vec::new();
    for rule in rules {
        let rows: Vec<(String, Option<String>, Option<String>)> = session
            .guard(async |conn, _| {
                let crate::engine::session::Conn::Postgres(c) = conn else { unreachable!() };
                sqlx::query_as(rule.sql).fetch_all(&mut **c).await
            })
            .await?;
        out.extend(rows.into_iter().map(|(object, detail, fix)| crate::audit::AuditFinding {
            code: rule.code.clone(),
            severity: rule.severity,
            object,
            detail: detail.unwrap_or_default(),
            why: rule.why.clone(),
            fix: fix.unwrap_or_default(),
        }));
    }
    Ok(out)
}

/// Sample the values of text columns named like secrets and report those not hashed.
pub(crate) async fn plaintext_secrets(
    session: &mut crate::engine::session::Session<'_>,
) -> Result<Vec<crate::audit::AuditFinding>, crate::error::ToolError> {
    use crate::audit::plaintext_secrets as rule;
    let columns = session.rows(include_str!("../audit/plaintext_secrets.sql"), &[]).await?;
    let mut out = Vec::new();
    for c in columns {
        let field = |k: &str| c[k].as_str().unwrap_or_default().to_string();
        let (schema, table, column) = (field("schema"), field("table"), field("column"));
        if !crate::redact::is_secret_name(&column) {
            continue;
        }
        let ident = crate::engine::double_quote;
        let sql = format!(
            "SELECT {col}::text AS v FROM {}.{} WHERE {col} IS NOT NULL AND {col} <> '' LIMIT {}",
            ident(&schema),
            ident(&table),
            rule::SAMPLE,
            col = ident(&column)
        );
        let values: Vec<String> =
            session.rows(sql, &[]).await?.iter().filter_map(|r| r["v"].as_str().map(str::to_string)).collect();
        if let Some(detail) = rule::judge(&values) {
            out.push(crate::audit::AuditFinding {
                code: rule::CODE.into(),
                severity: rule::SEVERITY,
                object: format!("{schema}.{table}.{column}"),
                detail,
                why: rule::WHY.into(),
                fix: format!(
                    "store a hash instead (e.g. crypt(value, gen_salt('bf')) from pgcrypto for passwords), or encrypt it \
                     outside the database; then UPDATE {schema}.{table} to replace the plain values and rotate them"
                ),
            });
        }
    }
    Ok(out)
}
