//! The validation walk: a port of the jesse 1.5 (KAZOO fork) draft-4 state
//! machine, run with KAZOO's options (`allowed_errors: infinity`,
//! `use_defaults`, `apply_defaults_to_empty_objects`).
//!
//! What KAZOO's answers depend on, and this walk reproduces:
//! - keywords run in schema order and every failure is collected;
//! - a missing property with a usable `default` gets it written into the
//!   document, and the default is then validated (filling nested defaults);
//! - each check sees the value as it was when the walk entered the node,
//!   except that after `properties`, `patternProperties`, `items`,
//!   `multipleOf` and the combinators the value is re-read from the document,
//!   so e.g. `required` is satisfied by an inserted default ([`Input`]);
//! - failed `oneOf`/`anyOf` branches are rolled back (failures and
//!   defaults), so only the matching `oneOf` branch leaves defaults.

use std::borrow::Cow;

use serde_json::Value;

use super::compile::{Additional, Extra, Items, Keyword, Node, Pattern, Property};
use super::document::{Document, Input};
use super::failure::{Failure, PathItem, Reason};
use super::{extensions, leaf, SchemaSet};

/// Nested checks allowed before giving up. A request body parsed by
/// serde_json is at most 128 levels deep, which takes at most ~260 nested
/// checks with our schemas; each costs ~2 KB of stack in a debug build.
const MAX_DEPTH: usize = 320;

/// Keywords that only look at the value's type, a scalar, or an array's
/// length. Writes only ever add or replace members *below* the value, so
/// for these the current document is as good as jesse's snapshot and no
/// stale snapshot needs rebuilding.
fn sees_only_shape(keyword: &Keyword) -> bool {
    matches!(
        keyword,
        Keyword::Type(_)
            | Keyword::Minimum { .. }
            | Keyword::Maximum { .. }
            | Keyword::MinLength(_)
            | Keyword::MaxLength(_)
            | Keyword::Pattern(_)
            | Keyword::Format(_)
            | Keyword::MultipleOf(_)
            | Keyword::MinItems(_)
            | Keyword::MaxItems(_)
    )
}

pub(crate) struct Walker<'s> {
    pub set: &'s SchemaSet,
    /// The document being validated, with defaults filled in as we go.
    pub doc: Document,
    /// Where the value being checked sits in the document.
    pub path: Vec<PathItem>,
    pub failures: Vec<Failure<'s>>,
    depth: usize,
}

impl<'s> Walker<'s> {
    /// Validate `doc` against `schema`; returns the document with defaults
    /// and every failure found.
    pub fn run(set: &'s SchemaSet, schema: &'s Node, doc: Value) -> (Value, Vec<Failure<'s>>) {
        let mut walker = Walker {
            set,
            doc: Document::new(doc),
            path: Vec::new(),
            failures: Vec::new(),
            depth: 0,
        };
        walker.check_value(Input::Live { since: 0 }, schema);
        (walker.doc.into_value(), walker.failures)
    }

    /// Run `f` on the value `input` stands for (`None` if it has vanished).
    pub fn with_value<R>(&self, input: &Input<'_>, f: impl FnOnce(&Value) -> R) -> Option<R> {
        match input {
            Input::Live { since } if *since == self.doc.version() => {
                self.doc.get(&self.path).map(f)
            }
            Input::Live { since } => self.doc.value_as_of(&self.path, *since).as_ref().map(f),
            Input::Fixed(value) => Some(f(value)),
        }
    }

    /// Record a failure at the current path, quoting the value `input` stands for.
    pub fn fail(&mut self, reason: Reason, input: &Input<'_>, node: &'s Node) {
        let value = self.with_value(input, Value::clone).unwrap_or(Value::Null);
        self.fail_with(reason, value, node);
    }

    pub fn fail_with(&mut self, reason: Reason, value: Value, node: &'s Node) {
        self.failures.push(Failure {
            path: self.path.clone(),
            reason,
            value,
            node,
        });
    }

    /// Apply every keyword of `node`, in schema order, then the KAZOO
    /// extensions (jesse's external validator runs last).
    pub fn check_value(&mut self, input: Input<'_>, node: &'s Node) {
        if self.depth >= MAX_DEPTH {
            let reason = Reason::External("document is nested too deeply".into());
            self.fail_with(reason, Value::Null, node);
            return;
        }
        self.depth += 1;
        let mut input = self.pin_scalar(input);
        for keyword in &node.keywords {
            let reread = if sees_only_shape(keyword) {
                self.check_shape(&mut input, keyword, node)
            } else {
                self.keep_snapshot(&mut input);
                self.check_keyword(&input, keyword, node)
            };
            if reread {
                // jesse re-reads the value from the document here.
                let since = self.doc.version();
                input = self.pin_scalar(Input::Live { since });
            }
        }
        if node.kazoo_validation || node.kazoo_regexp {
            self.keep_snapshot(&mut input);
            extensions::check(self, &input, node);
        }
        self.depth -= 1;
    }

