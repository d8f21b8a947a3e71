//! The scrypt key derivation function (RFC 7914), tuned for unlocking cosign keys.
//!
//! cosign derives the key that seals its private key files with
//! `scrypt(password, salt, N=65536, r=8, p=1, 32)`, so unlocking a key is
//! dominated by this function. On the reference machine (2-core VM) the
//! `scrypt` crate 0.12 takes about 220 ms for N=65536, this implementation
//! about 130 ms, and Go about 150 ms (`cargo bench -p signet-crypto --bench keys`).
//! It is written without `unsafe`. Two things make it fast:
//!
//! - **A register-friendly Salsa20/8 core.** The 64-byte blocks are kept as
//!   `[u32; 16]` aligned to a cache line, BlockMix is fused with the XOR of
//!   ROMix's second loop, and the core is written so that its four independent
//!   quarter-round chains run in parallel on the integer units. With `p = 1`
//!   every Salsa20/8 call depends on the previous one, so SIMD across lanes of
//!   one block (which needs three instructions per rotate on SSE2) measured
//!   slower than this scalar form.
//! - **Page faults moved off the critical path.** The 64 MiB work area is
//!   allocated in 1 MiB segments by a helper thread that touches every page
//!   before handing the segment over, so the first ROMix loop does not stall
//!   on about 16 000 page faults (about 30 ms in a VM). If the thread cannot
//!   be started, the segments are allocated inline.
//!
//! The work area is zeroed before it is freed, on a background thread: its
//! first blocks are a cheap function of the password and would otherwise allow
//! fast password guessing.

use std::sync::mpsc;

use aws_lc_rs::hmac;
use zeroize::Zeroize;

use crate::KeyError;

/// The largest work area (`128·r·N` bytes) and the largest `B` (`128·r·p` bytes) that
/// [`scrypt`] agrees to allocate: 1 GiB each.
pub const MAX_MEMORY_BYTES: u64 = 1 << 30;

/// Validated scrypt cost parameters: `N = 2^log_n`, block size `r` and parallelism `p`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScryptParams {
    log_n: u8,
    r: u32,
    p: u32,
}

impl ScryptParams {
    /// The parameters cosign v2.2+ writes: `N=65536 (2^16), r=8, p=1`.
    pub const COSIGN: Self = Self {
        log_n: 16,
        r: 8,
        p: 1,
    };

    /// The parameters of cosign ≤ v2.1 (go-tuf): `N=32768 (2^15), r=8, p=1`.
    pub const COSIGN_LEGACY: Self = Self {
        log_n: 15,
        r: 8,
        p: 1,
    };

    /// Checks the parameters against RFC 7914 §2 and against [`MAX_MEMORY_BYTES`].
    ///
    /// # Errors
    /// [`KeyError::InvalidScryptParams`] when `log_n` is 0 or ≥ 64, `r` or `p` is 0,
    /// `r·p ≥ 2^30`, `N ≥ 2^(128·r/8)`, or `128·r·N` or `128·r·p` exceeds
    /// [`MAX_MEMORY_BYTES`].
    pub fn new(log_n: u8, r: u32, p: u32) -> Result<Self, KeyError> {
        let invalid = KeyError::InvalidScryptParams { log_n, r, p };
        if log_n == 0 || log_n >= 64 || r == 0 || p == 0 {
            return Err(invalid);
        }
        if u64::from(r) * u64::from(p) >= 1 << 30 {
            return Err(invalid);
        }
        // RFC 7914: N must be less than 2^(128 * r / 8).
        if u64::from(log_n) >= 16 * u64::from(r) {
            return Err(invalid);
        }
        // Both the work area V (128·r·N bytes) and B (128·r·p bytes) must fit.
        let block_bytes = 128 * u64::from(r);
        let v_bytes = block_bytes.checked_mul(1u64 << log_n);
        let b_bytes = block_bytes * u64::from(p);
        if v_bytes.is_none_or(|v| v > MAX_MEMORY_BYTES) || b_bytes > MAX_MEMORY_BYTES {
            return Err(invalid);
        }
        Ok(Self { log_n, r, p })
    }

