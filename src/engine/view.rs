//! [`IpRef`]: a booked IP read in place, without building an owned [`Ip`].

use std::mem::MaybeUninit;
use std::ptr::addr_of_mut;

use chrono::{DateTime, Utc};
use ipnet::IpNet;

use crate::engine::{Ipam, RegionState};
use crate::error::Error;
use crate::model::enums::{Region, ResourceType};
use crate::model::ids::{IpId, PrivateNetworkId, ProjectId, ResourceId, SubnetId, VpcId};
use crate::model::ip::{Ip, Resource, Reverse, Source};
use crate::model::mac::MacAddress;
use crate::model::tags::Tags;
use crate::model::tags::TagsIter;
use crate::model::time::{from_micros, on_today};
use crate::pool::Pool;
use crate::store::{AttachmentRef, Handle, Record};

/// A booked IP, borrowed from the engine: every field of [`Ip`] read in place, with no
/// allocation. [`IpRef::to_ip`] builds the owned [`Ip`] the API returns.
///
/// ```
/// use ipam_engine::{BookIpRequest, CreatePrivateNetworkRequest, Ipam, ProjectId, Region, Source};
///
/// # fn main() -> Result<(), ipam_engine::Error> {
/// let mut ipam = Ipam::new();
/// let project = ProjectId::from_uuid(uuid::Uuid::from_u128(1));
/// let pn = ipam.create_private_network(Region::FrPar, CreatePrivateNetworkRequest::new(project))?;
/// let request = BookIpRequest::new(project, Source::PrivateNetworkId(pn.id)).tags(["web"]);
/// let id = ipam.book_ip(Region::FrPar, request)?.id;
///
/// let ip = ipam.ip(Region::FrPar, id)?;
/// assert_eq!(ip.address().to_string(), "172.16.0.2/22");
/// assert_eq!(ip.tags().collect::<Vec<_>>(), ["web"]);
/// assert_eq!(ip.to_ip(), ipam.get_ip(Region::FrPar, id)?);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy)]
pub struct IpRef<'a> {
    rs: &'a RegionState,
    record: &'a Record,
}

impl std::fmt::Debug for IpRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpRef")
            .field("id", &self.id())
            .field("address", &self.address())
            .finish_non_exhaustive()
    }
}

impl<'a> IpRef<'a> {
    pub(crate) fn new(rs: &'a RegionState, handle: Handle) -> Self {
        Self {
            rs,
            record: rs.store.get(handle),
        }
    }

    /// The IP of `record`, a live record of `rs` already found (by [`Ipam::ip`]).
    pub(crate) fn of_record(rs: &'a RegionState, record: &'a Record) -> Self {
        Self { rs, record }
    }

    fn subnet(&self) -> &'a crate::registry::SubnetRecord {
        self.rs.registry.subnet(self.record.subnet)
    }

    fn attachment(&self) -> Option<AttachmentRef<'a>> {
        self.record.attachment()
    }

    /// The IP's id.
    pub fn id(&self) -> IpId {
        self.record.id
    }

    /// The address with its subnet's prefix length.
    pub fn address(&self) -> IpNet {
        self.subnet().pool.address_net(self.record.offset)
    }

    /// The Project the IP belongs to.
    pub fn project_id(&self) -> ProjectId {
        self.subnet().project
    }

    /// Whether this is an IPv6 address.
    pub fn is_ipv6(&self) -> bool {
        self.subnet().is_ipv6()
    }

    /// The subnet the IP was booked in (its `source`).
    pub fn subnet_id(&self) -> SubnetId {
        self.subnet().id
    }

    /// The Private Network of its subnet.
    pub fn private_network_id(&self) -> PrivateNetworkId {
        self.subnet().pn
    }

    /// The VPC of its Private Network.
    pub fn vpc_id(&self) -> VpcId {
        self.subnet().vpc
    }

    /// When the IP was booked.
    pub fn created_at(&self) -> DateTime<Utc> {
        from_micros(self.record.created)
    }

    /// When the IP was last modified.
    pub fn updated_at(&self) -> DateTime<Utc> {
        from_micros(self.record.updated)
    }

    /// The IP's tags, in the order they were given.
    pub fn tags(&self) -> TagsIter<'a> {
        self.rs.index.tag_names(self.record.tags).iter()
    }

    /// The type of the resource the IP is attached to, if any.
    pub fn resource_type(&self) -> Option<ResourceType> {
        self.attachment().map(|a| a.resource_type)
    }

    /// The id of the resource the IP is attached to, if any (a custom resource's is the IP's).
    pub fn resource_id(&self) -> Option<ResourceId> {
        self.attachment().map(|a| a.id)
    }

    /// The MAC address of the resource the IP is attached to, if it has one.
    pub fn mac_address(&self) -> Option<MacAddress> {
        self.attachment().and_then(|a| a.mac)
    }

    /// The name of the resource the IP is attached to, if it has one.
    pub fn resource_name(&self) -> Option<&'a str> {
        self.attachment().and_then(|a| a.name)
    }

    /// The resource the IP is attached to, owned.
    pub fn resource(&self) -> Option<Resource> {
        self.attachment().map(crate::engine::resource_view)
    }

    /// Reverse DNS entries.
    pub fn reverses(&self) -> &'a [Reverse] {
        self.record.reverses()
    }

    /// The IP's region.
    pub fn region(&self) -> Region {
        self.rs.region
    }

    /// The owned [`Ip`], as the API returns it.
    #[inline]
    pub fn to_ip(&self) -> Ip {
        let mut ip = MaybeUninit::uninit();
        fill(self.rs, self.record, &mut ip);
        #[allow(unsafe_code)]
        // SAFETY: `fill` writes every field of the `Ip`, each with a valid value (the
        // exhaustive pattern after `fill` names them all, so a field added to `Ip` fails to
        // compile until `fill` is revisited).
        unsafe {
            ip.assume_init()
        }
    }
}

