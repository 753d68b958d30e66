//! Writes the project's synthetic test data (no patient data anywhere).
//!
//! ```text
//! cargo run --release --example gen_testdata -- demo testdata/demo [--seed N]
//! cargo run --release --example gen_testdata -- bulk DIR --count 20000 [--seed N]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let seed = flag("--seed").unwrap_or(attest::synth::DEMO_SEED);
    let result = match (args.first().map(String::as_str), args.get(1)) {
        (Some("demo"), Some(dir)) => attest::synth::write_demo(&PathBuf::from(dir), seed)
            .map(|s| println!("wrote {dir}: {s:?}")),
        (Some("bulk"), Some(dir)) => {
            let count = flag("--count").unwrap_or(20_000) as usize;
            attest::synth::write_bulk(&PathBuf::from(dir), count, seed)
                .map(|()| println!("wrote {count} files into {dir}"))
        }
        _ => {
            eprintln!("usage: gen_testdata demo DIR [--seed N] | bulk DIR [--count N] [--seed N]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
