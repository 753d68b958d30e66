//! Label sets: annotation events in long format (one row per event, CSV or JSON Lines), the
//! annotator registry, and the structure checks read from them (chains of revisions, reads per
//! case, the derived reference standard).
//!
//! The format is documented for users in `format.md` (`attest explain labels`); its JSON
//! Schema comes from [`json_schema`] (`attest schema --labels`).
//! Parsing never stops at a bad row: the row is set aside with a finding naming its line, and
//! the rest is read.

pub mod graph;
pub mod reference;
pub mod registry;
pub mod summary;

use std::collections::HashMap;

use serde_json::Value as Json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::checks::evidence::Finding;

/// Who or what made an event (`source` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// A person's read or edit.
    Human,
    /// A model's proposal, to be confirmed by a person.
    AiPreannotation,
    /// The label agreed by the readers together.
    Consensus,
    /// The label decided by an arbitrator.
    Adjudication,
}

impl Source {
    pub const NAMES: &'static [&'static str] =
        &["human", "ai_preannotation", "consensus", "adjudication"];

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "human" => Self::Human,
            "ai_preannotation" => Self::AiPreannotation,
            "consensus" => Self::Consensus,
            "adjudication" => Self::Adjudication,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// A reviewer's decision on an event (`decision` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    Accept,
    Edit,
    Reject,
}

impl Decision {
    pub const NAMES: &'static [&'static str] = &["accept", "edit", "reject"];

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "accept" => Self::Accept,
            "edit" => Self::Edit,
            "reject" => Self::Reject,
            _ => return None,
        })
    }
}

/// What an event says about its case: exactly one of these per event.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A class name (`label` column).
    Class(String),
    /// An ordinal grade (`grade` column).
    Grade(i64),
    /// A measurement (`value` column).
    Number(f64),
    /// A box `x0 y0 x1 y1` in pixel coordinates (`box` column).
    Box([f64; 4]),
    /// A mask file, relative to the label set's folder (`mask` column).
    Mask(String),
}

impl Answer {
    /// The answer as text, for reports and for nominal comparisons.
    pub fn text(&self) -> String {
        match self {
            Self::Class(c) => c.clone(),
            Self::Grade(g) => g.to_string(),
            Self::Number(x) => x.to_string(),
            Self::Box(b) => format!("{} {} {} {}", b[0], b[1], b[2], b[3]),
            Self::Mask(m) => m.clone(),
        }
    }

    /// The answer as a number, for ordinal, interval and ratio statistics.
    pub fn number(&self) -> Option<f64> {
        match self {
            Self::Grade(g) => Some(*g as f64),
            Self::Number(x) => Some(*x),
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Class(_) => "label",
            Self::Grade(_) => "grade",
            Self::Number(_) => "value",
            Self::Box(_) => "box",
            Self::Mask(_) => "mask",
        }
    }
}

/// A point in time, as seconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Instant(pub f64);

/// One annotation event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Line in the file (CSV: the header is line 1; JSON Lines: line of the object).
    pub line: u64,
    pub id: String,
    pub case_id: String,
    /// The question answered, e.g. `malignancy`; `default` when the set has one task.
    pub task: String,
    pub answer: Answer,
    pub annotator: String,
    pub created_at: Instant,
    pub tool: String,
    pub tool_version: String,
    pub source: Source,
    /// The event this one edits.
    pub revises: Option<String>,
    pub round: Option<u32>,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<Instant>,
    pub decision: Option<Decision>,
}

/// A parsed label set: the usable events, in file order, and what was wrong with the rest.
#[derive(Debug, Clone, Default)]
pub struct LabelSet {
    pub events: Vec<Event>,
    /// Rows set aside (unparseable fields, duplicates), each naming its line.
    pub problems: Vec<Finding>,
    /// Where the file is shown in findings.
    pub display: String,
}

/// A label-set source as loaded: the events, the registry, and the folder mask paths are
/// relative to.
#[derive(Debug, Clone)]
pub struct Labels {
    pub set: LabelSet,
    pub registry: registry::Registry,
    /// Where the registry is shown in findings.
    pub registry_display: String,
    pub dir: std::path::PathBuf,
}