/// Writes the owned [`Ip`] of `record` into `ip`, every field once, in place.
///
/// Why not one struct literal: the compiler builds an `Ip` (256 bytes of nested enums) from a
/// literal in stack temporaries, merging the branches of each enum there, and copies them out:
/// a get made 89 stores, 73 of them building the `Ip`. Written field by field through a pointer
/// the compiler cannot keep in registers, each branch stores its own value once.
///
/// Why the common record has a path of its own ([`fill_common`]): in a loop of gets of
/// scattered ids, each get waits on its record's cache miss, and what comes after that load
/// and needs the record (the instructions that compute the `Ip`'s fields from it, the stores
/// that write them, the registers a call saves on the stack) waits in the processor's queues
/// until the miss is served. When one get leaves too much of it, the queues are full before
/// the next get's record load is reached, the misses of successive gets stop overlapping, and
/// each get costs a whole miss. The effect is a threshold, not a slope: at 1M IPs an owned get
/// took 185-210 ns, twice the borrowed one ([`Ipam::ip`], 95-105 ns), until its work behind
/// the miss was cut to what [`fill_common`] does, and then 120-130 ns. Two of the steps
/// there were worth all of it: the MAC address decoded from the record in a few instructions
/// (get at 1.8x the borrowed one) or written as a constant (1.3x). So `fill_common` makes no
/// call (no register saved on the stack, no thread-local: see `model/time.rs`), converts the
/// two timestamps with no 64-bit division and writes them in three 8-byte stores, reads the
/// MAC address as one word ([`MacAddress`]'s form, kept as is in the record), and adds the
/// offset to the IPv4 block's base address kept in the pool.
///
/// The common record: an IPv4 address; no resource or a custom one without a name (held
/// inline in the record); no reverses; tags held inline; both times on the day of the
/// engine's last clock reading (`model/time.rs`, `TODAY`). Any other record, or the first of a new day, goes to [`fill_any`],
/// which writes every field again.
///
/// Not inlined, so that `ip` stays a pointer.
#[inline(never)]
fn fill(rs: &RegionState, record: &Record, ip: &mut MaybeUninit<Ip>) {
    if !fill_common(rs, record, ip) {
        fill_any(rs, record, ip);
    }
}

