//! The list query engine: it reads a region's indexes and never changes them. Filters fixed by
//! the subnet (Project, Organization, VPC, Private Network, subnet, family) select subnets, whose
//! handle sets are unioned; the other filters are posting lists that are intersected, smallest
//! first. `created_at` order is handle order, so a page is a `select` and a short walk. So is an
//! `updated_at` page, off the region's update log ([`crate::recency`]), when the matches are
//! all the IPs or dense enough among them, and an `attached_at` page, off the attach log and
//! the attached set. An `ip_address` page of every IP of some subnets (or of the region) is
//! read off their pools, subnet by subnet. A `mac_address` page is found by rank in the
//! region's MAC order ([`crate::macorder`]) when the engine keeps one, for every IP or for
//! matches dense enough in it. The rest (sparse matches by update or attachment time, MAC
//! address order without that index or over sparse matches, address order under other filters)
//! select and sort only the page's window of the matches; for a page near the start of many
//! matches, the window is cut as the keys are read, without gathering them all.

use std::borrow::Cow;

use ipnet::IpNet;
use roaring::RoaringBitmap;

use crate::engine::RegionState;
use crate::live::LiveSet;
use crate::model::enums::{OrderBy, ResourceType};
use crate::model::ids::{IpId, OrganizationId, ProjectId, ResourceId};
use crate::model::request::ListIpsRequest;
use crate::postings::{bitmap_page, slice_page, TagPostings};
use crate::registry::SubnetRecord;
use crate::store::{sorted_bitmap, Handle, Record};

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
    let (matches, subnets) = filter(rs, organization_of, request);
    let total = matches.len();
    let handles = order(
        rs,
        &matches,
        subnets.as_deref(),
        request.order_by,
        start,
        size,
    );
    Page { total, handles }
}

