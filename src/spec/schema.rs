//! The shape of a spec, declared once as data: validation and the JSON Schema both read it.
//!
//! Each check kind declares its parameters as a `&[Field]` table (see `checks/registry.rs`);
//! `validate` walks the positioned YAML tree against a table, collecting every problem
//! (unknown key with "did you mean", wrong type, missing key, value out of range) instead of
//! stopping at the first, and `json_schema` turns the same tables into a JSON Schema for
//! editor completion (`attest schema`).

use serde_json::{json, Map, Value as Json};

use super::diag::{one_of, Diagnostic};
use super::yaml::{Node, Value};

/// The type of a value in a spec.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// Any string.
    Str,
    /// A path, relative to the spec file.
    Path,
    Bool,
    /// An integer at least `min`.
    Int {
        min: i64,
    },
    /// A number within `[min, max]`.
    Num {
        min: f64,
        max: f64,
    },
    /// A string or a number.
    Scalar,
    /// One of a fixed set of strings.
    Enum(&'static [&'static str]),
    /// A list of values of one type.
    List(&'static Ty),
    /// A mapping with fixed keys.
    Obj(&'static [Field]),
    /// A mapping from free-form names to values of one type.
    MapOf(&'static Ty),
    /// A mapping from DICOM keywords (validated against the standard dictionary) to values.
    KeywordMap(&'static Ty),
    /// A pass expression such as `ci_low >= 0.80 and n >= 30`.
    Expr,
    /// A mapping whose shape a serde type defines: the loader deserialises it (reporting
    /// unknown keys and wrong types), and the JSON Schema is the type's own (schemars).
    Serde(fn() -> Json),
    /// The requirement list: each item's keys depend on its `check` (see `checks/registry.rs`);
    /// validated item by item by the spec loader.
    Requirements,
}

/// One key of a mapping.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
    pub doc: &'static str,
}

impl Field {
    pub const fn req(name: &'static str, ty: Ty, doc: &'static str) -> Field {
        Field {
            name,
            ty,
            required: true,
            doc,
        }
    }

    pub const fn opt(name: &'static str, ty: Ty, doc: &'static str) -> Field {
        Field {
            name,
            ty,
            required: false,
            doc,
        }
    }
}

/// Validates `node` against `ty`; `what` names the place in messages (e.g. "requirement `X`").
pub fn validate(node: &Node, ty: &Ty, what: &str, out: &mut Vec<Diagnostic>) {
    match ty {
        Ty::Str | Ty::Path | Ty::Expr => {
            if node.as_str().is_none() {
                out.push(type_error(node, "a string", what));
            } else if matches!(ty, Ty::Path | Ty::Expr) && node.as_str() == Some("") {
                out.push(
                    Diagnostic::new(
                        "empty-value",
                        format!("{what} must not be empty"),
                        &node.pos,
                    )
                    .label("empty"),
                );
            }
        }
        Ty::Bool => {
            if !matches!(node.value, Value::Bool(_)) {
                out.push(type_error(node, "`true` or `false`", what));
            }
        }
        Ty::Int { min } => match node.value {
            Value::Int(i) if i >= *min => {}
            Value::Int(i) => out.push(
                Diagnostic::new(
                    "out-of-range",
                    format!("{what} must be at least {min}, found {i}"),
                    &node.pos,
                )
                .label(format!("at least {min}")),
            ),
            _ => out.push(type_error(node, "an integer", what)),
        },
        Ty::Num { min, max } => match node.as_f64() {
            Some(x) if x.is_finite() && x >= *min && x <= *max => {}
            Some(x) => out.push(
                Diagnostic::new(
                    "out-of-range",
                    format!("{what} must be within [{min}, {max}], found {x}"),
                    &node.pos,
                )
                .label(format!("within [{min}, {max}]")),
            ),
            None => out.push(type_error(node, "a number", what)),
        },
        Ty::Scalar => {
            if !matches!(node.value, Value::Str(_) | Value::Int(_) | Value::Float(_)) {
                out.push(type_error(node, "a string or a number", what));
            }
        }
        Ty::Enum(options) => match node.as_str() {
            Some(s) if options.contains(&s) => {}
            Some(s) => out.push(
                Diagnostic::new(
                    "unknown-value",
                    format!("unknown value `{s}` for {what}"),
                    &node.pos,
                )
                .label(format!("expected one of: {}", one_of(options)))
                .did_you_mean(s, options.iter().copied()),
            ),
            None => out.push(type_error(
                node,
                &format!("one of {}", one_of(options)),
                what,
            )),
        },
        Ty::List(item) => match node.as_seq() {
            Some(items) => {
                for (i, it) in items.iter().enumerate() {
                    validate(it, item, &format!("{what}[{i}]"), out);
                }
            }
            None => out.push(type_error(node, "a list", what)),
        },
        Ty::Obj(fields) => validate_fields(node, fields, what, out),
        Ty::Requirements => {
            if node.as_seq().is_none() {
                out.push(type_error(node, "a list", what));
            }
        }
        Ty::Serde(_) => {
            if node.as_map().is_none() {
                out.push(type_error(node, "a mapping", what));
            }
        }
        Ty::MapOf(value_ty) | Ty::KeywordMap(value_ty) => match node.as_map() {
            Some(entries) => {
                for (k, v) in entries {
                    if matches!(ty, Ty::KeywordMap(_)) {
                        if let Err(d) = crate::data::dictionary::check_keyword(&k.name, &k.pos) {
                            out.push(*d);
                            continue;
                        }
                    }
                    validate(v, value_ty, &format!("`{}`", k.name), out);
                }
            }
            None => out.push(type_error(node, "a mapping", what)),
        },
    }
}

/// Validates a mapping's keys against a field table: unknown keys, missing required ones and
/// each present value's type.
pub fn validate_fields(node: &Node, fields: &[Field], what: &str, out: &mut Vec<Diagnostic>) {
    let Some(entries) = node.as_map() else {
        out.push(type_error(node, "a mapping", what));
        return;
    };
    let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
    for (k, v) in entries {
        match fields.iter().find(|f| f.name == k.name) {
            Some(f) => validate(v, &f.ty, &format!("`{}`", f.name), out),
            None => out.push(
                Diagnostic::new(
                    "unknown-key",
                    format!("unknown key `{}` in {what}", k.name),
                    &k.pos,
                )
                .label(format!("expected one of: {}", one_of(&names)))
                .did_you_mean(&k.name, names.iter().copied()),
            ),
        }
    }
    for f in fields.iter().filter(|f| f.required) {
        if node.get(f.name).is_none() {
            out.push(
                Diagnostic::new(
                    "missing-key",
                    format!("missing key `{}` in {what}", f.name),
                    &node.pos,
                )
                .label(format!("`{}` is required here: {}", f.name, f.doc)),
            );
        }
    }
}

fn type_error(node: &Node, expected: &str, what: &str) -> Diagnostic {
    Diagnostic::new(
        "wrong-type",
        format!("{what} must be {expected}, found {}", node.value.kind()),
        &node.pos,
    )
    .label(format!("expected {expected}"))
}

/// The JSON Schema of a serde type, for embedding in the spec's schema ([`Ty::Serde`]): its
/// definitions inlined (no `$defs`, whose `$ref`s would resolve against the spec's root) and
/// without the `$schema` and `title` of a root document.
pub fn embedded_schema<T: schemars::JsonSchema>() -> Json {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>();
    let mut v = serde_json::to_value(schema).unwrap_or(Json::Null);
    if let Json::Object(o) = &mut v {
        o.remove("$schema");
        o.remove("title");
    }
    v
}

/// The JSON Schema of a type.
pub fn json_schema(ty: &Ty) -> Json {
    match ty {
        Ty::Str => json!({"type": "string"}),
        Ty::Path => json!({"type": "string", "description": "path relative to the spec file"}),
        Ty::Expr => json!({
            "type": "string",
            "description": "comparisons of estimate, ci_low, ci_high, n, p_value with numbers, joined by `and` / `or`"
        }),
        Ty::Bool => json!({"type": "boolean"}),
        Ty::Int { min } => json!({"type": "integer", "minimum": min}),
        Ty::Num { min, max } => {
            let mut m = Map::new();
            m.insert("type".into(), json!("number"));
            if min.is_finite() {
                m.insert("minimum".into(), json!(min));
            }
            if max.is_finite() {
                m.insert("maximum".into(), json!(max));
            }
            Json::Object(m)
        }
        Ty::Scalar => json!({"type": ["string", "number"]}),
        Ty::Enum(options) => json!({"type": "string", "enum": options}),
        Ty::List(item) => json!({"type": "array", "items": json_schema(item)}),
        Ty::Obj(fields) => object_schema(fields),
        Ty::Serde(schema) => schema(),
        Ty::Requirements => {
            let kinds: Vec<Json> = crate::checks::registry::KINDS
                .iter()
                .map(|k| {
                    let fields = super::requirement_fields(k);
                    let mut s = object_schema(&fields);
                    s["properties"]["check"] = json!({"const": k.name, "description": k.summary});
                    s
                })
                .collect();
            json!({"type": "array", "items": {"oneOf": kinds}})
        }
        Ty::MapOf(v) => json!({"type": "object", "additionalProperties": json_schema(v)}),
        Ty::KeywordMap(v) => json!({
            "type": "object",
            "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9]*$"},
            "description": "keys are DICOM keywords (PS3.6)",
            "additionalProperties": json_schema(v)
        }),
    }
}

/// The JSON Schema of a mapping with fixed keys (no others allowed).
pub fn object_schema(fields: &[Field]) -> Json {
    let mut props = Map::new();
    for f in fields {
        let mut s = json_schema(&f.ty);
        if let Json::Object(o) = &mut s {
            o.insert("description".into(), json!(f.doc));
        }
        props.insert(f.name.to_string(), s);
    }
    let required: Vec<&str> = fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    json!({
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false
    })
}
