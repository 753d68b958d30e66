//! Case tables (CSV): one row per case, an identifier column and any number of others.
//!
//! Loading never stops at a bad row: duplicate or empty identifiers and ragged rows become
//! findings naming the line, and only a table that cannot be used at all (unreadable, no
//! identifier column) is an error.
//!
//! Tables can hold millions of cases, so they are stored by column (one text buffer and one
//! offset list per column, no allocation per cell) with an index from identifier to row that
//! borrows the identifiers instead of copying them.

use std::hash::BuildHasher;
use std::path::Path;

use foldhash::fast::FixedState;
use hashbrown::HashTable;

use crate::checks::evidence::Finding;

/// One column's cells, concatenated.
#[derive(Debug, Clone, Default)]
struct Column {
    text: String,
    ends: Vec<usize>,
}

impl Column {
    fn get(&self, row: usize) -> &str {
        let start = if row == 0 { 0 } else { self.ends[row - 1] };
        &self.text[start..self.ends[row]]
    }

    fn push(&mut self, cell: &str) {
        self.text.push_str(cell);
        self.ends.push(self.text.len());
    }
}

/// A case table held in memory.
#[derive(Debug, Clone)]
pub struct CaseTable {
    pub columns: Vec<String>,
    cells: Vec<Column>,
    /// The 1-based line of each row in the file (for messages).
    pub lines: Vec<u64>,
    pub id_column: usize,
    /// Row numbers, hashed by the row's identifier.
    index: HashTable<u32>,
    /// Identifiers that appear on more than one row (only the first row is kept).
    pub duplicates: Vec<String>,
}

/// The index hashes identifiers with a fixed seed; lookups do not depend on iteration order,
/// so nothing observable depends on the hash either.
fn hash(id: &str) -> u64 {
    FixedState::with_seed(0x5eed).hash_one(id)
}

impl CaseTable {
    /// Number of rows kept.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The cell at `row`, `column`.
    pub fn get(&self, row: usize, column: usize) -> &str {
        self.cells[column].get(row)
    }

    /// The identifier of `row`.
    pub fn id(&self, row: usize) -> &str {
        self.get(row, self.id_column)
    }

    /// The row of a case identifier, trying row `hint` first (tables about the same cases are
    /// usually in the same order).
    pub fn find_near(&self, id: &str, hint: usize) -> Option<usize> {
        if hint < self.len() && self.id(hint) == id {
            Some(hint)
        } else {
            self.find(id)
        }
    }

    /// The row of a case identifier.
    pub fn find(&self, id: &str) -> Option<usize> {
        let col = &self.cells[self.id_column];
        self.index
            .find(hash(id), |&r| col.get(r as usize) == id)
            .map(|&r| r as usize)
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
    let bytes = std::fs::read(path).map_err(|e| TableError {
        path: display.to_string(),
        reason: format!("cannot read: {e}"),
    })?;
    parse_table(&bytes, display, id_column)
}

/// Parses CSV bytes (see `read_table`); `display` names the source in messages.
pub fn parse_table(
    bytes: &[u8],
    display: &str,
    id_column: &str,
) -> Result<(CaseTable, Vec<Finding>), TableError> {
    let err = |reason: String| TableError {
        path: display.to_string(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| err(format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    let id = columns.iter().position(|c| c == id_column).ok_or_else(|| {
        err(format!(
            "no `{id_column}` column (columns are: {})",
            columns.join(", ")
        ))
    })?;
    // A rough row count from the size, to allocate once.
    let estimate = bytes.len() / (columns.len() * 4).max(8);
    let mut table = CaseTable {
        cells: (0..columns.len())
            .map(|_| Column {
                text: String::with_capacity(bytes.len() / columns.len().max(1)),
                ends: Vec::with_capacity(estimate),
            })
            .collect(),
        columns,
        lines: Vec::with_capacity(estimate),
        id_column: id,
        index: HashTable::with_capacity(estimate),
        duplicates: Vec::new(),
    };
    let mut findings = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(err(format!("malformed CSV at line {line}: {e}")));
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        let at = || format!("{display}:{line}");
        if record.len() != table.columns.len() {
            findings.push(Finding::error(
                "ragged-row",
                format!(
                    "row has {} fields, the header has {}; row skipped",
                    record.len(),
                    table.columns.len()
                ),
                at(),
            ));
            continue;
        }
        let case = record[id].trim();
        if case.is_empty() {
            findings.push(Finding::error(
                "empty-case-id",
                format!("empty `{id_column}`; row skipped"),
                at(),
            ));
            continue;
        }
        if let Some(first) = table.find(case) {
            findings.push(Finding::error(
                "duplicate-case-id",
                format!(
                    "case `{case}` appears again (first on line {}); the later row is ignored",
                    table.lines[first]
                ),
                at(),
            ));
            table.duplicates.push(case.to_string());
            continue;
        }
        let row = table.lines.len();
        for (col, cell) in table.cells.iter_mut().zip(record.iter()) {
            col.push(cell.trim());
        }
        table.lines.push(line);
        let ids = &table.cells[id];
        table
            .index
            .insert_unique(hash(case), row as u32, |&r| hash(ids.get(r as usize)));
    }
    Ok((table, findings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_ragged_rows_are_findings_naming_the_line() {
        let csv = "case_id,label\na,1\nb,0\na,0\nc\n,1\n";
        let (t, findings) = parse_table(csv.as_bytes(), "t.csv", "case_id").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            (t.find("a"), t.find("b"), t.find("c")),
            (Some(0), Some(1), None)
        );
        assert_eq!(t.get(1, 1), "0");
        assert_eq!(t.duplicates, vec!["a".to_string()]);
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
        let e = parse_table(b"id,label\na,1\n", "t.csv", "case_id").unwrap_err();
        assert!(e
            .to_string()
            .contains("no `case_id` column (columns are: id, label)"));
    }

    #[test]
    fn index_finds_every_row_of_a_large_table() {
        let mut csv = String::from("case_id,x\n");
        for i in 0..10_000 {
            csv.push_str(&format!("id{i},{i}\n"));
        }
        let (t, f) = parse_table(csv.as_bytes(), "t", "case_id").unwrap();
        assert!(f.is_empty());
        for i in (0..10_000).step_by(997) {
            let r = t.find(&format!("id{i}")).unwrap();
            assert_eq!(t.get(r, 1), i.to_string());
        }
    }
}