/// One filter's matches: a roaring bitmap, a tag's plain bitset (see [`TagPostings`]), the
/// region's live set, or handles in order (a subnet's few, or those of a tag's bitset among a
/// Private Network's); the last three read as a bitmap only when they must be.
enum Posting<'a> {
    Bitmap(Cow<'a, RoaringBitmap>),
    Dense(&'a TagPostings),
    Live(&'a LiveSet),
    Sorted(Cow<'a, [Handle]>),
}

impl<'a> Posting<'a> {
    fn len(&self) -> u64 {
        match self {
            Posting::Bitmap(b) => b.len(),
            Posting::Dense(t) => t.len(),
            Posting::Live(l) => l.len(),
            Posting::Sorted(s) => s.len() as u64,
        }
    }

    fn into_bitmap(self) -> Cow<'a, RoaringBitmap> {
        match self {
            Posting::Bitmap(b) => b,
            Posting::Dense(t) => t.bitmap(),
            Posting::Live(l) => Cow::Owned(l.bitmap()),
            Posting::Sorted(s) => Cow::Owned(sorted_bitmap(s.iter().copied())),
        }
    }

    fn to_bitmap(&self) -> Cow<'_, RoaringBitmap> {
        self.view().into_bitmap()
    }

    /// The handles, in order.
    fn handles(&self) -> Box<dyn Iterator<Item = Handle> + '_> {
        match self {
            Posting::Live(l) => Box::new(l.iter()),
            Posting::Bitmap(b) => Box::new(b.iter()),
            Posting::Dense(t) => Box::new(t.members().into_iter()),
            Posting::Sorted(s) => Box::new(s.iter().copied()),
        }
    }

    /// The test of whether a live record is among the matches; `None` when all of them are.
    fn membership(&self) -> Option<Box<dyn Fn(Handle) -> bool + '_>> {
        match self {
            Posting::Live(_) => None,
            Posting::Bitmap(b) => Some(Box::new(|h| b.contains(h))),
            Posting::Dense(t) => Some(Box::new(|h| t.contains(h))),
            Posting::Sorted(s) => Some(Box::new(|h| s.binary_search(&h).is_ok())),
        }
    }

    /// The same matches, borrowed from these.
    fn view(&self) -> Posting<'_> {
        match self {
            Posting::Bitmap(b) => Posting::Bitmap(Cow::Borrowed(&**b)),
            Posting::Dense(t) => Posting::Dense(t),
            Posting::Live(l) => Posting::Live(l),
            Posting::Sorted(s) => Posting::Sorted(Cow::Borrowed(&**s)),
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

/// The matches of `r`, and the slots of the subnets its filters fix (`None` when they fix none):
/// the matches are among those subnets' IPs.
fn filter<'a>(
    rs: &'a RegionState,
    organization_of: impl Fn(ProjectId) -> OrganizationId,
    r: &ListIpsRequest,
) -> (Posting<'a>, Option<Vec<u32>>) {
    let empty = || (Posting::Bitmap(Cow::Owned(RoaringBitmap::new())), None);
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
        match &subnets {
            None => Posting::Live(rs.store.live()),
            Some(slots) => subnet_members(rs, slots),
        }
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
                // Larger than the matches so far: test those against the bitset.
                Posting::Dense(tag) => sorted_bitmap(tag.among(acc.iter())),
                // Filters post bitmaps and tag bitsets only: the rest is read as a bitmap.
                other => acc.into_owned() & &*other.into_bitmap(),
            });
        }
        Posting::Bitmap(acc)
    };
    if let (Some(slots), true) = (&subnets, restrict_to_subnets) {
        let in_subnets: u64 = slots
            .iter()
            .map(|&s| rs.registry.subnet(s).handles.len())
            .sum();
        matches = match matches {
            // A tag's bitset with more members than the subnets: their handles are tested
            // against it, with no roaring bitmap built of the bitset (O(h / 8)) nor of the
            // matches.
            Posting::Dense(tag) if in_subnets < tag.len() => {
                Posting::Sorted(Cow::Owned(match subnet_members(rs, slots) {
                    Posting::Sorted(few) => tag.among(few.iter().copied()),
                    other => tag.among(other.into_bitmap().iter()),
                }))
            }
            other => {
                let acc = other.into_bitmap();
                if acc.len() <= in_subnets {
                    // Few matches: check each one's subnet rather than union the subnets.
                    let allowed: RoaringBitmap = slots.iter().copied().collect();
                    Posting::Bitmap(Cow::Owned(
                        acc.iter()
                            .filter(|&h| allowed.contains(rs.store.get(h).subnet))
                            .collect(),
                    ))
                } else {
                    match subnet_members(rs, slots) {
                        // A subnet's few handles (a /22's worth at most), each tested against
                        // the matches: no bitmap built of them.
                        Posting::Sorted(few) => Posting::Sorted(Cow::Owned(
                            few.iter().copied().filter(|&h| acc.contains(h)).collect(),
                        )),
                        // The intersection read off both, without a copy of the matches (a
                        // resource type's or an attached set's of a million IPs is 128 KiB).
                        members => Posting::Bitmap(Cow::Owned(&*acc & &*members.into_bitmap())),
                    }
                }
            }
        };
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
            .handles()
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
    (matches, subnets)
}

/// The handles booked in the subnets `slots`. A Private Network has an IPv4 and an IPv6
/// subnet, mostly one of them empty: the other's set is then read in place, with no union built.
fn subnet_members<'a>(rs: &'a RegionState, slots: &[u32]) -> Posting<'a> {
    let handles = |s: u32| &rs.registry.subnet(s).handles;
    let mut booked = slots.iter().copied().filter(|&s| handles(s).len() > 0);
    match (booked.next(), booked.next()) {
        (None, _) => Posting::Bitmap(Cow::Owned(RoaringBitmap::new())),
        (Some(one), None) => match handles(one).sorted() {
            Some(few) => Posting::Sorted(few),
            None => Posting::Bitmap(handles(one).bitmap()),
        },
        _ => Posting::Bitmap(Cow::Owned(slots.iter().fold(
            RoaringBitmap::new(),
            |mut union, &s| {
                handles(s).add_to(&mut union);
                union
            },
        ))),
    }
}