    /// `log2(N)`.
    pub fn log_n(&self) -> u8 {
        self.log_n
    }

    /// The CPU/memory cost `N`.
    pub fn n(&self) -> u64 {
        1u64 << self.log_n
    }

    /// The block size `r`.
    pub fn r(&self) -> u32 {
        self.r
    }

    /// The parallelism `p`.
    pub fn p(&self) -> u32 {
        self.p
    }
}

/// Derives `output.len()` bytes from `password` and `salt` with scrypt.
///
/// # Errors
/// [`KeyError::OutOfMemory`] when the `128·r·N`-byte work area cannot be allocated.
pub fn scrypt(
    password: &[u8],
    salt: &[u8],
    params: &ScryptParams,
    output: &mut [u8],
) -> Result<(), KeyError> {
    let b_len = 128 * params.r as usize * params.p as usize;
    let mut b = zeroize::Zeroizing::new(Vec::new());
    b.try_reserve_exact(b_len)
        .map_err(|_| KeyError::OutOfMemory {
            bytes: b_len as u64,
        })?;
    b.resize(b_len, 0);

    // B = PBKDF2-HMAC-SHA256(P, S, 1, p * 128 * r)
    pbkdf2_hmac_sha256_once(password, salt, &mut b);

    ro_mix_all(&mut b, params)?;

    // DK = PBKDF2-HMAC-SHA256(P, B, 1, dkLen)
    pbkdf2_hmac_sha256_once(password, &b, output);
    Ok(())
}

/// PBKDF2-HMAC-SHA256 with one iteration: `T_i = HMAC(P, S || INT(i))`.
fn pbkdf2_hmac_sha256_once(password: &[u8], salt: &[u8], output: &mut [u8]) {
    let key = hmac::Key::new(hmac::HMAC_SHA256, password);
    for (i, out) in output.chunks_mut(32).enumerate() {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(salt);
        // The block index is 1-based and big-endian. `output` is at most
        // 128·r·p < 2^37 bytes, so the index fits in 32 bits.
        ctx.update(&((i as u32).wrapping_add(1)).to_be_bytes());
        let tag = ctx.sign();
        let tag = tag.as_ref();
        out.copy_from_slice(&tag[..out.len()]);
    }
}

/// Target size of one work-area segment.
const SEGMENT_BYTES: usize = 1 << 20;
/// Below this many segments the helper thread is not worth starting.
const MIN_SEGMENTS_FOR_HELPER: usize = 4;

/// The shape of the `N`-chunk work area `V`, split into equal power-of-two segments.
#[derive(Clone, Copy)]
struct Layout {
    /// Blocks per chunk (`2r`).
    chunk_blocks: usize,
    /// log2 of chunks per segment.
    segment_shift: u32,
    /// Number of segments.
    segments: usize,
}

impl Layout {
    fn new(params: &ScryptParams) -> Self {
        let chunk_blocks = 2 * params.r as usize;
        let chunk_bytes = 64 * chunk_blocks;
        let wanted = (SEGMENT_BYTES / chunk_bytes).max(1);
        // Largest power of two not above `wanted`, and not above N.
        let shift = (usize::BITS - 1 - wanted.leading_zeros()).min(u32::from(params.log_n));
        Layout {
            chunk_blocks,
            segment_shift: shift,
            segments: 1 << (u32::from(params.log_n) - shift),
        }
    }

    fn segment_len(&self) -> usize {
        self.chunk_blocks << self.segment_shift
    }

    fn total_bytes(&self) -> u64 {
        (self.segment_len() as u64) * 64 * self.segments as u64
    }
}

/// Blocks per 4 KiB page.
const PAGE_BLOCKS: usize = 4096 / 64;

