//! Differential test: our derived `schemas/` must accept and reject exactly
//! what KAZOO's own schema files do, with the same errors and the same
//! defaults, when run through our validator.
//!
//! For every schema of ours that KAZOO also has, documents are generated from
//! KAZOO's schema (a deterministic xorshift PRNG seeded by the schema name):
//! mostly valid ones, and mutated ones with dropped required keys, wrong
//! types, numbers out of range, bad enum values, strings of the wrong length
//! or shape, extra keys where they are forbidden, duplicate list items and
//! numbers sent as strings. The reference files are read from
//! `../shared/kazoo-reference` next to the checkout; without them the test
//! prints a notice and passes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use kazoo_rec::schema::{SchemaSet, ValidationOptions};
use serde_json::{json, Map, Value};

const DOCS_PER_SCHEMA: usize = 240;
const REFERENCE: &str = "shared/kazoo-reference/applications/crossbar/priv/couchdb/schemas";

#[test]
fn derived_schemas_behave_like_kazoos() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let Some(dir) = manifest.parent().map(|parent| parent.join(REFERENCE)) else {
        return;
    };
    if !dir.is_dir() {
        eprintln!(
            "notice: {} not found; differential schema test skipped",
            dir.display()
        );
        return;
    }
    let ours = SchemaSet::embedded(ValidationOptions::default());
    let theirs =
        SchemaSet::from_dir(&dir, ValidationOptions::default()).expect("reference schemas");
    let raw = load_raw(&dir);

    let (mut accepted, mut rejected) = (0usize, 0usize);
    let mut compared = 0;
    for name in ours.names() {
        assert!(theirs.has(name), "{name} has no KAZOO counterpart");
        let Some(schema) = raw.get(name) else {
            continue;
        };
        let mut generator = Generator::new(name, &raw);
        let (mut ok_here, mut err_here) = (0, 0);
        for index in 0..DOCS_PER_SCHEMA {
            let doc = generator.document(schema, index);
            let (mut a, mut b) = (doc.clone(), doc.clone());
            let (ra, rb) = (ours.validate(name, &mut a), theirs.validate(name, &mut b));
            let show = |r: &Result<(), Map<String, Value>>| match r {
                Ok(()) => "ok".to_string(),
                Err(e) => Value::Object(e.clone()).to_string(),
            };
            assert_eq!(show(&ra), show(&rb), "{name}: results differ for {doc}");
            assert_eq!(
                a.to_string(),
                b.to_string(),
                "{name}: defaults differ for {doc}"
            );
            if ra.is_ok() {
                ok_here += 1;
            } else {
                err_here += 1;
            }
        }
        assert_eq!(ok_here + err_here, DOCS_PER_SCHEMA);
        accepted += ok_here;
        rejected += err_here;
        compared += 1;
    }
    eprintln!("{compared} schemas, {accepted} documents accepted, {rejected} rejected by both");
    assert!(compared >= 143, "only {compared} schemas compared");
    // The generator must exercise both outcomes substantially.
    let total = (accepted + rejected) as f64;
    assert!(
        accepted as f64 > 0.25 * total,
        "too few valid documents: {accepted}"
    );
    assert!(
        rejected as f64 > 0.25 * total,
        "too few invalid documents: {rejected}"
    );
}

fn load_raw(dir: &Path) -> HashMap<String, Value> {
    let mut raw = HashMap::new();
    for entry in std::fs::read_dir(dir).expect("reference dir").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            let text = std::fs::read_to_string(&path).expect("readable schema");
            let json: Value = serde_json::from_str(&text).expect("reference schema parses");
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            raw.insert(stem.unwrap_or_default(), json);
        }
    }
    raw
}

/// xorshift64*: tiny, deterministic, good enough to pick branches.
struct XorShift(u64);

