//! What the label-set checks share: getting their label set, its task, and reporting the rows
//! that could not be used.

use super::evidence::{Evidence, Finding};
use super::{reference, Context, DataSet, Names};
use crate::data::labels::{Event, Labels};
use crate::spec::diag::Diagnostic;
use crate::spec::yaml::Node;

/// The `labels:` parameter: a label-set source of the spec, with a diagnostic otherwise.
pub fn labels_source(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<String> {
    let name = node.get("labels")?.as_str()?.to_string();
    reference(
        node,
        "labels",
        &name,
        &names.labels,
        "a label-set source (`labels:`) in `data:`",
        out,
    );
    Some(name)
}

/// The loaded label set `name`, or the evidence to return when there is none.
pub fn loaded<'a>(cx: &'a Context, name: &str, method: &str) -> Result<&'a Labels, Evidence> {
    match cx.data.get(name) {
        Some(DataSet::Labels(l)) => l
            .value
            .as_ref()
            .ok_or_else(|| Evidence::error(method.to_string(), l.findings.clone())),
        _ => Err(Evidence::error(
            method.to_string(),
            vec![Finding::error(
                "missing-data",
                format!("no label set `{name}` was loaded"),
                name.to_string(),
            )],
        )),
    }
}

/// The rows set aside while reading (each names its line), and whether any was a row that
/// might have changed the result (an unreadable event, or an event id given twice with
/// different content; an identical duplicate or an unknown column does not).
pub fn set_aside(l: &Labels) -> (Vec<Finding>, bool) {
    let findings = l.set.problems.clone();
    let lost = findings
        .iter()
        .any(|f| matches!(f.code.as_str(), "invalid-event" | "conflicting-event"));
    (findings, lost)
}

/// Where an event is, for findings: `file:line (event E1)`.
pub fn at(l: &Labels, e: &Event) -> String {
    format!("{}:{} (event {})", l.set.display, e.line, e.id)
}

/// The provenance summary of a label set, for the report.
pub fn summary(l: &Labels) -> crate::data::labels::summary::LabelsSummary {
    use crate::data::labels::graph::Graph;
    use crate::data::labels::summary::{AnnotatorSummary, LabelsSummary};
    use crate::data::labels::{Answer, Decision, Source};
    use crate::stats::agreement::{cohen_kappa_labels, Weighting};
    use std::collections::BTreeMap;

    let g = Graph::new(&l.set);
    let mut people: BTreeMap<String, AnnotatorSummary> = BTreeMap::new();
    fn person<'p>(
        people: &'p mut BTreeMap<String, AnnotatorSummary>,
        l: &Labels,
        who: &str,
    ) -> &'p mut AnnotatorSummary {
        people.entry(who.to_string()).or_insert_with(|| {
            let a = l.registry.get(who);
            AnnotatorSummary {
                id: who.to_string(),
                role: a.map_or("(not registered)".to_string(), |a| a.role.clone()),
                years_experience: a.and_then(|a| a.years_experience),
                ..AnnotatorSummary::default()
            }
        })
    }
    let mut s = LabelsSummary {
        events: l.set.events.len() as u64,
        rows_set_aside: l
            .set
            .problems
            .iter()
            .filter(|f| f.code != "unknown-field")
            .count() as u64,
        tasks: g.tasks().iter().map(|t| t.to_string()).collect(),
        cases: g
            .cases
            .keys()
            .map(|(_, c)| *c)
            .collect::<std::collections::BTreeSet<_>>()
            .len() as u64,
        broken_links: g.broken.len() as u64,
        agreement_method:
            "mean unweighted Cohen's kappa with each other reader, on the cases both read \
                           (each annotator's first read), over the class and grade tasks"
                .to_string(),
        ..LabelsSummary::default()
    };
    for e in &l.set.events {
        let p = person(&mut people, l, &e.annotator);
        match e.source {
            Source::AiPreannotation => {
                p.preannotations += 1;
                s.ai_preannotations += 1;
                if e.decision.is_none() {
                    s.ai_unreviewed += 1;
                }
            }
            Source::Adjudication | Source::Consensus => p.adjudications += 1,
            Source::Human if e.revises.is_some() => p.edits += 1,
            Source::Human => p.reads += 1,
        }
        if let (Some(r), Some(d)) = (&e.reviewed_by, e.decision) {
            let q = person(&mut people, l, r);
            if e.source == Source::AiPreannotation {
                q.ai_reviews += 1;
                if d == Decision::Accept {
                    q.ai_accepted += 1;
                }
            } else {
                q.qc_reviews += 1;
            }
        }
    }
    // Agreement with others: per task with categorical reads, kappa for each pair.
    let mut kappas: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for task in g.tasks() {
        let mut by: BTreeMap<&str, BTreeMap<&str, &Answer>> = BTreeMap::new();
        for ((t, case), events) in &g.cases {
            if *t != task {
                continue;
            }
            for r in g.reads(events) {
                let e = g.event(r);
                if matches!(e.answer, Answer::Class(_) | Answer::Grade(_)) {
                    by.entry(e.annotator.as_str())
                        .or_default()
                        .insert(case, &e.answer);
                }
            }
        }
        let mut codes: Vec<String> = by
            .values()
            .flat_map(|m| m.values().map(|a| a.text()))
            .collect();
        codes.sort();
        codes.dedup();
        // A free-text task with many distinct answers is not categorical: no kappa for it.
        if codes.len() > 100 {
            continue;
        }
        let readers: Vec<&str> = by.keys().copied().collect();
        for (x, a) in readers.iter().enumerate() {
            for b in &readers[x + 1..] {
                let (ca, cb): (Vec<usize>, Vec<usize>) = by[a]
                    .iter()
                    .filter_map(|(case, ans)| {
                        let other = by[b].get(case)?;
                        let idx = |v: &Answer| codes.binary_search(&v.text()).ok();
                        Some((idx(ans)?, idx(other)?))
                    })
                    .unzip();
                if let Some(k) =
                    cohen_kappa_labels(&ca, &cb, codes.len().max(1), Weighting::Unweighted, 0.95)
                {
                    kappas.entry(a.to_string()).or_default().push(k.kappa);
                    kappas.entry(b.to_string()).or_default().push(k.kappa);
                }
            }
        }
    }
    for (who, ks) in kappas {
        if let Some(p) = people.get_mut(&who) {
            p.agreement = Some(ks.iter().sum::<f64>() / ks.len() as f64);
            p.agreement_pairs = ks.len() as u64;
        }
    }
    for p in people.values_mut() {
        p.ai_acceptance_rate =
            (p.ai_reviews > 0).then(|| p.ai_accepted as f64 / p.ai_reviews as f64);
    }
    s.annotators = people.into_values().collect();
    s
}
