//! AWS Budgets notification text: parsed or rejected with a typed error, never a panic. The
//! first line is the SNS subject when the first byte is odd.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flag, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (subject, message) = match (flag & 1, text.split_once('\n')) {
        (1, Some((s, m))) => (Some(s), m),
        _ => (None, text),
    };
    match costctl_core::budget::BudgetAlert::parse(subject, message) {
        Ok(alert) => {
            let _ = (alert.threshold_amount(), alert.percent_of_budget());
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