/// The columns (CSV) or keys (JSON Lines) of an event.
pub const COLUMNS: &[(&str, bool, &str)] = &[
    ("event_id", true, "unique identifier of the event"),
    ("case_id", true, "the case it labels"),
    ("task", false, "the question answered (default `default`)"),
    ("label", false, "a class name"),
    ("grade", false, "an ordinal grade (integer)"),
    ("value", false, "a numeric value"),
    ("box", false, "a box `x0 y0 x1 y1` in pixels"),
    ("mask", false, "a mask file, relative to the label set"),
    (
        "annotator_id",
        true,
        "who (or which model) made it: an id in the registry",
    ),
    ("created_at", true, "when, RFC 3339 with a time zone"),
    (
        "tool",
        false,
        "annotation tool, or the pre-annotation model",
    ),
    (
        "tool_version",
        false,
        "its version (required for AI pre-annotations)",
    ),
    (
        "source",
        true,
        "human, ai_preannotation, consensus or adjudication",
    ),
    ("revises", false, "the event_id this event edits"),
    ("round", false, "reading round (integer >= 1)"),
    ("reviewed_by", false, "who reviewed this event"),
    ("reviewed_at", false, "when, RFC 3339"),
    (
        "decision",
        false,
        "the review's decision: accept, edit or reject",
    ),
];

const ANSWERS: &[&str] = &["label", "grade", "value", "box", "mask"];

/// The user documentation of label sets.
pub const FORMAT_DOC: &str = include_str!("format.md");

/// JSON Schema of a label-set event (one JSON Lines object) and of the registry (YAML).
pub fn json_schema() -> Json {
    use serde_json::json;
    let mut props = serde_json::Map::new();
    for (name, _, what) in COLUMNS {
        let ty = match *name {
            "grade" => json!({"type": "integer"}),
            "value" => json!({"type": "number"}),
            "round" => json!({"type": "integer", "minimum": 1}),
            "box" => json!({"oneOf": [
                {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
                {"type": "string"}
            ]}),
            "created_at" | "reviewed_at" => json!({"type": "string", "format": "date-time"}),
            "source" => json!({"type": "string", "enum": Source::NAMES}),
            "decision" => json!({"type": "string", "enum": Decision::NAMES}),
            _ => json!({"type": "string"}),
        };
        let mut ty = ty;
        ty["description"] = json!(what);
        props.insert(name.to_string(), ty);
    }
    let required: Vec<&str> = COLUMNS.iter().filter(|c| c.1).map(|c| c.0).collect();
    let one_of: Vec<Json> = ANSWERS.iter().map(|a| json!({"required": [a]})).collect();
    let dated = json!({"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"});
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "attest label set",
        "$defs": {
            "event": {
                "description": "one annotation event (a JSON Lines object, or a CSV row with these columns)",
                "type": "object",
                "properties": props,
                "required": required,
                "oneOf": one_of,
                "additionalProperties": false
            },
            "registry": {
                "description": "the annotator registry (YAML)",
                "type": "object",
                "required": ["annotators"],
                "additionalProperties": false,
                "properties": {"annotators": {"type": "array", "items": {
                    "type": "object",
                    "required": ["id", "role"],
                    "additionalProperties": false,
                    "properties": {
                        "id": {"type": "string"},
                        "role": {"type": "string"},
                        "years_experience": {"type": "number", "minimum": 0},
                        "qualification": {"type": "string"},
                        "version": {"type": "string"},
                        "training": {"type": "array", "items": {"type": "object", "required": ["course", "date"], "additionalProperties": false,
                            "properties": {"course": {"type": "string"}, "date": dated}}},
                        "assessments": {"type": "array", "items": {"type": "object", "required": ["date", "passed"], "additionalProperties": false,
                            "properties": {"date": dated, "passed": {"type": "boolean"}, "score": {"type": "number"}}}}
                    }
                }}}
            }
        },
        "$ref": "#/$defs/event"
    })
}