/// The handles of the page `start..start + size` of `matches` in `order_by`; `subnets`, those
/// [`filter`] gives.
fn order(
    rs: &RegionState,
    matches: &Posting<'_>,
    subnets: Option<&[u32]>,
    order_by: OrderBy,
    start: u64,
    size: usize,
) -> Vec<Handle> {
    // Past the last match: before any set is read as a bitmap for nothing.
    if start >= matches.len() {
        return Vec::new();
    }
    let logged = match order_by {
        OrderBy::UpdatedAtAsc | OrderBy::UpdatedAtDesc => {
            by_update_log(rs, matches, order_by.is_descending(), start, size)
        }
        OrderBy::AttachedAtAsc | OrderBy::AttachedAtDesc => {
            by_attach_log(rs, matches, order_by.is_descending(), start, size)
        }
        OrderBy::MacAddressAsc | OrderBy::MacAddressDesc => {
            by_mac_order(rs, matches, order_by.is_descending(), start, size)
        }
        _ => None,
    };
    if let Some(page) = logged {
        return page;
    }
    match (matches, order_by) {
        // Every IP, or every IP of some subnets, in address order: off the pools, subnet by
        // subnet.
        (Posting::Live(_), OrderBy::IpAddressAsc | OrderBy::IpAddressDesc) => {
            by_pools(rs, None, Directed(order_by.is_descending()), start, size)
        }
        // The matches are among the subnets' IPs: all of them when as many.
        (_, OrderBy::IpAddressAsc | OrderBy::IpAddressDesc)
            if subnets.is_some_and(|slots| held(rs, slots) == matches.len()) =>
        {
            by_pools(rs, subnets, Directed(order_by.is_descending()), start, size)
        }
        // A tag's bitset alone, and the live set, in every order with no roaring bitmap built:
        // the creation-order page straight off the bits, other orders off the members.
        (Posting::Dense(tag), _) => order_matches(rs, *tag, order_by, start, size),
        (Posting::Live(live), _) => order_matches(rs, *live, order_by, start, size),
        // Handles in order are read in place in every order.
        (Posting::Sorted(sorted), _) => order_matches(rs, &**sorted, order_by, start, size),
        _ => order_matches(rs, &*matches.to_bitmap(), order_by, start, size),
    }
}

/// The IPs of the subnets `slots`.
fn held(rs: &RegionState, slots: &[u32]) -> u64 {
    slots
        .iter()
        .map(|&s| rs.registry.subnet(s).handles.len())
        .sum()
}

/// The page in update order read off the region's update log ([`crate::recency`]), testing
/// each entry walked against the matches; `None` when reading every match costs less.
fn by_update_log(
    rs: &RegionState,
    matches: &Posting<'_>,
    desc: bool,
    start: u64,
    size: usize,
) -> Option<Vec<Handle>> {
    rs.store.updates().page(
        rs.store.live(),
        |h| rs.store.get(h).updated,
        matches.membership().as_deref(),
        matches.len(),
        desc,
        start,
        size,
    )
}

/// The page in attachment order: the attached matches first, read off the region's attach log
/// as [`by_update_log`] reads the update log, then the unattached ones, which sort last in
/// either direction, by handle in the order's. Without a filter, the unattached part is read
/// off the live and attached sets by their block counts. With one, the log is walked as if
/// every match were attached (the attached ones are not counted beforehand: a page that the
/// log fills needs no count); a page it leaves short ends the attached matches, and the
/// unattached ones are gathered, one bit test each. `None` when reading every match costs less.
fn by_attach_log(
    rs: &RegionState,
    matches: &Posting<'_>,
    desc: bool,
    start: u64,
    size: usize,
) -> Option<Vec<Handle>> {
    let attached = rs.store.attached();
    let member = matches.membership();
    // The attached matches, or (with a filter) at most that many: the matches.
    let bound = match member {
        None => attached.len(),
        Some(_) => matches.len(),
    };
    let mut page = rs.store.attachments().page(
        attached,
        |h| rs.store.attached_at(h),
        member.as_deref(),
        bound,
        desc,
        start,
        size,
    )?;
    extend_with_unkeyed(&mut page, matches, attached, desc, start, size);
    Some(page)
}

