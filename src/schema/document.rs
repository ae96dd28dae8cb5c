//! The document under validation, with a journal of the defaults written
//! into it so that failed `oneOf`/`anyOf` branches can be undone, and so that
//! an earlier state of any part of it can be rebuilt when jesse's semantics
//! call for a stale view (see [`super::walk`]).

use std::borrow::Cow;

use serde_json::Value;

use super::failure::PathItem;

pub(crate) struct Document {
    root: Value,
    /// Every write still in effect, with the value it replaced.
    journal: Vec<(Vec<PathItem>, Option<Value>)>,
}

impl Document {
    pub fn new(root: Value) -> Document {
        Document {
            root,
            journal: Vec::new(),
        }
    }

    pub fn into_value(self) -> Value {
        self.root
    }

    pub fn get(&self, path: &[PathItem]) -> Option<&Value> {
        value_at(&self.root, path)
    }

    /// How many writes are in effect; a "version" of the document.
    pub fn version(&self) -> usize {
        self.journal.len()
    }

    /// Set the value at `path` (whose parent must exist), keeping the old one.
    pub fn write(&mut self, path: &[PathItem], value: Value) {
        let Some((last, parent)) = path.split_last() else {
            return;
        };
        let Some(container) = value_at_mut(&mut self.root, parent) else {
            return;
        };
        if let Some(previous) = put(container, last, Some(value)) {
            self.journal.push((path.to_vec(), previous));
        }
    }

    /// Undo every write made after the document was at `version`.
    pub fn rollback(&mut self, version: usize) {
        while self.journal.len() > version {
            let Some((path, previous)) = self.journal.pop() else {
                break;
            };
            if let Some((last, parent)) = path.split_last() {
                if let Some(container) = value_at_mut(&mut self.root, parent) {
                    put(container, last, previous);
                }
            }
        }
    }

    /// The value at `path` as it was when the document was at `version`.
    pub fn value_as_of(&self, path: &[PathItem], version: usize) -> Option<Value> {
        let mut value = self.get(path)?.clone();
        for (written, previous) in self.journal.iter().skip(version).rev() {
            let Some(relative) = written.strip_prefix(path) else {
                continue;
            };
            if let Some((last, parent)) = relative.split_last() {
                if let Some(container) = value_at_mut(&mut value, parent) {
                    put(container, last, previous.clone());
                }
            }
        }
        Some(value)
    }
}

/// Put `value` (or remove, for `None`) at `item` in `container`. Returns
/// `Some(previous)` when the container could take it.
fn put(container: &mut Value, item: &PathItem, value: Option<Value>) -> Option<Option<Value>> {
    match (container, item, value) {
        (Value::Object(obj), PathItem::Key(key), Some(value)) => {
            Some(obj.insert(key.to_string(), value))
        }
        (Value::Object(obj), PathItem::Key(key), None) => Some(obj.shift_remove(&**key)),
        (Value::Array(list), PathItem::Index(i), Some(value)) if *i < list.len() => {
            Some(Some(std::mem::replace(&mut list[*i], value)))
        }
        _ => None,
    }
}

pub(crate) fn value_at<'v>(root: &'v Value, path: &[PathItem]) -> Option<&'v Value> {
    path.iter().try_fold(root, |value, item| child(value, item))
}

fn value_at_mut<'v>(root: &'v mut Value, path: &[PathItem]) -> Option<&'v mut Value> {
    path.iter()
        .try_fold(root, |value, item| match (value, item) {
            (Value::Object(obj), PathItem::Key(key)) => obj.get_mut(&**key),
            (Value::Array(list), PathItem::Index(i)) => list.get_mut(*i),
            _ => None,
        })
}

pub(crate) fn child<'v>(value: &'v Value, item: &PathItem) -> Option<&'v Value> {
    match (value, item) {
        (Value::Object(obj), PathItem::Key(key)) => obj.get(&**key),
        (Value::Array(list), PathItem::Index(i)) => list.get(*i),
        _ => None,
    }
}

/// The value a check is looking at.
///
/// jesse hands every check a snapshot of the value taken when it entered the
/// node. Copying snapshots would make validation cost grow with depth × size,
/// so a snapshot is normally *live*: "whatever is at the current path, as of
/// document version `since`". As long as nothing was written since, that is
/// simply the document. Anything written since was written while checking
/// this same value (defaults only go below the current path), e.g. by a
/// `$ref` before the node's other keywords or by an earlier `oneOf` branch;
/// then the old value is rebuilt from the journal and carried as `Fixed`.
pub(crate) enum Input<'v> {
    Live { since: usize },
    Fixed(Cow<'v, Value>),
}

impl Input<'_> {
    /// The same view, borrowed (to hand to a combinator branch or `$ref`).
    pub fn reborrow(&self) -> Input<'_> {
        match self {
            Input::Live { since } => Input::Live { since: *since },
            Input::Fixed(value) => Input::Fixed(Cow::Borrowed(value.as_ref())),
        }
    }

    /// The value as it is now (for checks that cannot tell the difference).
    pub fn current(&self, now: usize) -> Input<'_> {
        match self {
            Input::Live { .. } => Input::Live { since: now },
            Input::Fixed(value) => Input::Fixed(Cow::Borrowed(value.as_ref())),
        }
    }

    /// The view of a member of this value. A live member is taken as of
    /// document version `now`: writes since this view was taken were made
    /// under *other* members (each member is visited once per keyword).
    pub fn child(&self, item: &PathItem, now: usize) -> Option<Input<'_>> {
        match self {
            Input::Live { .. } => Some(Input::Live { since: now }),
            Input::Fixed(value) => child(value, item).map(|v| Input::Fixed(Cow::Borrowed(v))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(k: &str) -> PathItem {
        PathItem::Key(k.into())
    }

    #[test]
    fn writes_roll_back_and_old_values_can_be_rebuilt() {
        let mut doc = Document::new(json!({"a": {"x": 1}, "b": [0]}));
        let v0 = doc.version();
        doc.write(&[key("a"), key("y")], json!(2));
        doc.write(&[key("a"), key("x")], json!(3));
        doc.write(&[key("b"), PathItem::Index(0)], json!(9));
        doc.write(&[key("missing"), key("z")], json!(1));
        assert_eq!(doc.version(), 3);
        assert_eq!(doc.value_as_of(&[key("a")], v0), Some(json!({"x": 1})));
        assert_eq!(
            doc.value_as_of(&[], 1),
            Some(json!({"a": {"x": 1, "y": 2}, "b": [0]}))
        );
        doc.rollback(v0);
        assert_eq!(doc.into_value(), json!({"a": {"x": 1}, "b": [0]}));
    }
}
