//! The `attest` command: argument parsing, printing and exit codes; nothing else.
//!
//! Exit codes: 0 every requirement passed (or the command succeeded), 1 some requirement
//! failed or was inconclusive (verify: some file changed), 2 the spec, the inputs or the tool
//! failed.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use attest::checks::registry;
use attest::data::dicom_index::{index_folder, IndexOptions};
use attest::data::pseudonym::PseudonymKey;
use attest::report::render::Templates;
use attest::run::{execute, write, RunOptions};
use attest::spec::diag::closest;
use attest::{report, spec};

#[derive(Parser)]
#[command(
    name = "attest",
    version,
    about = "Turns medical-imaging AI requirements into checkable, audit-ready evidence"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a spec: report.json, report.html, report.md and manifest.json in the output folder.
    Run {
        /// The spec (YAML).
        spec: PathBuf,
        /// Output folder [default: attest-out/<spec id>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seed for every random procedure (bootstraps).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Folder with report.html.tera and/or report.md.tera replacing the built-in templates.
        #[arg(long)]
        templates: Option<PathBuf>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Validate specs without running them; report every problem at once.
    Lint {
        #[arg(required = true)]
        specs: Vec<PathBuf>,
    },
    /// Inventory of a DICOM folder: counts by modality, manufacturer and institution.
    Scan {
        dir: PathBuf,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Show the documentation of a check kind (or list them); `labels` documents label sets.
    Explain { check: Option<String> },
    /// Print the JSON Schema of specs, for editor completion.
    Schema {
        /// The JSON Schema of label-set events and of the annotator registry instead.
        #[arg(long)]
        labels: bool,
    },
    /// Print keyed hashes of values that must not appear in a de-identified dataset (one value
    /// per line on standard input), for `deid.audit`'s `forbidden:` file. The values themselves
    /// are never stored.
    Forbid,
    /// Re-hash every input and output named in OUT_DIR/manifest.json and report any change.
    Verify {
        out_dir: PathBuf,
        /// Where the spec's folder is now, if the inputs were moved apart from the report.
        #[arg(long)]
        inputs: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run {
            spec,
            out,
            seed,
            templates,
            quiet,
        } => cmd_run(spec, out, seed, templates, quiet),
        Command::Lint { specs } => cmd_lint(&specs),
        Command::Scan { dir, json } => cmd_scan(dir, json),
        Command::Explain { check } => cmd_explain(check.as_deref()),
        Command::Schema { labels } => {
            let schema = if labels {
                attest::data::labels::json_schema()
            } else {
                spec::json_schema()
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).expect("schema serialises")
            );
            0
        }
        Command::Verify { out_dir, inputs } => cmd_verify(out_dir, inputs),
        Command::Forbid => cmd_forbid(),
    };
    ExitCode::from(code)
}

fn fail(message: impl std::fmt::Display) -> u8 {
    eprintln!("error: {message}");
    2
}

fn key() -> Result<PseudonymKey, u8> {
    PseudonymKey::load().map_err(|e| fail(format!("cannot load or create the pseudonym key: {e}")))
}

fn cmd_run(
    spec_path: PathBuf,
    out: Option<PathBuf>,
    seed: u64,
    templates: Option<PathBuf>,
    quiet: bool,
) -> u8 {
    let spec = match spec::load(&spec_path) {
        Ok(s) => s,
        Err(e) => {
            eprint!("{}", e.render());
            eprintln!(
                "error: {} problem(s) in {}",
                e.diagnostics.len(),
                spec_path.display()
            );
            return 2;
        }
    };
    let templates = match Templates::load(templates.as_deref()) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let key = match key() {
        Ok(k) => k,
        Err(c) => return c,
    };
    let opts = RunOptions {
        seed,
        key,
        progress: !quiet,
    };
    let report = execute(&spec, &opts);
    let out = out.unwrap_or_else(|| PathBuf::from("attest-out").join(&spec.id));
    let written = match write(&report, &spec, &out, &templates) {
        Ok(w) => w,
        Err(e) => return fail(e),
    };
    if !quiet {
        print_summary(&report);
        for p in written {
            println!("wrote {}", p.display());
        }
    }
    report.verdict.exit_code() as u8
}

fn print_summary(r: &report::Report) {
    println!("{} ({} {})", r.spec.title, r.spec.id, r.spec.version);
    for q in &r.requirements {
        let numbers = q
            .measurements
            .first()
            .and_then(|m| {
                let est = m.estimate?;
                Some(match (m.ci_low, m.ci_high) {
                    (Some(l), Some(h)) => {
                        format!("{} {est:.4} [{l:.4}, {h:.4}] n={}", m.metric, m.n)
                    }
                    _ => format!("{} {est:.4} n={}", m.metric, m.n),
                })
            })
            .unwrap_or_default();
        let findings = if q.findings.is_empty() {
            String::new()
        } else {
            format!(" ({} findings)", q.findings.len())
        };
        println!(
            "  {:<13} {:<20} {numbers}{findings}",
            q.status.as_str().to_uppercase(),
            q.id
        );
    }
    println!("verdict: {}", r.verdict.as_str());
}

