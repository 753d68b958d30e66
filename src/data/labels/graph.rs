//! The structure of a label set: which event revises which (chains, broken links, cycles),
//! and, per task and case, the independent reads and the final labels.

use std::collections::{BTreeMap, HashMap};

use super::{Answer, Decision, Event, LabelSet, Source};

/// A link that does not hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Broken {
    /// `revises` names an event that is not in the set.
    Missing { event: usize, target: String },
    /// Following `revises` from this event comes back to it.
    Cycle { events: Vec<usize> },
    /// The revising event is for another case or task than the one it revises.
    OtherCase { event: usize, target: usize },
}

/// A label set with its links resolved.
#[derive(Debug)]
pub struct Graph<'a> {
    pub set: &'a LabelSet,
    pub by_id: HashMap<&'a str, usize>,
    /// The event each event revises, when that link holds.
    pub parent: Vec<Option<usize>>,
    /// The events revising each event.
    pub children: Vec<Vec<usize>>,
    /// True for events on a cycle.
    pub in_cycle: Vec<bool>,
    pub broken: Vec<Broken>,
    /// Events by (task, case), in file order.
    pub cases: BTreeMap<(&'a str, &'a str), Vec<usize>>,
}

impl<'a> Graph<'a> {
    pub fn new(set: &'a LabelSet) -> Self {
        let n = set.events.len();
        let by_id: HashMap<&str, usize> = set
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id.as_str(), i))
            .collect();
        let mut parent = vec![None; n];
        let mut broken = Vec::new();
        for (i, e) in set.events.iter().enumerate() {
            let Some(t) = &e.revises else { continue };
            match by_id.get(t.as_str()) {
                None => broken.push(Broken::Missing {
                    event: i,
                    target: t.clone(),
                }),
                Some(&p) => {
                    let pe = &set.events[p];
                    if pe.case_id != e.case_id || pe.task != e.task {
                        broken.push(Broken::OtherCase {
                            event: i,
                            target: p,
                        });
                    } else {
                        parent[i] = Some(p);
                    }
                }
            }
        }
        // Cycles: walk up from each event, colouring (0 new, 1 on the current walk, 2 done).
        let mut colour = vec![0u8; n];
        let mut in_cycle = vec![false; n];
        for start in 0..n {
            let mut walk = Vec::new();
            let mut at = Some(start);
            while let Some(i) = at {
                match colour[i] {
                    2 => break,
                    1 => {
                        let from = walk.iter().position(|&w| w == i).expect("on the walk");
                        let cycle: Vec<usize> = walk[from..].to_vec();
                        for &c in &cycle {
                            in_cycle[c] = true;
                        }
                        let mut sorted = cycle;
                        sorted.sort_unstable();
                        broken.push(Broken::Cycle { events: sorted });
                        break;
                    }
                    _ => {
                        colour[i] = 1;
                        walk.push(i);
                        at = parent[i];
                    }
                }
            }
            for w in walk {
                colour[w] = 2;
            }
        }
        let mut children = vec![Vec::new(); n];
        for (i, p) in parent.iter().enumerate() {
            if let Some(p) = p {
                if !in_cycle[i] {
                    children[*p].push(i);
                }
            }
        }
        let mut cases: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
        for (i, e) in set.events.iter().enumerate() {
            cases
                .entry((e.task.as_str(), e.case_id.as_str()))
                .or_default()
                .push(i);
        }
        Graph {
            set,
            by_id,
            parent,
            children,
            in_cycle,
            broken,
            cases,
        }
    }

    pub fn event(&self, i: usize) -> &'a Event {
        &self.set.events[i]
    }

    /// The chain of an event: itself, then what it revises, up to the first event.
    pub fn chain(&self, i: usize) -> Vec<usize> {
        let mut out = vec![i];
        let mut at = self.parent[i];
        while let Some(p) = at {
            if out.contains(&p) {
                break;
            }
            out.push(p);
            at = self.parent[p];
        }
        out
    }

    /// The tasks of the set, sorted.
    pub fn tasks(&self) -> Vec<&'a str> {
        let mut t: Vec<&str> = self.cases.keys().map(|(t, _)| *t).collect();
        t.dedup();
        t
    }

    /// The independent reads of a case: human events that revise nothing, one per annotator
    /// (their first, by round then time; a re-read by the same annotator is not independent).
    pub fn reads(&self, events: &[usize]) -> Vec<usize> {
        let mut first: BTreeMap<&str, usize> = BTreeMap::new();
        for &i in events {
            let e = self.event(i);
            if e.source != Source::Human || e.revises.is_some() {
                continue;
            }
            let key = |e: &Event| (e.round.unwrap_or(u32::MAX), e.created_at.0);
            first
                .entry(e.annotator.as_str())
                .and_modify(|j| {
                    if key(e) < key(self.event(*j)) {
                        *j = i;
                    }
                })
                .or_insert(i);
        }
        let mut r: Vec<usize> = first.into_values().collect();
        r.sort_unstable();
        r
    }

    /// The current state of a read: the read itself or, when people revised it, the latest
    /// person's revision down its chain (by time, then file order); None when that current
    /// event was rejected by its reviewer. The reference and disagreement use current
    /// answers; agreement statistics use first reads.
    pub fn current(&self, i: usize) -> Option<usize> {
        let mut at = i;
        while let Some(next) = self.children[at]
            .iter()
            .copied()
            .filter(|&c| self.event(c).source == Source::Human)
            .max_by(|&a, &b| {
                self.event(a)
                    .created_at
                    .0
                    .total_cmp(&self.event(b).created_at.0)
                    .then(a.cmp(&b))
            })
        {
            at = next;
        }
        (self.event(at).decision != Some(Decision::Reject)).then_some(at)
    }

    /// Events of a case that no other event revises (and not on a cycle).
    pub fn heads(&self, events: &[usize]) -> Vec<usize> {
        events
            .iter()
            .copied()
            .filter(|&i| self.children[i].is_empty() && !self.in_cycle[i])
            .collect()
    }

    /// True when an AI pre-annotation was accepted as it is by its reviewer.
    pub fn accepted(&self, i: usize) -> bool {
        let e = self.event(i);
        e.source == Source::AiPreannotation && e.decision == Some(Decision::Accept)
    }

    /// The final labels of a case: the adjudication if there is one, else the consensus,
    /// else every head. Rejected events are never final; an AI pre-annotation among the heads
    /// that no qualified person confirmed is what `labels.provenance` reports.
    pub fn finals(&self, events: &[usize]) -> Vec<usize> {
        let heads: Vec<usize> = self
            .heads(events)
            .into_iter()
            .filter(|&i| self.event(i).decision != Some(Decision::Reject))
            .collect();
        for source in [Source::Adjudication, Source::Consensus] {
            let of: Vec<usize> = heads
                .iter()
                .copied()
                .filter(|&i| self.event(i).source == source)
                .collect();
            if !of.is_empty() {
                return of;
            }
        }
        heads
    }

    /// The answer given by an event.
    pub fn answer(&self, i: usize) -> &'a Answer {
        &self.event(i).answer
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_labels;
    use super::*;

    fn set(rows: &[&str]) -> LabelSet {
        let mut text =
            "event_id,case_id,label,annotator_id,created_at,source,revises,round,reviewed_by,reviewed_at,decision\n"
                .to_string();
        for r in rows {
            text.push_str(r);
            text.push('\n');
        }
        let s = parse_labels(text.as_bytes(), "l.csv", false).unwrap();
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        s
    }

    const T: &str = "2025-01-01T00:00:00Z";

    #[test]
    fn chains_cycles_and_missing_links() {
        let s = set(&[
            &format!("a,c1,x,R1,{T},human,,1,,,"),
            &format!("b,c1,y,R2,{T},human,a,,,,"),
            &format!("c,c1,y,R2,{T},human,zz,,,,"),
            &format!("d,c2,y,R2,{T},human,e,,,,"),
            &format!("e,c2,y,R2,{T},human,d,,,,"),
        ]);
        let g = Graph::new(&s);
        assert_eq!(g.chain(1), vec![1, 0]);
        assert_eq!(
            g.broken,
            vec![
                Broken::Missing {
                    event: 2,
                    target: "zz".into()
                },
                Broken::Cycle { events: vec![3, 4] },
            ]
        );
        assert_eq!(g.heads(&g.cases[&("default", "c1")]), vec![1, 2]);
        assert!(g.heads(&g.cases[&("default", "c2")]).is_empty());
    }

    #[test]
    fn reads_and_finals() {
        let s = set(&[
            &format!("r1,c1,benign,R1,{T},human,,1,,,"),
            "r1b,c1,malignant,R1,2025-02-01T00:00:00Z,human,,2,,,",
            &format!("r2,c1,malignant,R2,{T},human,,1,,,"),
            "adj,c1,malignant,A1,2025-01-02T00:00:00Z,adjudication,,,,,",
            &format!("ai,c2,benign,M1,{T},ai_preannotation,,,R1,2025-01-03T00:00:00Z,accept"),
            &format!("ai2,c3,benign,M1,{T},ai_preannotation,,,R1,2025-01-03T00:00:00Z,edit"),
            "ed,c3,malignant,R1,2025-01-03T00:00:00Z,human,ai2,,,,",
        ]);
        let g = Graph::new(&s);
        let c1 = &g.cases[&("default", "c1")];
        // R1's re-read in round 2 is not a second independent read.
        assert_eq!(g.reads(c1), vec![0, 2]);
        assert_eq!(g.finals(c1), vec![3]);
        assert_eq!(g.finals(&g.cases[&("default", "c2")]), vec![4]);
        assert_eq!(g.finals(&g.cases[&("default", "c3")]), vec![6]);
        assert!(g.reads(&g.cases[&("default", "c3")]).is_empty());
    }
}