    /// Nothing is ever written below a string, number, boolean or null, so
    /// such a value is copied once instead of being looked up by path for
    /// every keyword.
    fn pin_scalar<'v>(&self, input: Input<'v>) -> Input<'v> {
        match input {
            Input::Live { since } if since == self.doc.version() => {
                match self.doc.get(&self.path) {
                    Some(value) if !value.is_object() && !value.is_array() => {
                        Input::Fixed(Cow::Owned(value.clone()))
                    }
                    _ => input,
                }
            }
            _ => input,
        }
    }

    /// A live view whose part of the document has been written to since it
    /// was taken must keep showing the old value: rebuild it once and pin it
    /// (rather than on every `with_value`).
    fn keep_snapshot(&self, input: &mut Input<'_>) {
        if let Input::Live { since } = *input {
            if since != self.doc.version() {
                if let Some(old) = self.doc.value_as_of(&self.path, since) {
                    *input = Input::Fixed(Cow::Owned(old));
                }
            }
        }
    }

    /// Check a keyword that cannot tell jesse's snapshot from the current
    /// document; only a failure, which quotes the value, needs the snapshot.
    fn check_shape(&mut self, input: &mut Input<'_>, keyword: &'s Keyword, node: &'s Node) -> bool {
        let current = input.current(self.doc.version());
        if let Some(reason) = self
            .with_value(&current, |v| leaf::failure(v, keyword))
            .flatten()
        {
            self.keep_snapshot(input);
            self.fail(reason, input, node);
        }
        matches!(keyword, Keyword::MultipleOf(_))
    }

    /// Check one keyword; returns true when jesse re-reads the value from the
    /// document before the next keyword.
    fn check_keyword(&mut self, input: &Input<'_>, keyword: &'s Keyword, node: &'s Node) -> bool {
        match keyword {
            Keyword::Ref(name) => self.check_ref(input, name, node),
            Keyword::Properties(props) => {
                self.check_properties(input, props);
                return true;
            }
            Keyword::PatternProperties(patterns) => {
                self.check_pattern_properties(input, patterns, node);
                return true;
            }
            Keyword::AdditionalProperties(additional) => {
                self.check_additional(input, additional, node)
            }
            Keyword::Items(items) => {
                self.check_items(input, items, node);
                return true;
            }
            Keyword::Required(names) => {
                let missing: Vec<String> = self
                    .with_value(input, |v| {
                        leaf::missing(v, names).into_iter().cloned().collect()
                    })
                    .unwrap_or_default();
                for name in missing {
                    self.fail_with(Reason::MissingRequired, Value::String(name), node);
                }
            }
            Keyword::AllOf(branches) => {
                // Without a throwing error handler every branch simply runs.
                for branch in branches {
                    self.check_value(input.reborrow(), branch);
                }
                return true;
            }
            Keyword::AnyOf(branches) => {
                self.check_any_of(input, branches, node);
                return true;
            }
            Keyword::OneOf(branches) => {
                self.check_one_of(input, branches, node);
                return true;
            }
            // enum, uniqueItems, min/maxProperties, not, invalid keywords.
            _ => {
                if let Some(reason) = self
                    .with_value(input, |v| leaf::failure(v, keyword))
                    .flatten()
                {
                    self.fail(reason, input, node);
                }
            }
        }
        false
    }

    /// Validate against the named schema file, at the current path.
    pub fn check_ref(&mut self, input: &Input<'_>, name: &str, node: &'s Node) {
        match self.set.schema(name) {
            Some(target) => self.check_value(input.reborrow(), target),
            None => self.fail(Reason::SchemaNotFound(name.to_string()), input, node),
        }
    }

    fn check_properties(&mut self, input: &Input<'_>, props: &'s [Property]) {
        let Some(Some(present)) = self.with_value(input, |v| {
            v.as_object().map(|obj| {
                props
                    .iter()
                    .map(|p| obj.contains_key(&*p.name))
                    .collect::<Vec<_>>()
            })
        }) else {
            return;
        };
        for (prop, present) in props.iter().zip(present) {
            let key = PathItem::Key(prop.name.clone());
            if present {
                self.check_child(input, key, &prop.schema);
            } else if let Some(default) = &prop.default {
                // Insert the default, then validate it so that the defaults
                // nested inside it are filled in as well.
                self.path.push(key);
                self.doc.write(&self.path, default.clone());
                let since = self.doc.version();
                self.check_value(Input::Live { since }, &prop.schema);
                self.path.pop();
            }
        }
    }

    fn check_pattern_properties(
        &mut self,
        input: &Input<'_>,
        patterns: &'s [(Pattern, Node)],
        node: &'s Node,
    ) {
        for key in self.keys(input) {
            // A key matching several patterns is checked once per pattern,
            // each time as it was before the first check (jesse's snapshot).
            let before = self.doc.version();
            for (pattern, schema) in patterns {
                match &pattern.regex {
                    Some(regex) if regex.is_match(&key) => {
                        let item = PathItem::Key(key.as_str().into());
                        if let Some(child) = input.child(&item, before) {
                            self.path.push(item);
                            self.check_value(child, schema);
                            self.path.pop();
                        }
                    }
                    Some(_) => {}
                    None => self.fail(Reason::SchemaInvalid("invalid_pattern"), input, node),
                }
            }
        }
    }

    fn check_additional(&mut self, input: &Input<'_>, additional: &'s Additional, node: &'s Node) {
        let extras = self.keys(input).into_iter().filter(|key| {
            !additional.known.contains(key)
                && !additional
                    .patterns
                    .iter()
                    .any(|p| p.regex.as_ref().is_some_and(|r| r.is_match(key)))
        });
        for key in extras {
            match &additional.rule {
                Extra::Forbidden => {
                    // The error sits at the extra key but quotes the whole object.
                    let object = self.with_value(input, Value::clone).unwrap_or(Value::Null);
                    self.path.push(PathItem::Key(key.into()));
                    self.fail_with(Reason::NoExtraProperties, object, node);
                    self.path.pop();
                }
                Extra::Schema(schema) => self.check_child(input, PathItem::Key(key.into()), schema),
            }
        }
    }

    fn check_items(&mut self, input: &Input<'_>, items: &'s Items, node: &'s Node) {
        let Some(Some(len)) = self.with_value(input, |v| v.as_array().map(Vec::len)) else {
            return;
        };
        match items {
            Items::Each(schema) => {
                for index in 0..len {
                    self.check_child(input, PathItem::Index(index), schema);
                }
            }
            Items::Tuple { items, extra } if len > items.len() => match extra {
                // jesse skips positional checks entirely when there are extra
                // items and additionalItems is absent or true.
                None => {}
                Some(Extra::Forbidden) => self.fail(Reason::NoExtraItems, input, node),
                Some(Extra::Schema(schema)) => {
                    for index in 0..len {
                        let schema = items.get(index).unwrap_or(schema);
                        self.check_child(input, PathItem::Index(index), schema);
                    }
                }
            },
            Items::Tuple { items, .. } => {
                for (index, schema) in items.iter().enumerate().take(len) {
                    self.check_child(input, PathItem::Index(index), schema);
                }
            }
        }
    }

    /// anyOf passes when a branch leaves *no failures at all*; jesse does not
    /// reset the failure list first, so any earlier failure anywhere in the
    /// document makes every anyOf fail too (KAZOO behaves the same).
    fn check_any_of(&mut self, input: &Input<'_>, branches: &'s [Node], node: &'s Node) {
        for branch in branches {
            let (version, failures) = (self.doc.version(), self.failures.len());
            self.check_value(input.reborrow(), branch);
            if self.failures.is_empty() {
                return;
            }
            self.doc.rollback(version);
            self.failures.truncate(failures);
        }
        self.fail(Reason::Other("any_schemas_not_valid"), input, node);
    }

    /// oneOf counts the branches that pass on their own (failures are
    /// collected per branch), stopping once two have passed. Branches after
    /// a passing one still see the value as it was before it.
    fn check_one_of(&mut self, input: &Input<'_>, branches: &'s [Node], node: &'s Node) {
        let earlier = std::mem::take(&mut self.failures);
        let mut passed = 0;
        for branch in branches {
            if passed > 1 {
                break;
            }
            let version = self.doc.version();
            self.check_value(input.reborrow(), branch);
            if self.failures.is_empty() {
                passed += 1;
            } else {
                self.doc.rollback(version);
                self.failures.clear();
            }
        }
        if passed != 1 {
            self.fail(Reason::Other("not_one_schema_valid"), input, node);
        }
        let mine = std::mem::replace(&mut self.failures, earlier);
        self.failures.extend(mine);
    }

    fn check_child(&mut self, input: &Input<'_>, item: PathItem, schema: &'s Node) {
        let Some(child) = input.child(&item, self.doc.version()) else {
            return;
        };
        self.path.push(item);
        self.check_value(child, schema);
        self.path.pop();
    }

    /// The keys of the object `input` stands for, in document order.
    fn keys(&self, input: &Input<'_>) -> Vec<String> {
        self.with_value(input, |v| {
            v.as_object()
                .map(|obj| obj.keys().cloned().collect())
                .unwrap_or_default()
        })
        .unwrap_or_default()
    }
}
