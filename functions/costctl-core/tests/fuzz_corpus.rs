//! Replays the fuzzing corpus (`fuzz/corpus/<target>/`, minimised with `cargo fuzz cmin`) through
//! the same decoders and checks as the fuzz targets in `fuzz/fuzz_targets/`: no panic, every
//! rejection an error with a message. Runs on stable, in CI, without libFuzzer.

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}

#[test]
fn event_corpus() {
    for (path, data) in corpus("event") {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&data) {
            match costctl_core::event::Request::from_value(&value) {
                Ok(req) => {
                    let _ = (req.request_kind(), req.increases_cost(), req.stack());
                }
                Err(e) => assert!(!e.to_string().is_empty(), "{}", path.display()),
            }
        }
    }
}

#[test]
fn budget_corpus() {
    for (path, data) in corpus("budget") {
        let Some((&flag, rest)) = data.split_first() else {
            continue;
        };
        let Ok(text) = std::str::from_utf8(rest) else {
            continue;
        };
        let (subject, message) = match (flag & 1, text.split_once('\n')) {
            (1, Some((s, m))) => (Some(s), m),
            _ => (None, text),
        };
        match costctl_core::budget::BudgetAlert::parse(subject, message) {
            Ok(alert) => {
                let _ = (alert.threshold_amount(), alert.percent_of_budget());
            }
            Err(e) => assert!(!e.to_string().is_empty(), "{}", path.display()),
        }
    }
}

#[test]
fn config_corpus() {
    for (path, data) in corpus("config") {
        if let Ok(text) = std::str::from_utf8(&data) {
            match costctl_core::config::Config::from_json(text) {
                Ok(cfg) => {
                    for name in cfg.stacks.keys() {
                        assert!(cfg.stack(name).is_ok(), "{}", path.display());
                    }
                }
                Err(e) => assert!(!e.to_string().is_empty(), "{}", path.display()),
            }
        }
    }
}

#[test]
fn spec_corpus() {
    for (path, data) in corpus("spec") {
        if let Ok(text) = std::str::from_utf8(&data) {
            match costctl_core::spec::EphemeralSpec::from_json(text) {
                Ok(spec) => assert!(spec.validate().is_ok(), "{}", path.display()),
                Err(e) => assert!(!e.to_string().is_empty(), "{}", path.display()),
            }
        }
    }
}
