//! The reference standard derived from a label set by a declared rule, one answer per case, as
//! a case table that `classification` can use as `truth:`.

use std::collections::BTreeMap;

use super::graph::Graph;
use super::{Answer, Source};

/// How the reference is derived from the reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The answer most reads give; a tie goes to the adjudication, else stays unresolved.
    Majority,
    /// Unanimous reads stand; any disagreement goes to the adjudication, else unresolved.
    Arbitrator,
    /// The consensus round's answer; without one, unresolved.
    Consensus,
}

impl Rule {
    pub const NAMES: &'static [&'static str] = &["majority", "arbitrator", "consensus"];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "majority" => Self::Majority,
            "arbitrator" => Self::Arbitrator,
            "consensus" => Self::Consensus,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// How a case's reference was reached.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Path {
    /// Every independent read gave the same answer (one read counts).
    Unanimous,
    /// Most reads gave it.
    Majority,
    /// An arbitrator's adjudication decided.
    Adjudicated,
    /// The consensus round decided.
    Consensus,
    /// No reads: an AI pre-annotation a person accepted, or that person's edit of it.
    Confirmed,
    /// No reference, with the reason.
    Unresolved(String),
}

impl Path {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Unanimous => "unanimous",
            Self::Majority => "majority",
            Self::Adjudicated => "adjudicated",
            Self::Consensus => "consensus",
            Self::Confirmed => "confirmed",
            Self::Unresolved(_) => "unresolved",
        }
    }
}

/// The reference of one case.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    pub case_id: String,
    pub answer: Option<Answer>,
    pub path: Path,
    /// The independent reads it was derived from.
    pub reads: usize,
}

/// Derives the reference of every case of `task`, in case order. `may_confirm` says whether
/// a reviewer's acceptance of an AI pre-annotation makes it a confirmed label (registered, a
/// person; the caller decides); a reviewer who is the event's own annotator never does.
pub fn derive(
    g: &Graph,
    task: &str,
    rule: Rule,
    may_confirm: &dyn Fn(&str) -> bool,
) -> Vec<Derived> {
    let mut out = Vec::new();
    for ((t, case), events) in &g.cases {
        if *t != task {
            continue;
        }
        // Each reader's current answer (corrections followed, rejected reads dropped).
        let reads: Vec<usize> = g
            .reads(events)
            .into_iter()
            .filter_map(|r| g.current(r))
            .collect();
        let heads = g.heads(events);
        let decided = |source: Source| -> Result<Option<&Answer>, String> {
            let answers: Vec<&Answer> = heads
                .iter()
                .map(|&i| g.event(i))
                .filter(|e| e.source == source)
                .map(|e| &e.answer)
                .collect();
            match answers.as_slice() {
                [] => Ok(None),
                [a, rest @ ..] if rest.iter().all(|b| b == a) => Ok(Some(*a)),
                _ => Err(format!("conflicting {} events", source.as_str())),
            }
        };
        let mut counts: BTreeMap<String, (usize, &Answer)> = BTreeMap::new();
        for &r in &reads {
            let a = g.answer(r);
            counts.entry(a.text()).or_insert((0, a)).0 += 1;
        }
        let top = counts.values().map(|c| c.0).max().unwrap_or(0);
        let leaders: Vec<&Answer> = counts
            .values()
            .filter(|c| c.0 == top)
            .map(|c| c.1)
            .collect();
        let unanimous = counts.len() == 1;
        let result: Result<(Answer, Path), String> = (|| {
            if reads.is_empty() && rule != Rule::Consensus {
                if let Some(a) = decided(Source::Adjudication)? {
                    return Ok((a.clone(), Path::Adjudicated));
                }
                // Expert-confirmed pre-annotation: accepted as it is, or the human edit of it.
                let confirmed: Vec<&Answer> = heads
                    .iter()
                    .copied()
                    .filter(|&i| {
                        let e = g.event(i);
                        let confirmer = e
                            .reviewed_by
                            .as_deref()
                            .is_some_and(|r| r != e.annotator && may_confirm(r));
                        (g.accepted(i) && confirmer)
                            || (g.event(i).source == Source::Human
                                && g.chain(i)
                                    .iter()
                                    .any(|&j| g.event(j).source == Source::AiPreannotation))
                    })
                    .map(|i| g.answer(i))
                    .collect();
                return match confirmed.as_slice() {
                    [a] => Ok(((*a).clone(), Path::Confirmed)),
                    [] => Err("no independent read and no confirmed label".into()),
                    _ => Err("more than one confirmed label".into()),
                };
            }
            match rule {
                Rule::Consensus => decided(Source::Consensus)?
                    .map(|a| (a.clone(), Path::Consensus))
                    .ok_or_else(|| "no consensus event".to_string()),
                Rule::Arbitrator => {
                    if unanimous {
                        Ok((leaders[0].clone(), Path::Unanimous))
                    } else {
                        decided(Source::Adjudication)?
                            .map(|a| (a.clone(), Path::Adjudicated))
                            .ok_or_else(|| "reads disagree and no adjudication".to_string())
                    }
                }
                Rule::Majority => {
                    if unanimous {
                        Ok((leaders[0].clone(), Path::Unanimous))
                    } else if leaders.len() == 1 {
                        Ok((leaders[0].clone(), Path::Majority))
                    } else {
                        decided(Source::Adjudication)?
                            .map(|a| (a.clone(), Path::Adjudicated))
                            .ok_or_else(|| "the reads tie and no adjudication".to_string())
                    }
                }
            }
        })();
        out.push(match result {
            Ok((answer, path)) => Derived {
                case_id: case.to_string(),
                answer: Some(answer),
                path,
                reads: reads.len(),
            },
            Err(why) => Derived {
                case_id: case.to_string(),
                answer: None,
                path: Path::Unresolved(why),
                reads: reads.len(),
            },
        });
    }
    out
}

