//! CSV rendering of list responses (`accept=text/csv`), as crossbar's `to_csv` does:
//! objects are flattened to dotted keys, one row per item, the header the union of keys.

use serde_json::{Map, Value};

fn flatten(prefix: &str, v: &Value, out: &mut Map<String, Value>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

fn cell(v: Option<&Value>) -> String {
    let text = match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// None when `data` is not a list of objects (then the JSON envelope is sent instead).
pub fn render(data: &Value) -> Option<String> {
    let items = data.as_array()?;
    let rows: Vec<Map<String, Value>> = items
        .iter()
        .map(|i| {
            let mut m = Map::new();
            flatten("", i, &mut m);
            m
        })
        .collect();
    let mut header: Vec<String> = vec![];
    for r in &rows {
        for k in r.keys() {
            if !header.contains(k) {
                header.push(k.clone());
            }
        }
    }
    let mut out = header
        .iter()
        .map(|h| cell(Some(&Value::String(h.clone()))))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for r in rows {
        out.push_str(
            &header
                .iter()
                .map(|h| cell(r.get(h)))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattens_and_quotes() {
        let csv = render(&json!([{"id": "a", "o": {"k": "x,y"}}, {"id": "b", "n": 1}])).unwrap();
        assert_eq!(csv, "id,o.k,n\na,\"x,y\",\nb,,1\n");
        assert!(render(&json!({"a": 1})).is_none());
    }
}
