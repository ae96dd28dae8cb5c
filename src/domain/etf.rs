//! Reading Erlang's external term format (`term_to_binary`), the part KAZOO puts where
//! JSON goes: paging start keys (`api_util:encode_start_key`, see `domain::paging`) and its
//! S3 attachment stubs, `base64(term_to_binary({Settings, Key}))`
//! (`kz_att_s3:encode_retrieval/2`, see `storage::s3::kazoo_stub`). Only what
//! `term_to_binary` writes for plain data is read (atoms, integers, floats, binaries, lists,
//! tuples, maps); pids, funs, references and compressed terms are refused. Input is
//! untrusted: lengths are checked against the bytes left before anything is allocated, and
//! nesting is bounded.

use serde_json::{Map, Number, Value};

/// A decoded term.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    Atom(String),
    Int(i128),
    Float(f64),
    Binary(Vec<u8>),
    /// A list of bytes written compactly (`STRING_EXT`): a charlist, as a rule.
    Bytes(Vec<u8>),
    /// Elements and the tail (`Nil` for a proper list).
    List(Vec<Term>, Box<Term>),
    Nil,
    Tuple(Vec<Term>),
    Map(Vec<(Term, Term)>),
}

const VERSION: u8 = 131;
const MAX_DEPTH: usize = 64;

/// Decode one term (the version byte first).
pub fn decode(bytes: &[u8]) -> Result<Term, String> {
    let mut r = Reader { bytes, at: 0 };
    if r.u8()? != VERSION {
        return Err("not an Erlang external term (version byte)".into());
    }
    let term = r.term(0)?;
    if r.at != bytes.len() {
        return Err("trailing bytes after the term".into());
    }
    Ok(term)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or("term ends early")?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<usize, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]) as usize)
    }

    fn u32(&mut self) -> Result<usize, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    /// A count of elements, each at least one byte long: no more than the bytes left.
    fn count(&mut self, n: usize) -> Result<usize, String> {
        if n > self.bytes.len() - self.at {
            return Err("term ends early".into());
        }
        Ok(n)
    }

    fn terms(&mut self, n: usize, depth: usize) -> Result<Vec<Term>, String> {
        let n = self.count(n)?;
        (0..n).map(|_| self.term(depth + 1)).collect()
    }

    fn term(&mut self, depth: usize) -> Result<Term, String> {
        if depth > MAX_DEPTH {
            return Err("term nested too deeply".into());
        }
        Ok(match self.u8()? {
            97 => Term::Int(self.u8()?.into()),
            98 => {
                let b = self.take(4)?;
                Term::Int(i32::from_be_bytes([b[0], b[1], b[2], b[3]]).into())
            }
            110 | 111 => {
                let n = match self.bytes[self.at - 1] {
                    110 => self.u8()? as usize,
                    _ => self.u32()?,
                };
                let negative = self.u8()? != 0;
                let digits = self.take(n)?;
                if n > 15 {
                    return Err("integer too large".into());
                }
                let v = digits
                    .iter()
                    .rev()
                    .fold(0i128, |acc, d| (acc << 8) | i128::from(*d));
                Term::Int(if negative { -v } else { v })
            }
            70 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Term::Float(f64::from_be_bytes(a))
            }
            // ATOM_EXT and SMALL_ATOM_EXT are Latin-1; the _UTF8_ forms UTF-8
            100 | 115 => {
                let n = match self.bytes[self.at - 1] {
                    100 => self.u16()?,
                    _ => self.u8()? as usize,
                };
                Term::Atom(self.take(n)?.iter().map(|b| char::from(*b)).collect())
            }
            118 | 119 => {
                let n = match self.bytes[self.at - 1] {
                    118 => self.u16()?,
                    _ => self.u8()? as usize,
                };
                let s = std::str::from_utf8(self.take(n)?).map_err(|_| "atom not UTF-8")?;
                Term::Atom(s.to_string())
            }
            109 => {
                let n = self.u32()?;
                Term::Binary(self.take(n)?.to_vec())
            }
            107 => {
                let n = self.u16()?;
                Term::Bytes(self.take(n)?.to_vec())
            }
            106 => Term::Nil,
            108 => {
                let n = self.u32()?;
                let items = self.terms(n, depth)?;
                Term::List(items, Box::new(self.term(depth + 1)?))
            }
            104 => {
                let n = self.u8()? as usize;
                Term::Tuple(self.terms(n, depth)?)
            }
            105 => {
                let n = self.u32()?;
                Term::Tuple(self.terms(n, depth)?)
            }
            116 => {
                let n = self.u32()?;
                let n = self.count(n)?;
                let mut pairs = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    let k = self.term(depth + 1)?;
                    pairs.push((k, self.term(depth + 1)?));
                }
                Term::Map(pairs)
            }
            80 => return Err("compressed terms are not read".into()),
            tag => return Err(format!("term type {tag} is not read")),
        })
    }
}

