#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| signet_crypto::fuzzing::fuzz_cosign_key(data));