impl XorShift {
    fn seeded(name: &str) -> XorShift {
        // FNV-1a of the schema name, so each schema gets its own stream.
        let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        XorShift(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

struct Generator<'a> {
    rng: XorShift,
    schemas: &'a HashMap<String, Value>,
    /// Percent chance that a node is generated wrong; 0 for valid documents.
    mutate_percent: u64,
    mutations_left: u32,
    /// The schema file being generated from, for callflow/metaflow modules.
    file: String,
}

impl<'a> Generator<'a> {
    fn new(name: &str, schemas: &'a HashMap<String, Value>) -> Generator<'a> {
        Generator {
            rng: XorShift::seeded(name),
            schemas,
            mutate_percent: 0,
            mutations_left: 0,
            file: name.to_string(),
        }
    }

    /// Every third document is generated to be valid; the rest carry one to
    /// three mutations placed anywhere in the tree.
    fn document(&mut self, schema: &Value, index: usize) -> Value {
        let (percent, budget) = match index % 3 {
            0 => (0, 0),
            1 => (15, 1),
            _ => (35, 3),
        };
        self.mutate_percent = percent;
        self.mutations_left = budget;
        self.file = schema["_id"].as_str().unwrap_or_default().to_string();
        let mut doc = self.value(schema, 0);
        if budget > 0 && self.mutations_left == budget {
            // Nothing was mutated on the way down: break the top level.
            doc = self.mutant(schema, doc);
        }
        doc
    }

    /// Follow `$ref`s (switching file) and fold one `oneOf`/`anyOf` branch
    /// into the schema, so generation sees a single flat schema.
    fn flatten(&mut self, schema: &Value) -> Map<String, Value> {
        let mut flat = schema.as_object().cloned().unwrap_or_default();
        if let Some(Value::String(name)) = flat.remove("$ref") {
            if let Some(target) = self.schemas.get(&name) {
                self.file = name;
                flat = merge(self.flatten(target), flat);
            }
        }
        for combinator in ["oneOf", "anyOf"] {
            if let Some(Value::Array(branches)) = flat.remove(combinator) {
                if let Some(branch) = self.rng.pick(&branches).cloned() {
                    flat = merge(flat, self.flatten(&branch));
                }
            }
        }
        flat
    }

    fn value(&mut self, schema: &Value, depth: usize) -> Value {
        let saved_file = self.file.clone();
        let flat = self.flatten(schema);
        let value = if self.mutations_left > 0 && self.rng.chance(self.mutate_percent) {
            let valid = self.valid(&flat, depth);
            self.mutant(&Value::Object(flat), valid)
        } else {
            self.valid(&flat, depth)
        };
        self.file = saved_file;
        value
    }

    fn valid(&mut self, schema: &Map<String, Value>, depth: usize) -> Value {
        if let Some(Value::Array(choices)) = schema.get("enum") {
            return self.rng.pick(choices).cloned().unwrap_or(Value::Null);
        }
        let kind = match schema.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(ts)) => {
                let names: Vec<&str> = ts.iter().filter_map(Value::as_str).collect();
                self.rng.pick(&names).unwrap_or(&"string").to_string()
            }
            _ if schema.contains_key("properties") => "object".into(),
            _ if schema.contains_key("items") => "array".into(),
            _ => "string".into(),
        };
        match kind.as_str() {
            "object" => self.object(schema, depth),
            "array" => self.array(schema, depth),
            "integer" => json!(self.number(schema, true)),
            "number" => json!(self.number(schema, false) as f64 + 0.5),
            "boolean" => json!(self.rng.chance(50)),
            "null" => Value::Null,
            _ => json!(self.string(schema)),
        }
    }

    fn object(&mut self, schema: &Map<String, Value>, depth: usize) -> Value {
        let mut out = Map::new();
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let props = schema.get("properties").and_then(Value::as_object);
        let is_action = props.is_some_and(|p| p.contains_key("module") && p.contains_key("data"));
        for (name, sub) in props.into_iter().flatten() {
            let wanted = required.contains(&name.as_str()) || (depth < 4 && self.rng.chance(40));
            if !wanted || (is_action && (name == "module" || name == "data")) {
                continue;
            }
            out.insert(name.clone(), self.value(sub, depth + 1));
        }
        if is_action {
            self.action(&mut out, depth);
        }
        if let Some(patterns) = schema.get("patternProperties").and_then(Value::as_object) {
            let patterns: Vec<(&String, &Value)> = patterns.iter().collect();
            if depth < 3 && self.rng.chance(60) {
                if let Some((pattern, sub)) = self.rng.pick(&patterns) {
                    out.insert(key_matching(pattern), self.value(sub, depth + 1));
                }
            }
        }
        Value::Object(out)
    }

    /// A callflow or metaflow action: a real module and data for it.
    fn action(&mut self, out: &mut Map<String, Value>, depth: usize) {
        let family = if self.file.starts_with("metaflow") {
            "metaflows."
        } else {
            "callflows."
        };
        let mut modules: Vec<&String> = self
            .schemas
            .keys()
            .filter(|name| name.starts_with(family))
            .collect();
        modules.sort();
        let Some(module) = self.rng.pick(&modules).map(|m| m.to_string()) else {
            return;
        };
        out.insert("module".into(), json!(module.trim_start_matches(family)));
        if depth < 4 && self.rng.chance(80) {
            if let Some(schema) = self.schemas.get(&module) {
                out.insert("data".into(), self.value(schema, depth + 1));
            }
        }
    }

    fn array(&mut self, schema: &Map<String, Value>, depth: usize) -> Value {
        let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
        let max = schema
            .get("maxItems")
            .and_then(Value::as_u64)
            .map_or(min + 3, |m| m as usize);
        let len = if depth > 4 {
            min
        } else {
            min + self.rng.below(max.saturating_sub(min) + 1)
        };
        let item = schema
            .get("items")
            .cloned()
            .unwrap_or(json!({"type": "string"}));
        let mut out: Vec<Value> = Vec::new();
        for _ in 0..len * 3 {
            if out.len() >= len {
                break;
            }
            let candidate = self.value(&item, depth + 1);
            if !out.contains(&candidate) || schema.get("uniqueItems") != Some(&json!(true)) {
                out.push(candidate);
            }
        }
        Value::Array(out)
    }

    fn number(&mut self, schema: &Map<String, Value>, _integer: bool) -> i64 {
        let min = schema
            .get("minimum")
            .and_then(Value::as_f64)
            .map_or(0, |m| m.ceil() as i64);
        let max = schema
            .get("maximum")
            .and_then(Value::as_f64)
            .map_or(min + 100, |m| m.floor() as i64);
        min + self.rng.below((max - min).max(0) as usize + 1) as i64
    }

    fn string(&mut self, schema: &Map<String, Value>) -> String {
        let base = if schema.get("kazoo-validation") == Some(&json!(true)) {
            let urls = [
                "https://rec.example.com/in",
                "ftp://u:p@rec.example.com/",
                "http://localhost/x",
            ];
            self.rng.pick(&urls).unwrap_or(&"").to_string()
        } else if schema.get("format") == Some(&json!("email")) {
            "user@example.com".to_string()
        } else if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
            key_matching(pattern)
        } else {
            format!("value{}", self.rng.below(1000))
        };
        let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
        let max = schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .map_or(usize::MAX, |m| m as usize);
        let mut text: String = base.chars().take(max).collect();
        while text.chars().count() < min {
            text.push('a');
        }
        text
    }

