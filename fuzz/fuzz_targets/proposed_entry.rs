#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| signet_log::fuzzing::fuzz_proposed_entry(data));
