//! The schema model every engine's catalog is read into: a sorted list of objects (tables,
//! columns, constraints, indexes, views, functions, triggers, policies, grants, sequences), each
//! with its definition and the statements that create and drop it, plus sequence positions.
//! Its fingerprint identifies a schema state; two snapshots diff object by object.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One schema object as the engine's catalog describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SchemaObject {
    /// table, column, constraint, foreign key, index, view, function, trigger, policy, grant, ...
    pub kind: String,
    /// Qualified name (`schema.table.column` for columns).
    pub name: String,
    /// The table it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The catalog's definition; what the fingerprint and diffs compare.
    pub definition: String,
    /// The statement that creates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<String>,
    /// The statement that drops it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop: Option<String>,
    /// The statement that turns an existing object of this name into this definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alter: Option<String>,
    /// Created by its table's `create` (so not created again on its own).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub with_table: bool,
    /// Creation order: objects are created by ascending rank and dropped by descending rank.
    pub rank: i64,
}

/// A whole schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Schema {
    pub objects: Vec<SchemaObject>,
    /// Sequence (or auto-increment) positions. Recorded, but not part of the fingerprint: they
    /// move with every insert, and a plan must stay valid while the application writes.
    #[serde(default)]
    pub positions: BTreeMap<String, Option<i64>>,
}

/// Objects with kinds that hold rows: dropping them loses data.
pub fn holds_data(kind: &str) -> bool {
    matches!(kind, "table" | "column" | "materialized view")
}

impl Schema {
    /// Sort for a deterministic description.
    pub fn normalized(mut self) -> Self {
        self.objects.sort_by(|a, b| (a.rank, &a.kind, &a.name).cmp(&(b.rank, &b.kind, &b.name)));
        self.objects.dedup_by(|a, b| a.kind == b.kind && a.name == b.name);
        self
    }

    /// SHA-256 over every object's kind, name and definition, in order; 32 hex digits.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for o in &self.objects {
            for part in [&o.kind, &o.name, &o.definition] {
                h.update(part.as_bytes());
                h.update([0u8]);
            }
            h.update(b"\n");
        }
        hex::encode(&h.finalize()[..16])
    }

    fn find(&self, kind: &str, name: &str) -> Option<&SchemaObject> {
        self.objects.iter().find(|o| o.kind == kind && o.name == name)
    }
}

/// One object in a diff.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ObjectChange {
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// What changed from one schema to another.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SchemaDiff {
    pub added: Vec<ObjectChange>,
    pub removed: Vec<ObjectChange>,
    pub changed: Vec<ObjectChange>,
}

impl SchemaDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

pub fn diff(before: &Schema, after: &Schema) -> SchemaDiff {
    let mut out = SchemaDiff::default();
    for a in &after.objects {
        match before.find(&a.kind, &a.name) {
            None => out.added.push(ObjectChange {
                kind: a.kind.clone(),
                name: a.name.clone(),
                before: None,
                after: Some(a.definition.clone()),
            }),
            Some(b) if b.definition != a.definition => out.changed.push(ObjectChange {
                kind: a.kind.clone(),
                name: a.name.clone(),
                before: Some(b.definition.clone()),
                after: Some(a.definition.clone()),
            }),
            Some(_) => {}
        }
    }
    for b in &before.objects {
        if after.find(&b.kind, &b.name).is_none() {
            out.removed.push(ObjectChange {
                kind: b.kind.clone(),
                name: b.name.clone(),
                before: Some(b.definition.clone()),
                after: None,
            });
        }
    }
    out
}

/// The statements that bring `current` back to `target`, in order, with what they cost.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reversal {
    pub statements: Vec<String>,
    /// Tables and columns the statements drop, whose data does not come back.
    pub drops_data: Vec<String>,
    /// Differences no statement could be derived for; they need a hand-written fix.
    pub manual: Vec<String>,
}

