#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| signet_x509::fuzzing::fuzz_certificate(data));
