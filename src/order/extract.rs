//! What one statement defines and what it needs to exist before it runs, read from its syntax tree
//! (or, for a statement the parser cannot read, from its leading keywords).

use std::{collections::BTreeSet, ops::ControlFlow, sync::LazyLock};

use regex::Regex;
use sqlparser::{
    ast::{
        AlterTableOperation, ArrayElemTypeDef, ColumnDef, ColumnOption, CommentObject, CreateFunctionBody, CreateTable,
        DataType, Expr, ForeignKeyConstraint, FunctionArg, FunctionArgExpr, FunctionArguments, GrantObjects,
        ObjectName, Query, SchemaName, SequenceOptions, Statement, TableConstraint, UserDefinedTypeRepresentation,
        Visit, Visitor, visit_expressions,
    },
    dialect::Dialect,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Schema,
    Extension,
    /// Tables, views, sequences and indexes share one namespace in PostgreSQL.
    Relation,
    Type,
    Function,
}

/// A named object: the key statements are matched on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Obj {
    pub kind: Kind,
    /// Case-folded, without the default schema (`public`).
    pub name: String,
}

/// A reference from a statement to an object it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Ref {
    pub obj: Obj,
    /// How to name it to a person: table, view, sequence, type, function, schema, extension.
    pub what: &'static str,
    /// Report it when nothing defines it. Calls to functions are not: most are built in.
    pub required: bool,
    /// The n-th foreign key of a CREATE TABLE (cycle breaking moves it to an ALTER TABLE).
    pub foreign_key: Option<usize>,
    /// The engine resolves it only when the statement's object is used (SQLite's foreign keys and
    /// views, trigger bodies everywhere): no order is needed, only that something defines it.
    pub lazy: bool,
}

