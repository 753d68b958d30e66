//! The label-set summary the report's provenance section shows: per annotator (pseudonymous
//! id, registry role, what they did, their AI acceptance rate, their agreement with the other
//! readers) and the chain-of-custody counts. Plain data: computed by
//! `checks::labels_common::summary`, rendered by the report.

use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LabelsSummary {
    pub events: u64,
    /// Rows set aside while reading.
    pub rows_set_aside: u64,
    pub tasks: Vec<String>,
    pub cases: u64,
    /// Links that do not hold: `revises` to a missing event or another case, and cycles.
    pub broken_links: u64,
    pub ai_preannotations: u64,
    pub ai_unreviewed: u64,
    pub annotators: Vec<AnnotatorSummary>,
    /// How agreement with others is computed, shown beside the table.
    pub agreement_method: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct AnnotatorSummary {
    /// The pseudonymous identifier used in the label set (never a name).
    pub id: String,
    /// Registry role, or `(not registered)`.
    pub role: String,
    pub years_experience: Option<f64>,
    /// Independent reads (people's events revising nothing).
    pub reads: u64,
    /// Events revising another event.
    pub edits: u64,
    /// Adjudication and consensus events.
    pub adjudications: u64,
    /// Reviews of people's labels (quality control).
    pub qc_reviews: u64,
    /// AI pre-annotations reviewed, and accepted as they were.
    pub ai_reviews: u64,
    pub ai_accepted: u64,
    pub ai_acceptance_rate: Option<f64>,
    /// Events made as a model (AI pre-annotations).
    pub preannotations: u64,
    /// Mean unweighted Cohen's kappa with the other readers over the class and grade tasks, and
    /// the number of reader pairs it averages.
    pub agreement: Option<f64>,
    pub agreement_pairs: u64,
}