/// Drops first (dependents before what they depend on), then alters, then creates (in creation
/// order). Children of a table that is dropped or created as a whole are skipped: the table's
/// own statement covers them.
pub fn reversal(current: &Schema, target: &Schema) -> Reversal {
    reversal_with(current, target, &|_, _| None)
}

/// Statements that rebuild a table into its target definition (SQLite's 12 steps), when the
/// engine offers them: `rebuild(current_table, target_table)`.
pub type Rebuild<'a> = &'a dyn Fn(&SchemaObject, &SchemaObject) -> Option<RebuiltTable>;

/// A table rebuild: its statements and the columns whose data it drops.
pub struct RebuiltTable {
    pub statements: Vec<String>,
    pub drops_data: Vec<String>,
}

/// Does a definition mention this (possibly qualified) table name as a word?
fn mentions(definition: &str, table: &str) -> bool {
    let bare = table.rsplit('.').next().unwrap_or(table).trim_matches(['"', '`']).to_ascii_lowercase();
    let text = definition.to_ascii_lowercase();
    text.match_indices(&bare).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + bare.len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        !word(before) && !word(after)
    })
}

pub fn reversal_with(current: &Schema, target: &Schema, rebuild: Rebuild) -> Reversal {
    let mut out = Reversal::default();
    // Changed tables the engine rebuilds: their children are rebuilt with them.
    let mut rebuilds: Vec<RebuiltTable> = Vec::new();
    let mut rebuilt: BTreeSet<&str> = BTreeSet::new();
    for t in target.objects.iter().filter(|o| o.kind == "table" && o.alter.is_none()) {
        if let Some(c) = current.find("table", &t.name)
            && c.definition != t.definition
            && let Some(r) = rebuild(c, t)
        {
            rebuilt.insert(t.name.as_str());
            rebuilds.push(r);
        }
    }
    let in_rebuilt = |o: &SchemaObject| {
        o.parent.as_deref().is_some_and(|p| rebuilt.contains(p))
            || (o.kind == "table" && rebuilt.contains(o.name.as_str()))
            || (o.kind == "view" && rebuilt.iter().any(|t| mentions(&o.definition, t)))
    };
    let removed_tables: BTreeSet<&str> = current
        .objects
        .iter()
        .filter(|o| o.kind == "table" && target.find("table", &o.name).is_none())
        .map(|o| o.name.as_str())
        .collect();
    let created_tables: BTreeSet<&str> = target
        .objects
        .iter()
        .filter(|o| o.kind == "table" && current.find("table", &o.name).is_none())
        .map(|o| o.name.as_str())
        .collect();
    let mut drops: Vec<&SchemaObject> = Vec::new();
    let mut alters: Vec<String> = Vec::new();
    let mut creates: Vec<&SchemaObject> = Vec::new();
    for c in &current.objects {
        if in_rebuilt(c) {
            // Views that read a rebuilt table are dropped first and created again after it.
            if c.kind == "view" {
                drops.push(c);
            }
            continue;
        }
        match target.find(&c.kind, &c.name) {
            None if c.parent.as_deref().is_some_and(|p| removed_tables.contains(p)) => {}
            None => drops.push(c),
            Some(t) if t.definition == c.definition => {}
            Some(t) => match (&t.alter, &c.drop, &t.create) {
                (Some(alter), _, _) => alters.push(alter.clone()),
                (None, Some(_), Some(_)) if !holds_data(&c.kind) => {
                    drops.push(c);
                    creates.push(t);
                }
                // A table whose definition text holds its columns (SQLite) changes with them; the
                // column statements bring it back.
                _ if c.kind == "table" && columns_differ(current, target, &c.name) => {}
                _ => out.manual.push(format!("{} {} changed: {} (was {})", c.kind, c.name, c.definition, t.definition)),
            },
        }
    }
    for mut r in rebuilds {
        alters.append(&mut r.statements);
        out.drops_data.append(&mut r.drops_data);
    }
    for t in &target.objects {
        if in_rebuilt(t) {
            if !t.with_table && t.kind != "table" {
                creates.push(t);
            }
            continue;
        }
        if current.find(&t.kind, &t.name).is_some() {
            continue;
        }
        let in_created_table = t.parent.as_deref().is_some_and(|p| created_tables.contains(p));
        if in_created_table && t.with_table {
            continue;
        }
        creates.push(t);
    }
    drops.sort_by(|a, b| (b.rank, &b.name).cmp(&(a.rank, &a.name)));
    creates.sort_by(|a, b| (a.rank, &a.name).cmp(&(b.rank, &b.name)));
    for d in drops {
        match &d.drop {
            Some(sql) => {
                if holds_data(&d.kind) {
                    out.drops_data.push(format!("{} {}", d.kind, d.name));
                }
                out.statements.push(sql.clone());
            }
            None => out.manual.push(format!("{} {} exists now and cannot be dropped automatically", d.kind, d.name)),
        }
    }
    out.statements.extend(alters);
    for c in creates {
        match &c.create {
            Some(sql) => out.statements.push(sql.clone()),
            None => out.manual.push(format!("{} {} must be recreated by hand: {}", c.kind, c.name, c.definition)),
        }
    }
    out
}