/// Parses an RFC 3339 time stamp into seconds since the epoch.
pub fn parse_instant(s: &str) -> Result<Instant, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map(|t| Instant(t.unix_timestamp_nanos() as f64 / 1e9))
        .map_err(|_| {
            format!("`{s}` is not an RFC 3339 time stamp with a time zone (e.g. 2025-03-01T09:30:00+08:00)")
        })
}

/// Reads one row (field name → text) into an event, or says why it cannot be used.
fn event(line: u64, get: &dyn Fn(&str) -> Option<String>) -> Result<Event, String> {
    let req = |k: &str| {
        get(k)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("`{k}` is missing"))
    };
    let opt = |k: &str| get(k).filter(|v| !v.is_empty());
    let answers: Vec<(&str, String)> = ANSWERS.iter().filter_map(|k| Some((*k, opt(k)?))).collect();
    let answer = match answers.as_slice() {
        [(k, v)] => match *k {
            "label" => Answer::Class(v.clone()),
            "grade" => Answer::Grade(
                v.parse()
                    .map_err(|_| format!("grade `{v}` is not an integer"))?,
            ),
            "value" => Answer::Number(
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| format!("value `{v}` is not a finite number"))?,
            ),
            "box" => {
                let parts: Vec<f64> = v
                    .split([' ', ','])
                    .filter(|p| !p.is_empty())
                    .map(|p| p.parse::<f64>().map_err(|_| ()))
                    .collect::<Result<_, _>>()
                    .map_err(|_| format!("box `{v}` is not four numbers"))?;
                match parts.as_slice() {
                    [a, b, c, d] if a <= c && b <= d && parts.iter().all(|x| x.is_finite()) => {
                        Answer::Box([*a, *b, *c, *d])
                    }
                    _ => {
                        return Err(format!(
                            "box `{v}` is not `x0 y0 x1 y1` with x0 <= x1, y0 <= y1"
                        ))
                    }
                }
            }
            _ => {
                let p = std::path::Path::new(v);
                if p.is_absolute()
                    || p.components()
                        .any(|c| matches!(c, std::path::Component::ParentDir))
                {
                    return Err(format!(
                        "mask `{v}` must be a path inside the label set's folder (no absolute path, no `..`)"
                    ));
                }
                Answer::Mask(v.clone())
            }
        },
        [] => {
            return Err(
                "no finding: one of `label`, `grade`, `value`, `box`, `mask` is needed".into(),
            )
        }
        many => {
            let keys: Vec<&str> = many.iter().map(|(k, _)| *k).collect();
            return Err(format!(
                "more than one finding ({}): an event carries exactly one",
                keys.join(", ")
            ));
        }
    };
    let source_text = req("source")?;
    let source = Source::parse(&source_text).ok_or_else(|| {
        format!(
            "source `{source_text}` is not one of: {}",
            Source::NAMES.join(", ")
        )
    })?;
    let decision = match opt("decision") {
        None => None,
        Some(d) => Some(Decision::parse(&d).ok_or_else(|| {
            format!(
                "decision `{d}` is not one of: {}",
                Decision::NAMES.join(", ")
            )
        })?),
    };
    let round = match opt("round") {
        None => None,
        Some(r) => Some(
            r.parse::<u32>()
                .ok()
                .filter(|r| *r >= 1)
                .ok_or_else(|| format!("round `{r}` is not an integer >= 1"))?,
        ),
    };
    let reviewed_by = opt("reviewed_by");
    let reviewed_at = opt("reviewed_at").map(|t| parse_instant(&t)).transpose()?;
    if reviewed_by.is_some() != decision.is_some() {
        return Err(
            "`reviewed_by` and `decision` go together: a review names its reviewer and decision"
                .into(),
        );
    }
    if reviewed_by.is_some() && reviewed_at.is_none() {
        return Err("a review needs `reviewed_at`".into());
    }
    Ok(Event {
        line,
        id: req("event_id")?,
        case_id: req("case_id")?,
        task: opt("task").unwrap_or_else(|| "default".to_string()),
        answer,
        annotator: req("annotator_id")?,
        created_at: parse_instant(&req("created_at")?)?,
        tool: opt("tool").unwrap_or_default(),
        tool_version: opt("tool_version").unwrap_or_default(),
        source,
        revises: opt("revises"),
        round,
        reviewed_by,
        reviewed_at,
        decision,
    })
}

