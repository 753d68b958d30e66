//! Prediction files (CSV): one score per case from a candidate model.
//!
//! A score that is not a finite number, or a case given twice, becomes a finding naming the
//! line; the case then counts as having no valid prediction, which the check's missing-
//! prediction policy decides about. Nothing is silently dropped.

use crate::checks::evidence::Finding;
use crate::data::table::{parse_table, CaseTable, TableError};

/// A model's scores, by case.
#[derive(Debug, Clone)]
pub struct Predictions {
    table: CaseTable,
    /// Cases given on more than one row: which score is the model's cannot be known.
    duplicates: std::collections::HashSet<String>,
    /// Per row: the score, or why it is unusable.
    scores: Vec<Result<f64, String>>,
}

/// What a prediction file says about one case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Score<'a> {
    Valid(f64),
    /// A row exists but its score cannot be used.
    Invalid(&'a str),
    Missing,
}

impl Predictions {
    /// What the file says about `case`, trying row `hint` first: prediction files usually list cases in the truth
    /// table's order, and a direct comparison is much cheaper than a hash lookup.
    pub fn score_near(&self, case: &str, hint: usize) -> Score<'_> {
        if !self.duplicates.is_empty() && self.duplicates.contains(case) {
            return Score::Invalid("given more than once");
        }
        let row = if hint < self.table.len() && self.table.id(hint) == case {
            Some(hint)
        } else {
            self.table.find(case)
        };
        match row {
            None => Score::Missing,
            Some(row) => match &self.scores[row] {
                Ok(s) => Score::Valid(*s),
                Err(reason) => Score::Invalid(reason),
            },
        }
    }

    /// Number of rows read.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Case identifiers in file order.
    pub fn cases(&self) -> impl Iterator<Item = &str> {
        (0..self.table.len()).map(|r| self.table.id(r))
    }
}

/// Parses `id_column,score_column` predictions.
pub fn parse_predictions(
    bytes: &[u8],
    display: &str,
    id_column: &str,
    score_column: &str,
) -> Result<(Predictions, Vec<Finding>), TableError> {
    let (table, mut findings) = parse_table(bytes, display, id_column)?;
    let col = table.column(score_column).ok_or_else(|| TableError {
        path: display.to_string(),
        reason: format!(
            "no `{score_column}` column (columns are: {})",
            table.columns.join(", ")
        ),
    })?;
    let mut scores = Vec::with_capacity(table.len());
    for row in 0..table.len() {
        let text = table.get(row, col);
        match text.parse::<f64>() {
            Ok(x) if x.is_finite() => scores.push(Ok(x)),
            _ => {
                let reason = format!("score `{text}` is not a finite number");
                findings.push(Finding::error(
                    "invalid-score",
                    format!("case `{}`: {reason}", table.id(row)),
                    format!("{display}:{}", table.lines[row]),
                ));
                scores.push(Err(reason));
            }
        }
    }
    let duplicates = table.duplicates.iter().cloned().collect();
    Ok((
        Predictions {
            table,
            duplicates,
            scores,
        },
        findings,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_and_text_scores_are_findings_and_not_used() {
        let csv = b"case_id,score\na,0.5\nb,NaN\nc,high\nd,0.1\nd,0.9\ne,inf\n";
        let (p, findings) = parse_predictions(csv, "p.csv", "case_id", "score").unwrap();
        assert_eq!(p.score_near("a", 0), Score::Valid(0.5));
        assert!(matches!(p.score_near("b", usize::MAX), Score::Invalid(_)));
        assert!(matches!(p.score_near("c", usize::MAX), Score::Invalid(_)));
        assert!(matches!(p.score_near("e", usize::MAX), Score::Invalid(_)));
        // A case given twice cannot be trusted, whichever row comes first.
        assert_eq!(
            p.score_near("d", usize::MAX),
            Score::Invalid("given more than once")
        );
        assert_eq!(p.score_near("zz", usize::MAX), Score::Missing);
        let subjects: Vec<&str> = findings
            .iter()
            .map(|f| f.subject.as_deref().unwrap())
            .collect();
        assert_eq!(subjects, vec!["p.csv:6", "p.csv:3", "p.csv:4", "p.csv:7"]);
    }
}