fn columns_differ(current: &Schema, target: &Schema, table: &str) -> bool {
    let columns = |s: &Schema| -> Vec<(String, String)> {
        s.objects
            .iter()
            .filter(|o| o.kind == "column" && o.parent.as_deref() == Some(table))
            .map(|o| (o.name.clone(), o.definition.clone()))
            .collect()
    };
    columns(current) != columns(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(kind: &str, name: &str, parent: Option<&str>, definition: &str, rank: i64) -> SchemaObject {
        SchemaObject {
            kind: kind.into(),
            name: name.into(),
            parent: parent.map(str::to_string),
            definition: definition.into(),
            create: Some(format!("create {kind} {name} {definition}")),
            drop: Some(format!("drop {kind} {name}")),
            alter: None,
            with_table: kind == "column",
            rank,
        }
    }

    fn schema(objects: Vec<SchemaObject>) -> Schema {
        Schema { objects, positions: BTreeMap::new() }.normalized()
    }

    #[test]
    fn fingerprint_ignores_order_and_positions_but_not_definitions() {
        let a = schema(vec![object("table", "t", None, "", 4), object("column", "t.a", Some("t"), "int", 5)]);
        let mut b = schema(vec![object("column", "t.a", Some("t"), "int", 5), object("table", "t", None, "", 4)]);
        b.positions.insert("t_id_seq".into(), Some(42));
        assert_eq!(a.fingerprint(), b.fingerprint());
        let c = schema(vec![object("table", "t", None, "", 4), object("column", "t.a", Some("t"), "bigint", 5)]);
        assert_ne!(a.fingerprint(), c.fingerprint());
        let d = diff(&a, &c);
        assert_eq!((d.added.len(), d.removed.len(), d.changed.len()), (0, 0, 1));
    }

    #[test]
    fn reversal_drops_what_was_added_and_recreates_what_was_removed() {
        let before = schema(vec![
            object("table", "t", None, "", 4),
            object("column", "t.a", Some("t"), "int", 5),
            object("index", "t_a", Some("t"), "on t(a)", 8),
        ]);
        let after = schema(vec![
            object("table", "t", None, "", 4),
            object("column", "t.a", Some("t"), "int", 5),
            object("column", "t.b", Some("t"), "text", 5),
            object("table", "u", None, "", 4),
            object("column", "u.x", Some("u"), "int", 5),
        ]);
        let r = reversal(&after, &before);
        assert_eq!(r.statements, vec!["drop column t.b", "drop table u", "create index t_a on t(a)"]);
        assert_eq!(r.drops_data, vec!["column t.b", "table u"]);
        assert!(r.manual.is_empty());
        // And forward again: the new table comes with its columns.
        let f = reversal(&before, &after);
        assert_eq!(f.statements, vec!["drop index t_a", "create table u ", "create column t.b text"]);
    }
}
