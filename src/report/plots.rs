//! Inline SVG plots for the HTML report: the ROC curve, the FROC curve, the reliability
//! diagram, forest plots of group estimates (and of paired differences), and per-case
//! distributions.
//!
//! Plots lay out numbers the checks already put in the measurements; they compute no
//! statistic. The only arithmetic beyond scaling is descriptive and named in the captions: the
//! quartiles of a per-case box (linear interpolation between order statistics, numpy's
//! default) and the FROC curve between operating points (linear, as `numpy.interp` in the
//! LUNA16 script).
//!
//! Each plot is one complete `<svg>` element: `role="img"`, an `aria-label` and a `<title>`,
//! presentation attributes only (no CSS, script or web font), coordinates written with one
//! decimal so that `report.html` is byte-stable, and every text escaped. A plot with nothing to
//! draw is `None`, never an empty frame, and non-finite numbers are left out, never written.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::checks::evidence::{percent, CaseValue, Measurement, Status};
use crate::spec::expr::{self, Expr, Op, Operand};
use crate::stats::calibration::Bin;
use crate::stats::froc::FrocPoint;
use crate::stats::roc::RocPoint;

/// Text, frame, grid and curve colours (the page's palette).
const TEXT: &str = "#57606a";
const INK: &str = "#1b1f24";
const FRAME: &str = "#d0d7de";
const GRID: &str = "#eaeef2";
const CURVE: &str = "#0969da";
const FONT: &str = "-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
/// Average advance of a 10 px sans-serif character, to size text columns.
const CHAR_W: f64 = 5.6;

/// The FROC axis: 1/8 to 8 false positives per scan, the rates of the CPM.
pub const FROC_MIN: f64 = 0.125;
pub const FROC_MAX: f64 = 8.0;

/// Per-case values drawn one dot each up to this many; a histogram above.
pub const DOTS_MAX: usize = 400;
/// Rows of a forest plot; the others are in the table and in report.json.
pub const FOREST_ROWS_MAX: usize = 60;

// ---------------------------------------------------------------------------------------------
// Writing SVG

/// A coordinate: one decimal, no trailing `.0`, never `-0`; non-finite (which callers filter
/// out before) as 0, so that no `NaN` is ever written.
fn c(x: f64) -> String {
    if !x.is_finite() {
        return "0".to_string();
    }
    let r = (x * 10.0).round() / 10.0;
    let r = if r == 0.0 { 0.0 } else { r };
    let s = format!("{r:.1}");
    match s.strip_suffix(".0") {
        Some(t) => t.to_string(),
        None => s,
    }
}

/// A value as text with `digits` decimals, a true minus sign, `—` when not finite.
fn num(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return "—".to_string();
    }
    let s = format!("{x:.digits$}");
    match s.strip_prefix('-') {
        Some(t) if t.chars().all(|ch| ch == '0' || ch == '.') => t.to_string(),
        Some(t) => format!("−{t}"),
        None => s,
    }
}

/// Text for XML content and attribute values: markup characters escaped, characters XML 1.0
/// does not allow replaced by U+FFFD.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            '\t' | '\n' | '\r' => o.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

/// At most `max` characters, with an ellipsis when cut.
fn clip_text(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

struct Svg(String);

impl Svg {
    /// The root element with its accessible name (`aria-label` and `<title>`).
    fn new(width: f64, height: f64, label: &str) -> Svg {
        let (w, h, t) = (c(width), c(height), esc(label));
        Svg(format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\" font-family=\"{FONT}\" \
             font-size=\"10\" fill=\"{TEXT}\"><title>{t}</title>"
        ))
    }

    fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, attrs: &str) {
        let _ = write!(
            self.0,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" {attrs}/>",
            c(x1),
            c(y1),
            c(x2),
            c(y2)
        );
    }

    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, attrs: &str) {
        let _ = write!(
            self.0,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {attrs}/>",
            c(x),
            c(y),
            c(w.max(0.0)),
            c(h.max(0.0))
        );
    }

    /// Text (escaped here) anchored `start`, `middle` or `end`.
    fn text(&mut self, x: f64, y: f64, anchor: &str, attrs: &str, body: &str) {
        let _ = write!(
            self.0,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\"{}{attrs}>{}</text>",
            c(x),
            c(y),
            if attrs.is_empty() { "" } else { " " },
            esc(body)
        );
    }

    /// Text rotated to read upwards, centred on (x, y): a vertical axis title.
    fn vtext(&mut self, x: f64, y: f64, body: &str) {
        let _ = write!(
            self.0,
            "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\" transform=\"rotate(-90 {x} {y})\">{}</text>",
            esc(body),
            x = c(x),
            y = c(y)
        );
    }

    fn polyline(&mut self, pts: &[(f64, f64)], attrs: &str) {
        if pts.len() < 2 {
            return;
        }
        let p: Vec<String> = pts
            .iter()
            .map(|(x, y)| format!("{},{}", c(*x), c(*y)))
            .collect();
        let _ = write!(
            self.0,
            "<polyline points=\"{}\" fill=\"none\" {attrs}/>",
            p.join(" ")
        );
    }

    fn raw(&mut self, s: &str) {
        self.0.push_str(s);
    }

    fn end(mut self) -> String {
        self.0.push_str("</svg>");
        self.0
    }
}

/// A linear map from data `[d0, d1]` to drawing `[r0, r1]`.
#[derive(Debug, Clone, Copy)]
struct Scale {
    d0: f64,
    d1: f64,
    r0: f64,
    r1: f64,
}

impl Scale {
    fn at(&self, x: f64) -> f64 {
        self.r0 + (x - self.d0) / (self.d1 - self.d0) * (self.r1 - self.r0)
    }
}

/// Round-number ticks covering the data: the axis runs from the first to the last tick.
#[derive(Debug, Clone, PartialEq)]
struct Ticks {
    values: Vec<f64>,
    decimals: usize,
}

impl Ticks {
    /// About `target` steps of 1, 2 or 5 × 10^k covering `[lo, hi]` (finite); kept within
    /// [0, 1] when the data are.
    fn covering(lo: f64, hi: f64, target: usize) -> Ticks {
        let unit = lo >= 0.0 && hi <= 1.0;
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            let pad = if lo == 0.0 { 0.5 } else { lo.abs() * 0.1 };
            (lo - pad, hi + pad)
        };
        let raw = (hi - lo) / target.max(1) as f64;
        // k · m · 10^e, computed so that 6 · 10^-1 is exactly 0.6.
        let tick = |k: i64, m: f64, e: i32| {
            let mag = 10f64.powi(e.abs());
            if e >= 0 {
                k as f64 * m * mag
            } else {
                k as f64 * m / mag
            }
        };
        let mut exp = raw.log10().floor() as i32;
        let mut m = [1.0, 2.0, 5.0]
            .into_iter()
            .find(|&m| tick(1, m, exp) >= raw * (1.0 - 1e-9))
            .unwrap_or(10.0);
        if m == 10.0 {
            (m, exp) = (1.0, exp + 1);
        }
        let tick = |k: i64| tick(k, m, exp);
        let step = tick(1);
        let mut k0 = (lo / step + 1e-9).floor() as i64;
        let mut k1 = (hi / step - 1e-9).ceil() as i64;
        if unit {
            k0 = k0.max(0);
            k1 = k1.min((1.0 / step).round() as i64);
        }
        let k1 = k1.max(k0 + 1);
        let values = (k0..=k1).map(tick).collect();
        let decimals = (-exp).max(0) as usize;
        Ticks { values, decimals }
    }

    fn first(&self) -> f64 {
        self.values[0]
    }

    fn last(&self) -> f64 {
        self.values[self.values.len() - 1]
    }
}

fn status_colour(s: Status) -> &'static str {
    match s {
        Status::Pass => "#1a7f37",
        Status::Fail => "#cf222e",
        Status::Inconclusive => "#9a6700",
        Status::Error => "#8250df",
    }
}

