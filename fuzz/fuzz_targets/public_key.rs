#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| signet_crypto::fuzzing::fuzz_public_key_pem(data));
