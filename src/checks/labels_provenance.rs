//! `labels.provenance`: every final label has a complete, consistent chain of custody.
//!
//! Documentation for users is in `labels_provenance.md`.

use std::collections::{BTreeMap, BTreeSet};

use super::evidence::{Evidence, Finding, Measurement, Status};
use super::labels_common::{at, labels_source, loaded, set_aside};
use super::params::{number, texts};
use super::{reference, Check, Context, DataSet, Names, Uses};
use crate::data::labels::graph::{Broken, Graph};
use crate::data::labels::{Decision, Labels, Source};
use crate::spec::diag::Diagnostic;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;

pub const DOC: &str = include_str!("labels_provenance.md");

pub const PARAMS: &[Field] = &[
    Field::req("labels", Ty::Str, "a label-set source in `data:`"),
    Field::opt(
        "cases",
        Ty::Str,
        "a case table in `data:`: events for cases it does not list are findings",
    ),
    Field::opt(
        "confirm_roles",
        Ty::List(&Ty::Str),
        "registry roles allowed to confirm an AI pre-annotation, default any role but `model`",
    ),
    Field::opt(
        "min_confirm_years",
        Ty::Num {
            min: 0.0,
            max: 100.0,
        },
        "years of experience a confirming reviewer needs, default 0",
    ),
    Field::opt(
        "require",
        Ty::List(&Ty::Enum(&["tool", "tool_version", "round"])),
        "fields every event must carry, default [tool, tool_version]",
    ),
];

#[derive(Debug)]
pub struct Provenance {
    labels: String,
    cases: Option<String>,
    confirm_roles: Vec<String>,
    min_confirm_years: f64,
    require: Vec<String>,
}

pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let before = out.len();
    let labels = labels_source(node, names, out)?;
    let cases = node.get("cases").and_then(Node::as_str).map(str::to_string);
    if let Some(c) = &cases {
        reference(
            node,
            "cases",
            c,
            &names.tables,
            "a case table in `data:`",
            out,
        );
    }
    let mut require = texts(node, "require");
    if node.get("require").is_none() {
        require = vec!["tool".into(), "tool_version".into()];
    }
    if out.len() > before {
        return None;
    }
    Some(Box::new(Provenance {
        labels,
        cases,
        confirm_roles: texts(node, "confirm_roles"),
        min_confirm_years: number(node, "min_confirm_years", 0.0),
        require,
    }))
}

impl Provenance {
    /// Whether `who` may confirm an AI pre-annotation, and if not, why.
    fn may_confirm(&self, l: &Labels, who: &str) -> Result<(), String> {
        let Some(a) = l.registry.get(who) else {
            return Err(format!("`{who}` is not in the registry"));
        };
        if a.is_model() {
            return Err(format!("`{who}` is a model"));
        }
        if !self.confirm_roles.is_empty() && !self.confirm_roles.contains(&a.role) {
            return Err(format!(
                "`{who}` is a {}, not one of: {}",
                a.role,
                self.confirm_roles.join(", ")
            ));
        }
        if a.years_experience.unwrap_or(0.0) < self.min_confirm_years {
            return Err(format!(
                "`{who}` has {} years of experience, fewer than {}",
                a.years_experience.unwrap_or(0.0),
                self.min_confirm_years
            ));
        }
        Ok(())
    }
}