/// Completes `page`, the part of the page `start..start + size` that the matches with a key
/// (those in `keyed`: the attached IPs, or those with a MAC address) fill, with the matches
/// without one, which sort last in either direction, by handle in the order's. A page left
/// short ends the keyed matches, and one left empty starts past them all: there, the
/// unkeyed ones are read off the live set less `keyed` by their block counts when the matches
/// are every IP, else gathered, one bit test each.
fn extend_with_unkeyed(
    page: &mut Vec<Handle>,
    matches: &Posting<'_>,
    keyed: &LiveSet,
    desc: bool,
    start: u64,
    size: usize,
) {
    let rest = size - page.len();
    if rest == 0 {
        return;
    }
    // The `skip`-th unkeyed match is next.
    let past = |keyed_matches: u64| {
        if page.is_empty() {
            start - keyed_matches
        } else {
            0
        }
    };
    match matches {
        Posting::Live(live) => {
            let skip = past(keyed.len());
            page.extend(live.iter_from_without(keyed, desc, skip).take(rest));
        }
        _ => {
            let unkeyed: Vec<Handle> = matches.handles().filter(|&h| !keyed.contains(h)).collect();
            let skip = past(matches.len() - unkeyed.len() as u64);
            page.extend(slice_page(&unkeyed, desc, skip, rest));
        }
    }
}

/// The page in MAC address order, read off the region's MAC order
/// ([`crate::macorder::MacOrder`]): the matches with a MAC address first, then those without,
/// which sort last in either direction, by handle in the order's.
///
/// Every IP: the page is found by rank in the order, and past its end, among the live IPs less
/// those with a MAC address by their block counts. Some IPs: the order is walked, each handle
/// tested against the matches, when the matches are dense enough in it that the walk to the
/// page's end is shorter than reading every match (then the matches without a MAC address are
/// gathered, one bit test each, if the page needs them); `None` otherwise, and when the walk
/// runs past four times its expected length, so that sorting the matches' keys stays the
/// bound.
fn by_mac_order(
    rs: &RegionState,
    matches: &Posting<'_>,
    desc: bool,
    start: u64,
    size: usize,
) -> Option<Vec<Handle>> {
    let order = rs.index.mac_order.as_ref()?;
    let Some(member) = matches.membership() else {
        let mut page: Vec<Handle> = order.handles_from(desc, start).take(size).collect();
        extend_with_unkeyed(&mut page, matches, order.handles(), desc, start, size);
        return Some(page);
    };
    let count = matches.len();
    // The keys walked to pass the page's end, if the matches are spread evenly over them.
    let expected = start
        .saturating_add(size as u64)
        .saturating_mul(order.len())
        / count.max(1);
    if expected.saturating_mul(2) > count {
        return None;
    }
    let budget = expected.saturating_mul(4).saturating_add(4096);
    let mut page = Vec::with_capacity(size);
    let mut passed = 0u64;
    for (walked, h) in order.handles_from(desc, 0).enumerate() {
        if walked as u64 >= budget {
            return None;
        }
        if !member(h) {
            continue;
        }
        if passed < start {
            passed += 1;
        } else {
            page.push(h);
            if page.len() == size {
                return Some(page);
            }
        }
    }
    // Past every key: the page so far ends the matches with a MAC address.
    extend_with_unkeyed(&mut page, matches, order.handles(), desc, start, size);
    Some(page)
}

