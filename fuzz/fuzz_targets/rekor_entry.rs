#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| signet_tlog::fuzzing::fuzz_entry(data));
