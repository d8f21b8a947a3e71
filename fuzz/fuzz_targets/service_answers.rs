#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| signet_sign::fuzzing::fuzz_service_answers(data));
