//! Values out: every value of every type comes back readable on the first call, as typed JSON
//! where one fits and as the engine's own text form otherwise, with and without a LIMIT.

use serde_json::json;

use crate::support::{Kind, TestDb};

/// A column of a type that is not built in (enum, domain over one, composite), read with a LIMIT:
/// sqlx looked the type up by a statement of its own between prepare and execute, which dropped
/// the unnamed prepared statement (26000).
#[tokio::test]
async fn postgres_user_types_with_a_limit() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec(
        "create type rating as enum ('G', 'PG', 'R'); create domain strict_rating as rating not null; \
         create type pair as (a int, b text); \
         create table film (id int, rating rating, strict strict_rating, p pair); \
         insert into film values (1, 'PG', 'R', row(1, 'x y'))",
    )
    .await;
    let mcp = db.serve("read-write").await;
    // Each with a type the pooled connection may not have seen yet: the query's own LIMIT, a
    // computed one (read through a cursor), FETCH FIRST, and a write returning rows.
    for (sql, want) in [
        ("select rating from film limit 10", json!(["PG"])),
        ("select strict from film limit 1 + 1", json!(["R"])),
        ("select rating, p from film fetch first 2 rows only", json!(["PG"])),
        ("select id, rating, strict, p from film limit 10", json!([1, "PG", "R"])),
        ("update film set rating = 'G' where id = 1 returning rating, strict", json!(["G", "R"])),
        ("select id, rating, strict, p from film", json!([1, "G", "R"])),
    ] {
        let v = mcp.ok("run-sql", json!({ "sql": sql })).await;
        // The composite column's value is checked by the type zoo.
        let row = &v["rows"][0].as_array().unwrap()[..want.as_array().unwrap().len()];
        assert_eq!(row, want.as_array().unwrap().as_slice(), "{sql}: {v}");
    }
}
