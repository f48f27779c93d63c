//! How an operation is timed, shared by the criterion bench and the harness: the operation is
//! split into an untimed `prepare`, a timed `run` of up to `max_chunk` calls, and an untimed
//! `restore` that puts the engine back as it was, so a booking bench times booking alone while
//! the pool stays at its fill level.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One measured operation over some state.
pub(crate) trait Op {
    /// Most calls one timed chunk may make before `restore` must run (a pool at 99% fill has
    /// few free addresses).
    fn max_chunk(&self) -> usize {
        1000
    }

    /// Untimed: readies the next `n` calls (for instance, books the IPs a release will free).
    fn prepare(&mut self, _n: usize) {}

    /// Timed: makes `n` calls of the operation.
    fn run(&mut self, n: usize);

    /// Untimed: undoes what `run` changed (for instance, releases what a booking took).
    fn restore(&mut self, _n: usize) {}
}

/// The cost of reading the clock twice, subtracted from every timed chunk so that chunks of one
/// or two calls (a /24 at 99% fill has three free addresses) are not inflated by the timer.
pub(crate) fn timer_overhead() -> Duration {
    static OVERHEAD: OnceLock<Duration> = OnceLock::new();
    *OVERHEAD.get_or_init(|| {
        let mut samples: Vec<Duration> = (0..10_001)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(&t);
                t.elapsed()
            })
            .collect();
        samples.sort_unstable();
        samples[samples.len() / 2]
    })
}

/// Makes `calls` calls of `op`, in timed chunks; returns the time spent in the timed parts, less
/// the timer's own cost.
pub(crate) fn drive(op: &mut dyn Op, calls: u64) -> Duration {
    drive_chunks(op, calls, usize::MAX, |_, _| {})
}

/// [`drive`], with chunks of at most `chunk` calls, reporting each chunk's call count and time.
pub(crate) fn drive_chunks(
    op: &mut dyn Op,
    calls: u64,
    chunk: usize,
    mut each: impl FnMut(usize, Duration),
) -> Duration {
    let overhead = timer_overhead();
    let chunk = op.max_chunk().min(chunk).max(1) as u64;
    let mut left = calls;
    let mut timed = Duration::ZERO;
    while left > 0 {
        let n = left.min(chunk) as usize;
        op.prepare(n);
        let start = Instant::now();
        op.run(n);
        let elapsed = start.elapsed().saturating_sub(overhead);
        op.restore(n);
        each(n, elapsed);
        timed += elapsed;
        left -= n as u64;
    }
    timed
}

/// Visits the indices `0..len` in a scattered order that repeats only after all `len` have
/// come: a fixed pseudo-random permutation (cycle-walking a bijection of `0..2^k`), so that
/// successive calls touch unrelated records, as real traffic does.
///
/// Not a constant stride: the processor's prefetchers learn a constant stride and load the
/// next record before it is asked for, which flatters a slab read in creation order (with a
/// stride of 7,919 handles, a 1M-IP get read 35-48 ns against 200-330 ns for scattered ids).
pub(crate) struct Walk {
    next: u64,
    len: u64,
    bits: u32,
}

impl Walk {
    pub(crate) fn new(len: usize) -> Self {
        let len = len as u64;
        Self {
            next: 0,
            len,
            bits: len.next_power_of_two().trailing_zeros(),
        }
    }

    /// Replaces `into` with the items of `from` at the next `n` indices: a chunk's ids, picked
    /// untimed, for timed calls to read in order.
    pub(crate) fn pick<T: Copy>(&mut self, from: &[T], n: usize, into: &mut Vec<T>) {
        into.clear();
        into.extend((0..n).map(|_| from[self.step()]));
    }

    /// The next index (0 when `len` is 0).
    pub(crate) fn step(&mut self) -> usize {
        if self.len == 0 {
            return 0;
        }
        let x = self.next;
        self.next = (x + 1) % self.len;
        // A bijection of 0..2^bits, applied until the value falls in 0..len: a bijection of
        // 0..len.
        let mut y = self.scramble(x);
        while y >= self.len {
            y = self.scramble(y);
        }
        y as usize
    }

    /// Rounds of an odd multiplication and a right xor-shift, each a bijection of `bits`-bit
    /// values.
    fn scramble(&self, mut x: u64) -> u64 {
        let mask = (1u64 << self.bits) - 1;
        for k in [
            0x9E37_79B9_7F4A_7C15u64,
            0xBF58_476D_1CE4_E5B9,
            0x94D0_49BB_1331_11EB,
        ] {
            x = x.wrapping_mul(k) & mask;
            x ^= x >> (self.bits / 2 + 1);
        }
        x
    }
}
