//! The `ops` target: the fuzz input is a seed and a sequence of engine operations, run against
//! a fresh engine and the naive reference model of `tests/model/` (the one the model-based
//! property test uses), comparing every answer and checking the invariants and the whole state
//! after every step. Shared by the fuzz target and the corpus replay test (`#[path]` includes).
//!
//! The input is decoded by hand rather than with `arbitrary`, so that the main crate needs no new
//! dependency, a checked-in input means the same operations for as long as this file says so, and
//! the operations keep the property test's dense domains and weights. Every byte string decodes:
//! bytes read past the end are zeros.

#[allow(dead_code)]
#[path = "../../tests/model/mod.rs"]
mod model;

#[allow(dead_code)]
#[path = "bytes.rs"]
mod bytes;

use bytes::Bytes;
use ipam_engine::OrderBy;
use model::{AttachSpec, BookSpec, ListSpec, Mac, Op, ProductSpec};

/// Most operations decoded from one input, so that one run stays short.
pub(crate) const MAX_OPS: usize = 256;

/// Runs the input through the engine and the model; panics on the first disagreement.
pub(crate) fn check(data: &[u8]) {
    let (seed, ops) = decode(data);
    if std::env::var_os("FUZZ_TRACE").is_some() {
        eprintln!("seed {seed}, {} operations:", ops.len());
        for (i, op) in ops.iter().enumerate() {
            eprintln!("  {i}: {op:?}");
        }
    }
    if let Err(mismatch) = model::run(seed, &ops) {
        let listing: Vec<String> = ops
            .iter()
            .enumerate()
            .map(|(i, op)| format!("  {i}: {op:?}"))
            .collect();
        panic!(
            "the engine disagrees with the model: {mismatch}\nseed {seed}, operations:\n{}",
            listing.join("\n")
        );
    }
}

/// The seed (two bytes) and the operations (until the input runs out, at most [`MAX_OPS`]).
pub(crate) fn decode(data: &[u8]) -> (u64, Vec<Op>) {
    let mut b = Bytes(data);
    let seed = u64::from(b.u16());
    let mut ops = Vec::new();
    while !b.is_empty() && ops.len() < MAX_OPS {
        ops.push(op(&mut b));
    }
    (seed, ops)
}

/// `Some` about one time in twelve, as the property test's `opt` (weight 0.08).
fn opt<'a, T>(b: &mut Bytes<'a>, value: impl FnOnce(&mut Bytes<'a>) -> T) -> Option<T> {
    b.one_in(12).then(|| value(b))
}

/// Empty six times in seven, else one to three items, as the property test's `sparse_vec`.
fn sparse<'a, T>(b: &mut Bytes<'a>, mut item: impl FnMut(&mut Bytes<'a>) -> T) -> Vec<T> {
    let n = b.u8();
    if n.is_multiple_of(7) {
        (0..=n / 7 % 3).map(|_| item(b)).collect()
    } else {
        Vec::new()
    }
}

/// Zero to `max` items.
fn items<'a, T>(b: &mut Bytes<'a>, max: u8, mut item: impl FnMut(&mut Bytes<'a>) -> T) -> Vec<T> {
    let n = b.u8() % (max + 1);
    (0..n).map(|_| item(b)).collect()
}

/// One of the first `n` MACs of the model, in one of three spellings.
fn mac(b: &mut Bytes<'_>, n: u8) -> Mac {
    let x = b.u8();
    Mac {
        idx: x % n,
        case: x / n % 3,
    }
}