/// One segment of the work area, page-aligned so that no chunk straddles two
/// pages (each straddling chunk costs a second TLB miss in ROMix's second loop).
struct Segment {
    storage: Vec<Block>,
    start: usize,
    len: usize,
}

impl Segment {
    /// Allocates a segment of `len` blocks and writes every page of it, so that
    /// the page faults happen here (on the helper thread) rather than in ROMix.
    fn allocate(len: usize) -> Option<Self> {
        let capacity = len + PAGE_BLOCKS - 1;
        let mut storage = Vec::new();
        storage.try_reserve_exact(capacity).ok()?;
        // A non-zero fill keeps the allocator from turning this into a lazily
        // zeroed (untouched) allocation.
        storage.resize(capacity, Block::FILL);
        let misalignment = (storage.as_ptr().addr() / 64) % PAGE_BLOCKS;
        let start = (PAGE_BLOCKS - misalignment) % PAGE_BLOCKS;
        Some(Segment {
            storage,
            start,
            len,
        })
    }

    fn blocks(&self) -> &[Block] {
        &self.storage[self.start..self.start + self.len]
    }

    fn blocks_mut(&mut self) -> &mut [Block] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

/// The work area `V`. Dropping it zeroes it.
struct WorkArea(Vec<Segment>);

impl WorkArea {
    /// Zeroes and frees the work area on a background thread (about 15 ms for
    /// 64 MiB that the caller need not wait for), or here if no thread can be
    /// started.
    fn release(self) {
        if self.0.len() >= MIN_SEGMENTS_FOR_HELPER {
            // If spawning fails, the closure and with it `self` are dropped here.
            let _ = std::thread::Builder::new()
                .name("scrypt-cleanup".into())
                .spawn(move || drop(self));
        }
    }
}

impl Drop for WorkArea {
    fn drop(&mut self) {
        for segment in &mut self.0 {
            for block in segment.storage.iter_mut() {
                block.zeroize();
            }
        }
    }
}

/// Runs ROMix on each of the `p` chunks of `b`, with one shared work area.
fn ro_mix_all(b: &mut [u8], params: &ScryptParams) -> Result<(), KeyError> {
    let layout = Layout::new(params);
    let out_of_memory = KeyError::OutOfMemory {
        bytes: layout.total_bytes(),
    };
    let mut x = vec![Block::ZERO; layout.chunk_blocks];
    let mut y = vec![Block::ZERO; layout.chunk_blocks];
    let mut v = WorkArea(Vec::new());
    v.0.try_reserve_exact(layout.segments)
        .map_err(|_| out_of_memory.clone())?;

    let result = std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::channel::<Option<Segment>>();
        let helper = if layout.segments >= MIN_SEGMENTS_FOR_HELPER {
            let len = layout.segment_len();
            let count = layout.segments;
            std::thread::Builder::new()
                .name("scrypt-prefault".into())
                .spawn_scoped(scope, move || {
                    for _ in 0..count {
                        let segment = Segment::allocate(len);
                        let failed = segment.is_none();
                        if sender.send(segment).is_err() || failed {
                            return;
                        }
                    }
                })
                .is_ok()
        } else {
            false
        };
        let next_segment = || {
            if helper {
                receiver.recv().ok().flatten()
            } else {
                Segment::allocate(layout.segment_len())
            }
        };

        for (index, chunk) in b.chunks_exact_mut(64 * layout.chunk_blocks).enumerate() {
            for (block, bytes) in x.iter_mut().zip(chunk.chunks_exact(64)) {
                *block = Block::from_le_bytes(bytes);
            }
            if index == 0 {
                // The first chunk fills V segment by segment as they arrive.
                for _ in 0..layout.segments {
                    let mut segment = next_segment().ok_or_else(|| out_of_memory.clone())?;
                    fill_segment(segment.blocks_mut(), &mut x, layout.chunk_blocks);
                    v.0.push(segment);
                }
            } else {
                for segment in &mut v.0 {
                    fill_segment(segment.blocks_mut(), &mut x, layout.chunk_blocks);
                }
            }
            mix_with_work_area(&mut x, &mut y, &v.0, layout);
            for (block, bytes) in x.iter().zip(chunk.chunks_exact_mut(64)) {
                block.write_le_bytes(bytes);
            }
        }
        Ok(())
    });

    for block in x.iter_mut().chain(y.iter_mut()) {
        block.zeroize();
    }
    v.release();
    result
}

