//! The list query engine: it reads a region's indexes and never changes them. Filters fixed by
//! the subnet (Project, Organization, VPC, Private Network, subnet, family) select subnets, whose
//! handle sets are unioned; the other filters are posting lists that are intersected, smallest
//! first. `created_at` order is handle order, so a page is a `select` and a short walk; the other
//! orders select and sort only the page's window of the matches.

use std::borrow::Cow;
use std::cmp::Ordering;

use roaring::RoaringBitmap;

use crate::engine::RegionState;
use crate::model::enums::{OrderBy, ResourceType};
use crate::model::ids::{IpId, OrganizationId, ProjectId, ResourceId};
use crate::model::request::ListIpsRequest;
use crate::postings::{bitmap_page, TagPostings};
use crate::registry::SubnetRecord;
use crate::store::Handle;

/// The matches of a list request: their count and the handles of the requested page.
pub(crate) struct Page {
    pub(crate) total: u64,
    pub(crate) handles: Vec<Handle>,
}

/// Runs `request` over one region. `start` and `size` come from the validated page.
pub(crate) fn run(
    rs: &RegionState,
    organization_of: impl Fn(ProjectId) -> OrganizationId,
    request: &ListIpsRequest,
    start: u64,
    size: usize,
) -> Page {
    let matches = filter(rs, organization_of, request);
    let total = matches.len();
    let handles = order(rs, &matches, request.order_by, start, size);
    Page { total, handles }
}

/// One filter's matches: a roaring bitmap, or a tag's plain bitset (see [`TagPostings`]), read
/// as a bitmap only when it must be.
enum Posting<'a> {
    Bitmap(Cow<'a, RoaringBitmap>),
    Dense(&'a TagPostings),
}

impl<'a> Posting<'a> {
    fn len(&self) -> u64 {
        match self {
            Posting::Bitmap(b) => b.len(),
            Posting::Dense(t) => t.len(),
        }
    }

    fn into_bitmap(self) -> Cow<'a, RoaringBitmap> {
        match self {
            Posting::Bitmap(b) => b,
            Posting::Dense(t) => t.bitmap(),
        }
    }

    fn to_bitmap(&self) -> Cow<'_, RoaringBitmap> {
        match self {
            Posting::Bitmap(b) => Cow::Borrowed(&**b),
            Posting::Dense(t) => t.bitmap(),
        }
    }
}

fn subnet_matches(
    s: &SubnetRecord,
    organization_of: &impl Fn(ProjectId) -> OrganizationId,
    r: &ListIpsRequest,
) -> bool {
    r.project_id.is_none_or(|p| s.project == p)
        && r.organization_id
            .is_none_or(|o| organization_of(s.project) == o)
        && r.vpc_id.is_none_or(|v| s.vpc == v)
        && r.source_vpc_id.is_none_or(|v| s.vpc == v)
        && r.private_network_id.is_none_or(|p| s.pn == p)
        && r.subnet_id.is_none_or(|id| s.id == id)
        && r.is_ipv6.is_none_or(|v6| s.is_ipv6() == v6)
}

/// The subnets allowed by the subnet-level filters, or `None` when they filter nothing.
fn allowed_subnets(
    rs: &RegionState,
    organization_of: &impl Fn(ProjectId) -> OrganizationId,
    r: &ListIpsRequest,
) -> Option<Vec<u32>> {
    let any = r.project_id.is_some()
        || r.organization_id.is_some()
        || r.vpc_id.is_some()
        || r.source_vpc_id.is_some()
        || r.private_network_id.is_some()
        || r.subnet_id.is_some()
        || r.is_ipv6.is_some();
    if !any {
        return None;
    }
    let reg = &rs.registry;
    let keep = |&slot: &u32| subnet_matches(reg.subnet(slot), organization_of, r);
    // Start from the narrowest known set of subnets.
    let slots: Vec<u32> = if let Some(id) = r.subnet_id {
        reg.subnet_slot(id).into_iter().filter(keep).collect()
    } else if let Some(id) = r.private_network_id {
        reg.pns
            .get(&id)
            .map(|p| p.subnets.iter().copied().filter(keep).collect())
            .unwrap_or_default()
    } else if let Some(id) = r.vpc_id.or(r.source_vpc_id) {
        reg.vpcs
            .get(&id)
            .map(|v| v.subnets.slots().filter(keep).collect())
            .unwrap_or_default()
    } else {
        reg.subnet_slots()
            .map(|(slot, _)| slot)
            .filter(keep)
            .collect()
    };
    Some(slots)
}

/// Handles of the IPs attached to resource `id`: product attachments from the index, and the
/// IP whose own id it is when that IP is attached to a custom resource.
fn attached_to(rs: &RegionState, id: ResourceId) -> impl Iterator<Item = Handle> + '_ {
    let custom = rs.store.handle(IpId::from_uuid(id.uuid())).filter(|&h| {
        rs.store
            .get(h)
            .attachment()
            .is_some_and(|a| a.resource_type == ResourceType::Custom)
    });
    rs.index.resource(id).iter().chain(custom)
}

