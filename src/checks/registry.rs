//! The only table of check kinds: name, documentation, parameters and constructor.

use super::{
    classification, dataset_composition, dataset_independence, deid_audit, detection,
    dicom_acquisition, dicom_attributes, dicom_conformance, labels_agreement, labels_ai_assist,
    labels_provenance, labels_qc, labels_qualification, labels_reads, labels_reference,
    model_repeatability, model_robustness, segmentation, Check, Names,
};
use crate::spec::diag::Diagnostic;
use crate::spec::schema::Field;
use crate::spec::yaml::Node;

/// Builds a configured check from a validated requirement node; adds diagnostics for what the
/// parameter table cannot judge, and returns None if any.
pub type Build = fn(&Node, &Names, &mut Vec<Diagnostic>) -> Option<Box<dyn Check>>;

/// A check kind.
pub struct Kind {
    pub name: &'static str,
    pub summary: &'static str,
    /// User documentation (Markdown): What it checks, Why it matters, Parameters, Evidence,
    /// References.
    pub doc: &'static str,
    pub params: &'static [Field],
    pub build: Build,
}

pub const KINDS: &[Kind] = &[
    Kind {
        name: "classification",
        summary: "binary classifier performance (sensitivity, specificity, PPV, NPV, accuracy, AUC) with CIs",
        doc: classification::DOC,
        params: classification::PARAMS,
        build: classification::build,
    },
    Kind {
        name: "dicom.attributes",
        summary: "per-instance constraints on DICOM header attributes",
        doc: dicom_attributes::DOC,
        params: dicom_attributes::PARAMS,
        build: dicom_attributes::build,
    },
    Kind {
        name: "dataset.composition",
        summary: "counts and shares of a dataset's strata (site, modality, manufacturer, sex, age band) with constraints",
        doc: dataset_composition::DOC,
        params: dataset_composition::PARAMS,
        build: dataset_composition::build,
    },
    Kind {
        name: "dicom.acquisition",
        summary: "acquisition envelope (thickness, spacing, kVp, kernel, manufacturer, model) and series geometry",
        doc: dicom_acquisition::DOC,
        params: dicom_acquisition::PARAMS,
        build: dicom_acquisition::build,
    },
    Kind {
        name: "dataset.independence",
        summary: "splits share no patient, study, series, instance, identical or near-identical image, or external site",
        doc: dataset_independence::DOC,
        params: dataset_independence::PARAMS,
        build: dataset_independence::build,
    },
    Kind {
        name: "dicom.conformance",
        summary: "instances against their IOD's mandatory modules (PS3.3) and value representations (PS3.5)",
        doc: dicom_conformance::DOC,
        params: dicom_conformance::PARAMS,
        build: dicom_conformance::build,
    },
    Kind {
        name: "deid.audit",
        summary: "de-identification per PS3.15 Annex E with the declared options, and a residual-PHI scan",
        doc: deid_audit::DOC,
        params: deid_audit::PARAMS,
        build: deid_audit::build,
    },
    Kind {
        name: "labels.provenance",
        summary: "every final label has a complete chain: registered annotators, tools and versions, ordered times, no self-review, AI pre-annotations confirmed",
        doc: labels_provenance::DOC,
        params: labels_provenance::PARAMS,
        build: labels_provenance::build,
    },
    Kind {
        name: "labels.reads",
        summary: "at least k independent reads per case; every disagreement adjudicated by a qualified arbitrator who did not read it",
        doc: labels_reads::DOC,
        params: labels_reads::PARAMS,
        build: labels_reads::build,
    },
    Kind {
        name: "labels.qualification",
        summary: "annotators, arbitrators and quality evaluators meet the role, experience, training and assessment rules",
        doc: labels_qualification::DOC,
        params: labels_qualification::PARAMS,
        build: labels_qualification::build,
    },
    Kind {
        name: "labels.qc",
        summary: "re-review sample rate per annotator and the error rate's upper confidence bound",
        doc: labels_qc::DOC,
        params: labels_qc::PARAMS,
        build: labels_qc::build,
    },
    Kind {
        name: "labels.agreement",
        summary: "inter-reader agreement: Cohen's kappa per reader pair, Fleiss' kappa, Krippendorff's alpha, mask Dice, with CIs",
        doc: labels_agreement::DOC,
        params: labels_agreement::PARAMS,
        build: labels_agreement::build,
    },
    Kind {
        name: "labels.ai_assist",
        summary: "AI pre-annotation acceptance, edit and rejection rates, edit size, rubber-stamping reviewers flagged",
        doc: labels_ai_assist::DOC,
        params: labels_ai_assist::PARAMS,
        build: labels_ai_assist::build,
    },
    Kind {
        name: "labels.reference",
        summary: "the reference standard derived by the declared rule covers the cases; how each was reached",
        doc: labels_reference::DOC,
        params: labels_reference::PARAMS,
        build: labels_reference::build,
    },
    Kind {
        name: "detection",
        summary: "lesion detection the LUNA16 way: FROC, CPM, sensitivity at FP rates or an operating point, patient level, bootstrap CIs",
        doc: detection::DOC,
        params: detection::PARAMS,
        build: detection::build,
    },
    Kind {
        name: "segmentation",
        summary: "segmentation masks against reference masks: Dice, IoU, Hausdorff, HD95, ASSD, NSD (DeepMind surface-distance definitions), bootstrap CI",
        doc: segmentation::DOC,
        params: segmentation::PARAMS,
        build: segmentation::build,
    },
    Kind {
        name: "model.repeatability",
        summary: "a model attest runs gives the same outputs when run again on a seeded sample of cases",
        doc: model_repeatability::DOC,
        params: model_repeatability::PARAMS,
        build: model_repeatability::build,
    },
    Kind {
        name: "model.robustness",
        summary: "a network attest runs keeps its performance under declared perturbations (noise, contrast, JPEG, rotation): paired drop with its interval",
        doc: model_robustness::DOC,
        params: model_robustness::PARAMS,
        build: model_robustness::build,
    },
];

pub fn find(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

pub fn names() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_documents_the_five_sections() {
        for k in KINDS {
            for section in [
                "## What it checks",
                "## Why it matters",
                "## Parameters",
                "## Evidence",
                "## References",
            ] {
                assert!(k.doc.contains(section), "{} lacks {section}", k.name);
            }
            for p in k.params {
                assert!(
                    k.doc.contains(&format!("`{}`", p.name)),
                    "{} does not document parameter `{}`",
                    k.name,
                    p.name
                );
            }
        }
    }
}
