//! Trains the demo's nodule classifier and writes its weights and model card.
//!
//! ```text
//! cargo run --release --example train_nodule_cnn [-- OUT_DIR]
//! ```
//!
//! OUT_DIR defaults to `models/nodule-cnn`; it receives `weights.safetensors` (PyTorch layout,
//! burn's names, loads with `ClassifierModel::load(.., &KeyMap::identity())`) and
//! `TRAINING.md`. Training and held-out slices are written by `attest::synth` with their own
//! seeds into a temporary folder and removed afterwards; the demo data (`testdata/demo`) are
//! the evaluation set of the specs and are never read here.

use std::error::Error;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use attest::model::burn::train::{
    self, evaluate, nodule_pipeline, nodule_resnet, Epoch, Evaluation, LabelledImages, TrainConfig,
    FC_INIT_STD,
};
use attest::model::burn::{ClassifierModel, KeyMap};
use attest::stats::proportion::wilson;
use attest::synth::{write_nodule_slices, DEMO_SEED, HELDOUT_SEED, TRAINING_SEED};
use burn::module::Module;

/// Training slices per class.
const TRAIN_PER_CLASS: usize = 256;
/// Held-out slices per class.
const HELDOUT_PER_CLASS: usize = 250;

const _: () = assert!(TRAINING_SEED != DEMO_SEED && HELDOUT_SEED != DEMO_SEED);
const _: () = assert!(TRAINING_SEED != HELDOUT_SEED);

fn config() -> TrainConfig {
    TrainConfig {
        epochs: 8,
        batch_size: 32,
        learning_rate: 1e-3,
        seed: TRAINING_SEED,
    }
}

fn main() -> ExitCode {
    let out = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("models/nodule-cnn"), PathBuf::from);
    match run(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Slices written with `seed` into `dir` and read through the model's pipeline.
fn images(dir: &Path, seed: u64, per_class: usize) -> Result<LabelledImages, Box<dyn Error>> {
    let slices = write_nodule_slices(dir, seed, per_class)?;
    let paths: Vec<PathBuf> = slices.iter().map(|s| s.path.clone()).collect();
    let labels = slices.iter().map(|s| usize::from(s.nodule)).collect();
    Ok(LabelledImages::from_files(
        &paths,
        labels,
        &nodule_pipeline(),
    )?)
}

fn run(out: &Path) -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let scratch = tempfile::tempdir()?;
    let train_set = images(
        &scratch.path().join("train"),
        TRAINING_SEED,
        TRAIN_PER_CLASS,
    )?;
    let data_s = started.elapsed().as_secs_f64();

    let tc = config();
    let t = Instant::now();
    let trained = train::train(&nodule_resnet(), &train_set, &tc)?;
    let train_s = t.elapsed().as_secs_f64();
    for e in &trained.log {
        println!(
            "epoch {:2}: loss {:.4}, training accuracy {:.4}",
            e.epoch, e.loss, e.accuracy
        );
    }

    fs::create_dir_all(out)?;
    let weights = out.join("weights.safetensors");
    train::save_weights(&trained.net, &weights)?;

    // Evaluated as the specs run it: the file loaded under the strict policy.
    let t = Instant::now();
    let model = ClassifierModel::load(&nodule_resnet(), &weights, &KeyMap::identity())?;
    let on_train = evaluate(&model, &train_set)?;
    let heldout_set = images(
        &scratch.path().join("heldout"),
        HELDOUT_SEED,
        HELDOUT_PER_CLASS,
    )?;
    let heldout = evaluate(&model, &heldout_set)?;
    let eval_s = t.elapsed().as_secs_f64();
    // The same weights with the moving-average statistics, for the card's note on why they
    // were recomputed.
    let moving = scratch.path().join("moving-average.safetensors");
    train::save_weights(&trained.moving_average_net, &moving)?;
    let moving = ClassifierModel::load(&nodule_resnet(), &moving, &KeyMap::identity())?;
    let moving = evaluate(&moving, &heldout_set)?;
    println!(
        "held-out: accuracy {:.4} ({}/{}), AUC {:.4}",
        heldout.accuracy,
        heldout.correct,
        heldout.positives + heldout.negatives,
        heldout.auc
    );

    let card = Card {
        tc: &tc,
        log: &trained.log,
        params: trained.net.num_params(),
        on_train: &on_train,
        heldout: &heldout,
        moving: &moving,
        sha256: &model.weights().sha256,
        tensors: model.weights().tensors,
        bytes: fs::metadata(&weights)?.len(),
        times: [data_s, train_s, eval_s, started.elapsed().as_secs_f64()],
    };
    fs::write(out.join("TRAINING.md"), card.markdown())?;
    println!("sha256 {}", model.weights().sha256);
    println!("wrote {} and TRAINING.md", weights.display());
    Ok(())
}