/// Parses a label set from CSV (`jsonl == false`) or JSON Lines. Fails only when the file as a
/// whole cannot be read (no header, a required column missing); a bad row is a finding.
pub fn parse_labels(bytes: &[u8], display: &str, jsonl: bool) -> Result<LabelSet, String> {
    let mut set = LabelSet {
        display: display.to_string(),
        ..LabelSet::default()
    };
    let mut rows: Vec<(u64, Result<Event, String>)> = Vec::new();
    let known: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
    if jsonl {
        let text = std::str::from_utf8(bytes).map_err(|e| format!("{display}: not UTF-8: {e}"))?;
        let mut unknown_keys: Vec<String> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let n = i as u64 + 1;
            if line.trim().is_empty() {
                continue;
            }
            let obj = match serde_json::from_str::<Json>(line) {
                Ok(Json::Object(o)) => o,
                Ok(_) => {
                    rows.push((n, Err("not a JSON object".into())));
                    continue;
                }
                Err(e) => {
                    rows.push((n, Err(format!("not JSON: {e}"))));
                    continue;
                }
            };
            for k in obj.keys() {
                if !known.contains(&k.as_str()) && !unknown_keys.contains(k) {
                    unknown_keys.push(k.clone());
                    set.problems.push(unknown_field(display, n, k, &known));
                }
            }
            let get = |k: &str| match obj.get(k)? {
                Json::Null => None,
                Json::String(s) => Some(s.trim().to_string()),
                Json::Array(a) => Some(
                    a.iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                v => Some(v.to_string()),
            };
            rows.push((n, event(n, &get)));
        }
    } else {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .from_reader(bytes);
        let mut record = csv::StringRecord::new();
        let header: Vec<String> = match reader.read_record(&mut record) {
            Ok(true) => record
                .iter()
                .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
                .collect(),
            Ok(false) => return Err(format!("{display}: empty file: no header")),
            Err(e) => return Err(format!("{display}: cannot read the header: {e}")),
        };
        let missing: Vec<&str> = COLUMNS
            .iter()
            .filter(|(c, required, _)| *required && !header.iter().any(|h| h == c))
            .map(|c| c.0)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "{display}: required column(s) missing: {} (the header has: {})",
                missing.join(", "),
                header.join(", ")
            ));
        }
        for h in &header {
            if !known.contains(&h.as_str()) {
                set.problems.push(unknown_field(display, 1, h, &known));
            }
        }
        let mut line = 1u64;
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    line = record.position().map_or(line + 1, |p| p.line());
                    if record.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    let get = |k: &str| {
                        let i = header.iter().position(|h| h == k)?;
                        record.get(i).map(|v| v.trim().to_string())
                    };
                    rows.push((line, event(line, &get)));
                }
                Err(e) => {
                    line += 1;
                    rows.push((line, Err(format!("cannot read the row: {e}"))));
                    // The csv reader resynchronises at the next record.
                }
            }
        }
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (line, row) in rows {
        match row {
            Err(why) => set.problems.push(Finding::error(
                "invalid-event",
                format!("{why}; the row is set aside"),
                format!("{display}:{line}"),
            )),
            Ok(e) => match seen.get(&e.id) {
                Some(&first) => {
                    let f = &set.events[first];
                    let same = Event {
                        line: f.line,
                        ..e.clone()
                    } == *f;
                    set.problems.push(Finding::error(
                        if same {
                            "duplicate-event"
                        } else {
                            "conflicting-event"
                        },
                        format!(
                            "event `{}` appears again{} (first on line {}); the later row is set aside",
                            e.id,
                            if same { ", identical" } else { " with different content" },
                            f.line
                        ),
                        format!("{display}:{line}"),
                    ));
                }
                None => {
                    seen.insert(e.id.clone(), set.events.len());
                    set.events.push(e);
                }
            },
        }
    }
    Ok(set)
}

