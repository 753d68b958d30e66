//! Renderers: `report.json` straight from the model; HTML and Markdown through tera templates
//! (embedded from `reports/`, overridable with `--templates DIR`).
//!
//! Templates never compute statistics. What they show beyond the model is prepared here as
//! presentation only: the inline SVG plots (`plots`: ROC, FROC, reliability diagram, forest
//! plots, per-case distributions), and the first findings of long lists. `report.json` has the
//! numbers behind the plots, never the plots.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Value};

use super::model::Report;
use super::plots;
use crate::checks::evidence::Measurement;

pub const HTML_TEMPLATE: &str = include_str!("../../reports/report.html.tera");
pub const MD_TEMPLATE: &str = include_str!("../../reports/report.md.tera");

/// Findings listed per requirement in HTML and Markdown; all of them are in report.json.
pub const FINDINGS_SHOWN: usize = 200;

/// Input files listed in HTML; all of them, with their hashes, are in report.json and
/// manifest.json.
pub const INPUTS_SHOWN: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
    #[error("cannot read template {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

/// `report.json`: pretty-printed, fields in model order, a trailing newline.
pub fn json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("the report model always serialises");
    s.push('\n');
    s
}

/// The templates to use: the embedded ones, or those in `dir` where present.
pub struct Templates {
    tera: tera::Tera,
    /// Template files read from `--templates` (they shape the outputs, so the manifest lists them).
    pub files: Vec<std::path::PathBuf>,
}

impl Templates {
    pub fn load(dir: Option<&Path>) -> Result<Self, RenderError> {
        let mut sources = vec![
            ("report.html.tera", HTML_TEMPLATE.to_string()),
            ("report.md.tera", MD_TEMPLATE.to_string()),
        ];
        let mut files = Vec::new();
        if let Some(dir) = dir {
            for (name, text) in &mut sources {
                let p = dir.join(*name);
                if p.exists() {
                    files.push(p.clone());
                    *text = std::fs::read_to_string(&p).map_err(|source| RenderError::Read {
                        path: p.display().to_string(),
                        source,
                    })?;
                }
            }
        }
        let mut tera = tera::Tera::default();
        // Spec titles, case identifiers and DICOM values are data: escape them in HTML.
        tera.autoescape_on(vec![".html.tera"]);
        for (name, text) in &sources {
            tera.add_raw_template(name, text)
                .map_err(|e| template_error(name, &e))?;
        }
        tera.register_filter("num", num_filter);
        Ok(Templates { tera, files })
    }

    pub fn html(&self, report: &Report) -> Result<String, RenderError> {
        self.render("report.html.tera", report)
    }

    pub fn markdown(&self, report: &Report) -> Result<String, RenderError> {
        self.render("report.md.tera", report)
    }

    fn render(&self, name: &str, report: &Report) -> Result<String, RenderError> {
        let ctx = tera::Context::from_value(json!({ "r": view(report) }))
            .map_err(|e| template_error(name, &e))?;
        self.tera
            .render(name, &ctx)
            .map_err(|e| template_error(name, &e))
    }
}

fn template_error(name: &str, e: &tera::Error) -> RenderError {
    let mut message = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cur = c.source();
    }
    RenderError::Template {
        name: name.to_string(),
        message,
    }
}

/// `{{ x | num }}`: a number with 4 decimals (or `digits=N`), `—` for null; integers as is.
fn num_filter(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let digits = args.get("digits").and_then(Value::as_u64).unwrap_or(4) as usize;
    Ok(Value::String(match value {
        Value::Null => "—".to_string(),
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        Value::Number(n) => format!("{:.*}", digits, n.as_f64().unwrap_or(f64::NAN)),
        other => other.to_string(),
    }))
}

