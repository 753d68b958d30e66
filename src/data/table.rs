//! Case tables (CSV): one row per case, an identifier column and any number of others.
//!
//! Loading never stops at a bad row: duplicate or empty identifiers become findings naming the
//! line, and only a table that cannot be used at all (unreadable, no identifier column) is an
//! error.

use std::collections::HashMap;
use std::path::Path;

use crate::checks::evidence::Finding;

/// A case table held in memory, columns by name.
#[derive(Debug, Clone)]
pub struct CaseTable {
    pub columns: Vec<String>,
    /// Rows in file order; each has one value per column.
    pub rows: Vec<Vec<String>>,
    /// The 1-based line of each row in the file (for messages).
    pub lines: Vec<u64>,
    pub id_column: usize,
    /// Case identifier → row index (first occurrence).
    pub index: HashMap<String, usize>,
    /// Identifiers that appear on more than one row (only the first row is kept).
    pub duplicates: Vec<String>,
}

impl CaseTable {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    pub fn id(&self, row: usize) -> &str {
        &self.rows[row][self.id_column]
    }
}

/// A table that cannot be used, with the reason.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct TableError {
    pub path: String,
    pub reason: String,
}

/// Reads a CSV table whose cases are identified by `id_column`. Returns the table and the
/// findings about individual rows (duplicates, empty identifiers, ragged rows).
pub fn read_table(
    path: &Path,
    display: &str,
    id_column: &str,
) -> Result<(CaseTable, Vec<Finding>), TableError> {
    let err = |reason: String| TableError {
        path: display.to_string(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| err(format!("cannot read: {}", io_reason(&e))))?;
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| err(format!("cannot read the header: {}", io_reason(&e))))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    let id = columns.iter().position(|c| c == id_column).ok_or_else(|| {
        err(format!(
            "no `{id_column}` column (columns are: {})",
            columns.join(", ")
        ))
    })?;
    let mut table = CaseTable {
        columns,
        rows: Vec::new(),
        lines: Vec::new(),
        id_column: id,
        index: HashMap::new(),
        duplicates: Vec::new(),
    };
    let mut findings = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| err(format!("malformed CSV: {}", io_reason(&e))))?;
        let line = record.position().map_or(0, |p| p.line());
        let at = format!("{display}:{line}");
        if record.len() != table.columns.len() {
            findings.push(Finding::error(
                "ragged-row",
                format!(
                    "row has {} fields, the header has {}; row skipped",
                    record.len(),
                    table.columns.len()
                ),
                at,
            ));
            continue;
        }
        let row: Vec<String> = record.iter().map(|v| v.trim().to_string()).collect();
        let case = row[id].clone();
        if case.is_empty() {
            findings.push(Finding::error(
                "empty-case-id",
                format!("empty `{id_column}`; row skipped"),
                at,
            ));
            continue;
        }
        if let Some(&first) = table.index.get(&case) {
            findings.push(Finding::error(
                "duplicate-case-id",
                format!(
                    "case `{case}` appears again (first on line {}); the later row is ignored",
                    table.lines[first]
                ),
                at,
            ));
            table.duplicates.push(case);
            continue;
        }
        table.index.insert(case, table.rows.len());
        table.rows.push(row);
        table.lines.push(line);
    }
    Ok((table, findings))
}

fn io_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn duplicates_and_ragged_rows_are_findings_naming_the_line() {
        let f = write("case_id,label\na,1\nb,0\na,0\nc\n,1\n");
        let (t, findings) = read_table(f.path(), "t.csv", "case_id").unwrap();
        assert_eq!(t.rows.len(), 2);
        let codes: Vec<(&str, &str)> = findings
            .iter()
            .map(|f| (f.code.as_str(), f.subject.as_deref().unwrap()))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("duplicate-case-id", "t.csv:4"),
                ("ragged-row", "t.csv:5"),
                ("empty-case-id", "t.csv:6")
            ]
        );
    }

    #[test]
    fn missing_id_column_is_an_error_listing_the_columns() {
        let f = write("id,label\na,1\n");
        let e = read_table(f.path(), "t.csv", "case_id").unwrap_err();
        assert!(e
            .to_string()
            .contains("no `case_id` column (columns are: id, label)"));
    }
}