/// [`fill`] of the common record, without a call: `true` once every field is written, `false`
/// (some fields written, which [`fill_any`] writes again) for any other record. Fields are
/// written as soon as they are known, the timestamps first, so that few values are held in
/// registers at once: with the timestamps last, the compiler saved five registers on the
/// stack; first, two.
#[inline]
fn fill_common(rs: &RegionState, record: &Record, ip: &mut MaybeUninit<Ip>) -> bool {
    let p = ip.as_mut_ptr();
    #[allow(unsafe_code)]
    // SAFETY: as in `fill_any`, and `write_times` is given that same `p`.
    unsafe {
        let Some(created_at) = on_today(record.created) else {
            return false;
        };
        let Some(updated_at) = on_today(record.updated) else {
            return false;
        };
        write_times(p, created_at, updated_at);
        addr_of_mut!((*p).id).write(record.id);
        // Lookups that return `None` rather than panic: a panic path is a call.
        let Some(subnet) = rs.registry.subnet_opt(record.subnet) else {
            return false;
        };
        let Some(net) = subnet.pool.v4_address_net(record.offset) else {
            return false;
        };
        addr_of_mut!((*p).address).write(IpNet::V4(net));
        addr_of_mut!((*p).project_id).write(subnet.project);
        addr_of_mut!((*p).source).write(Source::SubnetId(subnet.id));
        let resource = addr_of_mut!((*p).resource);
        match record.inline_attachment() {
            Some((None, _)) => resource.write(None),
            Some((Some(resource_type), mac_address)) => resource.write(Some(Resource {
                resource_type,
                id: ResourceId::from(record.id),
                mac_address,
                name: None,
            })),
            None => return false,
        }
        let Some(tags) = rs.index.tag_names_opt(record.tags).and_then(Tags::copied) else {
            return false;
        };
        addr_of_mut!((*p).tags).write(tags);
        addr_of_mut!((*p).is_ipv6).write(false);
        addr_of_mut!((*p).reverses).write(Vec::new());
        addr_of_mut!((*p).region).write(rs.region);
        addr_of_mut!((*p).zone).write(None);
    }
    true
}

/// [`fill`] of any record. Out of line: the calls it makes (an IPv6 address, a boxed resource
/// or reverses, shared tags, a timestamp of another day) would make [`fill_common`] save
/// registers.
#[inline(never)]
fn fill_any(rs: &RegionState, record: &Record, ip: &mut MaybeUninit<Ip>) {
    let subnet = rs.registry.subnet(record.subnet);
    let p = ip.as_mut_ptr();
    #[allow(unsafe_code)]
    // SAFETY: `p` points to an `Ip`-sized, aligned allocation that `ip` borrows mutably, so each
    // `addr_of_mut!` is a place inside it, made without reading or referencing the uninitialised
    // `Ip`, and each `write` writes a whole field without dropping what was there (nothing, or
    // plain values `fill_common` wrote: it writes no field that owns memory before it can no
    // longer fail). A panic here (none is expected) would leak the fields written so far,
    // nothing worse.
    unsafe {
        addr_of_mut!((*p).id).write(record.id);
        let address = addr_of_mut!((*p).address);
        match subnet.pool.v4_address_net(record.offset) {
            Some(net) => address.write(IpNet::V4(net)),
            None => address.write(v6_address(&subnet.pool, record.offset)),
        }
        addr_of_mut!((*p).project_id).write(subnet.project);
        addr_of_mut!((*p).is_ipv6).write(subnet.is_ipv6());
        // A booking, an update or an attachment sets several times at once: one conversion.
        let created_at = from_micros(record.created);
        let updated_at = if record.updated == record.created {
            created_at
        } else {
            from_micros(record.updated)
        };
        write_times(p, created_at, updated_at);
        addr_of_mut!((*p).source).write(Source::SubnetId(subnet.id));
        let (resource, reverses) = (addr_of_mut!((*p).resource), addr_of_mut!((*p).reverses));
        match record.inline_attachment() {
            Some((None, _)) => {
                resource.write(None);
                reverses.write(Vec::new());
            }
            Some((Some(resource_type), mac_address)) => {
                resource.write(Some(Resource {
                    resource_type,
                    id: ResourceId::from(record.id),
                    mac_address,
                    name: None,
                }));
                reverses.write(Vec::new());
            }
            None => {
                let (boxed_resource, boxed_reverses) = boxed_parts(record);
                resource.write(boxed_resource);
                reverses.write(boxed_reverses);
            }
        }
        let names = rs.index.tag_names(record.tags);
        let tags = addr_of_mut!((*p).tags);
        match names.copied() {
            Some(copy) => tags.write(copy),
            None => tags.write(names.shared_clone()),
        }
        addr_of_mut!((*p).region).write(rs.region);
        addr_of_mut!((*p).zone).write(None);
    }
}