/// A measurement's group as text: `overall`, or `key=value, ...`.
pub fn group_text(group: Option<&BTreeMap<String, String>>) -> String {
    match group {
        None => "overall".to_string(),
        Some(g) => g
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Draws a square plot frame with 0..1 on both axes (ROC and reliability diagram): frame,
/// light grid every 0.2, tick labels and axis titles.
fn unit_frame(svg: &mut Svg, x: Scale, y: Scale, x_title: &str, y_title: &str, label_y: f64) {
    for k in 0..=5 {
        let t = k as f64 / 5.0;
        let (px, py) = (x.at(t), y.at(t));
        if k > 0 && k < 5 {
            svg.line(
                px,
                y.r0,
                px,
                y.r1,
                &format!("stroke=\"{GRID}\" stroke-width=\"1\""),
            );
            svg.line(
                x.r0,
                py,
                x.r1,
                py,
                &format!("stroke=\"{GRID}\" stroke-width=\"1\""),
            );
        }
        let label = if k == 0 || k == 5 {
            num(t, 0)
        } else {
            num(t, 1)
        };
        svg.text(px, label_y, "middle", "", &label);
        svg.text(x.r0 - 4.0, py + 3.5, "end", "", &label);
    }
    svg.rect(
        x.r0,
        y.r1,
        x.r1 - x.r0,
        y.r0 - y.r1,
        &format!("fill=\"none\" stroke=\"{FRAME}\""),
    );
    svg.text(
        (x.r0 + x.r1) / 2.0,
        label_y + 16.0,
        "middle",
        &format!("fill=\"{INK}\""),
        x_title,
    );
    svg.vtext(x.r0 - 32.0, (y.r0 + y.r1) / 2.0, y_title);
}

// ---------------------------------------------------------------------------------------------
// ROC

/// The ROC curve: sensitivity against 1 − specificity, with the chance diagonal. `what` names
/// the measurement (`overall`, `site=A`). None when no point is finite.
pub fn roc(points: &[RocPoint], what: &str) -> Option<String> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.fpr.is_finite() && p.tpr.is_finite())
        .map(|p| (p.fpr.clamp(0.0, 1.0), p.tpr.clamp(0.0, 1.0)))
        .collect();
    if pts.is_empty() {
        return None;
    }
    let (left, top, side) = (48.0, 10.0, 200.0);
    let x = Scale {
        d0: 0.0,
        d1: 1.0,
        r0: left,
        r1: left + side,
    };
    let y = Scale {
        d0: 0.0,
        d1: 1.0,
        r0: top + side,
        r1: top,
    };
    let mut svg = Svg::new(
        left + side + 14.0,
        top + side + 44.0,
        &format!(
            "ROC curve, {what}: sensitivity against 1 − specificity, {} operating points",
            pts.len()
        ),
    );
    unit_frame(
        &mut svg,
        x,
        y,
        "1 − specificity (false-positive rate)",
        "sensitivity (true-positive rate)",
        top + side + 14.0,
    );
    svg.line(
        x.at(0.0),
        y.at(0.0),
        x.at(1.0),
        y.at(1.0),
        &format!("stroke=\"{FRAME}\" stroke-dasharray=\"4 3\""),
    );
    let drawn: Vec<(f64, f64)> = pts.iter().map(|&(f, t)| (x.at(f), y.at(t))).collect();
    if drawn.len() == 1 {
        svg.raw(&format!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"{CURVE}\"/>",
            c(drawn[0].0),
            c(drawn[0].1)
        ));
    }
    svg.polyline(&drawn, &format!("stroke=\"{CURVE}\" stroke-width=\"2\""));
    Some(svg.end())
}

// ---------------------------------------------------------------------------------------------
// FROC

/// Where a number of false positives per scan lies on the FROC axis, 0 at 1/8 and 1 at 8.
fn froc_fraction(fp: f64) -> f64 {
    (fp.log2() - FROC_MIN.log2()) / (FROC_MAX.log2() - FROC_MIN.log2())
}

const FROC_W: f64 = 300.0;
const FROC_H: f64 = 200.0;
const FROC_LEFT: f64 = 48.0;
const FROC_TOP: f64 = 12.0;

/// A point in data units: (false positives per scan, sensitivity).
type Point = (f64, f64);

/// The FROC curve as drawn, in data units: the vertices between 1/8 and 8 false positives per
/// scan (the curve linear between operating points, as `numpy.interp` reads it, so a sloped
/// stretch is sampled along the log axis), and where the curve ends before 8, its last point
/// (from there the sensitivity is held, as `numpy.interp` holds it).
fn froc_path(pts: &[Point]) -> (Vec<Point>, Option<Point>) {
    let mut out: Vec<Point> = Vec::new();
    let mut push = |p: Point| {
        if out.last() != Some(&p) {
            out.push(p);
        }
    };
    for w in pts.windows(2) {
        let (a, b) = (w[0], w[1]);
        if b.0 < a.0 {
            continue;
        }
        let (lo, hi) = (a.0.max(FROC_MIN), b.0.min(FROC_MAX));
        if lo > hi {
            continue;
        }
        if a.0 == b.0 {
            push(a);
            push(b);
            continue;
        }
        let at = |f: f64| a.1 + (b.1 - a.1) * (f - a.0) / (b.0 - a.0);
        push((lo, at(lo)));
        if a.1 != b.1 {
            // About one vertex every 3 px along the log axis.
            let px = (froc_fraction(hi) - froc_fraction(lo)) * FROC_W;
            let steps = ((px / 3.0).ceil() as usize).clamp(1, 100);
            for k in 1..steps {
                let f = lo * (hi / lo).powf(k as f64 / steps as f64);
                push((f, at(f)));
            }
        }
        push((hi, at(hi)));
    }
    let held = pts
        .last()
        .filter(|l| l.0 < FROC_MAX)
        .map(|l| (l.0.max(FROC_MIN), l.1));
    (out, held)
}

/// The FROC curve: lesion sensitivity against false positives per scan, on a log2 axis from
/// 1/8 to 8 with the seven rates of the CPM marked. Points outside the axis are clipped (the
/// curve is cut where it crosses 1/8 and 8); where the curve ends before 8, the sensitivity it
/// holds is drawn dashed. None when no point is finite.
pub fn froc(points: &[FrocPoint], what: &str) -> Option<String> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.fp_per_scan.is_finite() && p.fp_per_scan >= 0.0)
        .filter(|p| p.sensitivity.is_finite())
        .map(|p| (p.fp_per_scan, p.sensitivity.clamp(0.0, 1.0)))
        .collect();
    if pts.is_empty() {
        return None;
    }
    let x = |fp: f64| FROC_LEFT + froc_fraction(fp) * FROC_W;
    let y = Scale {
        d0: 0.0,
        d1: 1.0,
        r0: FROC_TOP + FROC_H,
        r1: FROC_TOP,
    };
    let mut svg = Svg::new(
        FROC_LEFT + FROC_W + 16.0,
        FROC_TOP + FROC_H + 46.0,
        &format!(
            "FROC curve, {what}: lesion sensitivity against false positives per scan, \
             1/8 to 8 on a log2 axis, {} operating points",
            pts.len()
        ),
    );
    let grid = format!("stroke=\"{GRID}\" stroke-width=\"1\"");
    let label_y = FROC_TOP + FROC_H + 14.0;
    for (k, label) in ["1/8", "1/4", "1/2", "1", "2", "4", "8"].iter().enumerate() {
        let px = x(FROC_MIN * f64::from(1u32 << k));
        if k > 0 && k < 6 {
            svg.line(px, y.r0, px, y.r1, &grid);
        }
        svg.line(
            px,
            y.r0,
            px,
            y.r0 + 4.0,
            &format!("stroke=\"{TEXT}\" stroke-width=\"1\""),
        );
        svg.text(px, label_y, "middle", "", label);
    }
    for k in 0..=5 {
        let t = k as f64 / 5.0;
        let py = y.at(t);
        if k > 0 && k < 5 {
            svg.line(FROC_LEFT, py, FROC_LEFT + FROC_W, py, &grid);
        }
        let label = if k == 0 || k == 5 {
            num(t, 0)
        } else {
            num(t, 1)
        };
        svg.text(FROC_LEFT - 4.0, py + 3.5, "end", "", &label);
    }
    svg.rect(
        FROC_LEFT,
        FROC_TOP,
        FROC_W,
        FROC_H,
        &format!("fill=\"none\" stroke=\"{FRAME}\""),
    );
    svg.text(
        FROC_LEFT + FROC_W / 2.0,
        label_y + 16.0,
        "middle",
        &format!("fill=\"{INK}\""),
        "false positives per scan (log scale; the CPM rates marked)",
    );
    svg.vtext(
        FROC_LEFT - 32.0,
        FROC_TOP + FROC_H / 2.0,
        "sensitivity (share of lesions hit)",
    );
    let (path, held) = froc_path(&pts);
    let drawn: Vec<(f64, f64)> = path.iter().map(|&(f, s)| (x(f), y.at(s))).collect();
    svg.polyline(&drawn, &format!("stroke=\"{CURVE}\" stroke-width=\"2\""));
    if let Some((f, s)) = held {
        svg.line(
            x(f),
            y.at(s),
            x(FROC_MAX),
            y.at(s),
            &format!("stroke=\"{CURVE}\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\""),
        );
    }
    Some(svg.end())
}

