//! `labels.reads`: enough independent reads per case, and every disagreement adjudicated by a
//! qualified arbitrator who was not one of the readers.
//!
//! Documentation for users is in `labels_reads.md`.

use std::collections::BTreeSet;

use super::evidence::{Evidence, Finding, Measurement, Severity, Status};
use super::labels_common::{at, labels_source, loaded, set_aside};
use super::params::{number, text};
use super::{Check, Context, Names, Uses};
use crate::data::labels::graph::Graph;
use crate::data::labels::{Answer, Source};
use crate::spec::diag::Diagnostic;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;

pub const DOC: &str = include_str!("labels_reads.md");

pub const SCOPES: &[&str] = &["all", "read"];

pub const PARAMS: &[Field] = &[
    Field::req("labels", Ty::Str, "a label-set source in `data:`"),
    Field::opt("task", Ty::Str, "the task checked, default `default`"),
    Field::req(
        "min_reads",
        Ty::Int { min: 1 },
        "independent reads each case needs (different annotators)",
    ),
    Field::opt(
        "scope",
        Ty::Enum(SCOPES),
        "`all` cases of the task (default), or only those with at least one independent `read`",
    ),
    Field::opt(
        "arbitrator_role",
        Ty::Str,
        "registry role an adjudicator must hold, default `arbitrator`",
    ),
    Field::opt(
        "min_arbitrator_years",
        Ty::Num {
            min: 0.0,
            max: 100.0,
        },
        "years of experience an adjudicator needs, default 0",
    ),
];

#[derive(Debug)]
pub struct Reads {
    labels: String,
    task: String,
    min_reads: usize,
    read_only: bool,
    arbitrator_role: String,
    min_years: f64,
}

pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let labels = labels_source(node, names, out)?;
    Some(Box::new(Reads {
        labels,
        task: text(node, "task", "default"),
        min_reads: number(node, "min_reads", 1.0) as usize,
        read_only: text(node, "scope", "all") == "read",
        arbitrator_role: text(node, "arbitrator_role", "arbitrator"),
        min_years: number(node, "min_arbitrator_years", 0.0),
    }))
}

/// True when the answers cannot be compared for equality (boxes and masks differ by design).
fn spatial(a: &Answer) -> bool {
    matches!(a, Answer::Box(_) | Answer::Mask(_))
}

