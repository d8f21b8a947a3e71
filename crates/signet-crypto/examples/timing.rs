//! temp
fn main() {
    for _ in 0..8 {
        let t = std::time::Instant::now();
        let mut out = [0u8; 32];
        signet_crypto::scrypt::scrypt(b"pw", &[1u8; 32], &signet_crypto::scrypt::ScryptParams::COSIGN, &mut out).unwrap();
        eprintln!("TOTAL {:?}", t.elapsed());
    }
}
