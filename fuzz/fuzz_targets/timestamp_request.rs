#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| signet_ca::fuzzing::fuzz_timestamp_request(data));
