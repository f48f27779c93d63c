//! When a region reclaims the record slots of released IPs: on its own, before they outnumber
//! the live IPs, or only when the caller asks. Either way a compaction is invisible: every IP,
//! list page and snapshot reads the same after it as before, and the same as in an engine that
//! never compacted.

use chrono::{DateTime, TimeDelta};
use ipam_engine::{
    BookIpRequest, Compaction, CreatePrivateNetworkRequest, CustomResource, Error, Ip, IpId, Ipam,
    ListIpsRequest, ListIpsResponse, MacAddress, ManualClock, OrderBy, PrivateNetworkId, ProjectId,
    Region, SeededRandom, SharedIpam, Snapshot, Source, UpdateIpRequest,
};
use uuid::Uuid;

const REGION: Region = Region::FrPar;
/// Bookings of [`load`]: with two thirds of the unattached ones released, more than 4,096
/// released slots and more than the live IPs, past where an automatic compaction runs.
const BOOKINGS: usize = 9_000;

fn engine(compaction: Compaction) -> Ipam {
    let start = DateTime::from_timestamp(1_750_000_000, 0).unwrap();
    Ipam::builder()
        .clock(ManualClock::new(start, TimeDelta::microseconds(1)))
        .random(SeededRandom::new(5))
        .compaction(compaction)
        .build()
}

fn mac(i: usize) -> MacAddress {
    let b = u32::try_from(i).unwrap().to_be_bytes();
    MacAddress::new([0x02, 0, b[0], b[1], b[2], b[3]])
}

/// A region of three /20 networks and what was booked in it.
struct World {
    ipam: Ipam,
    project: ProjectId,
    pns: Vec<PrivateNetworkId>,
    /// Every id booked, released or not.
    ids: Vec<IpId>,
}

impl World {
    fn new(compaction: Compaction) -> Self {
        let mut ipam = engine(compaction);
        let project = ProjectId::from_uuid(Uuid::from_u128(1));
        let pns = (0..3)
            .map(|k| {
                let net = format!("10.{k}.0.0/20").parse().unwrap();
                let request = CreatePrivateNetworkRequest::new(project).subnets([net]);
                ipam.create_private_network(REGION, request).unwrap().id
            })
            .collect();
        Self {
            ipam,
            project,
            pns,
            ids: Vec::new(),
        }
    }

    /// Books `n` IPs round-robin over the networks, with one of seven tags, and attaches one in
    /// ten to a custom resource.
    fn book(&mut self, n: usize) {
        for _ in 0..n {
            let i = self.ids.len();
            let source = Source::PrivateNetworkId(self.pns[i % self.pns.len()]);
            let request = BookIpRequest::new(self.project, source).tags([format!("t{}", i % 7)]);
            let id = self.ipam.book_ip(REGION, request).unwrap().id;
            if i.is_multiple_of(10) {
                self.ipam
                    .attach_ip(REGION, id, CustomResource::new(mac(i)))
                    .unwrap();
            }
            self.ids.push(id);
        }
    }

    /// Releases the unattached IPs of `from..` but one in three (those, with `thirds`),
    /// calling `after` after each release.
    fn release(&mut self, from: usize, thirds: bool, mut after: impl FnMut(&Ipam)) -> usize {
        let mut released = 0;
        for (i, &id) in self.ids.iter().enumerate().skip(from) {
            if !i.is_multiple_of(10) && i.is_multiple_of(3) == thirds {
                self.ipam.release_ip(REGION, id).unwrap();
                released += 1;
                after(&self.ipam);
            }
        }
        released
    }

    /// What the API shows of the region: every id (released ones are not found), pages of
    /// several filters in several orders, and the snapshot.
    fn observe(&self) -> (Vec<Result<Ip, Error>>, Vec<ListIpsResponse>, Snapshot) {
        let gets = self
            .ids
            .iter()
            .map(|&id| self.ipam.get_ip(REGION, id))
            .collect();
        let mut lists = Vec::new();
        for order_by in [
            OrderBy::CreatedAtAsc,
            OrderBy::CreatedAtDesc,
            OrderBy::UpdatedAtDesc,
            OrderBy::IpAddressAsc,
            OrderBy::MacAddressDesc,
        ] {
            let filters = [
                ListIpsRequest::default(),
                ListIpsRequest {
                    private_network_id: Some(self.pns[1]),
                    ..ListIpsRequest::default()
                },
                ListIpsRequest {
                    tags: vec!["t3".to_owned()],
                    ..ListIpsRequest::default()
                },
                ListIpsRequest {
                    attached: Some(true),
                    ..ListIpsRequest::default()
                },
                ListIpsRequest {
                    mac_address: Some(mac(4_000)),
                    ..ListIpsRequest::default()
                },
            ];
            for filter in filters {
                for page in [1, 7] {
                    let request = ListIpsRequest {
                        order_by,
                        page,
                        page_size: 100,
                        ..filter.clone()
                    };
                    lists.push(self.ipam.list_ips(REGION, &request).unwrap());
                }
            }
        }
        (gets, lists, self.ipam.snapshot())
    }
}