fn unknown_field(display: &str, line: u64, key: &str, known: &[&str]) -> Finding {
    let hint = crate::spec::diag::closest(key, known.iter().copied())
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    Finding::warning(
        "unknown-field",
        format!(
            "`{key}` is not a label-set field{hint}; it is ignored. Expected: {}",
            known.join(", ")
        ),
        format!("{display}:{line}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "event_id,case_id,task,label,grade,annotator_id,created_at,tool,tool_version,source,revises,round,reviewed_by,reviewed_at,decision\n";

    #[test]
    fn csv_rows_become_events_and_bad_rows_findings() {
        let text = format!(
            "{HEADER}\
             e1,c1,malignancy,benign,,R01,2025-03-01T09:30:00+08:00,viewer,2.1,human,,1,,,\n\
             e2,c1,malignancy,malignant,,M1,2025-03-01T01:00:00Z,nodule-net,1.3.0,ai_preannotation,,,R02,2025-03-02T10:00:00Z,accept\n\
             e3,c1,malignancy,,2,R01,yesterday,viewer,2.1,human,,1,,,\n\
             e4,c1,malignancy,benign,3,R01,2025-03-01T09:30:00Z,viewer,2.1,human,,1,,,\n\
             e1,c1,malignancy,benign,,R01,2025-03-01T09:30:00+08:00,viewer,2.1,human,,1,,,\n\
             e5,c2,malignancy,benign,,R01,2025-03-01T09:30:00Z,viewer,2.1,robot,,1,,,\n"
        );
        let set = parse_labels(text.as_bytes(), "labels.csv", false).unwrap();
        assert_eq!(set.events.len(), 2);
        let e1 = &set.events[0];
        // 09:30 at +08:00 is 01:30 UTC: 2025-03-01T01:30:00Z = 1740792600 (date -d ... +%s).
        assert_eq!(e1.created_at, Instant(1_740_792_600.0));
        assert_eq!(e1.answer, Answer::Class("benign".into()));
        assert_eq!(e1.round, Some(1));
        assert_eq!(set.events[1].decision, Some(Decision::Accept));
        let problems: Vec<(String, String)> = set
            .problems
            .iter()
            .map(|f| (f.code.clone(), f.subject.clone().unwrap()))
            .collect();
        assert_eq!(
            problems,
            [
                ("invalid-event".to_string(), "labels.csv:4".to_string()),
                ("invalid-event".to_string(), "labels.csv:5".to_string()),
                ("duplicate-event".to_string(), "labels.csv:6".to_string()),
                ("invalid-event".to_string(), "labels.csv:7".to_string()),
            ]
        );
        assert!(set.problems[0].message.contains("RFC 3339"));
        assert!(set.problems[1].message.contains("more than one finding"));
        assert!(set.problems[2].message.contains("identical"));
        assert!(set.problems[3].message.contains("robot"));
    }

    #[test]
    fn json_lines_and_missing_columns() {
        let text = r#"{"event_id":"e1","case_id":"c1","grade":2,"annotator_id":"R01","created_at":"2025-03-01T09:30:00Z","source":"human","round":1}
{"event_id":"e2","case_id":"c1","box":[1,2,30,40],"annotator_id":"R02","created_at":"2025-03-01T09:30:00Z","source":"human","colour":"red"}
not json
"#;
        let set = parse_labels(text.as_bytes(), "l.jsonl", true).unwrap();
        assert_eq!(set.events[0].answer, Answer::Grade(2));
        assert_eq!(set.events[1].answer, Answer::Box([1.0, 2.0, 30.0, 40.0]));
        assert_eq!(set.problems[0].code, "unknown-field");
        assert_eq!(set.problems[1].subject.as_deref(), Some("l.jsonl:3"));
        let err = parse_labels(b"event_id,case_id\n", "x.csv", false).unwrap_err();
        assert!(err.contains("annotator_id, created_at, source"), "{err}");
    }
}