// ---------------------------------------------------------------------------------------------
// Reliability diagram

/// The reliability diagram: the observed share of positives against the mean predicted
/// probability per bin, the diagonal of perfect calibration, each point's area growing with
/// the bin's cases, and the cases per bin as bars below. None when no bin has cases and finite
/// values.
pub fn calibration(bins: &[Bin], what: &str) -> Option<String> {
    let bins: Vec<&Bin> = bins
        .iter()
        .filter(|b| b.n > 0 && b.mean_predicted.is_finite() && b.observed.is_finite())
        .collect();
    let max_n = bins.iter().map(|b| b.n).max()?;
    let total: u64 = bins.iter().map(|b| b.n).sum();
    let (left, top, side, gap, strip) = (48.0, 10.0, 200.0, 8.0, 30.0);
    let x = Scale {
        d0: 0.0,
        d1: 1.0,
        r0: left,
        r1: left + side,
    };
    let y = Scale {
        d0: 0.0,
        d1: 1.0,
        r0: top + side,
        r1: top,
    };
    let strip_top = top + side + gap;
    let label_y = strip_top + strip + 14.0;
    let mut svg = Svg::new(
        left + side + 14.0,
        label_y + 24.0,
        &format!(
            "Reliability diagram, {what}: observed share of positives against mean predicted \
             probability in {} bins, {total} cases",
            bins.len()
        ),
    );
    unit_frame(
        &mut svg,
        x,
        y,
        "mean predicted probability",
        "observed share of positives",
        label_y,
    );
    svg.line(
        x.at(0.0),
        y.at(0.0),
        x.at(1.0),
        y.at(1.0),
        &format!("stroke=\"{FRAME}\" stroke-dasharray=\"4 3\""),
    );
    // Cases per bin.
    svg.rect(
        left,
        strip_top,
        side,
        strip,
        &format!("fill=\"none\" stroke=\"{FRAME}\""),
    );
    for b in &bins {
        let (lo, hi) = (b.low.clamp(0.0, 1.0), b.high.clamp(0.0, 1.0));
        if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
            continue;
        }
        let h = (strip - 4.0) * b.n as f64 / max_n as f64;
        svg.rect(
            x.at(lo) + 0.5,
            strip_top + strip - h,
            x.at(hi) - x.at(lo) - 1.0,
            h,
            &format!("fill=\"{FRAME}\""),
        );
    }
    svg.text(left - 4.0, strip_top + strip / 2.0 + 3.5, "end", "", "n");
    svg.text(
        left + side - 3.0,
        strip_top + 10.0,
        "end",
        "",
        &format!("max {max_n}"),
    );
    let pts: Vec<(f64, f64)> = bins
        .iter()
        .map(|b| {
            (
                x.at(b.mean_predicted.clamp(0.0, 1.0)),
                y.at(b.observed.clamp(0.0, 1.0)),
            )
        })
        .collect();
    svg.polyline(&pts, &format!("stroke=\"{CURVE}\" stroke-width=\"1.5\""));
    for (b, (px, py)) in bins.iter().zip(&pts) {
        let r = 2.0 + 4.0 * (b.n as f64 / max_n as f64).sqrt();
        svg.raw(&format!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{CURVE}\" fill-opacity=\"0.75\" stroke=\"#fff\">\
             <title>{}</title></circle>",
            c(*px),
            c(*py),
            c(r),
            esc(&format!(
                "[{}, {}): {} cases, mean predicted {}, observed {}",
                num(b.low, 2),
                num(b.high, 2),
                b.n,
                num(b.mean_predicted, 3),
                num(b.observed, 3)
            ))
        ));
    }
    Some(svg.end())
}

// ---------------------------------------------------------------------------------------------
// Forest plots

/// One row of a forest plot.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestRow {
    pub label: String,
    /// The overall estimate, drawn bold and larger.
    pub overall: bool,
    pub estimate: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub n: u64,
    pub status: Status,
}

/// A vertical reference line: a goal, a margin, or no difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefLine {
    pub value: f64,
    pub label: String,
    pub dashed: bool,
}

/// A forest plot and what its caption states.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forest {
    pub metric: String,
    pub svg: String,
    /// Rows drawn, and rows left out beyond [`FOREST_ROWS_MAX`].
    pub rows: usize,
    pub hidden: usize,
    /// Whether the first row is the overall measurement.
    pub overall: bool,
    /// The interval's method and level (e.g. `wilson 95%`), when all rows share one.
    pub interval: String,
    /// The reference lines, in words (e.g. `ci_low ≥ 0.85`).
    pub lines: Vec<String>,
}

/// Vertical lines a pass criterion sets on an axis of `fields`: the number of each
/// `field op number` (either way round), when the criterion has no `or`.
pub fn criterion_lines(pass: &str, fields: &[&str]) -> Vec<RefLine> {
    fn walk(e: &Expr, fields: &[&str], out: &mut Vec<RefLine>) -> bool {
        match e {
            Expr::Or(..) => false,
            Expr::And(a, b) => walk(a, fields, out) && walk(b, fields, out),
            Expr::Cmp(l, op, r) => {
                let sym = |op: &Op| match op {
                    Op::Ge => "≥",
                    Op::Gt => ">",
                    Op::Le => "≤",
                    Op::Lt => "<",
                    Op::Eq => "=",
                    Op::Ne => "≠",
                };
                let found = match (l, r) {
                    (Operand::Field(f), Operand::Number(x)) => {
                        Some((f, *x, format!("{f} {} {}", sym(op), num(*x, digits_of(*x)))))
                    }
                    (Operand::Number(x), Operand::Field(f)) => {
                        Some((f, *x, format!("{} {} {f}", num(*x, digits_of(*x)), sym(op))))
                    }
                    _ => None,
                };
                if let Some((f, x, label)) = found {
                    if fields.contains(&f.as_str()) && x.is_finite() && *op != Op::Ne {
                        out.push(RefLine {
                            value: x,
                            label,
                            dashed: true,
                        });
                    }
                }
                true
            }
        }
    }
    let Ok(e) = expr::parse(pass) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if !walk(&e, fields, &mut out) {
        return Vec::new();
    }
    out
}