impl Check for Reads {
    fn uses(&self) -> Uses {
        Uses {
            data: vec![self.labels.clone()],
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let method = format!(
            "independent reads of task `{}` per case: people's events that revise nothing, one per \
             annotator (a re-read by the same annotator is not independent); at least {} per case{}; \
             where the reads disagree, an adjudication by a registered `{}`{} who did not read the case",
            self.task,
            self.min_reads,
            if self.read_only {
                ", for the cases with at least one read"
            } else {
                ""
            },
            self.arbitrator_role,
            if self.min_years > 0.0 {
                format!(" with at least {} years of experience", self.min_years)
            } else {
                String::new()
            }
        );
        let l = match loaded(cx, &self.labels, &method) {
            Ok(l) => l,
            Err(e) => return e,
        };
        let (mut findings, lost) = set_aside(l);
        let g = Graph::new(&l.set);
        let (mut cases, mut enough, mut disagreements, mut adjudicated) = (0u64, 0u64, 0u64, 0u64);
        for ((task, case), events) in &g.cases {
            if *task != self.task {
                continue;
            }
            // Each reader's current answer: corrections followed, rejected reads dropped.
            let firsts = g.reads(events);
            let reads: Vec<usize> = firsts.iter().filter_map(|&r| g.current(r)).collect();
            if self.read_only && firsts.is_empty() {
                continue;
            }
            cases += 1;
            let first = g.event(events[0]);
            if reads.len() >= self.min_reads {
                enough += 1;
            } else {
                findings.push(Finding::error(
                    "too-few-reads",
                    format!(
                        "case `{case}` has {} independent read(s) standing (rejected reads do not count), fewer than {}",
                        reads.len(),
                        self.min_reads
                    ),
                    at(l, first),
                ));
            }
            let answers: BTreeSet<String> = reads.iter().map(|&r| g.answer(r).text()).collect();
            if answers.len() < 2 || reads.iter().any(|&r| spatial(g.answer(r))) {
                continue;
            }
            disagreements += 1;
            // Everyone who read or corrected the case, not only the first reads.
            let readers: BTreeSet<&str> = events
                .iter()
                .map(|&i| g.event(i))
                .filter(|e| e.source == Source::Human)
                .map(|e| e.annotator.as_str())
                .collect();
            let adjudications: Vec<usize> = g
                .heads(events)
                .into_iter()
                .filter(|&i| g.event(i).source == Source::Adjudication)
                .collect();
            if adjudications.is_empty() {
                findings.push(Finding::error(
                    "unadjudicated-disagreement",
                    format!(
                        "case `{case}`: the reads disagree ({}) and no adjudication settles it",
                        answers.into_iter().collect::<Vec<_>>().join(" vs ")
                    ),
                    at(l, first),
                ));
                continue;
            }
            let mut ok = true;
            let decided: BTreeSet<String> =
                adjudications.iter().map(|&i| g.answer(i).text()).collect();
            if decided.len() > 1 {
                ok = false;
                findings.push(Finding::error(
                    "conflicting-adjudications",
                    format!(
                        "case `{case}` has {} adjudications that disagree ({})",
                        adjudications.len(),
                        decided.into_iter().collect::<Vec<_>>().join(" vs ")
                    ),
                    at(l, g.event(adjudications[0])),
                ));
            }
            for &i in &adjudications {
                let e = g.event(i);
                let why = match l.registry.get(&e.annotator) {
                    None => Some(format!("`{}` is not in the registry", e.annotator)),
                    Some(a) if a.role != self.arbitrator_role => Some(format!(
                        "`{}` has the role `{}`, not `{}`",
                        e.annotator, a.role, self.arbitrator_role
                    )),
                    Some(a) if a.years_experience.unwrap_or(0.0) < self.min_years => Some(format!(
                        "`{}` has {} years of experience, fewer than {}",
                        e.annotator,
                        a.years_experience.unwrap_or(0.0),
                        self.min_years
                    )),
                    _ => None,
                };
                if let Some(why) = why {
                    ok = false;
                    findings.push(Finding::error(
                        "unqualified-arbitrator",
                        format!("case `{case}` is adjudicated, but {why}"),
                        at(l, e),
                    ));
                }
                if readers.contains(e.annotator.as_str()) {
                    ok = false;
                    findings.push(Finding::error(
                        "arbitrator-was-reader",
                        format!(
                            "case `{case}` is adjudicated by `{}`, who also read it",
                            e.annotator
                        ),
                        at(l, e),
                    ));
                }
            }
            if ok {
                adjudicated += 1;
            }
        }
        let share = |a: u64, n: u64| (n > 0).then(|| a as f64 / n as f64);
        let mut m1 = Measurement::new("cases_with_enough_reads", None);
        m1.n = cases;
        m1.estimate = share(enough, cases);
        let mut m2 = Measurement::new("disagreements_adjudicated", None);
        m2.n = disagreements;
        m2.estimate = share(adjudicated, disagreements);
        let defect = findings.iter().any(|f| {
            f.severity == Severity::Error
                && !matches!(
                    f.code.as_str(),
                    "invalid-event" | "duplicate-event" | "conflicting-event"
                )
        });
        let status = if defect {
            Status::Fail
        } else if cases == 0 || lost {
            if cases == 0 {
                findings.push(Finding::warning(
                    "no-cases",
                    format!("no case of task `{}` to check", self.task),
                    self.labels.clone(),
                ));
            }
            Status::Inconclusive
        } else {
            Status::Pass
        };
        m1.status = status;
        m2.status = status;
        Evidence {
            status,
            method,
            measurements: vec![m1, m2],
            findings,
        }
    }
}