impl Check for Provenance {
    fn uses(&self) -> Uses {
        Uses {
            data: std::iter::once(self.labels.clone())
                .chain(self.cases.clone())
                .collect(),
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let method = format!(
            "every event of the label set read and linked through `revises`; the final label of \
             each case and task (the adjudication, else the consensus, else every event no other \
             event revises) must have a chain of registered annotators with {} recorded, \
             timestamps in order and not in the future, no self-review, and no AI \
             pre-annotation left final without a qualified person's confirmation",
            if self.require.is_empty() {
                "time and source".to_string()
            } else {
                self.require.join(", ")
            }
        );
        let l = match loaded(cx, &self.labels, &method) {
            Ok(l) => l,
            Err(e) => return e,
        };
        let (mut findings, _) = set_aside(l);
        let g = Graph::new(&l.set);
        // Events with a defect of their own; a final label is complete when none is on its chain.
        let mut defective: BTreeSet<usize> = BTreeSet::new();
        let flag = |findings: &mut Vec<Finding>,
                    defective: &mut BTreeSet<usize>,
                    i: usize,
                    code: &str,
                    msg: String| {
            defective.insert(i);
            findings.push(Finding::error(code, msg, at(l, g.event(i))));
        };

        for b in &g.broken {
            match b {
                Broken::Missing { event, target } => flag(
                    &mut findings,
                    &mut defective,
                    *event,
                    "broken-chain",
                    format!("revises `{target}`, which is not in the label set"),
                ),
                Broken::OtherCase { event, target } => flag(
                    &mut findings,
                    &mut defective,
                    *event,
                    "broken-chain",
                    format!(
                        "revises event `{}`, which labels case `{}` task `{}`, not this one",
                        g.event(*target).id,
                        g.event(*target).case_id,
                        g.event(*target).task
                    ),
                ),
                Broken::Cycle { events } => {
                    let ids: Vec<&str> = events.iter().map(|&i| g.event(i).id.as_str()).collect();
                    for &i in events {
                        flag(
                            &mut findings,
                            &mut defective,
                            i,
                            "revision-cycle",
                            format!("is on a cycle of revisions: {}", ids.join(" → ")),
                        );
                    }
                }
            }
        }

        let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
        let mut unknown: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
        let table = self.cases.as_ref().and_then(|c| match cx.data.get(c) {
            Some(DataSet::Table(t)) => t.value.as_ref(),
            _ => None,
        });
        if let (Some(c), None) = (&self.cases, table) {
            findings.push(Finding::warning(
                "missing-data",
                format!("case table `{c}` could not be read, so case identifiers were not checked"),
                c.clone(),
            ));
        }
        for (i, e) in l.set.events.iter().enumerate() {
            for who in std::iter::once(&e.annotator).chain(e.reviewed_by.as_ref()) {
                if l.registry.get(who).is_none() {
                    unknown.entry(who.as_str()).or_insert((i, 0)).1 += 1;
                    defective.insert(i);
                }
            }
            let registered = l.registry.get(&e.annotator);
            match (e.source, registered.map(|a| a.is_model())) {
                (Source::AiPreannotation, Some(false)) => flag(
                    &mut findings,
                    &mut defective,
                    i,
                    "not-a-model",
                    format!(
                        "is an AI pre-annotation by `{}`, who is registered as a person",
                        e.annotator
                    ),
                ),
                (Source::Human | Source::Consensus | Source::Adjudication, Some(true)) => flag(
                    &mut findings,
                    &mut defective,
                    i,
                    "model-as-person",
                    format!(
                        "is a {} event by `{}`, which is registered as a model",
                        e.source.as_str(),
                        e.annotator
                    ),
                ),
                _ => {}
            }
            if e.source == Source::AiPreannotation {
                if e.tool_version.is_empty() {
                    flag(
                        &mut findings,
                        &mut defective,
                        i,
                        "model-version-missing",
                        "is an AI pre-annotation without the model's version (`tool_version`)"
                            .into(),
                    );
                } else if let Some(v) = registered.and_then(|a| a.version.as_ref()) {
                    if *v != e.tool_version {
                        flag(&mut findings, &mut defective,
                            i,
                            "model-version-mismatch",
                            format!("records model version `{}`, but the registry holds `{}` as version `{v}`", e.tool_version, e.annotator),
                        );
                    }
                }
            }
            for field in &self.require {
                let missing = match field.as_str() {
                    "tool" => e.tool.is_empty(),
                    // An AI pre-annotation's missing version is `model-version-missing`.
                    "tool_version" => {
                        e.tool_version.is_empty() && e.source != Source::AiPreannotation
                    }
                    _ => e.round.is_none() && e.source == Source::Human,
                };
                if missing {
                    flag(
                        &mut findings,
                        &mut defective,
                        i,
                        "missing-field",
                        format!("has no `{field}`"),
                    );
                }
            }
            if let Some(t) = table {
                if t.find(&e.case_id).is_none() {
                    flag(
                        &mut findings,
                        &mut defective,
                        i,
                        "unknown-case",
                        format!(
                            "labels case `{}`, which the case table `{}` does not list",
                            e.case_id,
                            self.cases.as_deref().unwrap_or("")
                        ),
                    );
                }
            }
            if e.created_at.0 > now || e.reviewed_at.is_some_and(|r| r.0 > now) {
                flag(
                    &mut findings,
                    &mut defective,
                    i,
                    "future-timestamp",
                    "carries a time stamp in the future".into(),
                );
            }
            if let Some(r) = e.reviewed_at {
                if r.0 < e.created_at.0 {
                    flag(
                        &mut findings,
                        &mut defective,
                        i,
                        "time-order",
                        "was reviewed before it was created".into(),
                    );
                }
            }
            if let Some(p) = g.parent[i] {
                if e.created_at.0 < g.event(p).created_at.0 {
                    flag(
                        &mut findings,
                        &mut defective,
                        i,
                        "time-order",
                        format!(
                            "was created before event `{}`, which it revises",
                            g.event(p).id
                        ),
                    );
                }
            }
            if e.reviewed_by.as_deref() == Some(e.annotator.as_str()) {
                flag(
                    &mut findings,
                    &mut defective,
                    i,
                    "self-review",
                    format!("is reviewed by its own annotator `{}`", e.annotator),
                );
            }
            if e.source == Source::AiPreannotation
                && e.decision == Some(Decision::Edit)
                && !g.children[i]
                    .iter()
                    .any(|&c| g.event(c).source == Source::Human)
            {
                flag(
                    &mut findings,
                    &mut defective,
                    i,
                    "edit-missing",
                    "is marked `edit` but no person's event revises it".into(),
                );
            }
        }
        for (who, (first, count)) in &unknown {
            findings.push(Finding::error(
                "unknown-annotator",
                format!(
                    "`{who}` is not in the registry `{}` ({count} event(s))",
                    l.registry_display
                ),
                at(l, g.event(*first)),
            ));
        }

        // Final labels: their chains, and AI pre-annotations standing without confirmation.
        let mut confirmations: BTreeSet<usize> = BTreeSet::new();
        let mut finals = 0u64;
        let mut complete = 0u64;
        for ((task, case), events) in &g.cases {
            let f = g.finals(events);
            if f.is_empty() {
                let first = events[0];
                defective.insert(first);
                findings.push(Finding::error(
                    "no-final-label",
                    format!("case `{case}` task `{task}` has no final label (every event is rejected, revised in a cycle, or absent)"),
                    at(l, g.event(first)),
                ));
                continue;
            }
            for i in f {
                let e = g.event(i);
                if e.source == Source::AiPreannotation && e.decision.is_none() {
                    defective.insert(i);
                    findings.push(Finding::error(
                        "unconfirmed-ai-label",
                        format!("is an AI pre-annotation standing as the final label of case `{case}` task `{task}`, but no one reviewed it"),
                        at(l, e),
                    ));
                }
                // Every AI pre-annotation a final label rests on (accepted as it is, or edited)
                // was reviewed by someone allowed to confirm it.
                for c in g.chain(i) {
                    let a = g.event(c);
                    if a.source != Source::AiPreannotation || !confirmations.insert(c) {
                        continue;
                    }
                    if let Some(why) = a
                        .reviewed_by
                        .as_ref()
                        .and_then(|r| self.may_confirm(l, r).err())
                    {
                        defective.insert(c);
                        findings.push(Finding::error(
                            "unconfirmed-ai-label",
                            format!("is an AI pre-annotation behind the final label of case `{case}` task `{task}`, but {why}"),
                            at(l, a),
                        ));
                    }
                }
                finals += 1;
                if g.chain(i).iter().all(|c| !defective.contains(c)) {
                    complete += 1;
                }
            }
        }

        let mut m = Measurement::new("complete_chains", None);
        m.n = finals;
        m.estimate = (finals > 0).then(|| complete as f64 / finals as f64);
        let errors = findings
            .iter()
            .any(|f| f.severity == super::evidence::Severity::Error);
        let status = if errors {
            Status::Fail
        } else if finals == 0 {
            findings.push(Finding::error(
                "no-labels",
                "the label set holds no final label",
                self.labels.clone(),
            ));
            Status::Inconclusive
        } else if findings.iter().any(|f| f.code == "missing-data") {
            Status::Inconclusive
        } else {
            Status::Pass
        };
        m.status = status;
        Evidence {
            status,
            method,
            measurements: vec![m],
            findings,
        }
    }
}
