//! Lambda payloads: any JSON value decodes to a request or a typed error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        match costctl_core::event::Request::from_value(&value) {
            Ok(req) => {
                let _ = (req.request_kind(), req.increases_cost(), req.stack());
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
});