/// Matches in handle order, as the orders read them.
trait Matches {
    fn count(&self) -> u64;
    fn handles(&self) -> impl Iterator<Item = Handle> + '_;
    /// [`Matches::handles`] from the last.
    fn handles_rev(&self) -> impl Iterator<Item = Handle> + '_;
    /// The `size` handles that follow the first `start` (from the top with `desc`).
    fn page(&self, desc: bool, start: u64, size: usize) -> Vec<Handle>;
}

impl Matches for RoaringBitmap {
    fn count(&self) -> u64 {
        self.len()
    }

    fn handles(&self) -> impl Iterator<Item = Handle> + '_ {
        self.iter()
    }

    fn handles_rev(&self) -> impl Iterator<Item = Handle> + '_ {
        self.iter().rev()
    }

    /// A `select` and a walk from it.
    fn page(&self, desc: bool, start: u64, size: usize) -> Vec<Handle> {
        bitmap_page(self, desc, start, size)
    }
}

/// A tag's postings, read with no roaring bitmap built of a bitset.
impl Matches for TagPostings {
    fn count(&self) -> u64 {
        self.len()
    }

    fn handles(&self) -> impl Iterator<Item = Handle> + '_ {
        self.members().into_iter()
    }

    fn handles_rev(&self) -> impl Iterator<Item = Handle> + '_ {
        self.members().into_iter().rev()
    }

    fn page(&self, desc: bool, start: u64, size: usize) -> Vec<Handle> {
        TagPostings::page(self, desc, start, size)
    }
}

/// The live set, read off its bits with no roaring bitmap built of them.
impl Matches for LiveSet {
    fn count(&self) -> u64 {
        self.len()
    }

    fn handles(&self) -> impl Iterator<Item = Handle> + '_ {
        self.iter()
    }

    fn handles_rev(&self) -> impl Iterator<Item = Handle> + '_ {
        self.iter_from(true, 0)
    }

    fn page(&self, desc: bool, start: u64, size: usize) -> Vec<Handle> {
        LiveSet::page(self, desc, start, size)
    }
}

impl Matches for [Handle] {
    fn count(&self) -> u64 {
        self.len() as u64
    }

    fn handles(&self) -> impl Iterator<Item = Handle> + '_ {
        self.iter().copied()
    }

    fn handles_rev(&self) -> impl Iterator<Item = Handle> + '_ {
        self.iter().rev().copied()
    }

    fn page(&self, desc: bool, start: u64, size: usize) -> Vec<Handle> {
        slice_page(self, desc, start, size)
    }
}

fn order_matches<M: Matches + ?Sized>(
    rs: &RegionState,
    matches: &M,
    order_by: OrderBy,
    start: u64,
    size: usize,
) -> Vec<Handle> {
    let desc = order_by.is_descending();
    let d = Directed(desc);
    match order_by {
        // Handles are in creation order: select the page's first handle and walk from it.
        OrderBy::CreatedAtAsc | OrderBy::CreatedAtDesc => matches.page(desc, start, size),
        OrderBy::UpdatedAtAsc | OrderBy::UpdatedAtDesc => {
            packed_page(rs, matches, d, start, size, |r| Some(time_bits(r.updated)))
        }
        OrderBy::AttachedAtAsc | OrderBy::AttachedAtDesc => {
            packed_page(rs, matches, d, start, size, |r| {
                r.attachment().map(|a| time_bits(a.attached_at))
            })
        }
        OrderBy::MacAddressAsc | OrderBy::MacAddressDesc => {
            packed_page(rs, matches, d, start, size, |r| {
                r.attachment().and_then(|a| a.mac).map(|m| {
                    // Byte order is the order of the six bytes read as one big-endian integer.
                    let mut bytes = [0; 8];
                    bytes[2..].copy_from_slice(&m.octets());
                    u64::from_be_bytes(bytes)
                })
            })
        }
        OrderBy::IpAddressAsc | OrderBy::IpAddressDesc => by_address(rs, matches, d, start, size),
    }
}