#[derive(Debug, Default, Clone)]
pub struct Facts {
    pub defines: Vec<(Obj, &'static str)>,
    pub refs: Vec<Ref>,
    /// Its dependencies are unknown (unparsed, or a `DO` block): it stays after everything before it.
    pub barrier: bool,
    /// Tables it changes (ALTER TABLE): later statements on them stay after it (an index on a column
    /// it adds, say).
    pub alters: Vec<Obj>,
}

/// Objects an extension brings, so a use before `CREATE EXTENSION` is caught.
const EXTENSION_OBJECTS: &[(&str, Kind, &[&str])] = &[
    ("citext", Kind::Type, &["citext"]),
    ("vector", Kind::Type, &["vector", "halfvec", "sparsevec"]),
    ("postgis", Kind::Type, &["geometry", "geography", "box2d", "box3d"]),
    ("hstore", Kind::Type, &["hstore"]),
    ("ltree", Kind::Type, &["ltree", "lquery"]),
    ("cube", Kind::Type, &["cube"]),
    ("uuid-ossp", Kind::Function, &["uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4", "uuid_nil"]),
    ("pgcrypto", Kind::Function, &["gen_random_bytes", "crypt", "gen_salt", "digest", "hmac", "pgp_sym_encrypt"]),
    ("pg_trgm", Kind::Function, &["similarity", "word_similarity", "show_trgm"]),
];

/// Type names PostgreSQL has that sqlparser reads as custom names.
const BUILTIN_TYPES: &[&str] = &[
    "serial",
    "serial2",
    "serial4",
    "serial8",
    "smallserial",
    "bigserial",
    "int2",
    "int4",
    "int8",
    "float4",
    "float8",
    "bool",
    "inet",
    "cidr",
    "macaddr",
    "macaddr8",
    "money",
    "oid",
    "regclass",
    "regproc",
    "regtype",
    "regrole",
    "regnamespace",
    "xml",
    "tsvector",
    "tsquery",
    "int4range",
    "int8range",
    "numrange",
    "tsrange",
    "tstzrange",
    "daterange",
    "int4multirange",
    "int8multirange",
    "point",
    "line",
    "lseg",
    "box",
    "path",
    "polygon",
    "circle",
    "pg_lsn",
    "txid_snapshot",
    "name",
    "bit",
    "varbit",
    "jsonpath",
    "trigger",
    "event_trigger",
    "void",
    "record",
    "anyelement",
    "anyarray",
    "internal",
    "timetz",
    "timestamptz",
    "interval",
    "bpchar",
    "refcursor",
    "xid",
    "xid8",
    "cstring",
    "language_handler",
    "regconfig",
    "regdictionary",
    "regoper",
    "regoperator",
    "regprocedure",
    "regcollation",
    "cid",
    "tid",
    "aclitem",
    "nummultirange",
    "tsmultirange",
    "tstzmultirange",
    "datemultirange",
    "anynonarray",
    "anyenum",
    "anyrange",
    "fdw_handler",
    "index_am_handler",
    "tsm_handler",
];

/// Schemas the system owns: what lives there is never reported.
const SYSTEM_SCHEMAS: &[&str] = &["pg_catalog", "information_schema", "sqlite_schema", "sqlite_master"];

pub struct Extractor {
    /// PostgreSQL: schemas, user types, quoted names keep their case.
    pub postgres: bool,
    /// SQLite: foreign keys and views name tables that need not exist yet.
    pub sqlite: bool,
}

impl Extractor {
    /// Fold an object name to its key: identifiers lower-cased unless quoted (PostgreSQL), the
    /// database part dropped, `public.` dropped. `None` for system objects.
    pub fn key(&self, name: &ObjectName) -> Option<(Option<String>, String)> {
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(|p| p.as_ident())
            .map(|i| if self.postgres && i.quote_style.is_some() { i.value.clone() } else { i.value.to_lowercase() })
            .collect();
        let (schema, object) = match parts.as_slice() {
            [] => return None,
            [object] => (None, object.clone()),
            [.., schema, object] => (Some(schema.clone()), object.clone()),
        };
        if schema.as_deref().is_some_and(|s| SYSTEM_SCHEMAS.contains(&s))
            || SYSTEM_SCHEMAS.contains(&object.as_str())
            || (schema.is_none() && object.starts_with("pg_"))
        {
            return None;
        }
        // MySQL and SQLite qualify with a database, not a schema objects are created in.
        let schema = schema.filter(|s| self.postgres && s != "public");
        Some((schema, object))
    }

    fn obj(&self, kind: Kind, name: &ObjectName) -> Option<(Obj, Option<String>)> {
        let (schema, object) = self.key(name)?;
        let name = match &schema {
            Some(s) => format!("{s}.{object}"),
            None => object,
        };
        Some((Obj { kind, name }, schema))
    }

    pub fn facts(&self, stmt: &Statement, dialect: &dyn Dialect) -> Facts {
        let mut f = Collect { x: self, facts: Facts::default(), lazy: false };
        f.statement(stmt, dialect);
        let mut facts = f.facts;
        // A statement does not depend on what it defines itself (a self-referencing foreign key).
        let own: BTreeSet<Obj> = facts.defines.iter().map(|(o, _)| o.clone()).collect();
        facts.refs.retain(|r| !own.contains(&r.obj));
        let mut seen = BTreeSet::new();
        facts.refs.retain(|r| r.foreign_key.is_some() || seen.insert((r.obj.clone(), r.required, r.lazy)));
        facts
    }