/// ROMix's first loop over one segment: `V[i] = X; X = BlockMix(X)`.
fn fill_segment(segment: &mut [Block], x: &mut [Block], chunk_blocks: usize) {
    for slot in segment.chunks_exact_mut(chunk_blocks) {
        slot.copy_from_slice(x);
        block_mix(slot, x);
    }
}

/// ROMix's second loop: `N` times, `X = BlockMix(X XOR V[Integerify(X) mod N])`.
fn mix_with_work_area(x: &mut Vec<Block>, y: &mut Vec<Block>, v: &[Segment], layout: Layout) {
    let chunks_per_segment = 1usize << layout.segment_shift;
    let n = chunks_per_segment * layout.segments;
    let mask = n - 1;
    let in_segment = chunks_per_segment - 1;
    let cb = layout.chunk_blocks;
    for _ in 0..n {
        let j = x[cb - 1].integerify() as usize & mask;
        let segment = v[j >> layout.segment_shift].blocks();
        let start = (j & in_segment) * cb;
        block_mix_xor(x, &segment[start..start + cb], y);
        core::mem::swap(x, y);
    }
}

/// scryptBlockMix: `output = BlockMix(input)`, both 2r blocks.
fn block_mix(input: &[Block], output: &mut [Block]) {
    let r = input.len() / 2;
    let mut t = input[input.len() - 1];
    for (i, block) in input.iter().enumerate() {
        t.xor_assign(block);
        t.salsa20_8();
        output[(i / 2) + (i % 2) * r] = t;
    }
}

/// `output = BlockMix(a XOR b)`, all 2r blocks, without materialising `a XOR b`.
fn block_mix_xor(a: &[Block], b: &[Block], output: &mut [Block]) {
    // `b` is a random chunk of the 64 MiB work area, almost certainly not in
    // cache. Reading one word of every block up front issues all its cache-line
    // misses at once, instead of one after another as the Salsa20/8 chain
    // reaches each block.
    let mut touch = 0u32;
    for block in b {
        touch ^= block.0[0];
    }
    core::hint::black_box(touch);
    let r = a.len() / 2;
    let last = a.len() - 1;
    let mut t = a[last];
    t.xor_assign(&b[last]);
    for (i, (ab, bb)) in a.iter().zip(b).enumerate() {
        t.xor_assign(ab);
        t.xor_assign(bb);
        t.salsa20_8();
        output[(i / 2) + (i % 2) * r] = t;
    }
}

/// One 64-byte Salsa20 block as sixteen little-endian words, on its own cache line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(align(64))]
struct Block([u32; 16]);

impl Block {
    const ZERO: Self = Block([0; 16]);
    const FILL: Self = Block([u32::MAX; 16]);