/// The page of `matches` sorted by `key` of their records, packed with the handle
/// ([`packed_key`]) and read back from the page's keys.
///
/// A page near the start of many matches (its end at most a quarter of them) is cut from the
/// keys as they are read ([`streamed_window`]), in the order's direction: keys that rise with
/// creation (MAC addresses handed out in turn) then come smallest first, and most are passed
/// over at a comparison. Otherwise every key is gathered and the page's [`window`] cut out.
fn packed_page<M: Matches + ?Sized>(
    rs: &RegionState,
    matches: &M,
    d: Directed,
    start: u64,
    size: usize,
    key: impl Fn(&Record) -> Option<u64>,
) -> Vec<Handle> {
    let keyed = |h: Handle| packed_key(key(rs.store.get(h)), h, d);
    let page = match usize::try_from(start) {
        Ok(start) if start.saturating_add(size) as u64 <= matches.count() / 4 => {
            if d.0 {
                streamed_window(matches.handles_rev().map(keyed), start, size)
            } else {
                streamed_window(matches.handles().map(keyed), start, size)
            }
        }
        _ => window(matches.handles().map(keyed).collect(), start, size),
    };
    page.iter().map(|&k| d.of(k as u32)).collect()
}

/// The page of `matches` in address order (IPv4 addresses before IPv6 ones, ascending; ties, in
/// overlapping subnets of different networks, by handle in the order's direction). Each family
/// is sorted apart, IPv4 keys as one `u64` with their handle.
fn by_address<M: Matches + ?Sized>(
    rs: &RegionState,
    matches: &M,
    d: Directed,
    start: u64,
    size: usize,
) -> Vec<Handle> {
    let base = |net: IpNet| {
        let (is_ipv6, first, _) = block_span(net);
        (is_ipv6, first)
    };
    // An address is its subnet's network address plus its offset: `Pool::address`, done here
    // on integers (building each match's `IpAddr` from its block and taking it apart again cost
    // 14 % more instructions in this loop). With at least as many matches as subnets, each
    // subnet's network address is read once into a table by slot; fewer matches (a network's
    // IPs in a region of many networks) read their own subnet's.
    let mut bases = Vec::new();
    if matches.count() >= rs.registry.slot_count() as u64 {
        bases.resize(rs.registry.slot_count(), (false, 0));
        for (slot, subnet) in rs.registry.subnet_slots() {
            bases[slot as usize] = base(subnet.net());
        }
    }
    let base_of = |slot: u32| {
        bases
            .get(slot as usize)
            .copied()
            .unwrap_or_else(|| base(rs.registry.subnet(slot).net()))
    };
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for h in matches.handles() {
        let r = rs.store.get(h);
        let (is_ipv6, network) = base_of(r.subnet);
        let address = network.wrapping_add(u128::from(r.offset));
        if is_ipv6 {
            v6.push((d.of(address), d.of(h)));
        } else {
            // IPv4 offsets stay within the subnet: the address fits 32 bits.
            v4.push((u64::from(d.of(address as u32)) << 32) | u64::from(d.of(h)));
        }
    }
    // Ascending, the IPv4 keys come first; descending, the IPv6 ones. The page's positions in
    // the first family, then in the second, each as a start and a length.
    let first_len = if d.0 { v6.len() } else { v4.len() } as u64;
    let end = start.saturating_add(size as u64);
    let part = |lo: u64, hi: u64| (lo, (hi - lo) as usize);
    let in_first = part(start.min(first_len), end.min(first_len));
    let in_second = part(
        start.max(first_len) - first_len,
        end.max(first_len) - first_len,
    );
    let (v4_part, v6_part) = if d.0 {
        (in_second, in_first)
    } else {
        (in_first, in_second)
    };
    let v4_page = window(v4, v4_part.0, v4_part.1);
    let v6_page = window(v6, v6_part.0, v6_part.1);
    let v4_handles = v4_page.iter().map(|&k| d.of(k as u32));
    let v6_handles = v6_page.iter().map(|k| d.of(k.1));
    if d.0 {
        v6_handles.chain(v4_handles).collect()
    } else {
        v4_handles.chain(v6_handles).collect()
    }
}

