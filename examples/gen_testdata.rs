//! Writes the project's synthetic test data (no patient data anywhere) with `attest::synth`.
//!
//! ```text
//! cargo run --release --example gen_testdata -- demo testdata/demo [--seed N]
//! cargo run --release --example gen_testdata -- bulk DIR --count 20000 [--seed N]
//! cargo run --release --example gen_testdata -- conformance DIR
//! cargo run --release --example gen_testdata -- detection testdata/detection [--seed N]
//! cargo run --release --example gen_testdata -- segmentation testdata/segmentation [--seed N]
//! cargo run --release --example gen_testdata -- pipeline tests/fixtures/pipeline
//! ```
//!
//! `demo` writes the demo dataset (replacing a previous demo output in DIR); `bulk` writes COUNT
//! conforming CT instances with full-size headers into an empty DIR, for benchmarks
//! (`bench/index/`). The seed defaults to 20261126; the same seed writes the same bytes.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use attest::synth::{
    write_bulk, write_conformance_fixtures, write_demo, write_detection, write_pipeline_fixtures,
    write_segmentation, DEMO_SEED,
};

const USAGE: &str = "usage: gen_testdata demo DIR [--seed N]\n       \
                     gen_testdata bulk DIR --count N [--seed N] [--deidentified]\n       \
                     gen_testdata conformance DIR\n       \
                     gen_testdata detection DIR [--seed N]\n       \
                     gen_testdata segmentation DIR [--seed N]\n       \
                     gen_testdata pipeline DIR";

enum Command {
    Demo {
        dir: PathBuf,
        seed: u64,
    },
    Bulk {
        dir: PathBuf,
        count: usize,
        seed: u64,
        deidentified: bool,
    },
    Detection {
        dir: PathBuf,
        seed: u64,
    },
    Segmentation {
        dir: PathBuf,
        seed: u64,
    },
    Conformance {
        dir: PathBuf,
    },
    Pipeline {
        dir: PathBuf,
    },
}

fn parse(args: &[String]) -> Result<Command, String> {
    let mut positional = Vec::new();
    let mut seed = DEMO_SEED;
    let mut count = None;
    let mut deidentified = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| format!("{name} needs a value"))
                .cloned()
        };
        match arg.as_str() {
            "--seed" => {
                let v = value("--seed")?;
                seed = v.parse().map_err(|_| format!("--seed {v}: not a number"))?;
            }
            "--deidentified" => deidentified = true,
            "--count" => {
                let v = value("--count")?;
                count = Some(
                    v.parse()
                        .map_err(|_| format!("--count {v}: not a number"))?,
                );
            }
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            other => positional.push(other.to_string()),
        }
    }
    match positional.as_slice() {
        [mode, dir] if mode == "demo" => {
            if count.is_some() {
                return Err("--count applies to bulk only".to_string());
            }
            Ok(Command::Demo {
                dir: PathBuf::from(dir),
                seed,
            })
        }
        [mode, dir] if mode == "bulk" => Ok(Command::Bulk {
            dir: PathBuf::from(dir),
            count: count.ok_or("bulk needs --count N")?,
            seed,
            deidentified,
        }),
        [mode, dir] if mode == "detection" => Ok(Command::Detection {
            dir: PathBuf::from(dir),
            seed,
        }),
        [mode, dir] if mode == "segmentation" => Ok(Command::Segmentation {
            dir: PathBuf::from(dir),
            seed,
        }),
        [mode, dir] if mode == "conformance" => Ok(Command::Conformance {
            dir: PathBuf::from(dir),
        }),
        [mode, dir] if mode == "pipeline" => Ok(Command::Pipeline {
            dir: PathBuf::from(dir),
        }),
        _ => Err(
            "expected a mode (demo, bulk, conformance, detection, segmentation or pipeline) and a \
             folder"
                .to_string(),
        ),
    }
}

fn run(command: Command) -> Result<(), Box<dyn Error>> {
    match command {
        Command::Demo { dir, seed } => {
            let summary = write_demo(&dir, seed)?;
            print!("wrote {}: {summary}", dir.display());
        }
        Command::Detection { dir, seed } => {
            let s = write_detection(&dir, seed)?;
            println!(
                "wrote {}: {} scans, {} nodules, {} candidates (seed {seed})",
                dir.display(),
                s.scans,
                s.nodules,
                s.candidates
            );
        }
        Command::Segmentation { dir, seed } => {
            let s = write_segmentation(&dir, seed)?;
            println!(
                "wrote {}: {} cases ({} with a lesion), {} bytes (seed {seed})",
                dir.display(),
                s.cases,
                s.lesions,
                s.bytes
            );
        }
        Command::Pipeline { dir } => {
            for p in write_pipeline_fixtures(&dir)? {
                println!("{}", dir.join(p).display());
            }
        }
        Command::Conformance { dir } => {
            for p in write_conformance_fixtures(&dir)? {
                println!("{}: {}", p.file, p.description);
            }
        }
        Command::Bulk {
            dir,
            count,
            seed,
            deidentified,
        } => {
            let summary = write_bulk(&dir, count, seed, deidentified)?;
            println!(
                "wrote {}: {} files in {} series of {} studies, {} bytes (seed {seed})",
                dir.display(),
                summary.files,
                summary.series,
                summary.studies,
                summary.bytes
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse(&args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The cause chain, once: "cannot write X: Permission denied".
            let mut message = e.to_string();
            let mut source = e.source();
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}
