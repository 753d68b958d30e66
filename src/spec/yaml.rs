//! YAML source → a tree of nodes that remember where they came from.
//!
//! serde-saphyr parses the text (panic-free, line and column on every error); this module keeps
//! each node's byte range so that later validation can point at the exact key or value, as
//! cargo-deny does, and collect every problem before reporting.

use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

/// A position in the source: byte range (for snippets) and 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pos {
    pub bytes: Range<usize>,
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn from_location(loc: &Location) -> Self {
        let span = loc.span();
        let start = span.byte_offset().unwrap_or(0) as usize;
        let len = span.byte_len().unwrap_or(0) as usize;
        Pos {
            bytes: start..start + len,
            line: loc.line() as usize,
            column: loc.column() as usize,
        }
    }

    /// A position `offset` bytes into a single-line scalar that starts here.
    pub fn shifted(&self, offset: usize, len: usize) -> Pos {
        let start = self.bytes.start + offset;
        Pos {
            bytes: start..start + len.max(1),
            line: self.line,
            column: self.column + offset,
        }
    }
}

/// A YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

/// A mapping key with its position (keys are always strings in a spec).
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

impl Value {
    /// The name of the value's kind, as a user reads it in an error message.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self.value {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The entry of a mapping named `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The key of the entry named `key`, for pointing at it.
    pub fn key(&self, key: &str) -> Option<&Key> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(k, _)| k)
    }

    /// The plain JSON value of this node (positions dropped), for typed deserialization
    /// once validation has passed.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(s) => J::Array(s.iter().map(Node::to_json).collect()),
            Value::Map(m) => J::Object(
                m.iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// A YAML syntax error: message and where.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub message: String,
    pub pos: Option<Pos>,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Parses one YAML document into a positioned tree.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let spanned: Spanned<Value> = serde_saphyr::from_str(text).map_err(|e| {
        // Syntax errors carry line and column but not always a byte offset: derive it.
        let pos = e.location().map(|l| {
            let (line, column) = (l.line() as usize, l.column() as usize);
            let start = offset_of(text, line, column);
            let len = text[start..].chars().next().map_or(0, char::len_utf8);
            Pos {
                bytes: start..start + len,
                line,
                column,
            }
        });
        let message = e.without_snippet().to_string();
        // The crate prefixes the location; we render our own, so keep only the first line.
        let message = message.lines().next().unwrap_or("invalid YAML").to_string();
        SyntaxError { message, pos }
    })?;
    Ok(Node {
        pos: Pos::from_location(&spanned.referenced),
        value: spanned.value,
    })
}

/// The byte offset of a 1-based line and (character) column, clamped to the text.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &text[line_start.min(text.len())..];
    line_start
        + rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i)
}

fn node(s: Spanned<Value>) -> Node {
    Node {
        pos: Pos::from_location(&s.referenced),
        value: s.value,
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .or(Ok(Value::Float(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Value>>()? {
            out.push(node(item));
        }
        Ok(Value::Seq(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out: Vec<(Key, Node)> = Vec::new();
        while let Some(k) = map.next_key::<Spanned<KeyText>>()? {
            let key = Key {
                name: k.value.0,
                pos: Pos::from_location(&k.referenced),
            };
            let v = node(map.next_value::<Spanned<Value>>()?);
            if out.iter().any(|(other, _)| other.name == key.name) {
                return Err(de::Error::custom(format!(
                    "duplicate key `{}` (line {})",
                    key.name, key.pos.line
                )));
            }
            out.push((key, v));
        }
        Ok(Value::Map(out))
    }
}

/// A mapping key: any scalar, read as its text (`1: x` gives key "1").
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Str(s) => Ok(KeyText(s)),
            Value::Int(i) => Ok(KeyText(i.to_string())),
            Value::Float(f) => Ok(KeyText(f.to_string())),
            Value::Bool(b) => Ok(KeyText(b.to_string())),
            other => Err(de::Error::custom(format!(
                "mapping keys must be plain text, found {}",
                other.kind()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_of_keys_and_values() {
        let text = "a: 1\nb:\n  c: [x, 2.5]\n";
        let root = parse(text).unwrap();
        let b = root.get("b").unwrap();
        let c = b.get("c").unwrap();
        let key = b.key("c").unwrap();
        assert_eq!((key.pos.line, key.pos.column), (3, 3));
        assert_eq!(&text[key.pos.bytes.clone()], "c");
        let items = c.as_seq().unwrap();
        assert_eq!(items[0].as_str(), Some("x"));
        assert_eq!(&text[items[1].pos.bytes.clone()], "2.5");
        assert_eq!(items[1].as_f64(), Some(2.5));
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        let pos = err.pos.clone().expect("a position");
        assert_eq!(pos.line, 2, "{err:?}");
        assert_eq!(pos.bytes.start, "a: [1, 2\n".len() + pos.column - 1);
    }

    #[test]
    fn duplicate_key_is_an_error() {
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert!(err.message.contains("duplicate"), "{}", err.message);
    }
}
