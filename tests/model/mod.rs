//! The naive reference model of the engine, shared by the model-based property test
//! (`tests/model_based.rs`), the `ops` fuzz target and the fuzz corpus replay
//! (`fuzz/checks/ops.rs`): plain `Vec`s and `BTreeMap`s, written from the API contract and the
//! crate doc's semantics, not from the engine.
//!
//! [`Op`] is one operation over small dense input domains (a few MACs, names, tag sets, product
//! ids), so that operations collide. [`run`] applies a sequence of them to a fresh engine and to
//! the model and compares every answer: the exact IP on success, the exact error variant and its
//! fields on failure, the total count and the exact page of every list. The engine's invariants
//! are checked and its whole state compared with the model after every operation; a failed or
//! no-op operation must leave the state unchanged. A disagreement is a [`Mismatch`], so the model
//! depends on no test framework: proptest and libFuzzer each turn it into their own failure.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, TimeDelta, Utc};
use ipam_engine::{
    BookIpRequest, CreatePrivateNetworkRequest, CreateVpcRequest, CustomResource, Error, Ip, IpId,
    Ipam, ListIpsRequest, MacAddress, ManualClock, MoveIpRequest, OrderBy, OrganizationId,
    PrivateNetwork, PrivateNetworkId, ProjectId, Region, ResourceId, ResourceRef, ResourceType,
    Reverse, SeededRandom, ServiceResource, Source, SubnetId, UpdateIpRequest, VpcId,
};
use ipnet::IpNet;
use uuid::Uuid;

/// A disagreement between the engine and the model, described.
#[derive(Debug)]
pub(crate) struct Mismatch(pub(crate) String);

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The result of a check against the model.
pub(crate) type Checked<T = ()> = Result<T, Mismatch>;

/// Fails the check with a [`Mismatch`] unless `cond` holds.
macro_rules! ensure {
    ($cond:expr) => {
        ensure!($cond, "assertion failed: {}", stringify!($cond))
    };
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(Mismatch(format!($($fmt)+)));
        }
    };
}

/// Fails the check with a [`Mismatch`] unless the two values are equal.
macro_rules! ensure_eq {
    ($left:expr, $right:expr) => {
        ensure_eq!($left, $right, "values differ")
    };
    ($left:expr, $right:expr, $($fmt:tt)+) => {{
        let (left, right) = (&$left, &$right);
        if *left != *right {
            return Err(Mismatch(format!(
                "{}: `{} == {}` failed\n  left: {:?}\n right: {:?}",
                format_args!($($fmt)+),
                stringify!($left),
                stringify!($right),
                left,
                right,
            )));
        }
    }};
}

pub(crate) const REGION: Region = Region::FrPar;

// ---------------------------------------------------------------------------------------------
// Small dense input domains, so that operations collide.
// ---------------------------------------------------------------------------------------------

/// Custom resource MAC addresses; the last one is never attached (list filters only).
const MACS: [[u8; 6]; 4] = [
    [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a],
    [0xbc, 0x24, 0x11, 0x74, 0xd0, 0x5a],
    [0x0a, 0xff, 0x00, 0x00, 0x00, 0x01],
    [0xde, 0xad, 0xbe, 0xef, 0x00, 0x00],
];
const NAMES: [Option<&str>; 4] = [None, Some("web-1"), Some("db-1"), Some("web-db")];
const NEEDLES: [&str; 4] = ["web", "db", "-1", "zz"];
const TAG_SETS: [&[&str]; 7] = [
    &[],
    &["a"],
    &["b"],
    &["a", "b"],
    &["b", "a"],
    &["c"],
    &["c", "a", "b"],
];
const FILTER_TAGS: [&str; 4] = ["a", "b", "c", "zz"];
const HOSTNAMES: [&str; 4] = [
    "a.example.com",
    "b.example.com.",
    "c-1.example.org",
    "bad host",
];
const PRODUCT_IDS: [u128; 2] = [
    0x0000_0000_0000_4000_8000_0000_0000_0001,
    0x0000_0000_0000_4000_8000_0000_0000_0002,
];
const LIST_TYPES: [ResourceType; 5] = [
    ResourceType::UnknownType,
    ResourceType::Custom,
    ResourceType::InstancePrivateNic,
    ResourceType::LbServer,
    ResourceType::K8sNode,
];
/// IPv6 interface ids tried as specific addresses: `::`, `::1` and the top 128 are unavailable.
const IIDS: [u64; 8] = [
    0,
    1,
    2,
    3,
    0x10,
    0xffff_ffff_ffff_ff7f,
    0xffff_ffff_ffff_ff80,
    u64::MAX,
];

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0000 | n)
}

fn product_id(i: usize) -> ResourceId {
    ResourceId::from_uuid(Uuid::from_u128(PRODUCT_IDS[i % 2]))
}

/// A MAC address spelled in lower, upper or mixed case, parsed by the API's parser.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mac {
    pub(crate) idx: u8,
    pub(crate) case: u8,
}

impl Mac {
    fn bytes(self) -> [u8; 6] {
        MACS[self.idx as usize % MACS.len()]
    }

    fn text(self) -> String {
        let lower = self
            .bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        match self.case % 3 {
            0 => lower,
            1 => lower.to_ascii_uppercase(),
            _ => lower
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i % 2 == 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect(),
        }
    }

    fn parse(self) -> MacAddress {
        self.text().parse().expect("valid MAC text")
    }
}