/// The page of every IP (of the subnets `slots`, with them) in address order ([`by_address`]'s),
/// read off the subnets' pools: the
/// subnets sorted by family and network address and grouped where their blocks overlap (the
/// same block in networks of different VPCs), the groups before the page skipped by their
/// counts. The page's group of one IPv4 subnet is walked in its owner array, in offset order;
/// a group of several subnets, or of an IPv6 one (whose map is in no order), has its
/// addresses gathered and the page's window selected out of them. O(subnets log subnets +
/// the page's group), where reading every IP cost O(n).
fn by_pools(
    rs: &RegionState,
    slots: Option<&[u32]>,
    d: Directed,
    start: u64,
    size: usize,
) -> Vec<Handle> {
    let subnets: Box<dyn Iterator<Item = (u32, &SubnetRecord)>> = match slots {
        None => Box::new(rs.registry.subnet_slots()),
        Some(slots) => Box::new(slots.iter().map(|&s| (s, rs.registry.subnet(s)))),
    };
    // Family, first and last address, slot; only subnets that hold IPs.
    let mut subnets: Vec<(bool, u128, u128, u32)> = subnets
        .filter(|(_, s)| s.pool.len() > 0)
        .map(|(slot, s)| {
            let (is_ipv6, first, last) = block_span(s.net());
            (is_ipv6, first, last, slot)
        })
        .collect();
    subnets.sort_unstable();
    // Groups of overlapping blocks, as ranges of `subnets`.
    let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
    let mut reach = None;
    for (i, &(v6, first, last, _)) in subnets.iter().enumerate() {
        match (groups.last_mut(), reach) {
            (Some(group), Some((family, end))) if family == v6 && first <= end => {
                group.end = i + 1;
                reach = Some((v6, last.max(end)));
            }
            _ => {
                groups.push(i..i + 1);
                reach = Some((v6, last));
            }
        }
    }
    if d.0 {
        groups.reverse();
    }
    let count = |slot: u32| rs.registry.subnet(slot).pool.len();
    let mut skip = start;
    let mut page = Vec::with_capacity(size.min(1024));
    for group in groups {
        if page.len() == size {
            break;
        }
        let members = &subnets[group];
        let in_group: u64 = members.iter().map(|s| count(s.3)).sum();
        if skip >= in_group {
            skip -= in_group;
            continue;
        }
        let want = size - page.len();
        let pool = &rs.registry.subnet(members[0].3).pool;
        match (members, pool.v4_owners()) {
            ([_], Some(owners)) => {
                let skip = usize::try_from(skip).unwrap_or(usize::MAX);
                let owned: Box<dyn Iterator<Item = (u64, u32)>> = if d.0 {
                    Box::new(owners.rev())
                } else {
                    Box::new(owners)
                };
                page.extend(owned.skip(skip).take(want).map(|(_, h)| h));
            }
            _ => {
                let mut keys: Vec<(u128, Handle)> = Vec::new();
                for &(_, first, _, slot) in members {
                    let owners = rs.registry.subnet(slot).pool.owners();
                    keys.extend(owners.map(|(offset, h)| {
                        (d.of(first.wrapping_add(u128::from(offset))), d.of(h))
                    }));
                }
                page.extend(window(keys, skip, want).into_iter().map(|k| d.of(k.1)));
            }
        }
        skip = 0;
    }
    page
}