    /// Keywords of a statement the parser could not read: what it defines and the table it is on.
    pub fn fallback(&self, text: &str) -> Facts {
        static DEFINES: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(
                r#"(?is)^\s*(?:--[^\n]*\n\s*)*create\s+(?:or\s+replace\s+)?(?:unique\s+)?(?:materialized\s+)?(table|view|index|function|procedure|type|domain|sequence|schema)\s+(?:concurrently\s+)?(?:if\s+not\s+exists\s+)?([\w."]+)"#,
            )
            .expect("valid regex")
        });
        static ON_TABLE: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r#"(?is)^\s*(?:--[^\n]*\n\s*)*(?:create|alter)\s.*?\bon\s+(?:only\s+)?([\w."]+)|^\s*alter\s+table\s+(?:if\s+exists\s+)?(?:only\s+)?([\w."]+)"#)
                .expect("valid regex")
        });
        static COMMENT_ON: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r#"(?is)^\s*(?:--[^\n]*\n\s*)*comment\s+on\s+(?:policy|trigger|constraint|rule)\s+(?:"[^"]*"|\w+)\s+on\s+(?:domain\s+)?([\w."]+)"#)
                .expect("valid regex")
        });
        static EXECUTES: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r#"(?is)\bexecute\s+(?:function|procedure)\s+([\w."]+)\s*\("#).expect("valid regex")
        });
        let name = |s: &str| -> ObjectName {
            ObjectName::from(
                s.split('.')
                    .map(|p| match p.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
                        Some(quoted) => sqlparser::ast::Ident::with_quote('"', quoted),
                        None => sqlparser::ast::Ident::new(p),
                    })
                    .collect::<Vec<_>>(),
            )
        };
        let mut c = Collect { x: self, facts: Facts { barrier: true, ..Facts::default() }, lazy: false };
        let mut defined_here = None;
        if let Some(m) = DEFINES.captures(text) {
            let (kind, what) = match m[1].to_ascii_lowercase().as_str() {
                "table" => (Kind::Relation, "table"),
                "view" => (Kind::Relation, "view"),
                "index" => (Kind::Relation, "index"),
                "sequence" => (Kind::Relation, "sequence"),
                "function" | "procedure" => (Kind::Function, "function"),
                "schema" => (Kind::Schema, "schema"),
                _ => (Kind::Type, "type"),
            };
            defined_here = Some(m[2].to_string());
            c.define(kind, what, &name(&m[2]));
        }
        if let Some(m) = COMMENT_ON.captures(text) {
            c.need(Kind::Relation, "table", &name(&m[1]), true);
        } else if let Some(m) = ON_TABLE.captures(text) {
            let table = m.get(1).or(m.get(2)).map(|t| t.as_str().to_string());
            if let Some(t) = table.filter(|t| Some(t) != defined_here.as_ref()) {
                c.need(Kind::Relation, "table", &name(&t), true);
            }
        }
        static LIKE: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r#"(?is)^\s*(?:--[^\n]*\n\s*)*create\s+(?:\w+\s+)*?table\s.*?\(\s*like\s+([\w."]+)"#)
                .expect("valid regex")
        });
        if let Some(m) = LIKE.captures(text) {
            c.need(Kind::Relation, "table", &name(&m[1]), true);
        }
        if let Some(m) = EXECUTES.captures(text) {
            c.need(Kind::Function, "function", &name(&m[1]), true);
        }
        c.facts
    }
}

struct Collect<'a> {
    x: &'a Extractor,
    facts: Facts,
    /// References collected now are [`Ref::lazy`].
    lazy: bool,
}

impl Collect<'_> {
    /// Collect with `f`, marking what it finds lazy.
    fn lazily(&mut self, f: impl FnOnce(&mut Self)) {
        let was = std::mem::replace(&mut self.lazy, true);
        f(self);
        self.lazy = was;
    }
}