/// Decimals enough to show a criterion's number as written (up to 4).
fn digits_of(x: f64) -> usize {
    (0..4)
        .find(|&d| {
            let p = 10f64.powi(d as i32);
            ((x * p).round() / p - x).abs() < 1e-9
        })
        .unwrap_or(4)
}

/// The label column's heading and each row's label: the group's values when every group has
/// the same single key (the heading is that key), else `key=value` pairs.
fn row_labels(ms: &[&Measurement]) -> (String, Vec<String>) {
    let keys: Vec<Vec<&String>> = ms
        .iter()
        .filter_map(|m| m.group.as_ref().map(|g| g.keys().collect()))
        .collect();
    let single = match keys.first() {
        Some(k) if k.len() == 1 && keys.iter().all(|x| x == k) => Some(k[0].clone()),
        _ => None,
    };
    let labels = ms
        .iter()
        .map(|m| match (&m.group, &single) {
            (None, _) => "overall".to_string(),
            (Some(g), Some(_)) => g.values().next().cloned().unwrap_or_default(),
            (Some(g), None) => group_text(Some(g)),
        })
        .collect();
    let heading = match single {
        Some(k) => k,
        None if keys.is_empty() => String::new(),
        None => "group".to_string(),
    };
    (heading, labels)
}

/// The forest plots of a requirement: for each metric that has group measurements, one row per
/// measurement of that metric (the overall one first), the estimate as a marker and its
/// interval as a line, with the goals that `pass` (the criterion's text, when the report has
/// it) sets on the estimate or its interval drawn dashed.
pub fn forests(measurements: &[Measurement], pass: Option<&str>) -> Vec<Forest> {
    let mut metrics: Vec<&str> = Vec::new();
    for m in measurements {
        if m.group.is_some() && !metrics.contains(&m.metric.as_str()) {
            metrics.push(&m.metric);
        }
    }
    let lines = pass
        .map(|p| criterion_lines(p, &["estimate", "ci_low", "ci_high"]))
        .unwrap_or_default();
    metrics
        .into_iter()
        .filter_map(|metric| {
            let mut ms: Vec<&Measurement> = measurements
                .iter()
                .filter(|m| m.metric == metric && m.group.is_none())
                .take(1)
                .collect();
            ms.extend(
                measurements
                    .iter()
                    .filter(|m| m.metric == metric && m.group.is_some()),
            );
            let (heading, labels) = row_labels(&ms);
            let rows: Vec<ForestRow> = ms
                .iter()
                .zip(labels)
                .map(|(m, label)| ForestRow {
                    label,
                    overall: m.group.is_none(),
                    estimate: m.estimate,
                    low: m.ci_low,
                    high: m.ci_high,
                    n: m.n,
                    status: m.status,
                })
                .collect();
            let intervals: Vec<String> = ms
                .iter()
                .filter_map(|m| {
                    Some(format!(
                        "{} {}",
                        m.ci_method.as_deref()?,
                        percent(m.ci_level?)
                    ))
                })
                .collect();
            let interval = match intervals.first() {
                Some(i) if intervals.iter().all(|x| x == i) => i.clone(),
                _ => String::new(),
            };
            let axis = if interval.is_empty() {
                metric.to_string()
            } else {
                format!("{metric} ({interval} interval)")
            };
            forest(&rows, &lines, &heading, metric, &axis).map(|(svg, shown)| Forest {
                metric: metric.to_string(),
                svg,
                rows: shown,
                hidden: rows.len() - shown,
                overall: rows[0].overall,
                interval,
                lines: lines.iter().map(|l| l.label.clone()).collect(),
            })
        })
        .collect()
}

/// The bound in a paired test's null hypothesis (`… ≤ −0.05`): its margin.
fn null_bound(null_hypothesis: &str) -> Option<f64> {
    let (_, tail) = null_hypothesis.rsplit_once('≤')?;
    tail.trim().replace('−', "-").parse().ok()
}

/// A forest plot of paired differences (this model minus the one compared against) with their
/// intervals, the line of no difference, and the margin of the null hypothesis dashed (with the
/// goals `pass` sets on the difference). None when no measurement has a difference.
pub fn difference_forest(measurements: &[Measurement], pass: Option<&str>) -> Option<Forest> {
    let mut ms: Vec<&Measurement> = measurements
        .iter()
        .filter(|m| m.group.is_none())
        .filter(|m| m.test.as_ref().and_then(|t| t.difference).is_some())
        .take(1)
        .collect();
    ms.extend(
        measurements
            .iter()
            .filter(|m| m.group.is_some())
            .filter(|m| m.test.as_ref().and_then(|t| t.difference).is_some()),
    );
    let first = ms.first()?.test.as_ref()?;
    let (heading, labels) = row_labels(&ms);
    let rows: Vec<ForestRow> = ms
        .iter()
        .zip(labels)
        .map(|(m, label)| {
            let t = m.test.as_ref().expect("filtered on test");
            ForestRow {
                label,
                overall: m.group.is_none(),
                estimate: t.difference,
                low: t.difference_ci_low,
                high: t.difference_ci_high,
                n: m.n,
                status: m.status,
            }
        })
        .collect();
    let mut lines = vec![RefLine {
        value: 0.0,
        label: "no difference".to_string(),
        dashed: false,
    }];
    if matches!(first.kind.as_str(), "noninferiority" | "superiority") {
        if let Some(b) = null_bound(&first.null_hypothesis).filter(|b| *b != 0.0) {
            lines.push(RefLine {
                value: b,
                label: format!("margin {}", num(b, digits_of(b))),
                dashed: true,
            });
        }
    }
    for l in pass
        .map(|p| {
            criterion_lines(
                p,
                &["difference", "difference_ci_low", "difference_ci_high"],
            )
        })
        .unwrap_or_default()
    {
        if !lines.iter().any(|x| x.value == l.value) {
            lines.push(l);
        }
    }
    let what = first
        .null_hypothesis
        .split_once('≤')
        .map_or("difference", |(d, _)| d.trim())
        .to_string();
    let level = 1.0 - 2.0 * first.alpha;
    let interval = if level > 0.0 && level < 1.0 {
        format!("two-sided {}", percent(level))
    } else {
        String::new()
    };
    let axis = if interval.is_empty() {
        what.clone()
    } else {
        format!("{what} ({interval} interval)")
    };
    let (svg, shown) = forest(&rows, &lines, &heading, &what, &axis)?;
    Some(Forest {
        metric: what,
        svg,
        rows: shown,
        hidden: rows.len() - shown,
        overall: rows[0].overall,
        interval,
        lines: lines.iter().map(|l| l.label.clone()).collect(),
    })
}