impl Term {
    /// Text, where the term is text: a binary (UTF-8), a charlist or an atom.
    pub fn text(&self) -> Option<String> {
        match self {
            Term::Binary(b) => String::from_utf8(b.clone()).ok(),
            Term::Bytes(b) => Some(b.iter().map(|c| char::from(*c)).collect()),
            Term::Atom(a) => Some(a.clone()),
            Term::Nil => Some(String::new()),
            Term::List(items, tail) if **tail == Term::Nil => items
                .iter()
                .map(|i| match i {
                    Term::Int(c) => u32::try_from(*c).ok().and_then(char::from_u32),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    }

    /// As JSON, the way KAZOO turns its settings maps back into JSON: keys and binaries
    /// become strings, `true`/`false` booleans, `undefined` null, lists and tuples arrays.
    pub fn to_json(&self) -> Result<Value, String> {
        Ok(match self {
            Term::Atom(a) => match a.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "undefined" | "null" => Value::Null,
                _ => Value::String(a.clone()),
            },
            Term::Int(i) => i64::try_from(*i)
                .map(Number::from)
                .or_else(|_| u64::try_from(*i).map(Number::from))
                .map(Value::Number)
                .map_err(|_| "integer out of JSON's range")?,
            Term::Float(f) => Number::from_f64(*f)
                .map(Value::Number)
                .ok_or("float not representable")?,
            Term::Binary(_) | Term::Bytes(_) => {
                Value::String(self.text().ok_or("binary not UTF-8")?)
            }
            Term::Nil => Value::Array(vec![]),
            Term::List(items, tail) => {
                if **tail != Term::Nil {
                    return Err("improper list".into());
                }
                Value::Array(items.iter().map(Term::to_json).collect::<Result<_, _>>()?)
            }
            Term::Tuple(items) => {
                Value::Array(items.iter().map(Term::to_json).collect::<Result<_, _>>()?)
            }
            Term::Map(pairs) => {
                let mut m = Map::new();
                for (k, v) in pairs {
                    let key = match k {
                        Term::Int(i) => i.to_string(),
                        other => other.text().ok_or("map key is not text")?,
                    };
                    m.insert(key, v.to_json()?);
                }
                Value::Object(m)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    /// Written by Erlang/OTP 25's `term_to_binary` (see `storage::s3::kazoo_stub` for the stubs).
    const KINDS: &str = "g2gVZAACb2tkAAVoZWxsb2QAB/xu72P2ZOlrAAhjaGFybGlzdGsAAwECA2pi////+2H/YgABEXBigAAAAG4JAAAAAAAAAAAAQG4JAQAAAAAAAAAAAUY/+AAAAAAAAG0AAAAAbQAAAALDqWgAdAAAAABsAAAAAWQAAWFkAAFiZAAEdHJ1ZWQABWZhbHNlZAAJdW5kZWZpbmVk";
    /// `term_to_binary({ok, 'ünïcödé', hello}, [{minor_version, 2}])`: UTF-8 atoms.
    const UTF8_ATOMS: &str = "g2gDdwJva3cLw7xuw69jw7Zkw6l3BWhlbGxv";
    /// `term_to_binary(#{<<"k">> => 1, "s" => 2, 3 => x})`.
    const KEYS: &str = "g3QAAAADYQNkAAF4awABc2ECbQAAAAFrYQE=";
    /// `term_to_binary(lists:duplicate(200, <<"x">>), [compressed])`.
    const COMPRESSED: &str = "g1AAAAS2eJzLYWBgOJELJBgrRslRcpQcJQc/mQUA4V21Tw==";

    fn b64(s: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    fn atom(s: &str) -> Term {
        Term::Atom(s.into())
    }

    #[test]
    fn every_kind_of_plain_term() {
        // {ok, hello, 'ünïcödé', "charlist", [1,2,3], [], -5, 255, 70000, -2147483648,
        //  1 bsl 70, -(1 bsl 64), 1.5, <<>>, <<"é">>, {}, #{}, [a|b], true, false, undefined}
        let t = decode(&b64(KINDS)).unwrap();
        let want = Term::Tuple(vec![
            atom("ok"),
            atom("hello"),
            atom("ünïcödé"),
            Term::Bytes(b"charlist".to_vec()),
            Term::Bytes(vec![1, 2, 3]),
            Term::Nil,
            Term::Int(-5),
            Term::Int(255),
            Term::Int(70000),
            Term::Int(-2147483648),
            Term::Int(1 << 70),
            Term::Int(-(1 << 64)),
            Term::Float(1.5),
            Term::Binary(vec![]),
            Term::Binary("é".as_bytes().to_vec()),
            Term::Tuple(vec![]),
            Term::Map(vec![]),
            Term::List(vec![atom("a")], Box::new(atom("b"))),
            atom("true"),
            atom("false"),
            atom("undefined"),
        ]);
        assert_eq!(t, want);
        let Term::Tuple(items) = &t else {
            unreachable!()
        };
        assert_eq!(items[3].to_json().unwrap(), "charlist");
        assert_eq!(items[14].to_json().unwrap(), "é");
        assert_eq!(items[18].to_json().unwrap(), true);
        assert_eq!(items[20].to_json().unwrap(), Value::Null);
        assert!(items[10].to_json().is_err(), "beyond JSON's integers");
        assert!(items[17].to_json().is_err(), "improper list");
    }

    #[test]
    fn utf8_atoms_and_map_keys() {
        assert_eq!(
            decode(&b64(UTF8_ATOMS)).unwrap(),
            Term::Tuple(vec![atom("ok"), atom("ünïcödé"), atom("hello")])
        );
        let keys = decode(&b64(KEYS)).unwrap().to_json().unwrap();
        assert_eq!(keys, serde_json::json!({"k": 1, "s": 2, "3": "x"}));
    }

    #[test]
    fn refused_input() {
        assert!(decode(&b64(COMPRESSED)).unwrap_err().contains("compressed"));
        assert!(decode(b"").is_err());
        assert!(decode(&[130, 106]).is_err(), "version byte");
        assert!(decode(&[131, 106, 106]).is_err(), "trailing bytes");
        // lengths that promise more than there is, before any allocation
        assert!(decode(&[131, 109, 255, 255, 255, 255]).is_err());
        assert!(decode(&[131, 108, 255, 255, 255, 255, 106]).is_err());
        assert!(decode(&[131, 116, 255, 255, 255, 255]).is_err());
        assert!(decode(&[131, 105, 0, 0, 0, 2, 106]).is_err());
        // a pid
        assert!(decode(&[131, 88]).is_err());
        // nesting beyond the bound: [[[[…]]]]
        let mut deep = vec![131];
        for _ in 0..100 {
            deep.extend_from_slice(&[108, 0, 0, 0, 1]);
        }
        deep.push(106);
        deep.extend(std::iter::repeat_n(106, 100));
        assert!(decode(&deep).unwrap_err().contains("deeply"));
    }
}
