//! Model-based tests: random operation sequences applied both to the engine and to the naive
//! reference model of `tests/model/` (shared with the `ops` fuzz target), with every answer
//! compared: the exact IP on success, the exact error variant and its fields on failure, the total
//! count and the exact page of every list. The engine's invariants are checked and its whole state
//! compared with the model after every operation; a failed or no-op operation must leave the state
//! unchanged.
//!
//! Then two laws (booking then releasing restores the pool; pages concatenate to the unpaged
//! result), and a long run through the store's compaction.

mod model;

use ipam_engine::{BookIpRequest, IpId, Ipam, OrderBy, Source};
use model::{
    run, setup_with, snapshot, v4_at, v6_at, AttachSpec, BookSpec, ListSpec, Mac, Mismatch, Model,
    Op, ProductSpec, REGION,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;

type TestResult = Result<(), TestCaseError>;

impl From<Mismatch> for TestCaseError {
    fn from(m: Mismatch) -> Self {
        TestCaseError::fail(m.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies over the model's dense input domains
// ---------------------------------------------------------------------------------------------

fn mac_spec(n: u8) -> impl Strategy<Value = Mac> {
    (0..n, 0u8..3).prop_map(|(idx, case)| Mac { idx, case })
}

fn product_spec() -> impl Strategy<Value = ProductSpec> {
    (
        any::<u8>(),
        any::<u8>(),
        proptest::option::of(mac_spec(3)),
        any::<u8>(),
    )
        .prop_map(|(kind, res, mac, name)| ProductSpec {
            kind,
            res,
            mac,
            name,
        })
}

fn attach_spec() -> impl Strategy<Value = AttachSpec> {
    prop_oneof![
        6 => Just(AttachSpec::None),
        3 => (mac_spec(3), any::<u8>()).prop_map(|(mac, name)| AttachSpec::Custom { mac, name }),
        1 => product_spec().prop_map(AttachSpec::Product),
    ]
}

fn book_spec() -> impl Strategy<Value = BookSpec> {
    (
        any::<u8>(),
        any::<u8>(),
        proptest::bool::weighted(0.25),
        proptest::option::weighted(0.4, any::<u16>()),
        proptest::bool::weighted(0.08),
        any::<u8>(),
        attach_spec(),
    )
        .prop_map(
            |(source, project, v6, address, flip_family, tags, attach)| BookSpec {
                source,
                project,
                v6,
                address,
                flip_family,
                tags,
                attach,
            },
        )
}

fn opt<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    proptest::option::weighted(0.08, s)
}

fn sparse_vec<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Vec<T>> {
    prop_oneof![6 => Just(Vec::new()), 1 => vec(s, 1..4)]
}

fn list_spec() -> impl Strategy<Value = ListSpec> {
    let paging = (
        select(OrderBy::ALL),
        prop_oneof![12 => Just(1u32), 8 => 2u32..6, 1 => Just(0u32)],
        prop_oneof![
            30 => select(vec![1u32, 2, 3, 5, 50, 1000]),
            1 => select(vec![0u32, 1001]),
        ],
    );
    let subnet_level = (
        opt(any::<u8>()),
        opt(any::<u8>()),
        opt(any::<u8>()),
        opt(any::<u8>()),
        opt(any::<u8>()),
        opt(any::<u8>()),
        opt(any::<bool>()),
    );
    let record_level = (
        opt(any::<bool>()),
        opt(any::<u8>()),
        opt(any::<u16>()),
        sparse_vec(any::<u16>()),
        opt(any::<u8>()),
        sparse_vec(any::<u8>()),
        opt(mac_spec(4)),
        sparse_vec(any::<u8>()),
        sparse_vec(any::<u16>()),
        proptest::bool::weighted(0.04),
        proptest::option::weighted(0.08, any::<bool>()),
    );
    (paging, subnet_level, record_level).prop_map(
        |(
            (order, page, page_size),
            (project, organization, vpc, source_vpc, pn, subnet, is_ipv6),
            (
                attached,
                resource_name,
                resource_id,
                resource_ids,
                resource_type,
                resource_types,
                mac,
                tags,
                ip_ids,
                zonal,
                regional,
            ),
        )| ListSpec {
            order,
            page,
            page_size,
            project,
            organization,
            vpc,
            source_vpc,
            pn,
            subnet,
            is_ipv6,
            attached,
            resource_name,
            resource_id,
            resource_ids,
            resource_type,
            resource_types,
            mac,
            tags,
            ip_ids,
            zonal,
            regional,
        },
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        13 => book_spec().prop_map(Op::Book),
        3 => book_spec().prop_map(Op::BookRef),
        2 => vec(book_spec(), 0..24).prop_map(Op::BookBatch),
        3 => any::<u16>().prop_map(Op::Release),
        1 => vec(any::<u16>(), 0..4).prop_map(Op::ReleaseSet),
        2 => (
            any::<u16>(),
            proptest::option::of(any::<u8>()),
            proptest::option::of(vec((any::<u8>(), any::<u8>()), 0..3)),
            any::<bool>(),
        )
            .prop_map(|(ip, tags, reverses, borrowed)| Op::Update {
                ip,
                tags,
                reverses,
                borrowed
            }),
        3 => (any::<u16>(), mac_spec(3), any::<u8>(), any::<bool>())
            .prop_map(|(ip, mac, name, borrowed)| Op::Attach { ip, mac, name, borrowed }),
        2 => (any::<u16>(), mac_spec(3), any::<bool>())
            .prop_map(|(ip, mac, borrowed)| Op::Detach { ip, mac, borrowed }),
        2 => (
            any::<u16>(),
            mac_spec(3),
            proptest::option::of((mac_spec(3), any::<u8>())),
            any::<bool>(),
        )
            .prop_map(|(ip, from, to, borrowed)| Op::Move { ip, from, to, borrowed }),
        1 => (any::<u16>(), product_spec())
            .prop_map(|(ip, product)| Op::AttachResource { ip, product }),
        1 => (any::<u16>(), any::<u8>()).prop_map(|(ip, res)| Op::DetachResource { ip, res }),
        2 => (any::<u8>(), 1u8..13, any::<u8>())
            .prop_map(|(target, count, tags)| Op::Burst { target, count, tags }),
        1 => any::<u8>().prop_map(Op::DeletePn),
        1 => any::<u8>().prop_map(Op::CreatePn),
        1 => any::<u16>().prop_map(Op::Get),
        4 => list_spec().prop_map(Op::List),
        1 => Just(Op::Compact),
        1 => any::<u16>().prop_map(Op::Reserve),
    ]
}

/// `cases`, times `MODEL_SOAK` when set: a longer run of every test here, as in
/// `MODEL_SOAK=50 cargo test --release --test model_based`. A value that is not a positive
/// whole number stops the run, rather than running the default count unnoticed.
fn config(cases: u32) -> ProptestConfig {
    let soak: u32 = std::env::var("MODEL_SOAK").map_or(1, |n| {
        n.parse()
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or_else(|| panic!("MODEL_SOAK={n:?}: a positive whole number, please"))
    });
    let cases = cases.saturating_mul(soak);
    ProptestConfig {
        cases,
        // Keep the run to this one file: no regression files are written next to it.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn engine_agrees_with_the_model(seed in any::<u64>(), ops in vec(op(), 1..100)) {
        run(seed, &ops)?;
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// `book_ips` is `book_ip` in turn: after the same random history, a batch of random
    /// requests (good and bad, to full and unknown networks alike) gives the same results, in
    /// order, and leaves the same state as booking them one by one.
    #[test]
    fn book_ips_is_book_ip_in_turn(
        seed in any::<u64>(),
        ops in vec(op(), 0..60),
        specs in vec(book_spec(), 0..70),
    ) {
        let (mut batched, model) = run(seed, &ops)?;
        let (mut one_by_one, _) = run(seed, &ops)?;
        let requests: Vec<BookIpRequest> = specs.iter().map(|s| model.book_request(s)).collect();
        let results = batched.book_ips(REGION, requests.clone());
        let expected: Vec<_> = requests
            .into_iter()
            .map(|r| one_by_one.book_ip(REGION, r))
            .collect();
        prop_assert_eq!(&results, &expected);
        batched.check_invariants().map_err(TestCaseError::fail)?;
        prop_assert_eq!(
            serde_json::to_string(&batched.snapshot()).unwrap(),
            serde_json::to_string(&one_by_one.snapshot()).unwrap()
        );
        prop_assert_eq!(snapshot(&batched), snapshot(&one_by_one));
    }

    /// `book_ip_ref` is `book_ip` with the IP borrowed: after the same random history, the same
    /// random requests give the same IPs (read back owned) or errors, in order, and leave the
    /// same state.
    #[test]
    fn book_ip_ref_is_book_ip(
        seed in any::<u64>(),
        ops in vec(op(), 0..60),
        specs in vec(book_spec(), 0..40),
    ) {
        let (mut borrowed, model) = run(seed, &ops)?;
        let (mut owned, _) = run(seed, &ops)?;
        for spec in &specs {
            let request = model.book_request(spec);
            let got = borrowed.book_ip_ref(REGION, request.clone()).map(|ip| ip.to_ip());
            prop_assert_eq!(got, owned.book_ip(REGION, request));
        }
        borrowed.check_invariants().map_err(TestCaseError::fail)?;
        prop_assert_eq!(snapshot(&borrowed), snapshot(&owned));
    }

    /// Booking an address and releasing it leaves the engine as it was: the same request gets
    /// the same address again, and the pool still holds exactly as many free addresses.
    #[test]
    fn book_then_release_restores_pool(
        seed in any::<u64>(),
        ops in vec(op(), 0..60),
        pn in 0usize..4,
        v6 in any::<bool>(),
        specific in proptest::option::of(2i64..14),
    ) {
        let (mut ipam, model) = run(seed, &ops)?;
        let before = snapshot(&ipam);
        let w = &model.w;
        let project = w.pns[pn].project;
        let first = w.pns[pn]
            .subnets
            .iter()
            .copied()
            .find(|&s| w.subnets[s].net.addr().is_ipv6() == v6)
            .expect("both families");
        let mut req = BookIpRequest::new(project, Source::PrivateNetworkId(w.pns[pn].id)).ipv6(v6);
        if let Some(o) = specific {
            let net = w.subnets[first].net;
            req = req.address(if v6 { v6_at(net, o.unsigned_abs()) } else { v4_at(net, o) });
        }
        let Ok(ip) = ipam.book_ip(REGION, req.clone()) else {
            // Exhausted or taken: nothing to restore.
            prop_assert_eq!(snapshot(&ipam), before);
            return Ok(());
        };
        ipam.release_ip(REGION, ip.id).unwrap();
        prop_assert_eq!(&snapshot(&ipam), &before);
        ipam.check_invariants().map_err(TestCaseError::fail)?;
        let again = ipam.book_ip(REGION, req).unwrap();
        if !v6 || specific.is_some() {
            prop_assert_eq!(again.address, ip.address);
        }
        ipam.release_ip(REGION, again.id).unwrap();
        prop_assert_eq!(&snapshot(&ipam), &before);

        // The IPv4 pools of the PN hold as many free addresses as before the booking.
        if !v6 {
            let w = &model.w;
            let capacity: usize = w.pns[pn]
                .subnets
                .iter()
                .map(|&s| w.subnets[s].net)
                .filter(|n| n.addr().is_ipv4())
                .map(|n| (1usize << (32 - n.prefix_len())) - 4)
                .sum();
            let used = model
                .ips
                .iter()
                .filter(|ip| w.subnets[ip.subnet].pn == pn && !ip.addr.is_ipv6())
                .count();
            let mut booked = 0;
            while ipam.book_ip(REGION, BookIpRequest::new(project, Source::PrivateNetworkId(w.pns[pn].id))).is_ok() {
                booked += 1;
                prop_assert!(booked <= capacity, "more addresses than the pool holds");
            }
            prop_assert_eq!(booked, capacity - used);
        }
        ipam.check_invariants().map_err(TestCaseError::fail)?;
    }

    /// Walking the pages of any list, with any page size, gives the unpaged list: same total on
    /// every page, the pages concatenated in order, and an empty page after the last.
    #[test]
    fn pages_concatenate_to_unpaged_result(
        seed in any::<u64>(),
        ops in vec(op(), 0..80),
        spec in list_spec(),
        page_size in 1u32..8,
    ) {
        let (ipam, model) = run(seed, &ops)?;
        let mut q = model.list_request(&spec);
        q.page = 1;
        q.page_size = 1000;
        let unpaged = ipam.list_ips(REGION, &q).unwrap();
        prop_assert_eq!(unpaged.total_count, unpaged.ips.len() as u64);
        q.page_size = page_size;
        let mut walked = Vec::new();
        let mut pages = 0;
        loop {
            let page = ipam.list_ips(REGION, &q).unwrap();
            prop_assert_eq!(page.total_count, unpaged.total_count);
            prop_assert!(page.ips.len() <= page_size as usize);
            if page.ips.is_empty() {
                break;
            }
            pages += 1;
            walked.extend(page.ips);
            q.page += 1;
        }
        prop_assert_eq!(pages, unpaged.ips.len().div_ceil(page_size as usize));
        prop_assert_eq!(walked, unpaged.ips);
    }
}

proptest! {
    #![proptest_config(config(3))]

    /// Thousands of bookings and releases in a /20 leave far more released record slots than
    /// live ones, past the point where the engine compacts its store (renumbering every handle
    /// in pools and indexes): every answer must stay the same through it.
    #[test]
    fn compaction_keeps_every_answer(
        seed in any::<u64>(),
        picks in vec(any::<u8>(), 8000),
        ops in vec(op(), 100),
        lists in vec(list_spec(), 60),
    ) {
        let (mut ipam, mut model) = setup_with(seed, true);
        let big = 5;
        let mut picks = picks.into_iter().cycle();
        // Books `n` addresses in the /20, attaching one IP in 25 to a custom resource.
        let fill = |ipam: &mut Ipam, model: &mut Model, n: usize, picks: &mut dyn Iterator<Item = u8>| -> TestResult {
            for i in 0..n {
                let pick = picks.next().unwrap();
                model.book_in_pn(ipam, big, pick)?;
                if i % 25 == 0 {
                    let ip = u16::from(pick) * 8 + (i as u16 % 8) * 2048;
                    let op = Op::Attach {
                        ip: ip & !7,
                        mac: Mac { idx: pick % 3, case: 0 },
                        name: 1,
                        borrowed: false,
                    };
                    model.step(ipam, &op)?;
                }
            }
            Ok(())
        };
        // Releases most unattached IPs, one by one.
        let release = |ipam: &mut Ipam, model: &mut Model, picks: &mut dyn Iterator<Item = u8>| -> TestResult {
            let ids: Vec<IpId> = model.ips.iter().filter(|ip| ip.resource.is_none()).map(|ip| ip.id).collect();
            for id in ids {
                if !picks.next().unwrap().is_multiple_of(8) {
                    model.step_release_set(ipam, &[id], true)?;
                }
            }
            Ok(())
        };
        // Fill the /20 (one more booking runs out), empty most of it, fill it again: released
        // addresses come back lowest first.
        fill(&mut ipam, &mut model, 4093, &mut picks)?;
        model.check_all(&ipam)?;
        release(&mut ipam, &mut model, &mut picks)?;
        model.check_all(&ipam)?;
        fill(&mut ipam, &mut model, 3000, &mut picks)?;
        release(&mut ipam, &mut model, &mut picks)?;
        let released = model.bookings - model.ips.len();
        prop_assert!(released > 4096 && released > 4 * model.ips.len(), "{} released, {} live", released, model.ips.len());
        for spec in &lists {
            let q = model.list_request(spec);
            model.check_list(&ipam, &q)?;
        }
        let mut before = model.check_all(&ipam)?;
        for op in &ops {
            let changed = model.step(&mut ipam, op)?;
            let after = model.check_all(&ipam)?;
            if !changed {
                prop_assert_eq!(&after, &before, "a failed or no-op {:?} changed the state", op);
            }
            before = after;
        }
    }
}