/// The bytes of `time` as three 4-byte words, as it lies in memory.
///
/// Why words: the compiler moves a `DateTime<Utc>` through a stack slot it writes with three
/// 4-byte stores and reads back with an 8-byte and a 4-byte load, and a load spanning two
/// stores waits for them to reach the cache instead of taking their values (no store-to-load
/// forwarding): that one load held 29 % of [`fill`]'s samples. Moved as words, the timestamp
/// stays in registers and is written straight into the `Ip`.
const fn time_words(time: DateTime<Utc>) -> [u32; 3] {
    // SAFETY: `transmute` checks at compile time that the sizes are equal (12 bytes), and a
    // `DateTime<Utc>` has no padding (the constant below, evaluated at compile time, would fail
    // to compile otherwise), so each of its bytes is an initialised byte of some word.
    #[allow(unsafe_code)]
    unsafe {
        std::mem::transmute::<DateTime<Utc>, [u32; 3]>(time)
    }
}

// `time_words` of the epoch, always evaluated at compile time (an unnamed constant): reading a
// byte of padding as an integer there is an error, so this proves a `DateTime<Utc>` has none.
const _: [u32; 3] = time_words(DateTime::UNIX_EPOCH);

/// Writes `created` and `updated` into the `Ip` at `p`: as three 8-byte words when the two
/// fields lie side by side, `updated_at` after `created_at` (as they do), else 4 bytes at a
/// time each.
///
/// # Safety
/// `p` must be valid for writes of an `Ip` (its fields' alignment is not needed).
#[allow(unsafe_code)]
#[inline]
unsafe fn write_times(p: *mut Ip, created: DateTime<Utc>, updated: DateTime<Utc>) {
    let (c, u) = (time_words(created), time_words(updated));
    let pair = |low: u32, high: u32| {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&low.to_ne_bytes());
        bytes[4..].copy_from_slice(&high.to_ne_bytes());
        u64::from_ne_bytes(bytes)
    };
    // SAFETY: `p` is valid for writes of an `Ip` (the caller's contract). When `updated_at`
    // follows `created_at`, the 24 bytes from `created_at` are those two fields, and the three
    // words written hold, in memory order, the bytes of `created` then of `updated`; else
    // each field is written with its value's bytes. Either way the fields hold the two values.
    unsafe {
        let (created_at, updated_at) =
            (addr_of_mut!((*p).created_at), addr_of_mut!((*p).updated_at));
        if std::mem::offset_of!(Ip, updated_at) == std::mem::offset_of!(Ip, created_at) + 12 {
            // Written unaligned.
            #[allow(clippy::cast_ptr_alignment)]
            let words = created_at.cast::<u64>();
            words.write_unaligned(pair(c[0], c[1]));
            words.add(1).write_unaligned(pair(c[2], u[0]));
            words.add(2).write_unaligned(pair(u[1], u[2]));
        } else {
            write_time(created_at, c);
            write_time(updated_at, u);
        }
    }
}

/// Writes `words` (the [`time_words`] of some timestamp) into the timestamp at `dst`, 4 bytes
/// at a time.
///
/// # Safety
/// `dst` must be valid for writes of a `DateTime<Utc>` (its alignment is not needed).
#[allow(unsafe_code)]
unsafe fn write_time(dst: *mut DateTime<Utc>, words: [u32; 3]) {
    let dst = dst.cast::<u32>();
    // SAFETY: `dst` is valid for 12 bytes of writes (the caller's contract), written 4 at a
    // time without alignment; the bytes written are those of a valid `DateTime<Utc>`, so the
    // timestamp at `dst` is that value once all three are written.
    unsafe {
        for (k, word) in words.into_iter().enumerate() {
            dst.add(k).write_unaligned(word);
        }
    }
}

// Every field of `Ip`, by an exhaustive pattern: a field added to `Ip` fails to compile here
// until `fill`, which must write it, is revisited.
const _: fn(Ip) = |ip| {
    let Ip {
        id: _,
        address: _,
        project_id: _,
        is_ipv6: _,
        created_at: _,
        updated_at: _,
        source: _,
        resource: _,
        tags: _,
        reverses: _,
        region: _,
        zone: _,
    } = ip;
};

/// The address of an IPv6 pool, out of the line of [`fill`] (whose IPv4 and IPv6 branches the
/// compiler would otherwise merge into one stack copy of both).
#[inline(never)]
fn v6_address(pool: &Pool, offset: u64) -> IpNet {
    pool.address_net(offset)
}

