//! `labels.qualification`: everyone who annotated, arbitrated or evaluated quality meets the
//! rules stated for that task role (registry role, experience, training, assessment).
//!
//! Documentation for users is in `labels_qualification.md`.

use std::collections::BTreeMap;

use super::evidence::{Evidence, Finding, Measurement, Status};
use super::labels_common::{at, labels_source, loaded, set_aside};
use super::{Check, Context, Names, Uses};
use crate::data::labels::{Event, Instant, Labels, Source};
use crate::spec::diag::Diagnostic;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::{Node, Value};

pub const DOC: &str = include_str!("labels_qualification.md");

/// The task roles people act in, as the label set shows them.
pub const TASK_ROLES: &[&str] = &["annotator", "arbitrator", "quality_evaluator"];

const RULE: &[Field] = &[
    Field::opt(
        "roles",
        Ty::List(&Ty::Str),
        "registry roles allowed in this task role",
    ),
    Field::opt(
        "min_years",
        Ty::Num {
            min: 0.0,
            max: 100.0,
        },
        "years of experience needed",
    ),
    Field::opt(
        "training",
        Ty::Bool,
        "a training record dated no later than the person's first event in this role",
    ),
    Field::opt(
        "assessment",
        Ty::Bool,
        "a passed assessment dated no later than the person's first event in this role",
    ),
];

pub const PARAMS: &[Field] = &[
    Field::req("labels", Ty::Str, "a label-set source in `data:`"),
    Field::req(
        "rules",
        Ty::Obj(&[
            Field::opt(
                "annotator",
                Ty::Obj(RULE),
                "rules for people who read, edit or confirm labels",
            ),
            Field::opt(
                "arbitrator",
                Ty::Obj(RULE),
                "rules for people who adjudicate or record a consensus",
            ),
            Field::opt(
                "quality_evaluator",
                Ty::Obj(RULE),
                "rules for people who review others' labels",
            ),
        ]),
        "rules per task role",
    ),
];

#[derive(Debug, Clone, Default)]
struct Rule {
    roles: Vec<String>,
    min_years: f64,
    training: bool,
    assessment: bool,
}

#[derive(Debug)]
pub struct Qualification {
    labels: String,
    rules: BTreeMap<&'static str, Rule>,
}

pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let labels = labels_source(node, names, out)?;
    let mut rules = BTreeMap::new();
    let r = node.get("rules")?;
    for &role in TASK_ROLES {
        let Some(n) = r.get(role) else { continue };
        let flag = |k: &str| matches!(n.get(k).map(|v| &v.value), Some(Value::Bool(true)));
        rules.insert(
            role,
            Rule {
                roles: super::params::texts(n, "roles"),
                min_years: super::params::number(n, "min_years", 0.0),
                training: flag("training"),
                assessment: flag("assessment"),
            },
        );
    }
    if rules.is_empty() {
        out.push(
            Diagnostic::new("empty-rules", "no task role has rules", &r.pos).label(format!(
                "state rules for at least one of: {}",
                TASK_ROLES.join(", ")
            )),
        );
        return None;
    }
    Some(Box::new(Qualification { labels, rules }))
}

/// The task roles an event shows its people in: (person, role).
fn roles_of(e: &Event, human_reviewed: bool) -> Vec<(&str, &'static str)> {
    let mut out = Vec::new();
    match e.source {
        Source::Human => out.push((e.annotator.as_str(), "annotator")),
        Source::Adjudication | Source::Consensus => out.push((e.annotator.as_str(), "arbitrator")),
        Source::AiPreannotation => {}
    }
    if let Some(r) = &e.reviewed_by {
        // Reviewing a person's label is quality evaluation; confirming a model's is annotation.
        out.push((
            r.as_str(),
            if human_reviewed {
                "quality_evaluator"
            } else {
                "annotator"
            },
        ));
    }
    out
}

impl Qualification {
    fn unmet(&self, l: &Labels, who: &str, role: &str, first: Instant) -> Vec<String> {
        let rule = &self.rules[role];
        let Some(a) = l.registry.get(who) else {
            return vec![format!("is not in the registry `{}`", l.registry_display)];
        };
        let mut why = Vec::new();
        if !rule.roles.is_empty() && !rule.roles.contains(&a.role) {
            why.push(format!(
                "is a {}, not one of: {}",
                a.role,
                rule.roles.join(", ")
            ));
        }
        let years = a.years_experience.unwrap_or(0.0);
        if years < rule.min_years {
            why.push(format!(
                "has {years} years of experience, fewer than {}",
                rule.min_years
            ));
        }
        if rule.training && !a.trained_by(first) {
            why.push("has no training record dated before their first event in this role".into());
        }
        if rule.assessment && !a.assessed_by(first) {
            why.push("has no passed assessment dated before their first event in this role".into());
        }
        why
    }
}

impl Check for Qualification {
    fn uses(&self) -> Uses {
        Uses {
            data: vec![self.labels.clone()],
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let stated: Vec<String> = self
            .rules
            .iter()
            .map(|(role, r)| {
                let mut parts = Vec::new();
                if !r.roles.is_empty() {
                    parts.push(r.roles.join("/"));
                }
                if r.min_years > 0.0 {
                    parts.push(format!(">= {} years", r.min_years));
                }
                if r.training {
                    parts.push("trained".into());
                }
                if r.assessment {
                    parts.push("assessed".into());
                }
                format!(
                    "{role}: {}",
                    if parts.is_empty() {
                        "registered".into()
                    } else {
                        parts.join(", ")
                    }
                )
            })
            .collect();
        let method = format!(
            "each person's task roles read from the label set (people's reads and edits and confirmations \
             of AI pre-annotations: annotator; adjudications and consensus: arbitrator; reviews of people's \
             labels: quality_evaluator), each checked against the registry, training and assessment dated \
             no later than the person's first event in the role; rules: {}",
            stated.join("; ")
        );
        let l = match loaded(cx, &self.labels, &method) {
            Ok(l) => l,
            Err(e) => return e,
        };
        let (mut findings, lost) = set_aside(l);
        // (person, role) → the first event in that role.
        let mut first: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for (i, e) in l.set.events.iter().enumerate() {
            let human_reviewed = e.source != Source::AiPreannotation;
            for (who, role) in roles_of(e, human_reviewed) {
                if !self.rules.contains_key(role) {
                    continue;
                }
                let time = |j: usize| {
                    let e = &l.set.events[j];
                    if e.annotator == who {
                        e.created_at.0
                    } else {
                        e.reviewed_at.map_or(e.created_at.0, |t| t.0)
                    }
                };
                first
                    .entry((who, role))
                    .and_modify(|j| {
                        if time(i) < time(*j) {
                            *j = i;
                        }
                    })
                    .or_insert(i);
            }
        }
        let mut qualified = 0u64;
        for (&(who, role), &i) in &first {
            let e = &l.set.events[i];
            let when = if e.annotator == who {
                e.created_at
            } else {
                e.reviewed_at.unwrap_or(e.created_at)
            };
            let why = self.unmet(l, who, role, when);
            if why.is_empty() {
                qualified += 1;
            } else {
                findings.push(Finding::error(
                    "unqualified",
                    format!(
                        "`{who}` acts as {role} (first at this event) but {}",
                        why.join("; ")
                    ),
                    at(l, e),
                ));
            }
        }
        let n = first.len() as u64;
        let mut m = Measurement::new("qualified_people", None);
        m.n = n;
        m.estimate = (n > 0).then(|| qualified as f64 / n as f64);
        let status = if qualified < n {
            Status::Fail
        } else if n == 0 || lost {
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
