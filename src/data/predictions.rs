//! Prediction files (CSV): one score per case from a candidate model.
//!
//! A score that is not a finite number, or a case given twice, becomes a finding naming the
//! line; the case then counts as having no valid prediction, which the check's missing-
//! prediction policy decides about. Nothing is silently dropped.

use std::collections::HashMap;
use std::path::Path;

use crate::checks::evidence::Finding;
use crate::data::table::{read_table, TableError};

/// Scores by case identifier.
#[derive(Debug, Clone, Default)]
pub struct Predictions {
    pub scores: HashMap<String, f64>,
    /// Cases whose prediction row was present but unusable (bad score, duplicate).
    pub invalid: HashMap<String, String>,
}

/// Reads `id_column,score_column` predictions.
pub fn read_predictions(
    path: &Path,
    display: &str,
    id_column: &str,
    score_column: &str,
) -> Result<(Predictions, Vec<Finding>), TableError> {
    let (table, mut findings) = read_table(path, display, id_column)?;
    let score = table.column(score_column).ok_or_else(|| TableError {
        path: display.to_string(),
        reason: format!(
            "no `{score_column}` column (columns are: {})",
            table.columns.join(", ")
        ),
    })?;
    let mut out = Predictions::default();
    for (i, row) in table.rows.iter().enumerate() {
        let case = table.id(i).to_string();
        let at = format!("{display}:{}", table.lines[i]);
        match row[score].parse::<f64>() {
            Ok(x) if x.is_finite() => {
                out.scores.insert(case, x);
            }
            _ => {
                let reason = format!("score `{}` is not a finite number", row[score]);
                findings.push(Finding::error(
                    "invalid-score",
                    format!("case `{case}`: {reason}"),
                    at,
                ));
                out.invalid.insert(case, reason);
            }
        }
    }
    // Duplicates were reported by the table reader; mark them unusable too, since which of the
    // scores is the model's cannot be known.
    for case in &table.duplicates {
        out.scores.remove(case);
        out.invalid
            .insert(case.clone(), "given more than once".to_string());
    }
    Ok((out, findings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn nan_and_text_scores_are_findings_and_not_used() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"case_id,score\na,0.5\nb,NaN\nc,high\nd,0.1\nd,0.9\n")
            .unwrap();
        let (p, findings) = read_predictions(f.path(), "p.csv", "case_id", "score").unwrap();
        assert_eq!(p.scores.len(), 1);
        assert_eq!(p.scores["a"], 0.5);
        assert!(p.invalid.contains_key("b") && p.invalid.contains_key("c"));
        assert_eq!(p.invalid["d"], "given more than once");
        let subjects: Vec<&str> = findings
            .iter()
            .map(|f| f.subject.as_deref().unwrap())
            .collect();
        assert_eq!(subjects, vec!["p.csv:6", "p.csv:3", "p.csv:4"]);
    }
}