    fn from_le_bytes(bytes: &[u8]) -> Self {
        let mut out = Self::ZERO;
        for (word, b) in out.0.iter_mut().zip(bytes.chunks_exact(4)) {
            *word = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
        out
    }

    fn write_le_bytes(&self, bytes: &mut [u8]) {
        for (word, b) in self.0.iter().zip(bytes.chunks_exact_mut(4)) {
            b.copy_from_slice(&word.to_le_bytes());
        }
    }

    /// Word 0 of the block: the low 32 bits of RFC 7914's Integerify (enough for N ≤ 2^32).
    #[inline(always)]
    fn integerify(&self) -> u32 {
        self.0[0]
    }

    #[inline(always)]
    fn xor_assign(&mut self, o: &Self) {
        for (a, b) in self.0.iter_mut().zip(o.0.iter()) {
            *a ^= b;
        }
    }

    /// `self = self + Salsa20/8 rounds(self)` (the Salsa20/8 core of RFC 7914 §3).
    ///
    /// Named locals instead of array indexing keep unoptimised (test) builds
    /// fast too; optimised code is the same either way.
    #[inline(always)]
    fn salsa20_8(&mut self) {
        let [
            mut x0,
            mut x1,
            mut x2,
            mut x3,
            mut x4,
            mut x5,
            mut x6,
            mut x7,
            mut x8,
            mut x9,
            mut x10,
            mut x11,
            mut x12,
            mut x13,
            mut x14,
            mut x15,
        ] = self.0;
        macro_rules! quarter {
            ($a:ident, $b:ident, $c:ident, $d:ident) => {
                $b ^= $a.wrapping_add($d).rotate_left(7);
                $c ^= $b.wrapping_add($a).rotate_left(9);
                $d ^= $c.wrapping_add($b).rotate_left(13);
                $a ^= $d.wrapping_add($c).rotate_left(18);
            };
        }
        for _ in 0..4 {
            // Columns.
            quarter!(x0, x4, x8, x12);
            quarter!(x5, x9, x13, x1);
            quarter!(x10, x14, x2, x6);
            quarter!(x15, x3, x7, x11);
            // Rows.
            quarter!(x0, x1, x2, x3);
            quarter!(x5, x6, x7, x4);
            quarter!(x10, x11, x8, x9);
            quarter!(x15, x12, x13, x14);
        }
        let mixed = [
            x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15,
        ];
        for (word, mixed) in self.0.iter_mut().zip(mixed) {
            *word = word.wrapping_add(mixed);
        }
    }
}

impl Zeroize for Block {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_segments() {
        let layout = Layout::new(&ScryptParams::COSIGN);
        assert_eq!(layout.chunk_blocks, 16);
        assert_eq!(layout.segment_len() * 64, 1 << 20);
        assert_eq!(layout.segments, 64);
        assert_eq!(layout.total_bytes(), 64 << 20);
        let tiny = Layout::new(&ScryptParams::new(4, 1, 1).expect("params"));
        assert_eq!((tiny.segment_shift, tiny.segments), (4, 1));
        let wide = Layout::new(&ScryptParams::new(10, 8192, 1).expect("params"));
        assert_eq!((wide.segment_shift, wide.segments), (0, 1024));
    }

    fn run(password: &[u8], salt: &[u8], log_n: u8, r: u32, p: u32, len: usize) -> Vec<u8> {
        let params = ScryptParams::new(log_n, r, p).expect("valid params");
        let mut out = vec![0u8; len];
        scrypt(password, salt, &params, &mut out).expect("scrypt");
        out
    }

    /// RFC 7914 §12 test vectors.
    #[test]
    fn rfc7914_vectors() {
        let v1 = hex::decode(
            "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442\
             fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906",
        )
        .expect("hex");
        assert_eq!(run(b"", b"", 4, 1, 1, 64), v1);

        let v2 = hex::decode(
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162\
             2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640",
        )
        .expect("hex");
        assert_eq!(run(b"password", b"NaCl", 10, 8, 16, 64), v2);

        let v3 = hex::decode(
            "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2\
             d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887",
        )
        .expect("hex");
        assert_eq!(run(b"pleaseletmein", b"SodiumChloride", 14, 8, 1, 64), v3);
    }

    /// RFC 7914 §12, fourth vector (N = 2^20 needs 1 GiB; release builds only).
    #[test]
    #[cfg_attr(debug_assertions, ignore = "1 GiB and slow in debug builds")]
    fn rfc7914_vector_n_2_20() {
        let v4 = hex::decode(
            "2101cb9b6a511aaeaddbbe09cf70f881ec568d574a2ffd4dabe5ee9820adaa47\
             8e56fd8f4ba5d09ffa1c6d927c40f4c337304049e8a952fbcbf45c6fa77a41a4",
        )
        .expect("hex");
        assert_eq!(run(b"pleaseletmein", b"SodiumChloride", 20, 8, 1, 64), v4);
    }

