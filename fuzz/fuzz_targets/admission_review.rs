#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| signet_policy::fuzzing::fuzz_review(data));