/// The upper-case colon-separated form, the API's output form and the `mac_address` sort key.
fn upper(bytes: [u8; 6]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn tag_set(i: u8) -> Vec<String> {
    TAG_SETS[i as usize % TAG_SETS.len()]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

fn name(i: u8) -> Option<String> {
    NAMES[i as usize % NAMES.len()].map(str::to_owned)
}

// ---------------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub(crate) struct ProductSpec {
    pub(crate) kind: u8,
    pub(crate) res: u8,
    pub(crate) mac: Option<Mac>,
    pub(crate) name: u8,
}

impl ProductSpec {
    fn kind(&self) -> ResourceType {
        match self.kind % 10 {
            0..=5 => ResourceType::InstancePrivateNic,
            6 | 7 => ResourceType::LbServer,
            8 => ResourceType::Custom,
            _ => ResourceType::UnknownType,
        }
    }

    fn resource(&self) -> ServiceResource {
        let mut r = ServiceResource::new(self.kind(), product_id(self.res as usize));
        if let Some(m) = self.mac {
            r = r.mac_address(m.parse());
        }
        if let Some(n) = name(self.name) {
            r = r.name(n);
        }
        r
    }
}

#[derive(Clone, Debug)]
pub(crate) enum AttachSpec {
    None,
    Custom { mac: Mac, name: u8 },
    Product(ProductSpec),
}

#[derive(Clone, Debug)]
pub(crate) struct BookSpec {
    pub(crate) source: u8,
    pub(crate) project: u8,
    pub(crate) v6: bool,
    pub(crate) address: Option<u16>,
    pub(crate) flip_family: bool,
    pub(crate) tags: u8,
    pub(crate) attach: AttachSpec,
}

#[derive(Clone, Debug)]
pub(crate) struct ListSpec {
    pub(crate) order: OrderBy,
    pub(crate) page: u32,
    pub(crate) page_size: u32,
    pub(crate) project: Option<u8>,
    pub(crate) organization: Option<u8>,
    pub(crate) vpc: Option<u8>,
    pub(crate) source_vpc: Option<u8>,
    pub(crate) pn: Option<u8>,
    pub(crate) subnet: Option<u8>,
    pub(crate) is_ipv6: Option<bool>,
    pub(crate) attached: Option<bool>,
    pub(crate) resource_name: Option<u8>,
    pub(crate) resource_id: Option<u16>,
    pub(crate) resource_ids: Vec<u16>,
    pub(crate) resource_type: Option<u8>,
    pub(crate) resource_types: Vec<u8>,
    pub(crate) mac: Option<Mac>,
    pub(crate) tags: Vec<u8>,
    pub(crate) ip_ids: Vec<u16>,
    pub(crate) zonal: bool,
    pub(crate) regional: Option<bool>,
}

#[derive(Clone, Debug)]
pub(crate) enum Op {
    Book(BookSpec),
    /// A booking through `book_ip_ref` (which takes custom resources only: a product
    /// attachment is left out), its borrowed IP read back as an owned one.
    BookRef(BookSpec),
    Release(u16),
    ReleaseSet(Vec<u16>),
    /// An update through `update_ip`, or through `update_ip_ref` when `borrowed` (its
    /// borrowed IP read back as an owned one).
    Update {
        ip: u16,
        tags: Option<u8>,
        reverses: Option<Vec<(u8, u8)>>,
        borrowed: bool,
    },
    /// An attachment through `attach_ip`, or through `attach_ip_ref` when `borrowed` (its
    /// borrowed IP read back as an owned one); the same for `Detach` and `Move`.
    Attach {
        ip: u16,
        mac: Mac,
        name: u8,
        borrowed: bool,
    },
    Detach {
        ip: u16,
        mac: Mac,
        borrowed: bool,
    },
    Move {
        ip: u16,
        from: Mac,
        to: Option<(Mac, u8)>,
        borrowed: bool,
    },
    AttachResource {
        ip: u16,
        product: ProductSpec,
    },
    DetachResource {
        ip: u16,
        res: u8,
    },
    /// Several automatic IPv4 bookings in a row in PN 0, PN 1 or PN 1's first subnet, so that
    /// pools run out and released addresses are handed out again.
    Burst {
        target: u8,
        count: u8,
        tags: u8,
    },
    /// Bookings in one `book_ips` call (which takes custom resources only: product attachments
    /// are left out).
    BookBatch(Vec<BookSpec>),
    /// Delete a Private Network: refused while it has IPs.
    DeletePn(u8),
    /// Create a Private Network again as laid out: refused (overlap) unless it was deleted.
    CreatePn(u8),
    Get(u16),
    List(ListSpec),
    /// A compaction of the region, asked for: it reclaims every released slot, however few, and
    /// nothing the API shows changes.
    Compact,
    /// Room asked for that many more IPs (`Ipam::reserve`): nothing the API shows changes, and
    /// the bookings that follow take the room (from 3,073 on, the MAC map's in steps).
    Reserve(u16),
}

// ---------------------------------------------------------------------------------------------
// The world (projects, VPCs, Private Networks) and the reference model of the IPs
// ---------------------------------------------------------------------------------------------

pub(crate) struct MSubnet {
    pub(crate) id: SubnetId,
    pub(crate) net: IpNet,
    pub(crate) pn: usize,
}

pub(crate) struct MPn {
    pub(crate) id: PrivateNetworkId,
    pub(crate) project: ProjectId,
    pub(crate) vpc: VpcId,
    /// The VPC given at creation (`None`: the Project's default VPC).
    pub(crate) given_vpc: Option<VpcId>,
    /// The subnets given at creation.
    pub(crate) given: Vec<IpNet>,
    /// Indexes into `World::subnets`, in creation order.
    pub(crate) subnets: Vec<usize>,
    pub(crate) deleted: bool,
}

pub(crate) struct World {
    pub(crate) projects: [ProjectId; 2],
    pub(crate) organizations: [OrganizationId; 2],
    pub(crate) vpcs: Vec<VpcId>,
    pub(crate) pns: Vec<MPn>,
    pub(crate) subnets: Vec<MSubnet>,
    /// Ids of deleted Private Networks and subnets: unknown to the engine from then on.
    pub(crate) retired_pns: Vec<PrivateNetworkId>,
    pub(crate) retired_subnets: Vec<SubnetId>,
}

const UNKNOWN: u128 = 0xdead;

impl World {
    fn unknown_pn(&self) -> PrivateNetworkId {
        self.retired_pns
            .last()
            .copied()
            .unwrap_or(PrivateNetworkId::from_uuid(uuid(UNKNOWN)))
    }

    fn unknown_subnet(&self) -> SubnetId {
        self.retired_subnets
            .last()
            .copied()
            .unwrap_or(SubnetId::from_uuid(uuid(UNKNOWN)))
    }

    /// The request that (re)creates Private Network `i` as laid out.
    fn create_request(&self, i: usize) -> CreatePrivateNetworkRequest {
        let pn = &self.pns[i];
        let mut req = CreatePrivateNetworkRequest::new(pn.project).subnets(pn.given.clone());
        if let Some(v) = pn.given_vpc {
            req = req.vpc(v);
        }
        req
    }

    /// Records the (re)creation of Private Network `i`, checking the engine's answer.
    fn created(&mut self, i: usize, pn: &PrivateNetwork) -> Checked {
        let given = self.pns[i].given.clone();
        let has_v6 = given.iter().any(|n| n.addr().is_ipv6());
        // With only IPv4 subnets given, an IPv6 /64 is added last.
        ensure_eq!(pn.subnets.len(), given.len() + usize::from(!has_v6));
        for (k, s) in pn.subnets.iter().enumerate() {
            match given.get(k) {
                Some(&net) => ensure_eq!(s.subnet, net),
                None => ensure!(matches!(s.subnet, IpNet::V6(n) if n.prefix_len() == 64)),
            }
            ensure_eq!(s.private_network_id, pn.id);
        }
        ensure_eq!(pn.project_id, self.pns[i].project);
        if let Some(v) = self.pns[i].given_vpc {
            ensure_eq!(pn.vpc_id, v);
        }
        if self.pns[i].subnets.is_empty() {
            for s in &pn.subnets {
                self.pns[i].subnets.push(self.subnets.len());
                self.subnets.push(MSubnet {
                    id: s.id,
                    net: s.subnet,
                    pn: i,
                });
            }
        } else {
            // Re-created: the same slots of the model, new ids (and a new /64).
            ensure_eq!(pn.vpc_id, self.pns[i].vpc);
            for (k, s) in pn.subnets.iter().enumerate() {
                let slot = self.pns[i].subnets[k];
                self.subnets[slot].id = s.id;
                self.subnets[slot].net = s.subnet;
            }
        }
        let m = &mut self.pns[i];
        m.id = pn.id;
        m.vpc = pn.vpc_id;
        m.deleted = false;
        Ok(())
    }

    fn subnet_project(&self, s: usize) -> ProjectId {
        self.pns[self.subnets[s].pn].project
    }

    fn organization_of(&self, p: ProjectId) -> OrganizationId {
        match self.projects.iter().position(|&q| q == p) {
            Some(i) => self.organizations[i],
            None => OrganizationId::from_uuid(p.uuid()),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MRes {
    pub(crate) kind: ResourceType,
    pub(crate) id: ResourceId,
    pub(crate) mac: Option<[u8; 6]>,
    pub(crate) name: Option<String>,
    pub(crate) attached_at: DateTime<Utc>,
}

impl MRes {
    fn reference(&self) -> ResourceRef {
        match (self.kind, self.mac) {
            (ResourceType::Custom, Some(m)) => ResourceRef::Custom(MacAddress::new(m)),
            (kind, _) => ResourceRef::Product(kind, self.id),
        }
    }

    fn custom_mac(&self) -> Option<[u8; 6]> {
        (self.kind == ResourceType::Custom)
            .then_some(self.mac)
            .flatten()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct MIp {
    pub(crate) id: IpId,
    pub(crate) subnet: usize,
    pub(crate) addr: IpAddr,
    pub(crate) seq: u64,
    pub(crate) created: DateTime<Utc>,
    pub(crate) updated: DateTime<Utc>,
    pub(crate) tags: Vec<String>,
    pub(crate) reverses: Vec<Reverse>,
    pub(crate) resource: Option<MRes>,
}

pub(crate) struct Model {
    pub(crate) w: World,
    /// Live IPs, in creation order.
    pub(crate) ips: Vec<MIp>,
    /// Every id ever booked, live or released.
    pub(crate) seen: BTreeSet<IpId>,
    /// Released ids, in release order.
    pub(crate) released: Vec<IpId>,
    /// The booked addresses: (subnet, numeric address) to the IP holding it.
    pub(crate) taken: BTreeMap<(usize, u128), IpId>,
    /// Successful bookings so far.
    pub(crate) bookings: usize,
    pub(crate) last_time: DateTime<Utc>,
    pub(crate) next_seq: u64,
}

/// What the model expects of a failed call.
#[derive(Debug)]
enum Want {
    Exact(Error),
    /// `invalid_arguments` on an argument whose name starts with this.
    Invalid(&'static str),
    /// The address is in none of these candidate subnets.
    Outside {
        address: IpAddr,
        subnets: Vec<IpNet>,
    },
    /// The contract does not rank these errors: any of them.
    AnyOf(Vec<Want>),
}

fn want_matches(want: &Want, got: &Error) -> bool {
    match want {
        Want::Exact(e) => e == got,
        Want::Invalid(prefix) => {
            matches!(got, Error::InvalidArgument { argument, .. } if argument.starts_with(prefix))
        }
        Want::Outside { address, subnets } => matches!(
            got,
            Error::AddressOutsideSubnet { address: a, subnet } if a == address && subnets.contains(subnet)
        ),
        Want::AnyOf(all) => all.iter().any(|w| want_matches(w, got)),
    }
}

fn check_err<T: std::fmt::Debug>(want: &Want, got: &Result<T, Error>) -> Checked {
    match got {
        Err(e) => ensure!(
            want_matches(want, e),
            "expected error {:?}, got {:?}",
            want,
            e
        ),
        Ok(v) => {
            return Err(Mismatch(format!(
                "expected error {want:?}, got success {v:?}"
            )))
        }
    }
    Ok(())
}

fn bookable_v4(net: IpNet, a: IpAddr) -> bool {
    let (IpNet::V4(n), IpAddr::V4(a)) = (net, a) else {
        return false;
    };
    let first = u32::from(n.network());
    let last = u32::from(n.broadcast());
    let a = u32::from(a);
    n.contains(&Ipv4Addr::from(a)) && a >= first + 2 && a <= last - 2
}

fn iid(a: Ipv6Addr) -> u64 {
    (u128::from(a) & u128::from(u64::MAX)) as u64
}

fn bookable_v6_iid(i: u64) -> bool {
    i > 1 && i < 0xffff_ffff_ffff_ff80
}

fn is_available(net: IpNet, a: IpAddr) -> bool {
    match a {
        IpAddr::V4(_) => bookable_v4(net, a),
        IpAddr::V6(v6) => net.contains(&a) && bookable_v6_iid(iid(v6)),
    }
}

fn numeric(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

pub(crate) fn v4_at(net: IpNet, offset: i64) -> IpAddr {
    let IpNet::V4(n) = net else {
        unreachable!("v4 subnet")
    };
    let base = i64::from(u32::from(n.network()));
    IpAddr::V4(Ipv4Addr::from(u32::try_from(base + offset).unwrap()))
}

pub(crate) fn v6_at(net: IpNet, interface: u64) -> IpAddr {
    let IpNet::V6(n) = net else {
        unreachable!("v6 subnet")
    };
    IpAddr::V6(Ipv6Addr::from(
        u128::from(n.network()) | u128::from(interface),
    ))
}

/// A sort key of the list orders.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Time(DateTime<Utc>),
    Address(bool, u128),
    Mac(String),
}

fn descending(order: OrderBy) -> bool {
    matches!(
        order,
        OrderBy::CreatedAtDesc
            | OrderBy::UpdatedAtDesc
            | OrderBy::AttachedAtDesc
            | OrderBy::IpAddressDesc
            | OrderBy::MacAddressDesc
    )
}

fn key(ip: &MIp, order: OrderBy) -> Option<Key> {
    match order {
        OrderBy::CreatedAtAsc | OrderBy::CreatedAtDesc => Some(Key::Time(ip.created)),
        OrderBy::UpdatedAtAsc | OrderBy::UpdatedAtDesc => Some(Key::Time(ip.updated)),
        OrderBy::AttachedAtAsc | OrderBy::AttachedAtDesc => {
            ip.resource.as_ref().map(|r| Key::Time(r.attached_at))
        }
        OrderBy::IpAddressAsc | OrderBy::IpAddressDesc => {
            Some(Key::Address(ip.addr.is_ipv6(), numeric(ip.addr)))
        }
        OrderBy::MacAddressAsc | OrderBy::MacAddressDesc => ip
            .resource
            .as_ref()
            .and_then(|r| r.mac)
            .map(|m| Key::Mac(upper(m))),
        other => panic!("order {other} unknown to the model"),
    }
}

impl Model {
    fn find(&self, id: IpId) -> Option<usize> {
        self.ips.iter().position(|ip| ip.id == id)
    }

    /// Live IPs mostly; sometimes a released id or one that never existed.
    fn ip_ref(&self, sel: u16) -> IpId {
        let n = self.ips.len();
        if sel % 8 != 7 && n > 0 {
            return self.ips[(sel / 8) as usize % n].id;
        }
        let i = (sel / 8) as usize % (self.released.len() + 1);
        self.released
            .get(i)
            .copied()
            .unwrap_or(IpId::from_uuid(uuid(UNKNOWN)))
    }

    fn tick(&mut self, t: DateTime<Utc>) -> Checked {
        ensure!(
            t > self.last_time,
            "timestamp {} not after the previous change {}",
            t,
            self.last_time
        );
        self.last_time = t;
        Ok(())
    }

    fn check_view(&self, mip: &MIp, ip: &Ip) -> Checked {
        let s = &self.w.subnets[mip.subnet];
        ensure_eq!(ip.id, mip.id);
        ensure_eq!(ip.address.addr(), mip.addr);
        ensure_eq!(ip.address.prefix_len(), s.net.prefix_len());
        ensure_eq!(ip.project_id, self.w.subnet_project(mip.subnet));
        ensure_eq!(ip.is_ipv6, mip.addr.is_ipv6());
        ensure_eq!(ip.created_at, mip.created);
        ensure_eq!(ip.updated_at, mip.updated);
        ensure_eq!(&ip.source, &Source::SubnetId(s.id));
        ensure_eq!(&ip.tags, &mip.tags);
        ensure_eq!(&ip.reverses, &mip.reverses);
        ensure_eq!(ip.region, REGION);
        ensure_eq!(&ip.zone, &None);
        match (&mip.resource, &ip.resource) {
            (None, None) => {}
            (Some(m), Some(r)) => {
                ensure_eq!(r.resource_type, m.kind);
                ensure_eq!(r.id, m.id);
                ensure_eq!(r.mac_address.map(|a| a.octets()), m.mac);
                ensure_eq!(r.mac_address.map(|a| a.to_string()), m.mac.map(upper));
                ensure_eq!(&r.name, &m.name);
            }
            (m, r) => return Err(Mismatch(format!("resource: model {m:?}, engine {r:?}"))),
        }
        Ok(())
    }

    pub(crate) fn check_all(&self, ipam: &Ipam) -> Checked<Vec<Ip>> {
        if let Err(e) = ipam.check_invariants() {
            return Err(Mismatch(format!("invariants broken: {e}")));
        }
        ensure_eq!(ipam.ip_count(REGION), self.ips.len());
        let all = snapshot(ipam);
        ensure_eq!(all.len(), self.ips.len());
        for (m, ip) in self.ips.iter().zip(&all) {
            self.check_view(m, ip)?;
        }
        Ok(all)
    }

    // --- book ---------------------------------------------------------------------------------

    pub(crate) fn book_request(&self, spec: &BookSpec) -> BookIpRequest {
        let w = &self.w;
        // Mostly the small PN 0 (so that it runs out) and PN 1 (two IPv4 subnets), then the
        // others, single subnets, and now and then an unknown id or a source that cannot book.
        let sel = spec.source % 32;
        let pn_index = match sel {
            0..=8 => Some(0),
            9..=13 => Some(1),
            14 | 15 => Some(2),
            16 | 17 => Some(3),
            18 => Some(4),
            _ => None,
        };
        let (source, project, family, targets): (Source, ProjectId, bool, Vec<usize>) =
            if let Some(i) = pn_index {
                let pn = &w.pns[i];
                let t = pn
                    .subnets
                    .iter()
                    .copied()
                    .filter(|&s| w.subnets[s].net.addr().is_ipv6() == spec.v6)
                    .collect();
                (Source::PrivateNetworkId(pn.id), pn.project, spec.v6, t)
            } else if sel < 28 {
                let s =
                    (usize::from(spec.source / 32) * 9 + usize::from(sel) - 19) % w.subnets.len();
                let sub = &w.subnets[s];
                (
                    Source::SubnetId(sub.id),
                    w.subnet_project(s),
                    sub.net.addr().is_ipv6(),
                    vec![s],
                )
            } else {
                let other = match (sel, spec.source / 32 % 2) {
                    (28, _) => Source::PrivateNetworkId(w.unknown_pn()),
                    (29, _) => Source::SubnetId(w.unknown_subnet()),
                    (30, _) => Source::Zonal("fr-par-1".into()),
                    (_, 0) => Source::VpcId(w.vpcs[0]),
                    _ => Source::Regional(true),
                };
                let t = w.pns[0]
                    .subnets
                    .iter()
                    .copied()
                    .filter(|&s| w.subnets[s].net.addr().is_ipv6() == spec.v6)
                    .collect();
                (other, w.projects[0], spec.v6, t)
            };
        let project_id = match spec.project % 16 {
            14 => {
                if project == w.projects[0] {
                    w.projects[1]
                } else {
                    w.projects[0]
                }
            }
            15 => ProjectId::from_uuid(uuid(UNKNOWN)),
            _ => project,
        };
        let address = spec.address.map(|sel| {
            let inner = usize::from(sel >> 3);
            let pick = (sel % 8 != 7 && !targets.is_empty())
                .then(|| targets[(inner / 64) % targets.len()]);
            match pick {
                Some(s) => {
                    let net = w.subnets[s].net;
                    if family {
                        v6_at(net, IIDS[inner % IIDS.len()])
                    } else {
                        let size = 1usize << (32 - net.prefix_len());
                        // -1 and `size` are just outside the block.
                        v4_at(net, i64::try_from(inner % (size + 2)).unwrap() - 1)
                    }
                }
                None if family => "fd00::5".parse().unwrap(),
                None => "192.168.1.5".parse().unwrap(),
            }
        });
        let resource = match &spec.attach {
            AttachSpec::Custom { mac, name: n } => Some(CustomResource {
                mac_address: mac.parse(),
                name: name(*n),
            }),
            _ => None,
        };
        BookIpRequest {
            project_id,
            source,
            is_ipv6: family != spec.flip_family,
            address,
            tags: tag_set(spec.tags),
            resource,
        }
    }

    /// The subnet the booking lands in and, for a specific or IPv4 booking, the address.
    fn predict_book(
        &self,
        req: &BookIpRequest,
        product: Option<&ServiceResource>,
    ) -> Result<(usize, Option<IpAddr>), Want> {
        let w = &self.w;
        if let Some(p) = product {
            if matches!(
                p.resource_type,
                ResourceType::Custom | ResourceType::UnknownType
            ) {
                return Err(Want::Invalid("resource"));
            }
        }
        let is_ipv6 = req.is_ipv6;
        let family = |s: usize| w.subnets[s].net.addr().is_ipv6();
        let (candidates, source_id) = match &req.source {
            Source::PrivateNetworkId(id) => {
                let Some(pn) = w.pns.iter().find(|p| p.id == *id && !p.deleted) else {
                    return Err(Want::Exact(Error::PrivateNetworkNotFound { id: *id }));
                };
                if pn.project != req.project_id {
                    return Err(Want::Exact(Error::ProjectMismatch {
                        expected: pn.project,
                        found: req.project_id,
                    }));
                }
                let c: Vec<usize> = pn
                    .subnets
                    .iter()
                    .copied()
                    .filter(|&s| family(s) == is_ipv6)
                    .collect();
                (c, id.uuid())
            }
            Source::SubnetId(id) => {
                let Some(s) = w
                    .subnets
                    .iter()
                    .position(|s| s.id == *id && !w.pns[s.pn].deleted)
                else {
                    return Err(Want::Exact(Error::SubnetNotFound { id: *id }));
                };
                let expected = w.subnet_project(s);
                if expected != req.project_id {
                    return Err(Want::Exact(Error::ProjectMismatch {
                        expected,
                        found: req.project_id,
                    }));
                }
                if family(s) != is_ipv6 {
                    return Err(Want::Exact(Error::SubnetFamilyMismatch {
                        subnet: w.subnets[s].net,
                        is_ipv6,
                    }));
                }
                (vec![s], id.uuid())
            }
            Source::Zonal(_) => {
                return Err(Want::Exact(Error::SourceNotBookable {
                    source_kind: "zonal",
                }))
            }
            Source::VpcId(_) => {
                return Err(Want::Exact(Error::SourceNotBookable {
                    source_kind: "vpc_id",
                }))
            }
            Source::Regional(_) => {
                return Err(Want::Exact(Error::SourceNotBookable {
                    source_kind: "regional",
                }))
            }
            other => panic!("source {other:?} unknown to the model"),
        };
        if candidates.is_empty() {
            // A Private Network created with IPv6 subnets only has no IPv4 one (crate doc).
            return Err(match req.address {
                Some(address) if address.is_ipv6() != is_ipv6 => Want::AnyOf(vec![
                    Want::Invalid("address"),
                    Want::Exact(Error::AddressFamilyMismatch { address, is_ipv6 }),
                ]),
                Some(_) => Want::Invalid("address"),
                None => Want::Invalid("is_ipv6"),
            });
        }
        let booked = |s: usize, a: IpAddr| self.taken.get(&(s, numeric(a))).copied();
        if let Some(address) = req.address {
            if address.is_ipv6() != is_ipv6 {
                return Err(Want::Exact(Error::AddressFamilyMismatch {
                    address,
                    is_ipv6,
                }));
            }
            let Some(s) = candidates
                .iter()
                .copied()
                .find(|&s| w.subnets[s].net.contains(&address))
            else {
                return Err(Want::Outside {
                    address,
                    subnets: candidates.iter().map(|&s| w.subnets[s].net).collect(),
                });
            };
            if !is_available(w.subnets[s].net, address) {
                return Err(Want::Exact(Error::AddressUnavailable {
                    address,
                    subnet: w.subnets[s].net,
                }));
            }
            if let Some(ip_id) = booked(s, address) {
                return Err(Want::Exact(Error::AddressInUse { address, ip_id }));
            }
            return Ok((s, Some(address)));
        }
        if is_ipv6 {
            // A /64 never runs out here.
            return Ok((candidates[0], None));
        }
        for &s in &candidates {
            let net = w.subnets[s].net;
            let size = 1i64 << (32 - net.prefix_len());
            // Walk the booked addresses of the subnet from the first bookable one: the first
            // gap is the lowest free address.
            let first = numeric(v4_at(net, 2));
            let last = numeric(v4_at(net, size - 3));
            let mut lowest = first;
            for &(_, a) in self.taken.range((s, first)..=(s, last)).map(|(k, _)| k) {
                if a != lowest {
                    break;
                }
                lowest += 1;
            }
            if lowest <= last {
                let a = Ipv4Addr::from(u32::try_from(lowest).unwrap());
                return Ok((s, Some(IpAddr::V4(a))));
            }
        }
        Err(Want::Exact(Error::AddressesExhausted {
            source_id,
            is_ipv6,
        }))
    }

    fn step_book(&mut self, ipam: &mut Ipam, spec: &BookSpec) -> Checked<bool> {
        let req = self.book_request(spec);
        let product = match &spec.attach {
            AttachSpec::Product(p) => Some(p.resource()),
            _ => None,
        };
        self.check_book(ipam, &req, product.as_ref())
    }

    /// An automatic IPv4 booking in Private Network `pn`, with its own Project.
    pub(crate) fn book_in_pn(&mut self, ipam: &mut Ipam, pn: usize, tags: u8) -> Checked<bool> {
        let pn = &self.w.pns[pn];
        let req =
            BookIpRequest::new(pn.project, Source::PrivateNetworkId(pn.id)).tags(tag_set(tags));
        self.check_book(ipam, &req, None)
    }

    fn check_book(
        &mut self,
        ipam: &mut Ipam,
        req: &BookIpRequest,
        product: Option<&ServiceResource>,
    ) -> Checked<bool> {
        let got = match product {
            Some(p) => ipam.book_ip_for_resource(REGION, req.clone(), p.clone()),
            None => ipam.book_ip(REGION, req.clone()),
        };
        self.settle_book(req, product, got)
    }

    /// Checks what the engine answered to booking `req` against the model's prediction (from
    /// the model's state, which the engine's answer does not touch) and records the new IP.
    fn settle_book(
        &mut self,
        req: &BookIpRequest,
        product: Option<&ServiceResource>,
        got: Result<Ip, Error>,
    ) -> Checked<bool> {
        let predicted = self.predict_book(req, product);
        let (subnet, address) = match predicted {
            Err(want) => {
                check_err(&want, &got)?;
                return Ok(false);
            }
            Ok(p) => p,
        };
        let ip = match got {
            Ok(ip) => ip,
            Err(e) => {
                return Err(Mismatch(format!(
                    "expected booking in {} of {address:?}, got {e:?}",
                    self.w.subnets[subnet].net
                )))
            }
        };
        let net = self.w.subnets[subnet].net;
        let addr = ip.address.addr();
        match address {
            Some(a) => ensure_eq!(addr, a, "booked address"),
            None => {
                let IpAddr::V6(v6) = addr else {
                    return Err(Mismatch(format!("auto IPv6 booking gave {addr}")));
                };
                ensure!(net.contains(&addr), "{} outside {}", addr, net);
                ensure!(bookable_v6_iid(iid(v6)), "{} is unavailable", addr);
                ensure!(
                    !self.taken.contains_key(&(subnet, numeric(addr))),
                    "{} booked twice",
                    addr
                );
            }
        }
        ensure!(!self.seen.contains(&ip.id), "ip id {} reused", ip.id);
        ensure_eq!(ip.created_at, ip.updated_at);
        self.tick(ip.created_at)?;
        let resource = match (&req.resource, product) {
            (Some(c), _) => Some(MRes {
                kind: ResourceType::Custom,
                id: ResourceId::from(ip.id),
                mac: Some(c.mac_address.octets()),
                name: c.name.clone(),
                attached_at: ip.created_at,
            }),
            (None, Some(p)) => Some(MRes {
                kind: p.resource_type,
                id: p.id,
                mac: p.mac_address.map(|m| m.octets()),
                name: p.name.clone(),
                attached_at: ip.created_at,
            }),
            (None, None) => None,
        };
        let mip = MIp {
            id: ip.id,
            subnet,
            addr,
            seq: self.next_seq,
            created: ip.created_at,
            updated: ip.created_at,
            tags: req.tags.clone(),
            reverses: Vec::new(),
            resource,
        };
        self.next_seq += 1;
        self.check_view(&mip, &ip)?;
        self.seen.insert(ip.id);
        self.taken.insert((subnet, numeric(addr)), ip.id);
        self.ips.push(mip);
        self.bookings += 1;
        Ok(true)
    }

    // --- release ------------------------------------------------------------------------------

    fn releasable(&self, id: IpId) -> Result<usize, Want> {
        let i = self.find(id).ok_or(Want::Exact(Error::IpNotFound { id }))?;
        match &self.ips[i].resource {
            Some(r) => Err(Want::Exact(Error::IpAttached {
                ip_id: id,
                attached: r.reference(),
            })),
            None => Ok(i),
        }
    }

    pub(crate) fn step_release_set(
        &mut self,
        ipam: &mut Ipam,
        ids: &[IpId],
        one: bool,
    ) -> Checked<bool> {
        let predicted: Result<Vec<usize>, Want> =
            ids.iter().map(|&id| self.releasable(id)).collect();
        let got = if one {
            ipam.release_ip(REGION, ids[0])
        } else {
            ipam.release_ip_set(REGION, ids)
        };
        match predicted {
            Err(want) => {
                check_err(&want, &got)?;
                Ok(false)
            }
            Ok(_) => {
                ensure!(got.is_ok(), "expected release of {:?}, got {:?}", ids, got);
                let (taken, released) = (&mut self.taken, &mut self.released);
                self.ips.retain(|ip| {
                    let keep = !ids.contains(&ip.id);
                    if !keep {
                        taken.remove(&(ip.subnet, numeric(ip.addr)));
                        released.push(ip.id);
                    }
                    keep
                });
                Ok(true)
            }
        }
    }

    // --- update -------------------------------------------------------------------------------

    fn step_update(
        &mut self,
        ipam: &mut Ipam,
        id: IpId,
        tags: Option<u8>,
        reverses: Option<&[(u8, u8)]>,
        borrowed: bool,
    ) -> Checked<bool> {
        let target = self.find(id);
        let request = UpdateIpRequest {
            tags: tags.map(tag_set),
            reverses: reverses.map(|rs| {
                rs.iter()
                    .map(|&(h, a)| {
                        let host = if h % 8 == 7 {
                            HOSTNAMES[3]
                        } else {
                            HOSTNAMES[h as usize % 3]
                        };
                        let address = target.and_then(|i| {
                            let ip = &self.ips[i];
                            let net = self.w.subnets[ip.subnet].net;
                            let (same, other) = if ip.addr.is_ipv6() {
                                ("fd00::77", "192.168.77.1")
                            } else {
                                ("192.168.77.1", "fd00::77")
                            };
                            match a % 7 {
                                3 => Some(ip.addr),
                                4 if ip.addr.is_ipv6() => Some(v6_at(net, 0x10)),
                                4 => Some(v4_at(net, 5)),
                                5 => Some(same.parse().unwrap()),
                                6 => Some(other.parse().unwrap()),
                                _ => None,
                            }
                        });
                        Reverse::new(host, address)
                    })
                    .collect()
            }),
        };
        let got = if borrowed {
            ipam.update_ip_ref(REGION, id, request.clone())
                .map(|ip| ip.to_ip())
        } else {
            ipam.update_ip(REGION, id, request.clone())
        };
        let Some(i) = target else {
            check_err(&Want::Exact(Error::IpNotFound { id }), &got)?;
            return Ok(false);
        };
        let net = self.w.subnets[self.ips[i].subnet].net;
        let bad = request
            .reverses
            .iter()
            .flatten()
            .any(|r| r.hostname.contains(' ') || r.address.is_some_and(|a| !net.contains(&a)));
        if bad {
            check_err(&Want::Invalid("reverses"), &got)?;
            return Ok(false);
        }
        let ip = match got {
            Ok(ip) => ip,
            Err(e) => return Err(Mismatch(format!("expected update of {id}, got {e:?}"))),
        };
        self.tick(ip.updated_at)?;
        let m = &mut self.ips[i];
        m.updated = ip.updated_at;
        if let Some(t) = request.tags {
            m.tags = t;
        }
        if let Some(rs) = request.reverses {
            m.reverses = rs
                .into_iter()
                .map(|r| {
                    let host = if r.hostname.ends_with('.') {
                        r.hostname
                    } else {
                        format!("{}.", r.hostname)
                    };
                    Reverse::new(host, r.address)
                })
                .collect();
        }
        self.check_view(&self.ips[i], &ip)?;
        Ok(true)
    }

    // --- attachments --------------------------------------------------------------------------

    /// Applies a predicted change of attachment (`Ok(None)`: a no-op success) to the model and
    /// checks the engine's answer.
    fn settle(
        &mut self,
        id: IpId,
        predicted: Result<Option<Change>, Want>,
        got: Result<Ip, Error>,
    ) -> Checked<bool> {
        let change = match predicted {
            Err(want) => {
                check_err(&want, &got)?;
                return Ok(false);
            }
            Ok(c) => c,
        };
        let ip = match got {
            Ok(ip) => ip,
            Err(e) => return Err(Mismatch(format!("expected success on {id}, got {e:?}"))),
        };
        let i = self.find(id).expect("predicted on a live ip");
        let Some(change) = change else {
            // No-op success: nothing changes, `updated_at` included.
            self.check_view(&self.ips[i], &ip)?;
            return Ok(false);
        };
        let now = ip.updated_at;
        self.tick(now)?;
        let m = &mut self.ips[i];
        m.updated = now;
        m.resource = match change {
            Change::Detach => None,
            Change::Custom { mac, name } => Some(MRes {
                kind: ResourceType::Custom,
                id: ResourceId::from(id),
                mac: Some(mac),
                name,
                attached_at: now,
            }),
            Change::Product(p) => Some(MRes {
                kind: p.resource_type,
                id: p.id,
                mac: p.mac_address.map(|m| m.octets()),
                name: p.name,
                attached_at: now,
            }),
            Change::ProductInPlace(p) => {
                let at = m.resource.as_ref().expect("attached").attached_at;
                Some(MRes {
                    kind: p.resource_type,
                    id: p.id,
                    mac: p.mac_address.map(|m| m.octets()),
                    name: p.name,
                    attached_at: at,
                })
            }
        };
        self.check_view(&self.ips[i], &ip)?;
        Ok(true)
    }

    fn live(&self, id: IpId) -> Result<&MIp, Want> {
        self.find(id)
            .map(|i| &self.ips[i])
            .ok_or(Want::Exact(Error::IpNotFound { id }))
    }

    fn predict_attach(&self, id: IpId, r: &CustomResource) -> Result<Option<Change>, Want> {
        let ip = self.live(id)?;
        match &ip.resource {
            None => Ok(Some(Change::Custom {
                mac: r.mac_address.octets(),
                name: r.name.clone(),
            })),
            Some(a) if a.custom_mac() == Some(r.mac_address.octets()) => Ok(None),
            // Per the crate doc, attaching an IP attached to anything else (a product resource
            // included) is `resource_still_in_use`.
            Some(a) => Err(Want::Exact(Error::IpAttached {
                ip_id: id,
                attached: a.reference(),
            })),
        }
    }

    fn predict_detach(&self, id: IpId, r: &CustomResource) -> Result<Option<Change>, Want> {
        let ip = self.live(id)?;
        match &ip.resource {
            None => Ok(None),
            Some(a) if a.kind != ResourceType::Custom => {
                Err(Want::Exact(Error::ProductAttachment {
                    ip_id: id,
                    attached: a.reference(),
                }))
            }
            Some(a) if a.custom_mac() == Some(r.mac_address.octets()) => Ok(Some(Change::Detach)),
            Some(a) => Err(Want::Exact(Error::ResourceMismatch {
                ip_id: id,
                requested: ResourceRef::Custom(r.mac_address),
                attached: Some(a.reference()),
            })),
        }
    }

    fn predict_move(&self, id: IpId, req: &MoveIpRequest) -> Result<Option<Change>, Want> {
        let ip = self.live(id)?;
        let current = ip.resource.as_ref();
        if let Some(a) = current.filter(|a| a.kind != ResourceType::Custom) {
            return Err(Want::Exact(Error::ProductAttachment {
                ip_id: id,
                attached: a.reference(),
            }));
        }
        let current_mac = current.and_then(MRes::custom_mac);
        let to_mac = req.to_resource.as_ref().map(|t| t.mac_address.octets());
        if current_mac == to_mac {
            // Already where it should end up (on `to_resource`, or detached).
            return Ok(None);
        }
        if current_mac == Some(req.from_resource.mac_address.octets()) {
            return Ok(Some(match &req.to_resource {
                Some(t) => Change::Custom {
                    mac: t.mac_address.octets(),
                    name: t.name.clone(),
                },
                None => Change::Detach,
            }));
        }
        Err(Want::Exact(Error::ResourceMismatch {
            ip_id: id,
            requested: ResourceRef::Custom(req.from_resource.mac_address),
            attached: current.map(MRes::reference),
        }))
    }

    fn predict_attach_resource(
        &self,
        id: IpId,
        p: &ServiceResource,
    ) -> Result<Option<Change>, Want> {
        let invalid = matches!(
            p.resource_type,
            ResourceType::Custom | ResourceType::UnknownType
        );
        let ip = match self.live(id) {
            Err(not_found) if invalid => {
                return Err(Want::AnyOf(vec![not_found, Want::Invalid("resource")]))
            }
            Err(not_found) => return Err(not_found),
            Ok(ip) => ip,
        };
        if invalid {
            return Err(Want::Invalid("resource"));
        }
        match &ip.resource {
            None => Ok(Some(Change::Product(p.clone()))),
            Some(a) if a.kind == p.resource_type && a.id == p.id => {
                if a.mac == p.mac_address.map(|m| m.octets()) && a.name == p.name {
                    Ok(None)
                } else {
                    Ok(Some(Change::ProductInPlace(p.clone())))
                }
            }
            Some(a) => Err(Want::Exact(Error::IpAttached {
                ip_id: id,
                attached: a.reference(),
            })),
        }
    }

    fn predict_detach_resource(&self, id: IpId, rid: ResourceId) -> Result<Option<Change>, Want> {
        let ip = self.live(id)?;
        match &ip.resource {
            None => Ok(None),
            Some(a) if a.id == rid => Ok(Some(Change::Detach)),
            Some(a) => Err(Want::Exact(Error::ResourceMismatch {
                ip_id: id,
                requested: ResourceRef::Product(ResourceType::UnknownType, rid),
                attached: Some(a.reference()),
            })),
        }
    }

    // --- networks -----------------------------------------------------------------------------

    fn step_delete_pn(&mut self, ipam: &mut Ipam, i: usize) -> Checked {
        let id = self.w.pns[i].id;
        let booked = self
            .ips
            .iter()
            .filter(|ip| self.w.subnets[ip.subnet].pn == i)
            .count() as u64;
        let got = ipam.delete_private_network(REGION, id);
        if self.w.pns[i].deleted {
            return check_err(&Want::Exact(Error::PrivateNetworkNotFound { id }), &got);
        }
        if booked > 0 {
            return check_err(
                &Want::Exact(Error::PrivateNetworkNotEmpty { id, booked }),
                &got,
            );
        }
        ensure!(got.is_ok(), "deleting empty {} failed: {:?}", id, got);
        check_err(
            &Want::Exact(Error::PrivateNetworkNotFound { id }),
            &ipam.get_private_network(REGION, id),
        )?;
        let w = &mut self.w;
        w.pns[i].deleted = true;
        w.retired_pns.push(id);
        for &s in &w.pns[i].subnets {
            w.retired_subnets.push(w.subnets[s].id);
        }
        Ok(())
    }

    fn step_create_pn(&mut self, ipam: &mut Ipam, i: usize) -> Checked {
        let got = ipam.create_private_network(REGION, self.w.create_request(i));
        if !self.w.pns[i].deleted {
            // Its own subnets are still there: the first given one overlaps itself.
            let first = self.w.pns[i].given[0];
            return check_err(
                &Want::Exact(Error::SubnetOverlap {
                    subnet: first,
                    existing: first,
                }),
                &got,
            );
        }
        match got {
            Ok(pn) => self.w.created(i, &pn),
            Err(e) => Err(Mismatch(format!(
                "re-creating deleted PN {i} failed: {e:?}"
            ))),
        }
    }

    // --- list ---------------------------------------------------------------------------------

    pub(crate) fn list_request(&self, s: &ListSpec) -> ListIpsRequest {
        let w = &self.w;
        let project = |i: u8| match i % 3 {
            2 => ProjectId::from_uuid(uuid(UNKNOWN)),
            i => w.projects[i as usize],
        };
        let vpc = |i: u8| {
            w.vpcs
                .get(i as usize % (w.vpcs.len() + 1))
                .copied()
                .unwrap_or(VpcId::from_uuid(uuid(UNKNOWN)))
        };
        let resource_id = |sel: u16| match sel % 4 {
            0 | 1 => product_id(sel as usize),
            _ => ResourceId::from(self.ip_ref(sel / 4)),
        };
        ListIpsRequest {
            order_by: s.order,
            page: s.page,
            page_size: s.page_size,
            project_id: s.project.map(project),
            organization_id: s.organization.map(|i| match i % 4 {
                0 => w.organizations[0],
                1 => w.organizations[1],
                // Project B's own id is not its Organization: it was registered elsewhere.
                2 => OrganizationId::from_uuid(w.projects[1].uuid()),
                _ => OrganizationId::from_uuid(uuid(UNKNOWN)),
            }),
            vpc_id: s.vpc.map(vpc),
            attached: s.attached,
            resource_name: s
                .resource_name
                .map(|i| NEEDLES[i as usize % NEEDLES.len()].to_owned()),
            resource_id: s.resource_id.map(resource_id),
            resource_ids: s.resource_ids.iter().map(|&r| resource_id(r)).collect(),
            resource_type: s
                .resource_type
                .map(|i| LIST_TYPES[i as usize % LIST_TYPES.len()]),
            resource_types: s
                .resource_types
                .iter()
                .map(|&i| LIST_TYPES[i as usize % LIST_TYPES.len()])
                .collect(),
            mac_address: s.mac.map(Mac::parse),
            tags: s
                .tags
                .iter()
                .map(|&i| FILTER_TAGS[i as usize % FILTER_TAGS.len()].to_owned())
                .collect(),
            is_ipv6: s.is_ipv6,
            ip_ids: s.ip_ids.iter().map(|&i| self.ip_ref(i)).collect(),
            zonal: s.zonal.then(|| "fr-par-1".to_owned()),
            regional: s.regional,
            private_network_id: s.pn.map(|i| {
                w.pns
                    .get(i as usize % (w.pns.len() + 1))
                    .map_or(w.unknown_pn(), |p| p.id)
            }),
            subnet_id: s.subnet.map(|i| {
                w.subnets
                    .get(i as usize % (w.subnets.len() + 1))
                    .map_or(w.unknown_subnet(), |s| s.id)
            }),
            source_vpc_id: s.source_vpc.map(vpc),
        }
    }

    fn matches(&self, ip: &MIp, q: &ListIpsRequest) -> bool {
        let w = &self.w;
        let s = &w.subnets[ip.subnet];
        let pn = &w.pns[s.pn];
        let r = ip.resource.as_ref();
        let real_types: Vec<ResourceType> = q
            .resource_types
            .iter()
            .copied()
            .filter(|&t| t != ResourceType::UnknownType)
            .collect();
        q.project_id.is_none_or(|p| p == pn.project)
            && q.organization_id
                .is_none_or(|o| o == w.organization_of(pn.project))
            && q.vpc_id.is_none_or(|v| v == pn.vpc)
            && q.source_vpc_id.is_none_or(|v| v == pn.vpc)
            && q.private_network_id.is_none_or(|p| p == pn.id)
            && q.subnet_id.is_none_or(|id| id == s.id)
            && q.is_ipv6.is_none_or(|b| b == ip.addr.is_ipv6())
            && q.attached.is_none_or(|b| b == r.is_some())
            && q.resource_name.as_ref().is_none_or(|n| {
                r.and_then(|r| r.name.as_ref())
                    .is_some_and(|name| name.contains(n.as_str()))
            })
            && q.resource_id.is_none_or(|id| r.is_some_and(|r| r.id == id))
            && (q.resource_ids.is_empty() || r.is_some_and(|r| q.resource_ids.contains(&r.id)))
            && q.resource_type
                .is_none_or(|t| t == ResourceType::UnknownType || r.is_some_and(|r| r.kind == t))
            && (real_types.is_empty() || r.is_some_and(|r| real_types.contains(&r.kind)))
            && q.mac_address.is_none_or(|m| {
                r.and_then(|r| r.mac)
                    .is_some_and(|x| upper(x) == m.to_string().to_ascii_uppercase())
            })
            && (q.tags.is_empty() || ip.tags.iter().any(|t| q.tags.contains(t)))
            && (q.ip_ids.is_empty() || q.ip_ids.contains(&ip.id))
            && q.zonal.is_none()
            && q.regional != Some(true)
    }

    /// Every match, in the request's order.
    fn ordered(&self, q: &ListIpsRequest) -> Vec<&MIp> {
        let mut with: Vec<(Key, u64, &MIp)> = Vec::new();
        let mut without: Vec<&MIp> = Vec::new();
        for ip in self.ips.iter().filter(|ip| self.matches(ip, q)) {
            match key(ip, q.order_by) {
                Some(k) => with.push((k, ip.seq, ip)),
                None => without.push(ip),
            }
        }
        with.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        without.sort_by_key(|ip| ip.seq);
        if descending(q.order_by) {
            with.reverse();
            without.reverse();
        }
        with.into_iter()
            .map(|(_, _, ip)| ip)
            .chain(without)
            .collect()
    }

    fn predict_list(&self, q: &ListIpsRequest) -> Result<(u64, Vec<&MIp>), Want> {
        let bad_page = q.page == 0;
        let bad_size = q.page_size == 0 || q.page_size > 1000;
        match (bad_page, bad_size) {
            (true, true) => {
                return Err(Want::AnyOf(vec![
                    Want::Invalid("page"),
                    Want::Invalid("page_size"),
                ]))
            }
            (true, false) => return Err(Want::Invalid("page")),
            (false, true) => return Err(Want::Invalid("page_size")),
            (false, false) => {}
        }
        let all = self.ordered(q);
        let start = (q.page as usize - 1) * q.page_size as usize;
        let page = all
            .iter()
            .skip(start)
            .take(q.page_size as usize)
            .copied()
            .collect();
        Ok((all.len() as u64, page))
    }

    pub(crate) fn check_list(&self, ipam: &Ipam, q: &ListIpsRequest) -> Checked {
        let got = ipam.list_ips(REGION, q);
        match self.predict_list(q) {
            Err(want) => check_err(&want, &got),
            Ok((total, page)) => {
                let got = match got {
                    Ok(g) => g,
                    Err(e) => return Err(Mismatch(format!("list {q:?} failed: {e:?}"))),
                };
                ensure_eq!(got.total_count, total, "total_count of {:?}", q);
                let want_ids: Vec<IpId> = page.iter().map(|ip| ip.id).collect();
                let got_ids: Vec<IpId> = got.ips.iter().map(|ip| ip.id).collect();
                ensure_eq!(got_ids, want_ids, "page of {:?}", q);
                for (m, ip) in page.iter().zip(&got.ips) {
                    self.check_view(m, ip)?;
                }
                Ok(())
            }
        }
    }

    // --- one operation ------------------------------------------------------------------------

    /// Applies `op` to the engine and the model; returns whether the engine state should have
    /// changed.
    pub(crate) fn step(&mut self, ipam: &mut Ipam, op: &Op) -> Checked<bool> {
        match op {
            Op::Book(spec) => self.step_book(ipam, spec),
            Op::BookRef(spec) => {
                let req = self.book_request(spec);
                let got = ipam.book_ip_ref(REGION, req.clone()).map(|ip| ip.to_ip());
                self.settle_book(&req, None, got)
            }
            Op::BookBatch(specs) => {
                let requests: Vec<BookIpRequest> =
                    specs.iter().map(|s| self.book_request(s)).collect();
                let results = ipam.book_ips(REGION, requests.clone());
                ensure_eq!(results.len(), requests.len(), "book_ips results");
                let mut changed = false;
                for (request, got) in requests.iter().zip(results) {
                    changed |= self.settle_book(request, None, got)?;
                }
                Ok(changed)
            }
            Op::Release(sel) => {
                let id = self.ip_ref(*sel);
                self.step_release_set(ipam, &[id], true)
            }
            Op::ReleaseSet(sels) => {
                let ids: Vec<IpId> = sels.iter().map(|&s| self.ip_ref(s)).collect();
                self.step_release_set(ipam, &ids, false)
            }
            Op::Update {
                ip,
                tags,
                reverses,
                borrowed,
            } => {
                let id = self.ip_ref(*ip);
                self.step_update(ipam, id, *tags, reverses.as_deref(), *borrowed)
            }
            Op::Attach {
                ip,
                mac,
                name: n,
                borrowed,
            } => {
                let id = self.ip_ref(*ip);
                let r = CustomResource {
                    mac_address: mac.parse(),
                    name: name(*n),
                };
                let predicted = self.predict_attach(id, &r);
                let got = if *borrowed {
                    ipam.attach_ip_ref(REGION, id, r).map(|ip| ip.to_ip())
                } else {
                    ipam.attach_ip(REGION, id, r)
                };
                self.settle(id, predicted, got)
            }
            Op::Detach { ip, mac, borrowed } => {
                let id = self.ip_ref(*ip);
                let r = CustomResource::new(mac.parse());
                let predicted = self.predict_detach(id, &r);
                let got = if *borrowed {
                    ipam.detach_ip_ref(REGION, id, r).map(|ip| ip.to_ip())
                } else {
                    ipam.detach_ip(REGION, id, r)
                };
                self.settle(id, predicted, got)
            }
            Op::Move {
                ip,
                from,
                to,
                borrowed,
            } => {
                let id = self.ip_ref(*ip);
                let req = MoveIpRequest {
                    from_resource: CustomResource::new(from.parse()),
                    to_resource: to.map(|(m, n)| CustomResource {
                        mac_address: m.parse(),
                        name: name(n),
                    }),
                };
                let predicted = self.predict_move(id, &req);
                let got = if *borrowed {
                    ipam.move_ip_ref(REGION, id, req).map(|ip| ip.to_ip())
                } else {
                    ipam.move_ip(REGION, id, req)
                };
                self.settle(id, predicted, got)
            }
            Op::AttachResource { ip, product } => {
                let id = self.ip_ref(*ip);
                let r = product.resource();
                let predicted = self.predict_attach_resource(id, &r);
                let got = ipam.attach_resource(REGION, id, r);
                self.settle(id, predicted, got)
            }
            Op::DetachResource { ip, res } => {
                let id = self.ip_ref(*ip);
                let rid = match res % 3 {
                    2 => ResourceId::from(id),
                    r => product_id(r as usize),
                };
                let predicted = self.predict_detach_resource(id, rid);
                let got = ipam.detach_resource(REGION, id, rid);
                self.settle(id, predicted, got)
            }
            Op::Burst {
                target,
                count,
                tags,
            } => {
                let mut changed = false;
                for _ in 0..*count {
                    changed |= match target % 3 {
                        0 => self.book_in_pn(ipam, 0, *tags)?,
                        1 => self.book_in_pn(ipam, 1, *tags)?,
                        _ => {
                            // PN 1's first subnet, by subnet id.
                            let s = self.w.pns[1].subnets[0];
                            let req = BookIpRequest::new(
                                self.w.pns[1].project,
                                Source::SubnetId(self.w.subnets[s].id),
                            )
                            .tags(tag_set(*tags));
                            self.check_book(ipam, &req, None)?
                        }
                    };
                }
                Ok(changed)
            }
            Op::DeletePn(sel) => {
                self.step_delete_pn(ipam, *sel as usize % self.w.pns.len())?;
                Ok(false)
            }
            Op::CreatePn(sel) => {
                // Mostly a deleted one, if any, so that it comes back.
                let n = self.w.pns.len();
                let i = (0..n)
                    .map(|k| (k + *sel as usize) % n)
                    .find(|&i| sel % 4 != 0 && self.w.pns[i].deleted)
                    .unwrap_or(*sel as usize % n);
                self.step_create_pn(ipam, i)?;
                Ok(false)
            }
            Op::Get(sel) => {
                let id = self.ip_ref(*sel);
                let got = ipam.get_ip(REGION, id);
                match self.find(id) {
                    None => check_err(&Want::Exact(Error::IpNotFound { id }), &got)?,
                    Some(i) => match got {
                        Ok(ip) => self.check_view(&self.ips[i], &ip)?,
                        Err(e) => return Err(Mismatch(format!("get {id} failed: {e:?}"))),
                    },
                }
                Ok(false)
            }
            Op::List(spec) => {
                let q = self.list_request(spec);
                self.check_list(ipam, &q)?;
                Ok(false)
            }
            Op::Compact => {
                let released = ipam.released_slots(REGION);
                ensure_eq!(ipam.compact(REGION), released, "slots compact reclaims");
                ensure_eq!(
                    ipam.released_slots(REGION),
                    0,
                    "released slots after compact"
                );
                Ok(false)
            }
            Op::Reserve(n) => {
                ipam.reserve(REGION, usize::from(*n));
                Ok(false)
            }
        }
    }
}

/// A change of attachment the model predicts.
enum Change {
    Detach,
    Custom {
        mac: [u8; 6],
        name: Option<String>,
    },
    Product(ServiceResource),
    /// Same product resource again: new MAC and name, same `attached_at`.
    ProductInPlace(ServiceResource),
}

/// Every IP of the region, oldest first.
pub(crate) fn snapshot(ipam: &Ipam) -> Vec<Ip> {
    let mut all = Vec::new();
    for page in 1.. {
        let resp = ipam
            .list_ips(
                REGION,
                &ListIpsRequest {
                    order_by: OrderBy::CreatedAtAsc,
                    page,
                    page_size: 1000,
                    ..ListIpsRequest::default()
                },
            )
            .expect("unfiltered list");
        assert_eq!(resp.total_count, ipam.ip_count(REGION) as u64);
        if resp.ips.is_empty() {
            break;
        }
        all.extend(resp.ips);
    }
    all
}

/// Two Projects (the second registered to another Organization), three VPCs, four Private
/// Networks with small IPv4 subnets (one with two) and their generated IPv6 /64s. The last two
/// Private Networks overlap, in different VPCs.
pub(crate) fn setup(seed: u64) -> (Ipam, Model) {
    setup_with(seed, false)
}

/// [`setup`], with a sixth Private Network holding a /20 (4092 bookable addresses) when `big`.
pub(crate) fn setup_with(seed: u64, big: bool) -> (Ipam, Model) {
    let start = DateTime::from_timestamp(1_750_000_000, 0).unwrap();
    // Half the engines keep the MAC order index: lists by MAC address read it, or not.
    let mut ipam = Ipam::builder()
        .clock(ManualClock::new(start, TimeDelta::microseconds(1)))
        .random(SeededRandom::new(seed))
        .mac_order_index(seed.is_multiple_of(2))
        .build();
    let a = ProjectId::from_uuid(uuid(0xa));
    let b = ProjectId::from_uuid(uuid(0xb));
    let org_b = OrganizationId::from_uuid(uuid(0x0b0b));
    ipam.register_project(b, org_b);
    let extra = ipam
        .create_vpc(REGION, CreateVpcRequest::new(b))
        .expect("vpc");
    let mut layout: Vec<(ProjectId, Option<VpcId>, &[&str])> = vec![
        (a, None, &["172.16.0.0/28"]),
        (a, None, &["172.16.0.64/28", "172.16.0.32/27"]),
        (b, None, &["10.0.0.0/28"]),
        (b, Some(extra.id), &["10.0.0.0/27"]),
        (a, None, &["fd12:3456:789a:1::/64"]),
    ];
    if big {
        layout.push((a, None, &["172.16.16.0/20"]));
    }
    let mut w = World {
        projects: [a, b],
        organizations: [OrganizationId::from_uuid(a.uuid()), org_b],
        vpcs: Vec::new(),
        pns: Vec::new(),
        subnets: Vec::new(),
        retired_pns: Vec::new(),
        retired_subnets: Vec::new(),
    };
    for (project, vpc, given) in layout {
        w.pns.push(MPn {
            id: PrivateNetworkId::from_uuid(uuid(UNKNOWN)),
            project,
            vpc: VpcId::from_uuid(uuid(UNKNOWN)),
            given_vpc: vpc,
            given: given.iter().map(|s| s.parse().unwrap()).collect(),
            subnets: Vec::new(),
            deleted: true,
        });
        let i = w.pns.len() - 1;
        let pn = ipam
            .create_private_network(REGION, w.create_request(i))
            .expect("pn");
        w.created(i, &pn).unwrap();
    }
    w.vpcs = vec![w.pns[0].vpc, w.pns[2].vpc, extra.id];
    assert_eq!(w.pns[1].vpc, w.pns[0].vpc);
    assert_ne!(w.pns[2].vpc, w.pns[3].vpc);
    let last_time = w
        .pns
        .iter()
        .map(|p| ipam.get_private_network(REGION, p.id).unwrap().created_at)
        .max()
        .unwrap();
    let model = Model {
        w,
        ips: Vec::new(),
        seen: BTreeSet::new(),
        released: Vec::new(),
        taken: BTreeMap::new(),
        bookings: 0,
        last_time,
        next_seq: 0,
    };
    (ipam, model)
}

/// Runs `ops` against a fresh engine and the model, checking everything after every step.
pub(crate) fn run(seed: u64, ops: &[Op]) -> Checked<(Ipam, Model)> {
    let (mut ipam, mut model) = setup(seed);
    let mut before = model.check_all(&ipam)?;
    for op in ops {
        let changed = model.step(&mut ipam, op)?;
        let after = model.check_all(&ipam)?;
        if !changed {
            ensure_eq!(
                &after,
                &before,
                "a failed or no-op {:?} changed the state",
                op
            );
        }
        before = after;
    }
    Ok((ipam, model))
}