    /// Break `valid` in one of the ways that applies to its schema.
    fn mutant(&mut self, schema: &Value, valid: Value) -> Value {
        self.mutations_left = self.mutations_left.saturating_sub(1);
        let s = schema.as_object().cloned().unwrap_or_default();
        let num = |key: &str| s.get(key).and_then(Value::as_f64);
        let mut options: Vec<Value> = vec![json!(null), json!({"unexpected": true}), json!([1, 1])];
        match s.get("type").and_then(Value::as_str) {
            Some("integer") => options.extend([json!("42"), json!("4x"), json!(2.5), json!(true)]),
            Some("number") => options.extend([json!("2.5"), json!("x")]),
            Some("boolean") => options.extend([json!("true"), json!("no"), json!(0)]),
            Some("string") => {
                options.extend([json!(42), json!(""), json!("bad value with spaces!\n")])
            }
            Some("object") | None => options.push(json!("not an object")),
            _ => {}
        }
        if let Some(min) = num("minimum") {
            options.push(json!(min as i64 - 1));
        }
        if let Some(max) = num("maximum") {
            options.push(json!(max as i64 + 1));
        }
        if let Some(max) = num("maxLength") {
            options.push(json!("é".repeat(max as usize + 1)));
        }
        if num("minLength").is_some_and(|m| m > 1.0) {
            options.push(json!("é"));
        }
        if s.contains_key("enum") {
            options.push(json!("not-in-the-enum"));
        }
        if let Value::Object(mut obj) = valid.clone() {
            if let Some(Value::Array(required)) = s.get("required") {
                if let Some(Value::String(key)) = self.rng.pick(required) {
                    obj.remove(key);
                    options.push(Value::Object(obj.clone()));
                }
            }
            obj.insert("unexpected_key".into(), json!("surprise"));
            options.push(Value::Object(obj));
        }
        if let Value::Array(mut list) = valid.clone() {
            if let Some(first) = list.first().cloned() {
                list.push(first);
                options.push(Value::Array(list));
            }
        }
        self.rng.pick(&options).cloned().unwrap_or(valid)
    }
}

/// `base` with `extra`'s keys added; `properties` and `required` are unioned.
fn merge(mut base: Map<String, Value>, extra: Map<String, Value>) -> Map<String, Value> {
    for (key, value) in extra {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(mine)), Value::Object(theirs)) if key == "properties" => {
                mine.extend(theirs);
            }
            (Some(Value::Array(mine)), Value::Array(theirs)) if key == "required" => {
                mine.extend(theirs);
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
    base
}

/// A string matching the patterns KAZOO's schemas use (keys and values).
fn key_matching(pattern: &str) -> String {
    match pattern {
        "^[0-9]+$" => "12".into(),
        "^_" => "_private".into(),
        "^pvt_" => "pvt_flag".into(),
        "local" => "local".into(),
        "^https?://" => "https://example.com/".into(),
        "^[A-Za-z]{2}(-[A-Za-z]{2})?$" => "en-US".into(),
        p if p.contains("{32}") => "0123456789abcdef0123456789abcdef".into(),
        _ => "key_1".into(),
    }
}