/// The resource and reverses of a record that holds them boxed, out of the line of [`fill`].
#[cold]
#[inline(never)]
fn boxed_parts(record: &Record) -> (Option<Resource>, Vec<Reverse>) {
    (
        record.attachment().map(crate::engine::resource_view),
        record.reverses().to_vec(),
    )
}

impl Ipam {
    /// The IP `id`, borrowed: reads its fields in place, without allocating. O(1).
    ///
    /// # Errors
    /// [`Error::IpNotFound`].
    #[inline]
    pub fn ip(&self, region: Region, id: IpId) -> Result<IpRef<'_>, Error> {
        let rs = self.region(region);
        let record = rs.store.find(id).ok_or(Error::IpNotFound { id })?;
        Ok(IpRef::of_record(rs, record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMES: [DateTime<Utc>; 6] = [
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
        DateTime::UNIX_EPOCH,
        DateTime::from_timestamp_nanos(-1_000),
        DateTime::from_timestamp_nanos(1_751_295_730_950_535_000),
        DateTime::from_timestamp_nanos(1_767_225_599_999_999_999),
    ];

    /// A timestamp moved as words and written back reads as the timestamp, at the ends of
    /// chrono's range, around the epoch and at every part of a day.
    #[test]
    fn timestamps_moved_as_words_read_the_same() {
        for time in TIMES {
            let mut slot = MaybeUninit::<(u8, DateTime<Utc>)>::uninit();
            let p = slot.as_mut_ptr();
            #[allow(unsafe_code)]
            // SAFETY: `p` points to a writable `(u8, DateTime<Utc>)`; its fields are written
            // before the tuple is read.
            let read = unsafe {
                addr_of_mut!((*p).0).write(7);
                write_time(addr_of_mut!((*p).1), time_words(time));
                slot.assume_init()
            };
            assert_eq!(read, (7, time));
        }
    }

    /// Both timestamps written at once into an `Ip` read as the two timestamps, whichever they
    /// are, and leave every other field as it was.
    #[test]
    fn both_timestamps_written_at_once_read_the_same() {
        let mut ipam = Ipam::new();
        let project = ProjectId::from_uuid(uuid::Uuid::from_u128(1));
        let pn = ipam
            .create_private_network(
                Region::FrPar,
                crate::CreatePrivateNetworkRequest::new(project),
            )
            .unwrap();
        let request = crate::BookIpRequest::new(project, Source::PrivateNetworkId(pn.id))
            .tags(["a", "b"])
            .resource(crate::CustomResource::new(MacAddress::new([
                2, 0, 0, 0, 0, 1,
            ])));
        let before = ipam.book_ip(Region::FrPar, request).unwrap();
        for created in TIMES {
            for updated in TIMES {
                let mut slot = MaybeUninit::new(before.clone());
                #[allow(unsafe_code)]
                // SAFETY: `slot` holds a valid `Ip`; `write_times` writes two of its fields
                // with valid values and nothing else.
                let after = unsafe {
                    write_times(slot.as_mut_ptr(), created, updated);
                    slot.assume_init()
                };
                let expected = Ip {
                    created_at: created,
                    updated_at: updated,
                    ..before.clone()
                };
                assert_eq!(after, expected);
            }
        }
    }

    /// Every kind of record, written by `fill` (through `fill_common` when it takes the
    /// record) and by `fill_any` alone, gives the same `Ip`; `fill_common` takes exactly the
    /// records it is for: an IPv4 address, no resource or a custom one without a name, no
    /// reverses, tags held inline, both times on the engine's clock's today.
    #[test]
    fn the_common_path_writes_what_the_general_one_does() {
        use crate::model::request::{ServiceResource, UpdateIpRequest};
        use crate::{BookIpRequest, CreatePrivateNetworkRequest, CustomResource, ManualClock};

        let region = Region::FrPar;
        // Seven hours a reading: IPs booked and changed on several days.
        let clock = ManualClock::new(
            DateTime::from_timestamp(1_767_225_600, 0).unwrap(),
            chrono::TimeDelta::hours(7),
        );
        let mut ipam = Ipam::builder().clock(clock).build();
        let project = ProjectId::from_uuid(uuid::Uuid::from_u128(1));
        let pn = ipam
            .create_private_network(region, CreatePrivateNetworkRequest::new(project))
            .unwrap();
        let book = |v6: bool| BookIpRequest::new(project, Source::PrivateNetworkId(pn.id)).ipv6(v6);
        let mac = |i: u8| MacAddress::new([2, 0, 0, 0, 0, i]);
        let long_tags: Vec<String> = (0..7).map(|i| format!("tag-{i}")).collect();
        let mut ids = Vec::new();
        for (i, v6) in [(1u8, false), (2, true)] {
            let base = i * 16;
            let mut push = |ip: Result<Ip, Error>| ids.push(ip.unwrap().id);
            push(ipam.book_ip(region, book(v6)));
            push(ipam.book_ip(region, book(v6).tags(["web", "prod"])));
            push(ipam.book_ip(region, book(v6).resource(CustomResource::new(mac(base)))));
            push(ipam.book_ip(
                region,
                book(v6).resource(CustomResource::new(mac(base + 1)).with_name("vm")),
            ));
            push(ipam.book_ip(region, book(v6).tags(long_tags.clone())));
            push(
                ipam.book_ip_for_resource(
                    region,
                    book(v6),
                    ServiceResource::new(
                        crate::ResourceType::InstanceServer,
                        crate::ResourceId::from_uuid(uuid::Uuid::from_u128(u128::from(base))),
                    )
                    .mac_address(mac(base + 2)),
                ),
            );
        }
        // Changed later: updated on another day than booked, reverses, a detached MAC.
        let update = |tags: Option<Vec<String>>, reverses: Option<Vec<Reverse>>| UpdateIpRequest {
            tags,
            reverses,
        };
        ipam.update_ip(region, ids[1], update(Some(vec!["db".into()]), None))
            .unwrap();
        ipam.update_ip(
            region,
            ids[0],
            update(None, Some(vec![Reverse::new("host.example.com", None)])),
        )
        .unwrap();
        ipam.detach_ip(region, ids[2], CustomResource::new(mac(16)))
            .unwrap();
        // And IPs left as booked.
        ipam.book_ip(region, book(false)).unwrap();
        ipam.book_ip(region, book(false).tags(["web"])).unwrap();
        ipam.book_ip(region, book(false).resource(CustomResource::new(mac(48))))
            .unwrap();
        // Booked then changed seven hours later, on the same day or the next.
        for i in 0..4 {
            let id = ipam.book_ip(region, book(false)).unwrap().id;
            ipam.update_ip(region, id, update(Some(vec![format!("t{i}")]), None))
                .unwrap();
        }

        let rs = ipam.region(region);
        let (mut common, mut other, mut changed) = (0, 0, 0);
        for (_, record) in rs.store.iter() {
            let mut general = MaybeUninit::uninit();
            fill_any(rs, record, &mut general);
            #[allow(unsafe_code)]
            // SAFETY: `fill_any` writes every field.
            let general = unsafe { general.assume_init() };
            let mut via_fill = MaybeUninit::uninit();
            fill(rs, record, &mut via_fill);
            #[allow(unsafe_code)]
            // SAFETY: `fill` writes every field.
            let via_fill = unsafe { via_fill.assume_init() };
            assert_eq!(via_fill, general);

            let expected_common = !general.is_ipv6
                && general.resource.as_ref().is_none_or(|r| {
                    r.resource_type == crate::ResourceType::Custom && r.name.is_none()
                })
                && general.reverses.is_empty()
                && rs.index.tag_names(record.tags).copied().is_some()
                && general.created_at.date_naive() == general.updated_at.date_naive();
            // Taken with the day of the record's times made today, and then written as
            // `fill_any` writes it.
            let take = || {
                crate::model::time::note_today(record.created);
                let mut ip = MaybeUninit::uninit();
                let taken = fill_common(rs, record, &mut ip);
                if taken {
                    #[allow(unsafe_code)]
                    // SAFETY: `fill_common` wrote every field, as it returned `true`.
                    let ip = unsafe { ip.assume_init() };
                    assert_eq!(ip, general);
                }
                taken
            };
            // A common record, a few tries: another test's engine may note its own today
            // between `note_today` and `fill_common`. Any other, refused at once.
            let taken = if expected_common {
                (0..100).any(|_| take())
            } else {
                take()
            };
            assert_eq!(taken, expected_common, "{general:?}");
            if taken {
                common += 1;
                changed += usize::from(general.updated_at != general.created_at);
            } else {
                other += 1;
            }
        }
        assert!(
            common >= 4 && changed >= 1 && other >= 8,
            "{common} common ({changed} changed since booked), {other} other"
        );
    }
}