/// The report as templates see it: the model plus presentation-only fields.
fn view(report: &Report) -> Value {
    let mut v = serde_json::to_value(report).expect("the report model always serialises");
    // Every input is in report.json and manifest.json; people read the first ones.
    if let Some(inputs) = v["inputs"].as_array_mut() {
        let total = inputs.len();
        inputs.truncate(INPUTS_SHOWN);
        v["inputs_total"] = json!(total);
        v["inputs_hidden"] = json!(total.saturating_sub(INPUTS_SHOWN));
    }
    if let Some(reqs) = v["requirements"].as_array_mut() {
        for (r, typed) in reqs.iter_mut().zip(&report.requirements) {
            add_plots(r, &typed.measurements);
            let findings = r["findings"].as_array().cloned().unwrap_or_default();
            r["findings_total"] = json!(findings.len());
            // How many of each kind, in order of first appearance, before the list itself.
            let mut by_code: Vec<(String, String, usize)> = Vec::new();
            for f in &findings {
                let (code, sev) = (
                    f["code"].as_str().unwrap_or(""),
                    f["severity"].as_str().unwrap_or(""),
                );
                match by_code.iter_mut().find(|(c, _, _)| c == code) {
                    Some(e) => e.2 += 1,
                    None => by_code.push((code.to_string(), sev.to_string(), 1)),
                }
            }
            r["findings_by_code"] = json!(by_code
                .iter()
                .map(|(c, s, n)| json!({"code": c, "severity": s, "count": n}))
                .collect::<Vec<_>>());
            r["findings_shown"] = json!(findings.iter().take(FINDINGS_SHOWN).collect::<Vec<_>>());
            r["findings_hidden"] = json!(findings.len().saturating_sub(FINDINGS_SHOWN));
            if let Some(matrix) = reader_matrix(r) {
                r["reader_matrix"] = matrix;
            }
            if let Some(ms) = r["measurements"].as_array_mut() {
                for m in ms {
                    m["ci_label"] =
                        json!(match (m["ci_method"].as_str(), m["ci_level"].as_f64()) {
                            (Some(method), Some(level)) =>
                                format!("{method} {}", crate::checks::evidence::percent(level)),
                            _ => "—".to_string(),
                        });
                    m["ci_text"] = json!(match (m["ci_low"].as_f64(), m["ci_high"].as_f64()) {
                        (Some(l), Some(h)) => format!("{l:.4} – {h:.4}"),
                        _ => "—".to_string(),
                    });
                }
            }
        }
    }
    v
}

/// Pairwise measurements (group `readers` = "A & B") laid out as a reader × reader matrix:
/// `{readers: [..], rows: [{reader, cells: [text]}]}`; None when there are no pairs.
fn reader_matrix(r: &Value) -> Option<Value> {
    let ms = r["measurements"].as_array()?;
    let mut cells: Vec<(String, String, String)> = Vec::new();
    for m in ms {
        let pair = m["group"]["readers"].as_str()?;
        let (a, b) = pair.split_once(" & ")?;
        let text = match m["estimate"].as_f64() {
            Some(e) => format!("{e:.3}"),
            None => "—".to_string(),
        };
        cells.push((a.to_string(), b.to_string(), text));
    }
    let mut readers: Vec<String> = cells
        .iter()
        .flat_map(|(a, b, _)| [a.clone(), b.clone()])
        .collect();
    readers.sort();
    readers.dedup();
    let rows: Vec<Value> = readers
        .iter()
        .map(|x| {
            let row: Vec<String> = readers
                .iter()
                .map(|y| {
                    if x == y {
                        return "·".to_string();
                    }
                    cells
                        .iter()
                        .find(|(a, b, _)| (a == x && b == y) || (a == y && b == x))
                        .map_or(String::new(), |c| c.2.clone())
                })
                .collect();
            json!({"reader": x, "cells": row})
        })
        .collect();
    (!cells.is_empty()).then(|| json!({"readers": readers, "rows": rows}))
}

/// The plots of one requirement, as presentation fields of its view `r`: per measurement
/// `roc_svg`, `froc_svg`, `calibration_svg` and `per_case_plot` (`svg`, `defined`, `undefined`,
/// `binned`); per requirement `forest_plots` (one per metric with groups) and
/// `difference_plot` (paired tests). A plot with nothing to draw is absent.
fn add_plots(r: &mut Value, measurements: &[Measurement]) {
    // The pass criterion's text, where the report carries it, gives the goal lines.
    let pass = r["pass"].as_str().map(str::to_string);
    let forests = plots::forests(measurements, pass.as_deref());
    if !forests.is_empty() {
        r["forest_plots"] = json!(forests);
    }
    if let Some(d) = plots::difference_forest(measurements, pass.as_deref()) {
        r["difference_plot"] = json!(d);
    }
    let mut any = r.get("forest_plots").is_some() || r.get("difference_plot").is_some();
    if let Some(ms) = r["measurements"].as_array_mut() {
        for (m, typed) in ms.iter_mut().zip(measurements) {
            any |= add_measurement_plots(m, typed);
        }
    }
    r["has_plots"] = json!(any);
}

/// A measurement's own plots; whether it has any.
fn add_measurement_plots(m: &mut Value, typed: &Measurement) -> bool {
    let what = plots::group_text(typed.group.as_ref());
    if let Some(svg) = typed.roc.as_deref().and_then(|p| plots::roc(p, &what)) {
        m["roc_svg"] = json!(svg);
    }
    if let Some(svg) = typed.froc.as_deref().and_then(|p| plots::froc(p, &what)) {
        m["froc_svg"] = json!(svg);
    }
    if let Some(svg) = typed
        .calibration
        .as_deref()
        .and_then(|b| plots::calibration(b, &what))
    {
        m["calibration_svg"] = json!(svg);
    }
    if let Some(d) = typed
        .per_case
        .as_deref()
        .and_then(|v| plots::per_case(v, &typed.metric, typed.estimate, &what))
    {
        m["per_case_plot"] = json!(d);
    }
    ["roc_svg", "froc_svg", "calibration_svg", "per_case_plot"]
        .iter()
        .any(|k| m.get(k).is_some())
}