fn from_handles(handles: impl IntoIterator<Item = Handle>) -> RoaringBitmap {
    handles.into_iter().collect()
}

fn filter<'a>(
    rs: &'a RegionState,
    organization_of: impl Fn(ProjectId) -> OrganizationId,
    r: &ListIpsRequest,
) -> Posting<'a> {
    let empty = || Posting::Bitmap(Cow::Owned(RoaringBitmap::new()));
    // Private IPs are never zonal nor regional.
    if r.zonal.is_some() || r.regional == Some(true) {
        return empty();
    }
    let index = &rs.index;
    let mut postings: Vec<Posting<'a>> = Vec::new();
    let mut push = |b: Cow<'a, RoaringBitmap>| postings.push(Posting::Bitmap(b));
    if !r.ip_ids.is_empty() {
        push(Cow::Owned(from_handles(rs.store.handles_of(&r.ip_ids))));
    }
    if let Some(id) = r.resource_id {
        push(Cow::Owned(from_handles(attached_to(rs, id))));
    }
    if !r.resource_ids.is_empty() {
        push(Cow::Owned(from_handles(
            r.resource_ids.iter().flat_map(|&id| attached_to(rs, id)),
        )));
    }
    if let Some(mac) = r.mac_address {
        push(Cow::Owned(from_handles(index.mac(mac).iter())));
    }
    if let Some(t) = r.resource_type.filter(|&t| t != ResourceType::UnknownType) {
        push(Cow::Borrowed(&index.by_type[t.index()]));
    }
    let types: Vec<ResourceType> = r
        .resource_types
        .iter()
        .copied()
        .filter(|&t| t != ResourceType::UnknownType)
        .collect();
    if !types.is_empty() {
        push(Cow::Owned(
            types.iter().fold(RoaringBitmap::new(), |acc, t| {
                acc | &index.by_type[t.index()]
            }),
        ));
    }
    if r.attached == Some(true) {
        push(index.attached());
    }
    if !r.tags.is_empty() {
        let mut ids: Vec<u32> = r.tags.iter().filter_map(|t| index.tags.id(t)).collect();
        ids.sort_unstable();
        ids.dedup();
        postings.push(match ids.as_slice() {
            [one] => match index.tags.postings(*one) {
                dense @ TagPostings::Dense { .. } => Posting::Dense(dense),
                sparse => Posting::Bitmap(sparse.bitmap()),
            },
            many => Posting::Bitmap(Cow::Owned(
                many.iter().fold(RoaringBitmap::new(), |acc, &id| {
                    acc | &*index.tags.handles(id)
                }),
            )),
        });
    }

    let subnets = allowed_subnets(rs, &organization_of, r);
    // Without postings, the matches are the subnets' handles themselves.
    let restrict_to_subnets = !postings.is_empty();
    // A dense tag is read as a roaring bitmap only by the steps below that apply.
    let mut matches: Posting<'a> = if postings.is_empty() {
        Posting::Bitmap(match &subnets {
            None => Cow::Borrowed(rs.store.live()),
            Some(slots) => subnet_members(rs, slots),
        })
    } else if postings.len() == 1 {
        postings.pop().expect("one posting")
    } else {
        postings.sort_by_key(Posting::len);
        let mut iter = postings.into_iter();
        let mut acc = iter.next().expect("non-empty").into_bitmap();
        for b in iter {
            if acc.is_empty() {
                break;
            }
            acc = Cow::Owned(match b {
                Posting::Bitmap(b) => acc.into_owned() & &*b,
                // Larger than the matches so far: test those against the bitset.
                Posting::Dense(tag) => acc.iter().filter(|&h| tag.contains(h)).collect(),
            });
        }
        Posting::Bitmap(acc)
    };
    if let (Some(slots), true) = (&subnets, restrict_to_subnets) {
        let acc = matches.into_bitmap();
        let in_subnets: u64 = slots
            .iter()
            .map(|&s| rs.registry.subnet(s).handles.len())
            .sum();
        matches = Posting::Bitmap(Cow::Owned(if acc.len() <= in_subnets {
            // Few matches: check each one's subnet rather than union the subnets.
            let allowed: RoaringBitmap = slots.iter().copied().collect();
            acc.iter()
                .filter(|&h| allowed.contains(rs.store.get(h).subnet))
                .collect()
        } else {
            acc.into_owned() & &*subnet_members(rs, slots)
        }));
    }
    if r.attached == Some(false) {
        let mut unattached = matches.into_bitmap().into_owned();
        for set in index.attached_by_type() {
            unattached -= set;
        }
        matches = Posting::Bitmap(Cow::Owned(unattached));
    }
    if let Some(needle) = &r.resource_name {
        let named = matches
            .to_bitmap()
            .iter()
            .filter(|&h| {
                rs.store
                    .get(h)
                    .attachment()
                    .and_then(|a| a.name)
                    .is_some_and(|n| n.contains(needle.as_str()))
            })
            .collect();
        matches = Posting::Bitmap(Cow::Owned(named));
    }
    matches
}