/// One operation, with the property test's weights (out of 40; the property test gives reserved
/// room a weight of its own, here a quarter of the compactions' share).
fn op(b: &mut Bytes<'_>) -> Op {
    match b.u8() % 40 {
        0..=12 => Op::Book(book_spec(b)),
        13..=15 => Op::BookRef(book_spec(b)),
        16..=18 => Op::Release(b.u16()),
        19 => Op::ReleaseSet(items(b, 3, Bytes::u16)),
        // The selector says which call: no byte more is read than before.
        sel @ (20 | 21) => Op::Update {
            borrowed: sel == 21,
            ip: b.u16(),
            tags: b.u8().is_multiple_of(2).then(|| b.u8()),
            reverses: b
                .u8()
                .is_multiple_of(2)
                .then(|| items(b, 2, |b| (b.u8(), b.u8()))),
        },
        sel @ 22..=24 => Op::Attach {
            borrowed: sel == 24,
            ip: b.u16(),
            mac: mac(b, 3),
            name: b.u8(),
        },
        sel @ (25 | 26) => Op::Detach {
            borrowed: sel == 26,
            ip: b.u16(),
            mac: mac(b, 3),
        },
        sel @ (27 | 28) => Op::Move {
            borrowed: sel == 28,
            ip: b.u16(),
            from: mac(b, 3),
            to: b.u8().is_multiple_of(2).then(|| (mac(b, 3), b.u8())),
        },
        29 => Op::AttachResource {
            ip: b.u16(),
            product: product_spec(b),
        },
        30 => Op::DetachResource {
            ip: b.u16(),
            res: b.u8(),
        },
        31 | 32 => Op::Burst {
            target: b.u8(),
            count: 1 + b.u8() % 12,
            tags: b.u8(),
        },
        33 => Op::DeletePn(b.u8()),
        34 => Op::CreatePn(b.u8()),
        35 => Op::Get(b.u16()),
        36 => Op::BookBatch(items(b, 20, book_spec)),
        37 | 38 => Op::List(list_spec(b)),
        // One in four of these, reserved room (added later: an input without these decodes to
        // the operations it always did).
        _ => match b.u8() % 4 {
            0 => Op::Reserve(b.u16()),
            _ => Op::Compact,
        },
    }
}

fn product_spec(b: &mut Bytes<'_>) -> ProductSpec {
    ProductSpec {
        kind: b.u8(),
        res: b.u8(),
        mac: b.u8().is_multiple_of(2).then(|| mac(b, 3)),
        name: b.u8(),
    }
}

fn book_spec(b: &mut Bytes<'_>) -> BookSpec {
    BookSpec {
        source: b.u8(),
        project: b.u8(),
        v6: b.one_in(4),
        address: (b.u8() % 5 < 2).then(|| b.u16()),
        flip_family: b.one_in(12),
        tags: b.u8(),
        attach: match b.u8() % 10 {
            0..=5 => AttachSpec::None,
            6..=8 => AttachSpec::Custom {
                mac: mac(b, 3),
                name: b.u8(),
            },
            _ => AttachSpec::Product(product_spec(b)),
        },
    }
}

fn list_spec(b: &mut Bytes<'_>) -> ListSpec {
    const PAGE_SIZES: [u32; 6] = [1, 2, 3, 5, 50, 1000];
    let order = OrderBy::ALL[usize::from(b.u8()) % OrderBy::ALL.len()];
    let page = match b.u8() % 21 {
        0..=11 => 1,
        p @ 12..=19 => 2 + u32::from(p % 4),
        _ => 0,
    };
    let size = b.u8();
    let page_size = if size % 31 == 30 {
        [0, 1001][usize::from(size / 31 % 2)]
    } else {
        PAGE_SIZES[usize::from(size) % PAGE_SIZES.len()]
    };
    ListSpec {
        order,
        page,
        page_size,
        project: opt(b, Bytes::u8),
        organization: opt(b, Bytes::u8),
        vpc: opt(b, Bytes::u8),
        source_vpc: opt(b, Bytes::u8),
        pn: opt(b, Bytes::u8),
        subnet: opt(b, Bytes::u8),
        is_ipv6: opt(b, |b| b.u8() % 2 == 0),
        attached: opt(b, |b| b.u8() % 2 == 0),
        resource_name: opt(b, Bytes::u8),
        resource_id: opt(b, Bytes::u16),
        resource_ids: sparse(b, Bytes::u16),
        resource_type: opt(b, Bytes::u8),
        resource_types: sparse(b, Bytes::u8),
        mac: opt(b, |b| mac(b, 4)),
        tags: sparse(b, Bytes::u8),
        ip_ids: sparse(b, Bytes::u16),
        zonal: b.one_in(25),
        regional: opt(b, |b| b.u8() % 2 == 0),
    }
}
