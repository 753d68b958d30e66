//! Sample-size planning for `attest lint`: for each requirement that states a goal on a
//! proportion's lower bound and a `planning:` expectation, the cases an exact binomial test
//! needs to demonstrate the goal, against the cases the truth table holds (overall and per
//! group).

use std::collections::BTreeMap;
use std::path::Path;

use crate::checks::Plan;
use crate::data::table::parse_table;
use crate::spec::{Source, Spec};
use crate::stats::proportion::exact_binomial_plan;

/// The answer for one requirement.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub requirement: String,
    pub plan: Plan,
    /// Cases needed and the successes among them to reject; None when no n up to the limit
    /// suffices.
    pub needed: Option<(u64, u64)>,
    /// Cases of the class the table holds: overall, then per group.
    pub have: Vec<(String, u64)>,
    /// Why the table could not be counted.
    pub error: Option<String>,
}

impl Planned {
    /// True when every counted stratum holds at least the cases needed.
    pub fn enough(&self) -> bool {
        match self.needed {
            Some((n, _)) => self.error.is_none() && self.have.iter().all(|(_, h)| *h >= n),
            None => false,
        }
    }
}

/// The plans of every requirement of `spec` that has one.
pub fn plans(spec: &Spec) -> Vec<Planned> {
    let dir = spec.path.parent().unwrap_or(Path::new(""));
    spec.requirements
        .iter()
        .filter_map(|r| {
            let plan = r.run.plan()?;
            let needed =
                exact_binomial_plan(plan.goal, plan.expected, plan.alpha, plan.power, 1_000_000)
                    .map(|p| (p.n, p.critical));
            let (have, error) = match count(spec, dir, &plan) {
                Ok(h) => (h, None),
                Err(e) => (Vec::new(), Some(e)),
            };
            Some(Planned {
                requirement: r.id.clone(),
                plan,
                needed,
                have,
                error,
            })
        })
        .collect()
}

/// Cases of the plan's class in its truth table: overall, then per `by` group.
fn count(spec: &Spec, dir: &Path, plan: &Plan) -> Result<Vec<(String, u64)>, String> {
    let decl = spec
        .data
        .iter()
        .find(|d| d.name == plan.table)
        .ok_or_else(|| format!("no data source `{}`", plan.table))?;
    let (path, id_column) = match &decl.source {
        Source::Table { path, id_column } => (path, id_column),
        _ => {
            return Err(format!(
                "`{}` is derived at run time; its cases are counted by `attest run`",
                plan.table
            ))
        }
    };
    let shown =
        crate::report::manifest::slashed(&crate::report::manifest::relative_path(dir, path));
    let bytes = std::fs::read(path).map_err(|e| format!("{shown}: {e}"))?;
    let (t, _) = parse_table(&bytes, &shown, id_column).map_err(|e| e.to_string())?;
    let label = t
        .column(&plan.label_column)
        .ok_or_else(|| format!("{shown} has no `{}` column", plan.label_column))?;
    let groups: Vec<usize> = plan
        .by
        .iter()
        .map(|b| {
            t.column(b)
                .ok_or_else(|| format!("{shown} has no `{b}` column"))
        })
        .collect::<Result<_, _>>()?;
    let mut overall = 0u64;
    let mut by: BTreeMap<String, u64> = BTreeMap::new();
    for row in 0..t.len() {
        if t.get(row, label).trim() != plan.class {
            continue;
        }
        overall += 1;
        if !groups.is_empty() {
            let key = plan
                .by
                .iter()
                .zip(&groups)
                .map(|(b, &c)| format!("{b}={}", t.get(row, c)))
                .collect::<Vec<_>>()
                .join(", ");
            *by.entry(key).or_default() += 1;
        }
    }
    Ok(std::iter::once(("overall".to_string(), overall))
        .chain(by)
        .collect())
}