/// A block's family (IPv6 or not) and its first and last addresses, as integers.
fn block_span(net: IpNet) -> (bool, u128, u128) {
    match net {
        IpNet::V4(n) => (
            false,
            u128::from(u32::from(n.network())),
            u128::from(u32::from(n.broadcast())),
        ),
        IpNet::V6(n) => (true, u128::from(n.network()), u128::from(n.broadcast())),
    }
}

/// Turns a key's bits around for a descending order, so that every order sorts ascending.
#[derive(Clone, Copy)]
struct Directed(bool);

impl Directed {
    /// `v`, its bits inverted for a descending order.
    fn of<T: std::ops::Not<Output = T>>(self, v: T) -> T {
        if self.0 {
            !v
        } else {
            v
        }
    }
}

/// A time in microseconds as a `u64` in the same order.
fn time_bits(micros: i64) -> u64 {
    micros.cast_unsigned() ^ (1 << 63)
}

/// The sort key of handle `h` with `key` in one integer, ascending in the order's direction:
/// the key then the handle (both turned around for a descending order), and a missing key after
/// every present one in either direction, missing keys among themselves by handle. The handle
/// is the low 32 bits, turned around as the key is.
fn packed_key(key: Option<u64>, h: Handle, d: Directed) -> u128 {
    let (missing, bits) = match key {
        Some(k) => (0, d.of(k)),
        None => (1, 0),
    };
    (missing << 96) | (u128::from(bits) << 32) | u128::from(d.of(h))
}

/// The keys at positions `start..start + size` of `keys` sorted, in order. Two selections cut
/// out the page, and only the page is sorted: O(m + p log p) for m keys and a page of p,
/// however deep the page.
fn window<K: Ord + Copy>(mut keys: Vec<K>, start: u64, size: usize) -> Vec<K> {
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    let end = start.saturating_add(size).min(keys.len());
    if start >= end {
        return Vec::new();
    }
    if end < keys.len() {
        keys.select_nth_unstable(end);
        keys.truncate(end);
    }
    if start > 0 {
        keys.select_nth_unstable(start);
    }
    let mut page = keys.split_off(start);
    page.sort_unstable();
    page
}

/// What [`window`] gives of the keys `keys` yields, read in one pass that holds at most
/// `2 * (start + size)` of them: the smallest `start + size` seen so far are kept, cut back
/// to by a selection each time the buffer fills, and a key above the largest kept is passed
/// over. O(m + p log m) for m keys and a page ending at p (keys in a random order), against
/// the m keys [`window`] holds and selects among twice.
fn streamed_window<K: Ord + Copy>(
    keys: impl Iterator<Item = K>,
    start: usize,
    size: usize,
) -> Vec<K> {
    let end = start.saturating_add(size);
    if size == 0 {
        return Vec::new();
    }
    let mut kept = Vec::with_capacity(end.saturating_mul(2).min(1 << 16));
    let mut bound = None;
    for key in keys {
        if bound.is_some_and(|b| key > b) {
            continue;
        }
        kept.push(key);
        if kept.len() == end.saturating_mul(2) {
            kept.select_nth_unstable(end - 1);
            kept.truncate(end);
            bound = Some(kept[end - 1]);
        }
    }
    window(kept, start as u64, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::collection::vec;

    proptest::proptest! {
        /// The streamed window is the window, for keys in any order (ascending, descending or
        /// mixed), with repeated keys, on pages before, across and past the end.
        #[test]
        fn streamed_window_is_the_window(
            mut keys in vec(0u16..400, 0..3000),
            shape in 0u8..3,
            start in 0usize..1500,
            size in 0usize..400,
        ) {
            match shape {
                0 => keys.sort_unstable(),
                1 => keys.sort_unstable_by(|a, b| b.cmp(a)),
                _ => {}
            }
            proptest::prop_assert_eq!(
                streamed_window(keys.iter().copied(), start, size),
                window(keys, start as u64, size)
            );
        }
    }
}
