//! Lesion detection inputs in the LUNA16 format: reference lesions
//! (`seriesuid,coordX,coordY,coordZ,diameter_mm`) and a model's candidates
//! (`seriesuid,coordX,coordY,coordZ,probability`), coordinates in mm. A bad row is set aside
//! with a finding naming its line; the rest is read.

use crate::checks::evidence::Finding;

/// One row: the scan, the centre in mm, and the diameter (lesions) or probability (candidates).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub line: u64,
    pub scan: String,
    pub centre: [f64; 3],
    pub value: f64,
}

/// A parsed LUNA16 file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Points {
    pub rows: Vec<Row>,
    pub display: String,
}

/// What the last column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `diameter_mm`, a positive length.
    Lesions,
    /// `probability`, in [0, 1].
    Candidates,
}

impl Kind {
    fn column(self) -> &'static str {
        match self {
            Kind::Lesions => "diameter_mm",
            Kind::Candidates => "probability",
        }
    }
}

/// Parses a LUNA16 CSV. Fails only when the header lacks a column; a bad row is a finding.
pub fn parse_points(
    bytes: &[u8],
    display: &str,
    kind: Kind,
) -> Result<(Points, Vec<Finding>), String> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("{display}: cannot read the header: {e}"))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    let wanted = ["seriesuid", "coordX", "coordY", "coordZ", kind.column()];
    let mut at = [0usize; 5];
    for (k, name) in wanted.iter().enumerate() {
        at[k] = header.iter().position(|h| h == name).ok_or_else(|| {
            format!(
                "{display}: no `{name}` column (LUNA16 format: {}; the header has: {})",
                wanted.join(","),
                header.join(",")
            )
        })?;
    }
    let mut points = Points {
        rows: Vec::new(),
        display: display.to_string(),
    };
    let mut findings = Vec::new();
    for rec in reader.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                findings.push(Finding::error(
                    "invalid-row",
                    format!("cannot read the row: {e}; set aside"),
                    format!("{display}:{line}"),
                ));
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        let cell = |k: usize| rec.get(at[k]).map(str::trim).unwrap_or("");
        let num = |k: usize| cell(k).parse::<f64>().ok().filter(|x| x.is_finite());
        let scan = cell(0);
        let bad = |why: String| {
            Finding::error(
                "invalid-row",
                format!("{why}; the row is set aside"),
                format!("{display}:{line}"),
            )
        };
        if scan.is_empty() {
            findings.push(bad("no seriesuid".into()));
            continue;
        }
        let (Some(x), Some(y), Some(z)) = (num(1), num(2), num(3)) else {
            findings.push(bad(format!(
                "coordinates `{}`, `{}`, `{}` are not finite numbers",
                cell(1),
                cell(2),
                cell(3)
            )));
            continue;
        };
        let value = match (kind, num(4)) {
            (Kind::Lesions, Some(d)) if d > 0.0 => d,
            (Kind::Candidates, Some(p)) if (0.0..=1.0).contains(&p) => p,
            (Kind::Lesions, _) => {
                findings.push(bad(format!(
                    "diameter_mm `{}` is not a positive number",
                    cell(4)
                )));
                continue;
            }
            (Kind::Candidates, _) => {
                findings.push(bad(format!(
                    "probability `{}` is not a number in [0, 1]",
                    cell(4)
                )));
                continue;
            }
        };
        points.rows.push(Row {
            line,
            scan: scan.to_string(),
            centre: [x, y, z],
            value,
        });
    }
    Ok((points, findings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luna16_rows_and_bad_ones() {
        let text = "seriesuid,coordX,coordY,coordZ,probability\n\
                    s1,-10.5,20,30.25,0.9\n\
                    s1,1,2,3,1.5\n\
                    s2,1,NaN,3,0.5\n\
                    ,1,2,3,0.5\n\
                    s2,1,2,3,0\n";
        let (p, f) = parse_points(text.as_bytes(), "c.csv", Kind::Candidates).unwrap();
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rows[0].centre, [-10.5, 20.0, 30.25]);
        let subjects: Vec<&str> = f.iter().map(|x| x.subject.as_deref().unwrap()).collect();
        assert_eq!(subjects, ["c.csv:3", "c.csv:4", "c.csv:5"]);
        let err =
            parse_points(b"seriesuid,coordX,coordY,coordZ\n", "a.csv", Kind::Lesions).unwrap_err();
        assert!(err.contains("diameter_mm"), "{err}");
        let (_, f) = parse_points(
            b"seriesuid,coordX,coordY,coordZ,diameter_mm\ns,1,2,3,0\n",
            "a.csv",
            Kind::Lesions,
        )
        .unwrap();
        assert!(f[0].message.contains("positive"));
    }
}