/// What the model card reports.
struct Card<'a> {
    tc: &'a TrainConfig,
    log: &'a [Epoch],
    params: usize,
    on_train: &'a Evaluation,
    heldout: &'a Evaluation,
    /// The held-out figures with batch norm's moving averages instead of recomputed statistics.
    moving: &'a Evaluation,
    sha256: &'a str,
    tensors: usize,
    bytes: u64,
    /// Seconds: data, training, evaluation, total.
    times: [f64; 4],
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

impl Card<'_> {
    fn markdown(&self) -> String {
        let r = nodule_resnet();
        let p = nodule_pipeline();
        let h = self.heldout;
        let n = (h.positives + h.negatives) as u64;
        let ci = wilson(h.correct as u64, n, 0.95).expect("held-out images exist");
        let mut s = String::new();
        let _ = write!(
            s,
            "# nodule-cnn: a tiny ResNet that finds the demo's synthetic nodules\n\n\
             Written by `cargo run --release --example train_nodule_cnn`; do not edit. A \
             demonstration model for attest's in-process burn models: it was trained on \
             synthetic 16 x 16 chest-CT slices from attest's own generator and has never seen \
             a real image. It is not a medical device and says nothing about real nodules.\n\n\
             ## Weights\n\n\
             - File: `weights.safetensors`, {} bytes, {} float32 tensors, PyTorch layout \
             (`Linear` weights `[out, in]`, batch norm `weight`/`bias`/`running_mean`/\
             `running_var`) under burn's module names (`layerN.0.downsample.conv`/`.bn`), so it \
             loads with `ClassifierModel::load(&config, path, &KeyMap::identity())` under the \
             strict policy.\n\
             - SHA-256: `{}`\n\n\
             ## Architecture\n\n\
             `attest::model::burn::ResNetConfig {{ in_channels: {}, num_classes: {}, width: {}, \
             layers: {:?} }}` (basic blocks, torchvision names; {} values: the parameters and \
             the batch norms' running statistics). Class 1 is \"nodule\"; the score of a slice is its class-1 softmax \
             probability, and a case's score is the maximum over its slices.\n\n\
             ## Preprocessing\n\n\
             `attest::model::pipeline::PipelineConfig`, one image per DICOM file, the same for \
             training and inference:\n\n```json\n{}\n```\n\n\
             Pipeline SHA-256 (as in run manifests): `{}`.\n\n",
            self.bytes,
            self.tensors,
            self.sha256,
            r.in_channels,
            r.num_classes,
            r.width,
            r.layers,
            self.params,
            p.canonical_json(),
            p.sha256(),
        );
        let _ = write!(
            s,
            "## Data\n\n\
             `attest::synth::write_nodule_slices(dir, seed, per_class)`: one slice per series \
             drawn exactly as the demo draws its series (`synth::demo::draw_series`): a site \
             with the demo's case proportions, its equipment, field of view, slice thickness and \
             kVp, a texture seed, and for a nodule slice a Gaussian blob of 220 to 350 HU, \
             sigma 1 to 1.6 pixels, centred within 3 pixels of the image centre. Classes are \
             balanced.\n\n\
             | set | seed | slices | use |\n|---|---|---|---|\n\
             | training | {TRAINING_SEED} | {} | fitting |\n\
             | held-out | {HELDOUT_SEED} | {} | the figures below, nothing else |\n\
             | demo (`testdata/demo`) | {DEMO_SEED} | 400 | the specs' evaluation set; never \
             read by the training example |\n\n",
            2 * TRAIN_PER_CLASS,
            2 * HELDOUT_PER_CLASS,
        );
        let _ = write!(
            s,
            "## Training\n\n\
             `attest::model::burn::train::train` on burn-flex (CPU) with autodiff:\n\n\
             - initialisation from ChaCha8 with seed {} (not burn's global RNG): convolutions \
             Kaiming-normal, fan-out mode for ReLU (torchvision's ResNet), batch norm gamma 1 \
             and beta 0, head N(0, {FC_INIT_STD}^2) with zero bias;\n\
             - Adam (beta1 0.9, beta2 0.999, epsilon 1e-5), learning rate {}, no weight decay, \
             no schedule;\n\
             - mean cross-entropy, mini-batches of {} shuffled each epoch from the same seed \
             (remainder dropped), {} epochs;\n\
             - batch norm in training mode (batch statistics, running statistics with momentum \
             0.1);\n\
             - then the running statistics recomputed for the final weights (PreciseBN: one \
             pass over the training slices in batches of {}, in training mode, no updates, the \
             plain average of the batch means and variances); the saved network uses them. \
             With the moving averages left by training instead, the same weights scored the \
             held-out slices below with accuracy {:.4} and AUC {:.4}: the ranking was there, \
             but the averages lagged behind weights Adam was still moving, shifting every \
             score.\n\n\
             | epoch | steps | loss (nats) | training accuracy |\n|---|---|---|---|\n",
            self.tc.seed,
            self.tc.learning_rate,
            self.tc.batch_size,
            self.tc.epochs,
            self.tc.batch_size,
            self.moving.accuracy,
            self.moving.auc,
        );
        for e in self.log {
            let _ = writeln!(
                s,
                "| {} | {} | {:.4} | {:.4} |",
                e.epoch, e.steps, e.loss, e.accuracy
            );
        }
        let _ = write!(
            s,
            "\nLoss and accuracy are means over each epoch's batches, computed in training \
             mode before each step's update. The saved weights, run as the specs run them, \
             classify {}/{} training slices correctly.\n\n\
             ## Held-out results\n\n\
             {} fresh slices (seed {HELDOUT_SEED}: {} with a nodule, {} without), the weights \
             file loaded with `ClassifierModel::load`, threshold 0.5 on the nodule \
             probability:\n\n\
             - accuracy {:.4} ({}/{}; Wilson 95% interval {:.4} to {:.4})\n\
             - AUC {:.4} (Mann-Whitney)\n\n\
             The task is easy by construction: a nodule adds 220 to 350 HU to lung at about \
             -850 HU, which the lung window maps to +0.15 to +0.23 at the nodule's centre, against a \
             texture of +-0.01. \
             These figures check that training worked; they are not a performance claim.\n\n",
            self.on_train.correct,
            self.on_train.positives + self.on_train.negatives,
            n,
            h.positives,
            h.negatives,
            h.accuracy,
            h.correct,
            n,
            ci.low,
            ci.high,
            h.auc,
        );
        let [data_s, train_s, eval_s, total_s] = self.times;
        let _ = write!(
            s,
            "## Run\n\n\
             - Wall time {total_s:.1} s: data {data_s:.1} s (writing and reading the training \
             slices), training {train_s:.1} s, evaluation {eval_s:.1} s.\n\
             - CPU: {}; rayon threads: {}; attest {}, burn 0.22.1 (flex backend).\n\n\
             ## Rerunning and reproducibility\n\n\
             `cargo run --release --example train_nodule_cnn` rewrites this folder. The data, \
             the initial values and the batch order all derive from the seeds above (ChaCha8, \
             never burn's global RNG), and on one machine a rerun gives the same weights bit \
             for bit, with any thread count (`tests/train_demo.rs` checks a short run twice, \
             and on one against two threads). Across machines that is not \
             promised: gemm chooses its kernels and block sizes from the CPU (SIMD level, cache \
             sizes), so float summation order, and with it the last bits of every step, can \
             differ, and a rerun elsewhere may give a file with another hash and slightly \
             different scores. The committed file is therefore the reference: its SHA-256 above \
             is what every attest report of this model names.\n",
            cpu_model(),
            rayon::current_num_threads(),
            env!("CARGO_PKG_VERSION"),
        );
        s
    }
}