impl Collect<'_> {
    fn define(&mut self, kind: Kind, what: &'static str, name: &ObjectName) {
        if let Some((obj, schema)) = self.x.obj(kind, name) {
            if let Some(s) = schema {
                self.need_key(Obj { kind: Kind::Schema, name: s }, "schema", true, None);
            }
            self.facts.defines.push((obj, what));
        }
    }

    fn need(&mut self, kind: Kind, what: &'static str, name: &ObjectName, required: bool) {
        self.need_fk(kind, what, name, required, None);
    }

    fn need_fk(&mut self, kind: Kind, what: &'static str, name: &ObjectName, required: bool, fk: Option<usize>) {
        if let Some((obj, schema)) = self.x.obj(kind, name) {
            if let Some(s) = schema {
                // The schema of a referenced object: an edge when it is defined here, never reported on
                // its own (the object is).
                self.need_key(Obj { kind: Kind::Schema, name: s }, "schema", false, None);
            }
            self.need_key(obj, what, required, fk);
        }
    }

    fn need_key(&mut self, obj: Obj, what: &'static str, required: bool, foreign_key: Option<usize>) {
        let lazy = self.lazy;
        self.facts.refs.push(Ref { obj, what, required, foreign_key, lazy });
    }

    fn data_type(&mut self, t: &DataType) {
        if !self.x.postgres {
            // MySQL and SQLite have no user-defined types; SQLite accepts any type name.
            return;
        }
        match t {
            DataType::Custom(name, _) => {
                let builtin = self
                    .x
                    .key(name)
                    .is_none_or(|(schema, object)| schema.is_none() && BUILTIN_TYPES.contains(&object.as_str()));
                if !builtin {
                    self.need(Kind::Type, "type", name, true);
                }
            }
            DataType::Array(
                ArrayElemTypeDef::AngleBracket(inner)
                | ArrayElemTypeDef::SquareBracket(inner, _)
                | ArrayElemTypeDef::Parenthesis(inner)
                | ArrayElemTypeDef::ParenthesisNotNull(inner)
                | ArrayElemTypeDef::Qualified(inner, _),
            ) => self.data_type(inner),
            _ => {}
        }
    }

    /// Functions called, sequences named in `nextval('seq')`, types cast to, anywhere in `node`.
    fn expressions<V: Visit>(&mut self, node: &V) {
        let mut found = Vec::new();
        let _ = visit_expressions(node, |e: &Expr| {
            found.push(e.clone());
            ControlFlow::<()>::Continue(())
        });
        for e in found {
            match &e {
                Expr::Function(f) => {
                    let fname = self.x.key(&f.name).map(|(_, o)| o).unwrap_or_default();
                    if matches!(fname.as_str(), "nextval" | "setval" | "currval")
                        && let FunctionArguments::List(list) = &f.args
                        && let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))) = list.args.first()
                        && let Some(seq) = string_literal(arg)
                    {
                        let parts: Vec<_> = seq.split('.').map(sqlparser::ast::Ident::new).collect();
                        self.need(Kind::Relation, "sequence", &ObjectName::from(parts), true);
                    }
                    self.need(Kind::Function, "function", &f.name, false);
                }
                Expr::Cast { data_type, .. } => self.data_type(data_type),
                _ => {}
            }
        }
    }

    /// Tables and views read (FROM, JOIN, subqueries), without the names of CTEs.
    fn relations<V: Visit>(&mut self, node: &V) {
        let mut v = Relations::default();
        let _ = node.visit(&mut v);
        for name in v.names {
            let is_cte =
                name.0.len() == 1 && name.0[0].as_ident().is_some_and(|i| v.ctes.contains(&i.value.to_lowercase()));
            if !is_cte {
                self.need(Kind::Relation, "relation", &name, true);
            }
        }
    }

    fn column(&mut self, col: &ColumnDef, fk_count: &mut usize) {
        self.data_type(&col.data_type);
        for opt in &col.options {
            if let ColumnOption::ForeignKey(fk) = &opt.option {
                self.foreign_key(fk, fk_count);
            }
        }
    }

    fn foreign_key(&mut self, fk: &ForeignKeyConstraint, fk_count: &mut usize) {
        if self.x.sqlite {
            // SQLite checks foreign keys when rows change, not when the table is created.
            self.lazily(|c| c.need(Kind::Relation, "table", &fk.foreign_table, true));
        } else {
            self.need_fk(Kind::Relation, "table", &fk.foreign_table, true, Some(*fk_count));
        }
        *fk_count += 1;
    }

    fn create_table(&mut self, ct: &CreateTable) {
        self.define(Kind::Relation, "table", &ct.name);
        let mut fk_count = 0;
        for col in &ct.columns {
            self.column(col, &mut fk_count);
        }
        for c in &ct.constraints {
            if let TableConstraint::ForeignKey(fk) = c {
                self.foreign_key(fk, &mut fk_count);
            }
        }
        // INHERITS (parent), LIKE source, CLONE source: the other table must exist.
        for parent in ct.inherits.iter().flatten().chain(&ct.clone) {
            self.need(Kind::Relation, "table", parent, true);
        }
        if let Some(
            sqlparser::ast::CreateTableLikeKind::Parenthesized(like) | sqlparser::ast::CreateTableLikeKind::Plain(like),
        ) = &ct.like
        {
            self.need(Kind::Relation, "table", &like.name, true);
        }
        self.expressions(ct);
        let before = self.facts.refs.len();
        self.relations(ct);
        // A foreign key's table counts once, as the foreign key (which cycle breaking can move).
        let fk_tables: BTreeSet<Obj> =
            self.facts.refs.iter().filter(|r| r.foreign_key.is_some()).map(|r| r.obj.clone()).collect();
        let mut n = 0;
        self.facts.refs.retain(|r| {
            n += 1;
            n <= before || !fk_tables.contains(&r.obj)
        });
    }

    fn statement(&mut self, stmt: &Statement, dialect: &dyn Dialect) {
        match stmt {
            Statement::CreateTable(ct) => self.create_table(ct),
            Statement::CreateView(v) => {
                self.define(Kind::Relation, if v.materialized { "materialized view" } else { "view" }, &v.name);
                if self.x.sqlite {
                    // SQLite resolves a view's tables when it is queried.
                    self.lazily(|c| {
                        c.expressions(&v.query);
                        c.relations(&v.query);
                    });
                } else {
                    self.expressions(&v.query);
                    self.relations(&v.query);
                }
            }
            Statement::CreateIndex(ix) => {
                if let Some(name) = &ix.name {
                    // An index lives in its table's schema, whatever the name says.
                    self.facts.defines.extend(self.x.obj(Kind::Relation, name).map(|(o, _)| (o, "index")));
                }
                self.need(Kind::Relation, "table", &ix.table_name, true);
                self.expressions(&ix.columns);
            }
            Statement::CreateFunction(cf) => {
                self.define(Kind::Function, "function", &cf.name);
                for arg in cf.args.iter().flatten() {
                    self.data_type(&arg.data_type);
                }
                match &cf.return_type {
                    Some(
                        sqlparser::ast::FunctionReturnType::DataType(t) | sqlparser::ast::FunctionReturnType::SetOf(t),
                    ) => self.data_type(t),
                    None => {}
                }
                self.function_body(cf.language.as_ref().map(|l| l.value.to_lowercase()), &cf.function_body, dialect);
            }
            Statement::CreateProcedure { name, params, .. } => {
                self.define(Kind::Function, "procedure", name);
                for p in params.iter().flatten() {
                    self.data_type(&p.data_type);
                }
            }
            Statement::CreateTrigger(t) => {
                self.need(Kind::Relation, "table", &t.table_name, true);
                if let Some(body) = &t.exec_body {
                    self.need(Kind::Function, "function", &body.func_desc.name, true);
                }
                if let Some(body) = &t.statements {
                    // No engine checks a trigger's body before it fires.
                    self.lazily(|c| {
                        c.expressions(body);
                        c.relations(body);
                    });
                }
                if let Some(cond) = &t.condition {
                    self.expressions(cond);
                }
            }
            Statement::CreatePolicy(p) => {
                self.need(Kind::Relation, "table", &p.table_name, true);
                for e in p.using.iter().chain(&p.with_check) {
                    self.expressions(e);
                    self.relations(e);
                }
            }
            Statement::CreateType { name, representation } => {
                self.define(Kind::Type, "type", name);
                if let Some(UserDefinedTypeRepresentation::Composite { attributes }) = representation {
                    for a in attributes {
                        self.data_type(&a.data_type);
                    }
                }
            }
            Statement::CreateDomain(d) => {
                self.define(Kind::Type, "domain", &d.name);
                self.data_type(&d.data_type);
                self.expressions(stmt);
            }
            Statement::CreateExtension(e) => {
                let name = e.name.value.to_lowercase();
                self.facts.defines.push((Obj { kind: Kind::Extension, name: name.clone() }, "extension"));
                if let Some(schema) = &e.schema {
                    self.need_key(Obj { kind: Kind::Schema, name: schema.value.to_lowercase() }, "schema", false, None);
                }
                for (ext, kind, objects) in EXTENSION_OBJECTS {
                    if *ext == name {
                        let what = if *kind == Kind::Type { "type" } else { "function" };
                        for o in *objects {
                            self.facts.defines.push((Obj { kind: *kind, name: o.to_string() }, what));
                        }
                    }
                }
            }
            Statement::CreateSchema { schema_name, .. } => {
                if let SchemaName::Simple(name) | SchemaName::NamedAuthorization(name, _) = schema_name
                    && let Some((_, object)) = self.x.key(name)
                {
                    self.facts.defines.push((Obj { kind: Kind::Schema, name: object }, "schema"));
                }
            }
            Statement::CreateSequence { name, sequence_options, .. } => {
                self.define(Kind::Relation, "sequence", name);
                for o in sequence_options {
                    match o {
                        // OWNED BY table.column: the table must exist.
                        SequenceOptions::OwnedBy(Some(owner)) if owner.0.len() >= 2 => {
                            let table = ObjectName(owner.0[..owner.0.len() - 1].to_vec());
                            self.need(Kind::Relation, "table", &table, true);
                        }
                        SequenceOptions::DataType(t) => self.data_type(t),
                        _ => {}
                    }
                }
            }
            Statement::AlterTable(at) => {
                self.need(Kind::Relation, "table", &at.name, true);
                self.facts.alters.extend(self.x.obj(Kind::Relation, &at.name).map(|(o, _)| o));
                let mut fk_count = 0;
                for op in &at.operations {
                    match op {
                        AlterTableOperation::AddConstraint { constraint: TableConstraint::ForeignKey(fk), .. } => {
                            self.need(Kind::Relation, "table", &fk.foreign_table, true);
                        }
                        AlterTableOperation::AddColumn { column_def, .. } => self.column(column_def, &mut fk_count),
                        _ => {}
                    }
                }
                self.expressions(stmt);
            }
            Statement::Comment { object_type, object_name, .. } => {
                let (kind, what, name) = match object_type {
                    CommentObject::Column if object_name.0.len() >= 2 => {
                        (Kind::Relation, "table", ObjectName(object_name.0[..object_name.0.len() - 1].to_vec()))
                    }
                    CommentObject::Table | CommentObject::ForeignTable => {
                        (Kind::Relation, "table", object_name.clone())
                    }
                    CommentObject::View | CommentObject::MaterializedView => {
                        (Kind::Relation, "view", object_name.clone())
                    }
                    CommentObject::Index => (Kind::Relation, "index", object_name.clone()),
                    CommentObject::Sequence => (Kind::Relation, "sequence", object_name.clone()),
                    CommentObject::Function | CommentObject::Procedure => {
                        (Kind::Function, "function", object_name.clone())
                    }
                    CommentObject::Type | CommentObject::Domain => (Kind::Type, "type", object_name.clone()),
                    CommentObject::Schema => (Kind::Schema, "schema", object_name.clone()),
                    CommentObject::Extension => (Kind::Extension, "extension", object_name.clone()),
                    _ => return,
                };
                self.need(kind, what, &name, true);
            }
            Statement::Grant(g) => match &g.objects {
                Some(GrantObjects::Tables(names) | GrantObjects::Views(names)) => {
                    for n in names {
                        self.need(Kind::Relation, "table", n, true);
                    }
                }
                Some(GrantObjects::Sequences(names)) => {
                    for n in names {
                        self.need(Kind::Relation, "sequence", n, true);
                    }
                }
                Some(
                    GrantObjects::Schemas(names)
                    | GrantObjects::AllTablesInSchema { schemas: names }
                    | GrantObjects::AllSequencesInSchema { schemas: names }
                    | GrantObjects::AllFunctionsInSchema { schemas: names },
                ) => {
                    for n in names {
                        if let Some((_, object)) = self.x.key(n).filter(|_| self.x.postgres) {
                            self.need_key(Obj { kind: Kind::Schema, name: object }, "schema", true, None);
                        }
                    }
                }
                Some(GrantObjects::Functions(fs) | GrantObjects::Procedures(fs)) => {
                    for f in fs {
                        self.need(Kind::Function, "function", &f.name, true);
                    }
                }
                _ => {}
            },
            // Dropping, transaction control and settings need nothing to exist first.
            Statement::Drop { .. }
            | Statement::DropFunction(_)
            | Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Rollback { .. }
            | Statement::Set(_) => {}
            other => {
                self.expressions(other);
                self.relations(other);
            }
        }
    }

    /// A `LANGUAGE sql` body is checked when the function is created, so what it reads must exist
    /// by then; PL/pgSQL bodies are checked only when they run.
    fn function_body(&mut self, language: Option<String>, body: &Option<CreateFunctionBody>, dialect: &dyn Dialect) {
        match body {
            Some(CreateFunctionBody::AsBeforeOptions { body: e, .. } | CreateFunctionBody::AsAfterOptions(e))
                if language.as_deref() == Some("sql") =>
            {
                if let Some(text) = string_literal(e)
                    && let Ok(stmts) = crate::sql::parse_with(dialect, &text)
                {
                    for s in &stmts {
                        self.expressions(s);
                        self.relations(s);
                    }
                }
            }
            Some(CreateFunctionBody::Return(e)) => {
                self.expressions(e);
                self.relations(e);
            }
            Some(CreateFunctionBody::AsBeginEnd(b) | CreateFunctionBody::BeginAtomic(b)) => {
                self.expressions(b);
                self.relations(b);
            }
            _ => {}
        }
    }
}