fn cmd_lint(specs: &[PathBuf]) -> u8 {
    let mut code = 0;
    for p in specs {
        match spec::load(p) {
            Ok(s) => {
                println!(
                    "ok: {} ({} requirements)",
                    p.display(),
                    s.requirements.len()
                );
                for plan in attest::run::plan::plans(&s) {
                    print_plan(&plan);
                }
            }
            Err(e) => {
                eprint!("{}", e.render());
                eprintln!(
                    "error: {} problem(s) in {}",
                    e.diagnostics.len(),
                    p.display()
                );
                code = 2;
            }
        }
    }
    code
}

/// One requirement's sample-size plan, as `attest lint` prints it.
fn print_plan(p: &attest::run::plan::Planned) {
    let q = &p.plan;
    let what = if q.class == "1" {
        "positives"
    } else {
        "negatives"
    };
    print!(
        "  {}: {} goal {} (ci_low >= {}, one-sided alpha {}), expected {}, power {}: ",
        p.requirement,
        q.metric,
        q.goal,
        q.goal,
        (q.alpha * 1e9).round() / 1e9,
        q.expected,
        q.power
    );
    match p.needed {
        None => println!("no sample size up to 1,000,000 {what} reaches that power"),
        Some((n, k)) => {
            println!("needs {n} {what} (at least {k} of them correct)");
            if let Some(e) = &p.error {
                println!("    cannot count the test set: {e}");
            }
            for (group, have) in &p.have {
                let verdict = if *have >= n { "enough" } else { "too few" };
                println!("    {group}: {have} {what}: {verdict}");
            }
        }
    }
}

fn cmd_scan(dir: PathBuf, as_json: bool) -> u8 {
    let key = match key() {
        Ok(k) => k,
        Err(c) => return c,
    };
    let opts = IndexOptions {
        extra: Vec::new(),
        progress: std::io::stderr().is_terminal(),
        pixels: false,
        audits: Vec::new(),
    };
    let index = match index_folder(&dir, &key, &opts) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let inv = attest::data::inventory::Inventory::of(&index);
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&inv).expect("inventory serialises")
        );
    } else {
        print!("{}", inv.to_text());
    }
    0
}

fn cmd_explain(check: Option<&str>) -> u8 {
    match check {
        None => {
            println!("Check kinds (attest explain <kind> for the documentation; `attest explain labels` for the label-set format; `attest explain command`, `attest explain burn` and `attest explain pipeline` for models attest runs):");
            for k in registry::KINDS {
                println!("  {:<21} {}", k.name, k.summary);
            }
            0
        }
        Some("labels") => {
            println!("{}", attest::data::labels::FORMAT_DOC);
            0
        }
        Some("command") => {
            println!("{}", attest::model::command::DOC);
            0
        }
        Some("burn") => {
            println!("{}", attest::model::burn::declared::DOC);
            0
        }
        Some("pipeline") => {
            println!("{}", attest::model::pipeline::DOC);
            0
        }
        Some(name) => match registry::find(name) {
            Some(k) => {
                println!("# {}\n\n{}", k.name, k.doc);
                0
            }
            None => {
                let names = registry::names();
                let hint = closest(name, names.iter().copied())
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_default();
                fail(format!(
                    "unknown check `{name}`{hint} (known: {})",
                    names.join(", ")
                ))
            }
        },
    }
}

fn cmd_forbid() -> u8 {
    let key = match key() {
        Ok(k) => k,
        Err(c) => return c,
    };
    println!(
        "# keyed hashes for deid.audit `forbidden:` (key {})",
        key.fingerprint()
    );
    for line in std::io::stdin().lines() {
        match line {
            Ok(v) if !v.trim().is_empty() => {
                println!("{}", attest::checks::deid_audit::forbidden_hash(&key, &v))
            }
            Ok(_) => {}
            Err(e) => return fail(format!("cannot read standard input: {e}")),
        }
    }
    0
}

fn cmd_verify(out: PathBuf, inputs: Option<PathBuf>) -> u8 {
    match report::manifest::verify(&out, inputs.as_deref()) {
        Err(e) => fail(e),
        Ok(v) => {
            for m in &v.mismatches {
                match (&m.expected, &m.found) {
                    (Some(expected), Some(found)) => println!(
                        "CHANGED {} {}: expected {expected}, found {found}",
                        m.role, m.path
                    ),
                    (Some(_), None) => println!("MISSING {} {}", m.role, m.path),
                    (None, _) => println!("ADDED {} {} (not read by the run)", m.role, m.path),
                }
            }
            println!(
                "{} files checked, {} changed, missing or added",
                v.checked,
                v.mismatches.len()
            );
            u8::from(!v.mismatches.is_empty())
        }
    }
}
