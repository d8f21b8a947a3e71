#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| signet_formats::fuzzing::fuzz_dsse(data));
