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

use foldhash::fast::FixedState;

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
    /// (hash of the identifier, row), sorted: a lookup is a binary search. Sorting once is far
    /// kinder to the cache than a million random inserts into a hash table.
    index: Vec<(u64, u32)>,
    /// Identifiers that appear on more than one row (only the first row is kept).
    pub duplicates: Vec<String>,
}

/// Identifiers are hashed with a fixed seed; equal hashes are always confirmed by comparing
/// the identifiers, so nothing observable depends on the hash.
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
        let h = hash(id);
        let first = self.index.partition_point(|&(x, _)| x < h);
        self.index[first..]
            .iter()
            .take_while(|&&(x, _)| x == h)
            .map(|&(_, r)| r as usize)
            .find(|&r| self.id(r) == id)
    }

    /// Sorts the index and finds identifiers given on more than one row: the first row of
    /// each is kept, the others are removed and reported, by line.
    fn index_rows(&mut self, display: &str, findings: &mut Vec<(u64, Finding)>) {
        let ids = &self.cells[self.id_column];
        let mut index: Vec<(u64, u32)> = (0..self.lines.len())
            .map(|r| (hash(ids.get(r)), r as u32))
            .collect();
        index.sort_unstable();
        let mut dropped = Vec::new();
        for run in index
            .chunk_by(|a, b| a.0 == b.0)
            .filter(|run| run.len() > 1)
        {
            // Rows in a run share a hash; compare the identifiers themselves (rows ascending).
            for (i, &(_, r)) in run.iter().enumerate() {
                let id = ids.get(r as usize);
                if let Some(&(_, first)) =
                    run[..i].iter().find(|&&(_, f)| ids.get(f as usize) == id)
                {
                    let line = self.lines[r as usize];
                    findings.push((
                        line,
                        Finding::error(
                            "duplicate-case-id",
                            format!(
                                "case `{id}` appears again (first on line {}); the later row is ignored",
                                self.lines[first as usize]
                            ),
                            format!("{display}:{line}"),
                        ),
                    ));
                    dropped.push(r as usize);
                }
            }
        }
        if dropped.is_empty() {
            self.index = index;
            return;
        }
        // Rare: rebuild without the dropped rows, then index again.
        dropped.sort_unstable();
        self.duplicates = dropped.iter().map(|&r| self.id(r).to_string()).collect();
        self.duplicates.sort();
        self.duplicates.dedup();
        let keep: Vec<usize> = (0..self.lines.len())
            .filter(|r| dropped.binary_search(r).is_err())
            .collect();
        for col in &mut self.cells {
            let mut fresh = Column::default();
            for &r in &keep {
                fresh.push(col.get(r));
            }
            *col = fresh;
        }
        self.lines = keep.iter().map(|&r| self.lines[r]).collect();
        let ids = &self.cells[self.id_column];
        let mut index: Vec<(u64, u32)> = (0..self.lines.len())
            .map(|r| (hash(ids.get(r)), r as u32))
            .collect();
        index.sort_unstable();
        self.index = index;
    }
}

/// A table that cannot be used, with the reason.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct TableError {
    pub path: String,
    pub reason: String,
}

/// Parses a CSV table whose cases are identified by `id_column`; `display` names the source
/// in messages. Returns the table and the findings about individual rows (duplicates, empty
/// identifiers, ragged rows).
pub fn parse_table(
    bytes: &[u8],
    display: &str,
    id_column: &str,
) -> Result<(CaseTable, Vec<Finding>), TableError> {
    let err = |reason: String| TableError {
        path: display.to_string(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(bytes);
    let mut record = csv::StringRecord::new();
    let columns: Vec<String> = match reader.read_record(&mut record) {
        Ok(true) => record
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').trim().to_string())
            .collect(),
        Ok(false) => return Err(err("empty file: no header".to_string())),
        Err(e) => return Err(err(format!("cannot read the header: {e}"))),
    };
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
        index: Vec::new(),
        duplicates: Vec::new(),
    };
    let mut findings: Vec<(u64, Finding)> = Vec::new();
    // Lines are counted from byte offsets: the reader's own line count lags by one after a
    // CRLF line end.
    let mut lines = LineCounter::new(bytes);
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let at = e.position().map_or(0, |p| lines.line_at(p.byte() as usize));
                return Err(err(format!("malformed CSV at line {at}: {e}")));
            }
        }
        let line = lines.line_at(record.position().map_or(0, |p| p.byte() as usize));
        let at = || format!("{display}:{line}");
        if record.len() != table.columns.len() {
            findings.push((
                line,
                Finding::error(
                    "ragged-row",
                    format!(
                        "row has {} fields, the header has {}; row skipped",
                        record.len(),
                        table.columns.len()
                    ),
                    at(),
                ),
            ));
            continue;
        }
        let case = record[id].trim();
        if case.is_empty() {
            findings.push((
                line,
                Finding::error(
                    "empty-case-id",
                    format!("empty `{id_column}`; row skipped"),
                    at(),
                ),
            ));
            continue;
        }
        for (col, cell) in table.cells.iter_mut().zip(record.iter()) {
            col.push(cell.trim());
        }
        table.lines.push(line);
    }
    table.index_rows(display, &mut findings);
    // Findings in file order.
    findings.sort_by_key(|(line, _)| *line);
    Ok((table, findings.into_iter().map(|(_, f)| f).collect()))
}

/// Turns byte offsets of record starts (increasing) into 1-based line numbers.
struct LineCounter<'a> {
    bytes: &'a [u8],
    counted_to: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            counted_to: 0,
            line: 1,
        }
    }

    fn line_at(&mut self, offset: usize) -> u64 {
        let mut start = offset;
        // A record's offset may point at the line end that precedes it.
        while matches!(self.bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        let start = start.min(self.bytes.len());
        if start > self.counted_to {
            self.line +=
                memchr::memchr_iter(b'\n', &self.bytes[self.counted_to..start]).count() as u64;
            self.counted_to = start;
        }
        self.line
    }
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
    fn quoted_and_plain_files_read_the_same() {
        // The same table with and without quoting (and CRLF line ends, and a blank line)
        // gives the same rows, lines and findings on both reading paths.
        let plain = "case_id,label,note\r\na,1,x\r\n\r\nb,0,y\r\na,0,z\r\nc,1\r\n";
        let quoted = "case_id,label,note\r\n\"a\",1,x\r\n\r\nb,0,\"y\"\r\na,0,z\r\nc,1\r\n";
        let (p, pf) = parse_table(plain.as_bytes(), "t", "case_id").unwrap();
        let (q, qf) = parse_table(quoted.as_bytes(), "t", "case_id").unwrap();
        assert_eq!(pf, qf);
        assert_eq!(p.lines, q.lines);
        assert_eq!(p.lines, vec![2, 4]);
        for r in 0..p.len() {
            for c in 0..3 {
                assert_eq!(p.get(r, c), q.get(r, c));
            }
        }
        // A quoted field may hold the delimiter.
        let (t, _) = parse_table(b"case_id,note\na,\"x, y\"\n", "t", "case_id").unwrap();
        assert_eq!(t.get(0, 1), "x, y");
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