/// Draws a forest plot: a label column, the plot, then estimate (interval), n and status as
/// text. Returns the SVG and the rows drawn; None when no row has a finite estimate.
pub fn forest(
    rows: &[ForestRow],
    lines: &[RefLine],
    heading: &str,
    what: &str,
    axis_title: &str,
) -> Option<(String, usize)> {
    let fin = |x: Option<f64>| x.filter(|v| v.is_finite());
    if !rows.iter().any(|r| fin(r.estimate).is_some()) {
        return None;
    }
    let rows = &rows[..rows.len().min(FOREST_ROWS_MAX)];
    let mut values: Vec<f64> = rows
        .iter()
        .flat_map(|r| [fin(r.estimate), fin(r.low), fin(r.high)])
        .flatten()
        .collect();
    values.extend(lines.iter().map(|l| l.value).filter(|v| v.is_finite()));
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let ticks = Ticks::covering(lo, hi, 5);
    let integers = rows
        .iter()
        .flat_map(|r| [fin(r.estimate), fin(r.low), fin(r.high)])
        .flatten()
        .all(|v| v.fract() == 0.0 && v.abs() < 1e15);
    let digits = if integers { 0 } else { 3 };
    let value_text = |r: &ForestRow| match (fin(r.estimate), fin(r.low), fin(r.high)) {
        (Some(e), Some(l), Some(h)) => {
            format!("{} ({}–{})", num(e, digits), num(l, digits), num(h, digits))
        }
        (Some(e), _, _) => num(e, digits),
        _ => "—".to_string(),
    };
    const LABEL_MAX: usize = 28;
    let label_chars = rows
        .iter()
        .map(|r| clip_text(&r.label, LABEL_MAX).chars().count())
        .chain([heading.chars().count()])
        .max()
        .unwrap_or(4);
    let label_w = (label_chars as f64 * CHAR_W + 14.0).clamp(56.0, 180.0);
    let plot_w = 260.0;
    let value_w = rows
        .iter()
        .map(|r| value_text(r).chars().count())
        .chain(["estimate (interval)".chars().count()])
        .max()
        .unwrap_or(10) as f64
        * CHAR_W
        + 14.0;
    let (n_w, status_w) = (48.0, 84.0);
    let (x0, x1) = (label_w + 8.0, label_w + 8.0 + plot_w);
    let head_y = 12.0;
    // Room for the reference lines' labels, when there are any.
    let band = if lines.is_empty() { 0.0 } else { 12.0 };
    let row_h = 18.0;
    let rows_top = head_y + 6.0 + band;
    let rows_bottom = rows_top + row_h * rows.len() as f64;
    let width = x1 + 12.0 + value_w + n_w + status_w;
    let height = rows_bottom + 44.0;
    let x = Scale {
        d0: ticks.first(),
        d1: ticks.last(),
        r0: x0 + 6.0,
        r1: x1 - 6.0,
    };
    let mut svg = Svg::new(
        width,
        height,
        &format!(
            "Forest plot of {what}: {} {}, estimate and interval per row{}",
            rows.len(),
            if rows.len() == 1 { "row" } else { "rows" },
            if lines.is_empty() {
                String::new()
            } else {
                format!(
                    "; reference lines: {}",
                    lines
                        .iter()
                        .map(|l| l.label.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ),
    );
    let bold = format!("font-weight=\"bold\" fill=\"{INK}\"");
    let (xv, xn, xs) = (
        x1 + 12.0,
        x1 + 12.0 + value_w + n_w - 10.0,
        width - status_w + 4.0,
    );
    svg.text(4.0, head_y, "start", &bold, &clip_text(heading, LABEL_MAX));
    svg.text(
        (x0 + x1) / 2.0,
        head_y,
        "middle",
        &bold,
        &clip_text(what, 44),
    );
    svg.text(xv, head_y, "start", &bold, "estimate (interval)");
    svg.text(xn, head_y, "end", &bold, "n");
    svg.text(xs, head_y, "start", &bold, "status");
    // Row stripes, then grid, reference lines, and rows on top.
    for i in (1..rows.len()).step_by(2) {
        svg.rect(
            0.0,
            rows_top + row_h * i as f64,
            width,
            row_h,
            "fill=\"#f6f8fa\"",
        );
    }
    for &t in &ticks.values {
        let px = x.at(t);
        svg.line(
            px,
            rows_top,
            px,
            rows_bottom,
            &format!("stroke=\"{GRID}\" stroke-width=\"1\""),
        );
        svg.line(
            px,
            rows_bottom,
            px,
            rows_bottom + 4.0,
            &format!("stroke=\"{TEXT}\" stroke-width=\"1\""),
        );
        svg.text(
            px,
            rows_bottom + 14.0,
            "middle",
            "",
            &num(t, ticks.decimals),
        );
    }
    svg.line(
        x0,
        rows_bottom,
        x1,
        rows_bottom,
        &format!("stroke=\"{FRAME}\" stroke-width=\"1\""),
    );
    svg.text(
        (x0 + x1) / 2.0,
        rows_bottom + 30.0,
        "middle",
        &format!("fill=\"{INK}\""),
        &clip_text(axis_title, 60),
    );
    let mut sorted: Vec<&RefLine> = lines.iter().filter(|l| l.value.is_finite()).collect();
    sorted.sort_by(|a, b| a.value.total_cmp(&b.value));
    for (i, l) in sorted.iter().enumerate() {
        let px = x.at(l.value);
        svg.line(
            px,
            rows_top - 2.0,
            px,
            rows_bottom,
            &format!(
                "stroke=\"{INK}\" stroke-width=\"1\"{}",
                if l.dashed {
                    " stroke-dasharray=\"4 3\""
                } else {
                    ""
                }
            ),
        );
        // The lowest line is labelled to its left, the others to their right.
        let (anchor, dx) = if i == 0 && sorted.len() > 1 {
            ("end", -3.0)
        } else {
            ("start", 3.0)
        };
        svg.text(
            px + dx,
            rows_top - 3.0,
            anchor,
            &format!("fill=\"{INK}\""),
            &l.label,
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let cy = rows_top + row_h * (i as f64 + 0.5);
        let colour = status_colour(r.status);
        let weight = if r.overall { &bold } else { "" };
        let label = clip_text(&r.label, LABEL_MAX);
        if label != r.label {
            svg.raw(&format!(
                "<g><title>{}</title>",
                esc(&format!("{}: {}", r.label, value_text(r)))
            ));
        }
        svg.text(4.0, cy + 3.5, "start", weight, &label);
        if label != r.label {
            svg.raw("</g>");
        }
        if let (Some(l), Some(h)) = (fin(r.low), fin(r.high)) {
            svg.line(
                x.at(l),
                cy,
                x.at(h),
                cy,
                &format!(
                    "stroke=\"{colour}\" stroke-width=\"{}\"",
                    if r.overall { "2" } else { "1.5" }
                ),
            );
            for end in [l, h] {
                svg.line(
                    x.at(end),
                    cy - 3.0,
                    x.at(end),
                    cy + 3.0,
                    &format!("stroke=\"{colour}\" stroke-width=\"1\""),
                );
            }
        }
        if let Some(e) = fin(r.estimate) {
            svg.raw(&marker(x.at(e), cy, r.status, r.overall));
        }
        svg.text(xv, cy + 3.5, "start", weight, &value_text(r));
        svg.text(xn, cy + 3.5, "end", weight, &r.n.to_string());
        svg.text(
            xs,
            cy + 3.5,
            "start",
            &format!("font-weight=\"bold\" fill=\"{colour}\""),
            r.status.as_str(),
        );
    }
    Some((svg.end(), rows.len()))
}

/// The estimate's marker, by status so that it does not rest on colour alone: pass a filled
/// square, fail a filled diamond, inconclusive an open square, error an open circle.
fn marker(cx: f64, cy: f64, status: Status, overall: bool) -> String {
    let h = if overall { 5.0 } else { 4.0 };
    let colour = status_colour(status);
    match status {
        Status::Pass => format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{colour}\"/>",
            c(cx - h),
            c(cy - h),
            c(2.0 * h),
            c(2.0 * h)
        ),
        Status::Fail => {
            let d = h * 1.3;
            format!(
                "<polygon points=\"{},{} {},{} {},{} {},{}\" fill=\"{colour}\"/>",
                c(cx),
                c(cy - d),
                c(cx + d),
                c(cy),
                c(cx),
                c(cy + d),
                c(cx - d),
                c(cy)
            )
        }
        Status::Inconclusive => format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fff\" stroke=\"{colour}\" stroke-width=\"1.5\"/>",
            c(cx - h),
            c(cy - h),
            c(2.0 * h),
            c(2.0 * h)
        ),
        Status::Error => format!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"#fff\" stroke=\"{colour}\" stroke-width=\"1.5\"/>",
            c(cx),
            c(cy),
            c(h)
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Per-case distributions

/// A per-case distribution plot and the counts its caption states.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Distribution {
    pub svg: String,
    /// Cases with a finite value (drawn), and without one (counted, not drawn).
    pub defined: usize,
    pub undefined: usize,
    /// Whether the cases are binned into a histogram (more than [`DOTS_MAX`]) rather than
    /// drawn one dot each.
    pub binned: bool,
}

/// The unit of a per-case metric, for the axis title.
fn unit_of(metric: &str) -> &'static str {
    match metric {
        "hausdorff" | "hausdorff95" | "assd" => " (mm)",
        "dice" | "iou" | "nsd" => " (0 to 1)",
        _ => "",
    }
}

/// The p-quantile of sorted values, linear between order statistics (numpy's default,
/// Hyndman & Fan type 7).
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let (i, f) = (h.floor() as usize, h - h.floor());
    match sorted.get(i + 1) {
        Some(&b) => sorted[i] + f * (b - sorted[i]),
        None => sorted[i],
    }
}

/// The distribution of a per-case metric: a box (median and quartiles, whiskers to the most
/// extreme values within 1.5 interquartile ranges) with the mean (`estimate`) as a diamond,
/// over the cases drawn one dot each, spread vertically by a fixed sequence (the golden-ratio
/// sequence, so the same cases always land in the same place), or binned into a histogram
/// above [`DOTS_MAX`] cases. Cases without a finite value are counted, not drawn. None when no
/// case has a finite value.
pub fn per_case(
    values: &[CaseValue],
    metric: &str,
    estimate: Option<f64>,
    what: &str,
) -> Option<Distribution> {
    let defined: Vec<(&str, f64)> = values
        .iter()
        .filter_map(|v| Some((v.case.as_str(), v.value.filter(|x| x.is_finite())?)))
        .collect();
    if defined.is_empty() {
        return None;
    }
    let undefined = values.len() - defined.len();
    let mut sorted: Vec<f64> = defined.iter().map(|d| d.1).collect();
    sorted.sort_by(f64::total_cmp);
    let (min, max) = (sorted[0], sorted[sorted.len() - 1]);
    let mean = estimate.filter(|e| e.is_finite());
    let ticks = Ticks::covering(
        mean.map_or(min, |m| m.min(min)),
        mean.map_or(max, |m| m.max(max)),
        5,
    );
    let (left, plot_w) = (20.0, 380.0);
    let x = Scale {
        d0: ticks.first(),
        d1: ticks.last(),
        r0: left,
        r1: left + plot_w,
    };
    let (box_top, box_h) = (8.0, 18.0);
    let (strip_top, strip_h) = (box_top + box_h + 8.0, 64.0);
    let axis_y = strip_top + strip_h + 4.0;
    let binned = defined.len() > DOTS_MAX;
    let mut svg = Svg::new(
        left + plot_w + 20.0,
        axis_y + 44.0,
        &format!(
            "Distribution of {metric} over cases, {what}: {} cases with a value{}, {}",
            defined.len(),
            if undefined > 0 {
                format!(" and {undefined} without")
            } else {
                String::new()
            },
            if binned {
                "histogram with a box of median and quartiles"
            } else {
                "one dot per case with a box of median and quartiles"
            }
        ),
    );
    for &t in &ticks.values {
        let px = x.at(t);
        svg.line(
            px,
            box_top,
            px,
            axis_y,
            &format!("stroke=\"{GRID}\" stroke-width=\"1\""),
        );
        svg.line(
            px,
            axis_y,
            px,
            axis_y + 4.0,
            &format!("stroke=\"{TEXT}\" stroke-width=\"1\""),
        );
        svg.text(px, axis_y + 14.0, "middle", "", &num(t, ticks.decimals));
    }
    svg.line(
        left,
        axis_y,
        left + plot_w,
        axis_y,
        &format!("stroke=\"{FRAME}\" stroke-width=\"1\""),
    );
    svg.text(
        left + plot_w / 2.0,
        axis_y + 30.0,
        "middle",
        &format!("fill=\"{INK}\""),
        &format!("{metric}{}", unit_of(metric)),
    );
    // The box.
    let (q1, med, q3) = (
        quantile(&sorted, 0.25),
        quantile(&sorted, 0.5),
        quantile(&sorted, 0.75),
    );
    let iqr = q3 - q1;
    let lo_w = sorted
        .iter()
        .copied()
        .find(|&v| v >= q1 - 1.5 * iqr)
        .unwrap_or(min);
    let hi_w = sorted
        .iter()
        .rev()
        .copied()
        .find(|&v| v <= q3 + 1.5 * iqr)
        .unwrap_or(max);
    let cy = box_top + box_h / 2.0;
    let stroke = format!("stroke=\"{INK}\" stroke-width=\"1\"");
    svg.line(x.at(lo_w), cy, x.at(q1), cy, &stroke);
    svg.line(x.at(q3), cy, x.at(hi_w), cy, &stroke);
    svg.line(x.at(lo_w), cy - 4.0, x.at(lo_w), cy + 4.0, &stroke);
    svg.line(x.at(hi_w), cy - 4.0, x.at(hi_w), cy + 4.0, &stroke);
    svg.raw(&format!(
        "<g><title>{}</title>",
        esc(&format!(
            "median {}, quartiles {} and {}, whiskers {} to {}",
            num(med, 3),
            num(q1, 3),
            num(q3, 3),
            num(lo_w, 3),
            num(hi_w, 3)
        ))
    ));
    svg.rect(
        x.at(q1),
        box_top,
        x.at(q3) - x.at(q1),
        box_h,
        &format!("fill=\"#ddf4ff\" {stroke}"),
    );
    svg.line(
        x.at(med),
        box_top,
        x.at(med),
        box_top + box_h,
        &format!("stroke=\"{INK}\" stroke-width=\"2\""),
    );
    svg.raw("</g>");
    if let Some(m) = mean {
        let (mx, d) = (x.at(m), 4.5);
        svg.raw(&format!(
            "<polygon points=\"{},{} {},{} {},{} {},{}\" fill=\"#fff\" stroke=\"{INK}\" stroke-width=\"1.2\"><title>{}</title></polygon>",
            c(mx),
            c(cy - d),
            c(mx + d),
            c(cy),
            c(mx),
            c(cy + d),
            c(mx - d),
            c(cy),
            esc(&format!("mean (the estimate) {}", num(m, 3)))
        ));
    }
    if binned {
        const BINS: usize = 40;
        let mut counts = [0u64; BINS];
        for &v in &sorted {
            let f = (v - x.d0) / (x.d1 - x.d0);
            counts[((f * BINS as f64) as usize).min(BINS - 1)] += 1;
        }
        let top = counts.iter().copied().max().unwrap_or(1).max(1);
        let bw = plot_w / BINS as f64;
        for (i, &k) in counts.iter().enumerate() {
            if k == 0 {
                continue;
            }
            // At least 1.5 px, so that a bin of one case stays visible.
            let h = ((strip_h - 4.0) * k as f64 / top as f64).max(1.5);
            svg.rect(
                left + bw * i as f64 + 0.5,
                axis_y - h,
                bw - 1.0,
                h,
                &format!("fill=\"{CURVE}\" fill-opacity=\"0.6\""),
            );
        }
        svg.text(
            left + plot_w - 2.0,
            strip_top + 8.0,
            "end",
            "",
            &format!("{BINS} bins, tallest {top} cases"),
        );
    } else {
        const PHI: f64 = 0.618_033_988_749_894_9;
        for (k, (case, v)) in defined.iter().enumerate() {
            let jitter = ((k + 1) as f64 * PHI).fract();
            let cy = strip_top + 4.0 + jitter * (strip_h - 8.0);
            svg.raw(&format!(
                "<circle cx=\"{}\" cy=\"{}\" r=\"2.2\" fill=\"{CURVE}\" fill-opacity=\"0.55\"><title>{}</title></circle>",
                c(x.at(*v)),
                c(cy),
                esc(&format!("{case}: {}", num(*v, 4)))
            ));
        }
    }
    Some(Distribution {
        svg: svg.end(),
        defined: defined.len(),
        undefined,
        binned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::evidence::TestResult;

    /// Parses the SVG as XML (panics when it is not well-formed) and returns it.
    fn parse(svg: &str) -> roxmltree::Document<'_> {
        let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.attribute("role"), Some("img"));
        assert!(root.attribute("aria-label").is_some_and(|l| !l.is_empty()));
        assert!(root
            .children()
            .find(|n| n.is_element())
            .is_some_and(|n| n.tag_name().name() == "title"));
        for word in ["NaN", "inf", "-0,", "\"-0\""] {
            assert!(!svg.contains(word), "{word} in {svg}");
        }
        doc
    }

    /// The vertices of the first polyline with the given stroke colour.
    fn polyline(doc: &roxmltree::Document, stroke: &str) -> Vec<(f64, f64)> {
        let p = doc
            .descendants()
            .find(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(stroke))
            .expect("a polyline");
        p.attribute("points")
            .unwrap()
            .split(' ')
            .map(|xy| {
                let (x, y) = xy.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    fn fp(fp_per_scan: f64, sensitivity: f64) -> FrocPoint {
        FrocPoint {
            threshold: 0.5,
            fp_per_scan,
            sensitivity,
        }
    }

    #[test]
    fn numbers_are_written_the_same_way_every_time() {
        assert_eq!(c(1.25), "1.3");
        assert_eq!(c(-0.04), "0");
        assert_eq!(c(200.0), "200");
        assert_eq!(c(f64::NAN), "0");
        assert_eq!(num(-0.0001, 3), "0.000");
        assert_eq!(num(-0.05, 2), "−0.05");
        assert_eq!(num(f64::NAN, 2), "—");
    }

    #[test]
    fn ticks_are_round_and_cover_the_data() {
        let t = Ticks::covering(0.62, 0.97, 5);
        assert_eq!((t.first(), t.decimals), (0.6, 1));
        assert!((t.last() - 1.0).abs() < 1e-12);
        // Proportions stay within [0, 1].
        let t = Ticks::covering(0.0, 1.0, 5);
        assert_eq!(t.values.len(), 6);
        let t = Ticks::covering(3.0, 3.0, 5);
        assert!(t.first() <= 3.0 && t.last() >= 3.0 && t.first() < t.last());
    }

    #[test]
    fn roc_has_the_diagonal_and_lands_points_where_computed() {
        let pts = [(0.0, 0.0), (0.25, 0.5), (1.0, 1.0)].map(|(f, t)| RocPoint {
            fpr: f,
            tpr: t,
            threshold: 0.5,
        });
        let svg = roc(&pts, "overall").unwrap();
        let doc = parse(&svg);
        // Plot box 200 x 200 at (48, 10): fpr 0.25 → x 98, tpr 0.5 → y 110.
        assert_eq!(
            polyline(&doc, CURVE),
            vec![(48.0, 210.0), (98.0, 110.0), (248.0, 10.0)]
        );
        assert!(doc.descendants().any(|n| n.has_tag_name("line")
            && n.attribute("x1") == Some("48")
            && n.attribute("y1") == Some("210")
            && n.attribute("x2") == Some("248")
            && n.attribute("y2") == Some("10")));
        assert_eq!(roc(&[], "overall"), None);
    }

    #[test]
    fn froc_maps_one_fp_per_scan_to_the_middle_of_the_log_axis() {
        // (0, 0) → (1, 0.5) → (1, 0.75) → (16, 1): clipped at 1/8 and 8.
        let svg = froc(
            &[fp(0.0, 0.0), fp(1.0, 0.5), fp(1.0, 0.75), fp(16.0, 1.0)],
            "overall",
        )
        .unwrap();
        let doc = parse(&svg);
        let line = polyline(&doc, CURVE);
        // 1 FP/scan: the middle of the 300 px axis from x = 48; sensitivity 0.5: y = 12 + 100.
        let mid = (FROC_LEFT + FROC_W / 2.0, FROC_TOP + FROC_H / 2.0);
        assert!(line.contains(&mid), "{line:?}");
        // The vertical step at 1 FP/scan is kept as a step.
        let i = line.iter().position(|p| *p == mid).unwrap();
        assert_eq!(line[i + 1], (mid.0, FROC_TOP + FROC_H * 0.25));
        // The curve starts at 1/8 (x = 48) on the segment from (0, 0): 0.5 · 0.125 = 0.0625.
        assert_eq!(line[0], (48.0, 199.5));
        // It is cut at 8 (x = 348) on the segment to 16: 0.75 + 0.25 · 7/15.
        let last = line[line.len() - 1];
        assert_eq!(last.0, 348.0);
        assert!((last.1 - (12.0 + 200.0 * (1.0 - (0.75 + 0.25 * 7.0 / 15.0)))).abs() < 0.051);
        // Every vertex lies in the plot box; no extension, as the curve reaches 8.
        assert!(line
            .iter()
            .all(|&(x, y)| (48.0..=348.0).contains(&x) && (12.0..=212.0).contains(&y)));
        assert!(!svg.contains("stroke-dasharray=\"4 3\"/><"), "{svg}");
        // The seven CPM rates are labelled.
        for label in [">1/8<", ">1/4<", ">1/2<", ">1<", ">2<", ">4<", ">8<"] {
            assert!(svg.contains(label), "{label}");
        }
    }

    #[test]
    fn froc_holds_the_last_sensitivity_dashed_and_drops_non_finite_points() {
        let svg = froc(
            &[
                fp(0.0, 0.0),
                fp(0.5, 0.6),
                fp(f64::NAN, 0.7),
                fp(2.0, f64::INFINITY),
            ],
            "site=<A>",
        )
        .unwrap();
        let doc = parse(&svg);
        let line = polyline(&doc, CURVE);
        let held = doc
            .descendants()
            .find(|n| {
                n.has_tag_name("line")
                    && n.attribute("stroke-dasharray").is_some()
                    && n.attribute("stroke") == Some(CURVE)
            })
            .expect("a dashed extension");
        // From 1/2 FP/scan (x = 48 + 100) to 8 (x = 348) at 0.6 (y = 12 + 80).
        assert_eq!(held.attribute("x1"), Some("148"));
        assert_eq!(held.attribute("x2"), Some("348"));
        assert_eq!(held.attribute("y1"), Some("92"));
        assert_eq!(line[line.len() - 1], (148.0, 92.0));
        assert!(svg.contains("site=&lt;A&gt;"));
        assert_eq!(froc(&[], "overall"), None);
        assert_eq!(froc(&[fp(f64::NAN, 0.5)], "overall"), None);
    }

    #[test]
    fn froc_path_samples_sloped_stretches_along_the_log_axis() {
        let (path, held) = froc_path(&[(0.25, 0.0), (4.0, 1.0)]);
        assert!(path.len() > 10);
        assert_eq!(path[0], (0.25, 0.0));
        assert_eq!(path[path.len() - 1], (4.0, 1.0));
        assert_eq!(held, Some((4.0, 1.0)));
        // Linear in fp between the operating points, as numpy.interp.
        for (f, s) in &path {
            assert!((s - (f - 0.25) / 3.75).abs() < 1e-12);
        }
    }

    #[test]
    fn calibration_draws_bins_sized_by_n() {
        let bins = [
            Bin {
                low: 0.0,
                high: 0.5,
                n: 10,
                mean_predicted: 0.25,
                observed: 0.2,
            },
            Bin {
                low: 0.5,
                high: 1.0,
                n: 40,
                mean_predicted: 0.75,
                observed: f64::NAN,
            },
            Bin {
                low: 0.5,
                high: 1.0,
                n: 40,
                mean_predicted: 0.75,
                observed: 0.8,
            },
        ];
        let svg = calibration(&bins, "overall").unwrap();
        let doc = parse(&svg);
        let circles: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .collect();
        assert_eq!(circles.len(), 2);
        // (0.25, 0.2) → x = 48 + 50, y = 10 + 200 − 40.
        assert_eq!(circles[0].attribute("cx"), Some("98"));
        assert_eq!(circles[0].attribute("cy"), Some("170"));
        // Radius 2 + 4 sqrt(n / max n): 4 for 10 of 40, 6 for 40.
        assert_eq!(circles[0].attribute("r"), Some("4"));
        assert_eq!(circles[1].attribute("r"), Some("6"));
        assert!(svg.contains("50 cases"));
        assert_eq!(calibration(&[], "overall"), None);
    }

    fn meas(group: Option<(&str, &str)>, e: f64, l: f64, h: f64, status: Status) -> Measurement {
        let mut m = Measurement::new(
            "sensitivity",
            group.map(|(k, v)| BTreeMap::from([(k.to_string(), v.to_string())])),
        );
        (m.estimate, m.ci_low, m.ci_high) = (Some(e), Some(l), Some(h));
        m.ci_method = Some("wilson".into());
        m.ci_level = Some(0.95);
        m.n = 24;
        m.status = status;
        m
    }

    #[test]
    fn forest_has_the_overall_row_first_and_the_goal_line() {
        let ms = [
            meas(None, 0.9, 0.81, 0.95, Status::Fail),
            meas(Some(("site", "A")), 0.875, 0.69, 0.957, Status::Fail),
            meas(
                Some(("site", "B<&\"")),
                0.958,
                0.80,
                0.993,
                Status::Inconclusive,
            ),
            {
                let mut m = meas(Some(("site", "C")), 0.0, 0.0, 0.0, Status::Inconclusive);
                (m.estimate, m.ci_low, m.ci_high) = (None, None, None);
                m
            },
        ];
        let f = forests(&ms, Some("ci_low >= 0.85")).remove(0);
        assert_eq!((f.rows, f.hidden), (4, 0));
        assert_eq!(f.interval, "wilson 95%");
        assert_eq!(f.lines, vec!["ci_low ≥ 0.85"]);
        let doc = parse(&f.svg);
        let texts: Vec<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| n.text().unwrap_or("").to_string())
            .collect();
        let at = |s: &str| {
            texts
                .iter()
                .position(|t| t == s)
                .unwrap_or_else(|| panic!("{s}: {texts:?}"))
        };
        assert!(at("site") < at("overall") && at("overall") < at("A") && at("A") < at("B<&\""));
        assert!(texts.iter().any(|t| t == "0.900 (0.810–0.950)"));
        assert_eq!(texts.iter().filter(|t| *t == "inconclusive").count(), 2);
        let overall = doc
            .descendants()
            .find(|n| n.has_tag_name("text") && n.text() == Some("overall"))
            .unwrap();
        assert_eq!(overall.attribute("font-weight"), Some("bold"));
        // The axis covers 0.6 to 1 in steps of 0.1 over x 6 px inside the plot; the goal line
        // at 0.85 lies 5/8 of the way.
        let goal = doc
            .descendants()
            .find(|n| n.has_tag_name("line") && n.attribute("stroke-dasharray").is_some())
            .unwrap();
        let x1: f64 = goal.attribute("x1").unwrap().parse().unwrap();
        let ticks: Vec<f64> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text") && matches!(n.text(), Some("0.6") | Some("1.0")))
            .map(|n| n.attribute("x").unwrap().parse().unwrap())
            .collect();
        assert_eq!(ticks.len(), 2);
        assert!((x1 - (ticks[0] + 0.625 * (ticks[1] - ticks[0]))).abs() < 0.06);
        // No group: no forest; or in the criterion: no line.
        assert!(forests(&ms[..1], None).is_empty());
        assert!(forests(&ms, Some("ci_low >= 0.85 or n > 3"))[0]
            .lines
            .is_empty());
        assert!(forests(&ms, Some("ci_low >=")).remove(0).lines.is_empty());
    }

    #[test]
    fn difference_forest_draws_no_difference_and_the_margin() {
        let mut m = meas(None, 0.93, 0.9, 0.96, Status::Pass);
        m.metric = "auc".into();
        m.test = Some(TestResult {
            kind: "noninferiority".into(),
            null_hypothesis: "AUC(candidate) − AUC(predicate) ≤ −0.05".into(),
            method: "DeLong".into(),
            alpha: 0.025,
            against: Some("predicate".into()),
            against_estimate: Some(0.92),
            difference: Some(0.01),
            difference_ci_low: Some(-0.02),
            difference_ci_high: Some(0.04),
            statistic: None,
            p_value: Some(0.001),
            p_adjusted: None,
            rejected: Some(true),
        });
        let f = difference_forest(&[m], None).unwrap();
        assert_eq!(f.lines, vec!["no difference", "margin −0.05"]);
        assert_eq!(f.metric, "AUC(candidate) − AUC(predicate)");
        assert_eq!(f.interval, "two-sided 95%");
        let doc = parse(&f.svg);
        assert!(doc
            .descendants()
            .any(|n| n.has_tag_name("text") && n.text() == Some("0.010 (−0.020–0.040)")));
        assert_eq!(
            difference_forest(&[meas(None, 0.9, 0.8, 0.95, Status::Pass)], None),
            None
        );
    }

    #[test]
    fn per_case_escapes_case_ids_and_counts_undefined_cases() {
        let mut values: Vec<CaseValue> = (0..20)
            .map(|i| CaseValue {
                case: format!("case-{i}"),
                value: Some(0.5 + 0.02 * f64::from(i)),
            })
            .collect();
        values.push(CaseValue {
            case: "a<b&c\"d".into(),
            value: Some(0.7),
        });
        values.push(CaseValue {
            case: "gone".into(),
            value: None,
        });
        values.push(CaseValue {
            case: "nan".into(),
            value: Some(f64::NAN),
        });
        let d = per_case(&values, "dice", Some(0.69), "overall").unwrap();
        assert_eq!((d.defined, d.undefined, d.binned), (21, 2, false));
        let doc = parse(&d.svg);
        assert!(doc
            .descendants()
            .any(|n| n.has_tag_name("title") && n.text() == Some("a<b&c\"d: 0.7000")));
        assert!(d.svg.contains("a&lt;b&amp;c&quot;d"));
        assert_eq!(
            doc.descendants()
                .filter(|n| n.has_tag_name("circle"))
                .count(),
            21
        );
        assert!(!d.svg.contains("gone") && d.svg.contains("(0 to 1)"));
        // The box: median 0.70 of 0.50..0.88 and 0.7; the axis 0.5 to 0.9.
        assert!(d.svg.contains("median 0.700"));
        assert_eq!(
            per_case(&values[21..], "dice", None, "overall"),
            None,
            "no finite value: no plot"
        );
    }

    #[test]
    fn many_cases_are_binned_and_stay_small() {
        let values: Vec<CaseValue> = (0..2000)
            .map(|i| CaseValue {
                case: format!("c{i}"),
                value: Some(f64::from(i % 97) * 0.37),
            })
            .collect();
        let d = per_case(&values, "hausdorff95", None, "overall").unwrap();
        parse(&d.svg);
        assert!(d.binned && d.svg.len() < 12_000, "{}", d.svg.len());
        assert!(d.svg.contains("hausdorff95 (mm)"));
        assert_eq!(
            per_case(&values, "hausdorff95", None, "overall"),
            Some(d),
            "deterministic"
        );
    }

    #[test]
    fn quantiles_are_numpy_linear() {
        // numpy.quantile([1, 2, 3, 4], [0.25, 0.5, 0.75]) = [1.75, 2.5, 3.25]
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(
            [quantile(&v, 0.25), quantile(&v, 0.5), quantile(&v, 0.75)],
            [1.75, 2.5, 3.25]
        );
    }

    #[test]
    fn escaping_keeps_xml_well_formed() {
        assert_eq!(esc("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
        assert_eq!(esc("x\u{1}y"), "x\u{FFFD}y");
    }
}