fn string_literal(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(v) => v.value.clone().into_string(),
        Expr::Cast { expr, .. } => string_literal(expr),
        _ => None,
    }
}

#[derive(Default)]
struct Relations {
    names: Vec<ObjectName>,
    ctes: BTreeSet<String>,
}

impl Visitor for Relations {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.ctes.insert(cte.alias.name.value.to_lowercase());
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
        self.names.push(relation.clone());
        ControlFlow::Continue(())
    }
}

/// Which foreign keys of a CREATE TABLE, numbered like [`Ref::foreign_key`], to move out into
/// `ALTER TABLE ... ADD` statements: the table without them, and the statements that add them.
pub fn move_foreign_keys(stmt: &Statement, moved: &BTreeSet<usize>) -> Option<(String, Vec<String>)> {
    let Statement::CreateTable(ct) = stmt else { return None };
    let mut table = ct.clone();
    let mut alters = Vec::new();
    let mut n = 0;
    let add = |fk: ForeignKeyConstraint| format!("ALTER TABLE {} ADD {};", ct.name, TableConstraint::ForeignKey(fk));
    for col in &mut table.columns {
        let mut kept = Vec::new();
        for opt in col.options.drain(..) {
            if let ColumnOption::ForeignKey(fk) = &opt.option {
                n += 1;
                if moved.contains(&(n - 1)) {
                    let mut fk = fk.clone();
                    fk.columns = vec![col.name.clone()];
                    fk.name = fk.name.or(opt.name.clone());
                    alters.push(add(fk));
                    continue;
                }
            }
            kept.push(opt);
        }
        col.options = kept;
    }
    let mut kept = Vec::new();
    for c in table.constraints.drain(..) {
        if let TableConstraint::ForeignKey(fk) = &c {
            n += 1;
            if moved.contains(&(n - 1)) {
                alters.push(add(fk.clone()));
                continue;
            }
        }
        kept.push(c);
    }
    table.constraints = kept;
    Some((format!("{};", Statement::CreateTable(table)), alters))
}