/// Under `Automatic`, no release leaves 4,096 released slots or more that outnumber the live
/// IPs: the one that would compacts the region first.
#[test]
fn automatic_compaction_keeps_released_slots_below_the_live_ips() {
    let mut world = World::new(Compaction::Automatic);
    world.book(BOOKINGS);
    let mut most = 0;
    let mut compactions = 0;
    let released = world.release(0, false, |ipam| {
        let (released, live) = (ipam.released_slots(REGION), ipam.ip_count(REGION));
        assert!(
            released < 4096 || released <= live,
            "{released} released slots, {live} live IPs"
        );
        if released < most {
            compactions += 1;
        }
        most = released;
    });
    assert!(released > 4096 && released > world.ipam.ip_count(REGION));
    assert_eq!(compactions, 1);
    assert!(world.ipam.released_slots(REGION) < released);
    world.ipam.check_invariants().unwrap();
}

/// Under `Manual`, releases leave every slot until `compact`, which reclaims them all and changes
/// nothing the API shows: the engine reads the same as one that compacted on its own, before
/// and after, and goes on booking, updating and releasing.
#[test]
fn manual_compaction_waits_for_the_caller_and_changes_nothing_seen() {
    let mut manual = World::new(Compaction::Manual);
    let mut automatic = World::new(Compaction::Automatic);
    assert_eq!(manual.ipam.compaction(), Compaction::Manual);
    assert_eq!(automatic.ipam.compaction(), Compaction::Automatic);
    for world in [&mut manual, &mut automatic] {
        world.book(BOOKINGS);
    }
    let released = manual.release(0, false, |_| {});
    assert_eq!(automatic.release(0, false, |_| {}), released);
    assert_eq!(manual.ipam.released_slots(REGION), released);
    assert!(automatic.ipam.released_slots(REGION) < released);
    let before = manual.observe();
    assert!(before == automatic.observe(), "compacted on its own");

    assert_eq!(manual.ipam.compact(REGION), released);
    assert_eq!(manual.ipam.released_slots(REGION), 0);
    manual.ipam.check_invariants().unwrap();
    assert!(manual.observe() == before, "compacted when asked");
    // Nothing to reclaim: nothing done.
    assert_eq!(manual.ipam.compact(REGION), 0);
    assert_eq!(manual.ipam.compact(Region::NlAms), 0);

    // Both go on: more bookings, an update of an IP booked before the compaction, and releases
    // of IPs booked on either side of it. From here the ids of new IPs differ between the two
    // (an id carries a hint of where its record went), but each engine reads the same before
    // and after its own compaction.
    for world in [&mut manual, &mut automatic] {
        world.book(3_000);
        let update = UpdateIpRequest {
            tags: Some(vec!["kept".to_owned()]),
            reverses: None,
        };
        world.ipam.update_ip(REGION, world.ids[3], update).unwrap();
        world.release(BOOKINGS, false, |_| {});
        world.release(BOOKINGS - 300, true, |_| {});
        world.ipam.check_invariants().unwrap();
        let released = world.ipam.released_slots(REGION);
        assert!(released > 0);
        let before = world.observe();
        assert_eq!(world.ipam.compact(REGION), released);
        world.ipam.check_invariants().unwrap();
        assert!(world.observe() == before, "compacted again");
    }
}

/// The setting goes with the builder through a restore, and with the engine into a
/// `SharedIpam`, whose calls compact one region under its lock.
#[test]
fn the_setting_survives_restore_and_sharing() {
    let mut world = World::new(Compaction::Manual);
    world.book(100);
    let released = world.release(0, false, |_| {});
    let snapshot = world.ipam.snapshot();
    let restored = Ipam::builder()
        .compaction(Compaction::Manual)
        .restore(&snapshot)
        .unwrap();
    assert_eq!(restored.compaction(), Compaction::Manual);
    // A restore lays the live records out afresh: no released slot is left.
    assert_eq!(restored.released_slots(REGION), 0);

    let shared = SharedIpam::new(world.ipam);
    assert_eq!(shared.released_slots(REGION), released);
    assert_eq!(shared.compact(REGION), released);
    assert_eq!(shared.released_slots(REGION), 0);
    let ipam = shared.into_inner();
    assert_eq!(ipam.compaction(), Compaction::Manual);
    assert_eq!(ipam.snapshot(), snapshot);
}

/// A compaction that leaves exactly 4,096 attached IPs in one 65,536-handle block: the set of
/// attached handles it rebuilds holds them in roaring's bitmap form, where inserting them one by
/// one (as the invariant check does) gives its array form. The check compares members, not
/// forms, so the region still checks.
#[test]
fn a_block_of_exactly_4096_attached_ips_checks_after_compaction() {
    let mut world = World::new(Compaction::Manual);
    let mut attached = Vec::new();
    for i in 0..5_000 {
        let pn = world.pns[i % world.pns.len()];
        let request = BookIpRequest::new(world.project, Source::PrivateNetworkId(pn))
            .resource(CustomResource::new(mac(i)));
        attached.push(world.ipam.book_ip(REGION, request).unwrap().id);
    }
    for &id in attached.iter().step_by(5).take(904) {
        let mac = world.ipam.ip(REGION, id).unwrap().mac_address().unwrap();
        world
            .ipam
            .detach_ip(REGION, id, CustomResource::new(mac))
            .unwrap();
        world.ipam.release_ip(REGION, id).unwrap();
    }
    assert_eq!(world.ipam.compact(REGION), 904);
    assert_eq!(world.ipam.ip_count(REGION), 4_096);
    world.ipam.check_invariants().unwrap();
}