/// The handles booked in the subnets `slots`. A Private Network has an IPv4 and an IPv6
/// subnet, mostly one of them empty: the other's set is then read in place, with no union built.
fn subnet_members<'a>(rs: &'a RegionState, slots: &[u32]) -> Cow<'a, RoaringBitmap> {
    let handles = |s: u32| &rs.registry.subnet(s).handles;
    let mut booked = slots.iter().copied().filter(|&s| handles(s).len() > 0);
    match (booked.next(), booked.next()) {
        (None, _) => Cow::Owned(RoaringBitmap::new()),
        (Some(one), None) => handles(one).bitmap(),
        _ => Cow::Owned(slots.iter().fold(RoaringBitmap::new(), |mut union, &s| {
            handles(s).add_to(&mut union);
            union
        })),
    }
}

fn order(
    rs: &RegionState,
    matches: &Posting<'_>,
    order_by: OrderBy,
    start: u64,
    size: usize,
) -> Vec<Handle> {
    match (matches, order_by) {
        // A tag's bitset alone: its creation-order page is read off it, no roaring bitmap built.
        (Posting::Dense(tag), OrderBy::CreatedAtAsc | OrderBy::CreatedAtDesc) => {
            tag.page(order_by.is_descending(), start, size)
        }
        _ => order_bitmap(rs, &matches.to_bitmap(), order_by, start, size),
    }
}

fn order_bitmap(
    rs: &RegionState,
    matches: &RoaringBitmap,
    order_by: OrderBy,
    start: u64,
    size: usize,
) -> Vec<Handle> {
    if start >= matches.len() {
        return Vec::new();
    }
    let desc = order_by.is_descending();
    let store = &rs.store;
    match order_by {
        // Handles are in creation order: select the page's first handle and walk from it.
        OrderBy::CreatedAtAsc | OrderBy::CreatedAtDesc => bitmap_page(matches, desc, start, size),
        OrderBy::UpdatedAtAsc | OrderBy::UpdatedAtDesc => {
            window(matches, desc, start, size, |h| Some(store.get(h).updated))
        }
        OrderBy::AttachedAtAsc | OrderBy::AttachedAtDesc => {
            window(matches, desc, start, size, |h| {
                store.get(h).attachment().map(|a| a.attached_at)
            })
        }
        OrderBy::IpAddressAsc | OrderBy::IpAddressDesc => window(matches, desc, start, size, |h| {
            let r = store.get(h);
            let s = rs.registry.subnet(r.subnet);
            let addr = match s.pool.address(r.offset) {
                std::net::IpAddr::V4(a) => (false, u128::from(u32::from(a))),
                std::net::IpAddr::V6(a) => (true, u128::from(a)),
            };
            Some(addr)
        }),
        OrderBy::MacAddressAsc | OrderBy::MacAddressDesc => {
            window(matches, desc, start, size, |h| {
                store.get(h).attachment().and_then(|a| a.mac)
            })
        }
    }
}

/// Sorts by `key` (missing keys last in both directions; ties by handle in the key's direction)
/// and returns the page. Two selections cut out the page, and only the page is sorted:
/// O(m + p log p) for m matches and a page of p, however deep the page.
fn window<K: Ord>(
    matches: &RoaringBitmap,
    desc: bool,
    start: u64,
    size: usize,
    key: impl Fn(Handle) -> Option<K>,
) -> Vec<Handle> {
    let mut keyed: Vec<(Option<K>, Handle)> = matches.iter().map(|h| (key(h), h)).collect();
    let cmp = |a: &(Option<K>, Handle), b: &(Option<K>, Handle)| -> Ordering {
        let directed = |o: Ordering| if desc { o.reverse() } else { o };
        match (&a.0, &b.0) {
            (None, None) => directed(a.1.cmp(&b.1)),
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => directed(x.cmp(y).then(a.1.cmp(&b.1))),
        }
    };
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    let end = start.saturating_add(size).min(keyed.len());
    if start >= end {
        return Vec::new();
    }
    if end < keyed.len() {
        keyed.select_nth_unstable_by(end, cmp);
        keyed.truncate(end);
    }
    if start > 0 {
        keyed.select_nth_unstable_by(start, cmp);
    }
    let page = &mut keyed[start..];
    page.sort_unstable_by(cmp);
    page.iter().map(|&(_, h)| h).collect()
}
