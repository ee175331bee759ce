//! The configuration loader: valid, or a typed error naming the problem, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        match costctl_core::config::Config::from_json(text) {
            Ok(cfg) => {
                for name in cfg.stacks.keys() {
                    assert!(cfg.stack(name).is_ok());
                }
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
});