/// A derived reference standard as the run holds it: what it was derived from, how, and the
/// result for every case of the task.
#[derive(Debug, Clone)]
pub struct Reference {
    pub from: String,
    pub task: String,
    pub rule: Rule,
    pub positive: Positive,
    pub derived: Vec<Derived>,
}

/// How a reference answer becomes the 0/1 label `classification` reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Positive {
    /// These classes are 1, every other class 0.
    Classes(Vec<String>),
    /// A grade or value at or above this is 1.
    AtLeast(f64),
    /// The answer is already 0 or 1.
    AsIs,
}

/// The binary label of an answer, or None when it cannot be one.
pub fn binary(a: &Answer, positive: &Positive) -> Option<u8> {
    match positive {
        Positive::Classes(c) => match a {
            Answer::Class(x) => Some(u8::from(c.contains(x))),
            Answer::Grade(_) | Answer::Number(_) => Some(u8::from(c.contains(&a.text()))),
            _ => None,
        },
        Positive::AtLeast(t) => a.number().map(|x| u8::from(x >= *t)),
        Positive::AsIs => match a.text().as_str() {
            "0" => Some(0),
            "1" => Some(1),
            _ => None,
        },
    }
}

/// The reference as CSV (`case_id,label,reference,path,reads`), unresolved cases left out.
pub fn to_csv(derived: &[Derived], positive: &Positive) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["case_id", "label", "reference", "path", "reads"])
        .expect("in memory");
    for d in derived {
        let Some(a) = &d.answer else { continue };
        let label = binary(a, positive).map_or(String::new(), |b| b.to_string());
        w.write_record([
            d.case_id.as_str(),
            label.as_str(),
            a.text().as_str(),
            d.path.as_str(),
            d.reads.to_string().as_str(),
        ])
        .expect("in memory");
    }
    String::from_utf8(w.into_inner().expect("in memory")).expect("UTF-8 in, UTF-8 out")
}

#[cfg(test)]
mod tests {
    use super::super::parse_labels;
    use super::*;

    fn graph_of(rows: &[&str]) -> crate::data::labels::LabelSet {
        let mut text = "event_id,case_id,label,annotator_id,created_at,source,revises,reviewed_by,reviewed_at,decision\n".to_string();
        for r in rows {
            text.push_str(r);
            text.push('\n');
        }
        parse_labels(text.as_bytes(), "l.csv", false).unwrap()
    }

    const T: &str = "2025-01-01T00:00:00Z";

    #[test]
    fn rules_derive_by_hand() {
        let s = graph_of(&[
            // c1: 2 of 3 say malignant.
            &format!("a1,c1,malignant,R1,{T},human,,,,"),
            &format!("a2,c1,malignant,R2,{T},human,,,,"),
            &format!("a3,c1,benign,R3,{T},human,,,,"),
            // c2: a tie, adjudicated benign.
            &format!("b1,c2,malignant,R1,{T},human,,,,"),
            &format!("b2,c2,benign,R2,{T},human,,,,"),
            &format!("b3,c2,benign,A1,{T},adjudication,,,,"),
            // c3: a tie, not adjudicated.
            &format!("d1,c3,malignant,R1,{T},human,,,,"),
            &format!("d2,c3,benign,R2,{T},human,,,,"),
            // c4: AI pre-annotation accepted by an expert.
            &format!("e1,c4,benign,M1,{T},ai_preannotation,,R1,{T},accept"),
            // c5: AI pre-annotation not confirmed.
            &format!("f1,c5,benign,M1,{T},ai_preannotation,,,,"),
        ]);
        let g = Graph::new(&s);
        let paths = |rule| -> Vec<(String, Option<String>, String)> {
            derive(&g, "default", rule, &|_| true)
                .into_iter()
                .map(|d| {
                    (
                        d.case_id,
                        d.answer.map(|a| a.text()),
                        d.path.as_str().to_string(),
                    )
                })
                .collect()
        };
        let s = |x: &str| Some(x.to_string());
        let row = |c: &str, a: Option<String>, p: &str| (c.to_string(), a, p.to_string());
        assert_eq!(
            paths(Rule::Majority),
            vec![
                row("c1", s("malignant"), "majority"),
                row("c2", s("benign"), "adjudicated"),
                row("c3", None, "unresolved"),
                row("c4", s("benign"), "confirmed"),
                row("c5", None, "unresolved"),
            ]
        );
        let arb = paths(Rule::Arbitrator);
        // Under the arbitrator rule a 2-of-3 majority is a disagreement left unresolved.
        assert_eq!(arb[0], row("c1", None, "unresolved"));
        assert_eq!(arb[1], row("c2", s("benign"), "adjudicated"));
        let derived = derive(&g, "default", Rule::Majority, &|_| true);
        let csv = to_csv(&derived, &Positive::Classes(vec!["malignant".into()]));
        assert_eq!(
            csv,
            "case_id,label,reference,path,reads\nc1,1,malignant,majority,3\nc2,0,benign,adjudicated,2\nc4,0,benign,confirmed,0\n"
        );
    }
}