    /// RFC 7914 §8 Salsa20/8 core test vector.
    #[test]
    fn salsa20_8_core_vector() {
        let input = hex::decode(
            "7e879a214f3ec9867ca940e641718f26baee555b8c61c1b50df846116dcd3b1d\
             ee24f319df9b3d8514121e4b5ac5aa3276021d2909c74829edebc68db8b8c25e",
        )
        .expect("hex");
        let expected = hex::decode(
            "a41f859c6608cc993b81cacb020cef05044b2181a2fd337dfd7b1c6396682f29\
             b4393168e3c9e6bcfe6bc5b7a06d96bae424cc102c91745c24ad673dc7618f81",
        )
        .expect("hex");
        let mut block = Block::from_le_bytes(&input);
        // salsa20_8 adds the input back, as the core function does.
        block.salsa20_8();
        let mut out = [0u8; 64];
        block.write_le_bytes(&mut out);
        assert_eq!(out.to_vec(), expected);
    }

    #[test]
    fn layout_round_trips() {
        let bytes: Vec<u8> = (0..64u8).collect();
        let mut out = [0u8; 64];
        Block::from_le_bytes(&bytes).write_le_bytes(&mut out);
        assert_eq!(out.to_vec(), bytes);
    }

    #[test]
    fn params_validation() {
        // Every refusal is the one error that names the parameters.
        let refused = |log_n: u8, r: u32, p: u32| {
            assert_eq!(
                ScryptParams::new(log_n, r, p),
                Err(KeyError::InvalidScryptParams { log_n, r, p }),
                "log_n={log_n} r={r} p={p}"
            );
        };
        refused(0, 8, 1);
        refused(16, 0, 1);
        refused(16, 8, 0);
        refused(64, 8, 1);
        // r=1 allows N < 2^16 only.
        refused(16, 1, 1);
        assert!(ScryptParams::new(15, 1, 1).is_ok());
        // 128 * 8 * 2^21 = 2 GiB > MAX_MEMORY_BYTES.
        refused(21, 8, 1);
        assert_eq!(ScryptParams::new(16, 8, 1), Ok(ScryptParams::COSIGN));
        // 128·r·p = 128 GiB for B.
        refused(10, 8, (1 << 27) - 1);
        assert!(ScryptParams::new(10, 8, 1 << 20).is_ok());
    }

    /// The prefaulting helper thread is used (four or more 1 MiB segments), with p > 1.
    #[test]
    fn helper_path_matches_scrypt_crate() {
        for (log_n, r, p) in [(12u8, 8u32, 3u32), (13, 4, 2)] {
            assert!(Layout::new(&ScryptParams::new(log_n, r, p).expect("params")).segments >= 4);
            let ours = run(b"password", b"salt", log_n, r, p, 48);
            let params = ::scrypt::Params::new(log_n, r, p).expect("params");
            let mut theirs = vec![0u8; 48];
            ::scrypt::scrypt(b"password", b"salt", &params, &mut theirs).expect("scrypt crate");
            assert_eq!(ours, theirs, "log_n={log_n} r={r} p={p}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Our scrypt agrees with the `scrypt` crate on random inputs.
        #[test]
        fn matches_scrypt_crate(
            password in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
            salt in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80),
            log_n in 1u8..9,
            r in 1u32..5,
            p in 1u32..4,
            len in 1usize..100,
        ) {
            let ours = run(&password, &salt, log_n, r, p, len);
            let params = ::scrypt::Params::new(log_n, r, p).expect("params");
            let mut theirs = vec![0u8; len];
            ::scrypt::scrypt(&password, &salt, &params, &mut theirs).expect("scrypt crate");
            proptest::prop_assert_eq!(ours, theirs);
        }
    }
}
