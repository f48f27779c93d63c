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
use crate::model::tags::TagsIter;
use crate::model::time::from_micros;
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
/// Why not one struct literal: the compiler builds an `Ip` (248 bytes of nested enums) from a
/// literal in stack temporaries, merging the branches of each enum there, and copies them out:
/// a get made 89 stores, 73 of them building the `Ip`. A loop of gets then fills the
/// processor's store buffer, whose stores wait on the record's cache misses, and the misses of
/// successive gets stop overlapping: an owned get took 2.5-3.3x the floor, the borrowed one
/// 1.3x. Written field by field through a pointer the compiler cannot keep in registers, each
/// branch stores its own value once, and the branches it would merge (an IPv6 address, a boxed
/// resource or reverses, shared tags) are calls that write in place: 51 stores a get, and the
/// owned get runs at 1.6-1.9x (harness, 1M IPs, when it walked them with a constant stride).
/// In scattered order it still runs at about 2.1x: the processor holds all of a get's
/// instructions (about 290, half of them writing a register) behind the record's cache miss,
/// too many for the next get's miss to start early, whatever their stores (README, "Use").
/// Not inlined, so that `ip` stays a pointer.
#[inline(never)]
fn fill(rs: &RegionState, record: &Record, ip: &mut MaybeUninit<Ip>) {
    let subnet = rs.registry.subnet(record.subnet);
    let p = ip.as_mut_ptr();
    #[allow(unsafe_code)]
    // SAFETY: `p` points to an `Ip`-sized, aligned allocation that `ip` borrows mutably, so each
    // `addr_of_mut!` is a place inside it, made without reading or referencing the uninitialised
    // `Ip`, and each `write` writes a whole field without dropping what was there (nothing).
    // A panic here (none is expected) would leak the fields written so far, nothing worse.
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
        let created_at = time_words(from_micros(record.created));
        write_time(addr_of_mut!((*p).created_at), created_at);
        write_time(
            addr_of_mut!((*p).updated_at),
            if record.updated == record.created {
                created_at
            } else {
                time_words(from_micros(record.updated))
            },
        );
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

/// A timestamp as three 4-byte words, as it lies in memory (`DateTime<Utc>` is 12 bytes).
///
/// Why words: the compiler moves a `DateTime<Utc>` through a stack slot it writes with three
/// 4-byte stores and reads back with an 8-byte and a 4-byte load, and a load spanning two
/// stores waits for them to reach the cache instead of taking their values (no store-to-load
/// forwarding): that one load held 29 % of [`fill`]'s samples. Moved as words, the timestamp
/// stays in registers and is written straight into the `Ip`.
type TimeWords = [MaybeUninit<u32>; 3];

fn time_words(time: DateTime<Utc>) -> TimeWords {
    // SAFETY: `transmute` checks at compile time that the sizes are equal (12 bytes), and
    // `MaybeUninit<u32>` may hold any bytes, padding included: the words are the timestamp's
    // bytes, read without any claim about what they mean.
    #[allow(unsafe_code)]
    unsafe {
        std::mem::transmute::<DateTime<Utc>, TimeWords>(time)
    }
}

/// Writes `words` (a [`time_words`] of some timestamp) into the timestamp at `dst`.
///
/// # Safety
/// `dst` must be valid for writes of a `DateTime<Utc>` (its alignment is not needed).
#[allow(unsafe_code)]
unsafe fn write_time(dst: *mut DateTime<Utc>, words: TimeWords) {
    let dst = dst.cast::<MaybeUninit<u32>>();
    // SAFETY: `dst` is valid for 12 bytes of writes (the caller's contract), written 4 at a
    // time without alignment; the bytes written are those of a valid `DateTime<Utc>`, so the
    // timestamp at `dst` is that value once all three are written.
    unsafe {
        dst.write_unaligned(words[0]);
        dst.add(1).write_unaligned(words[1]);
        dst.add(2).write_unaligned(words[2]);
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

    /// A timestamp moved as words and written back reads as the timestamp, at the ends of
    /// chrono's range, around the epoch and at every part of a day.
    #[test]
    fn timestamps_moved_as_words_read_the_same() {
        let times = [
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            DateTime::UNIX_EPOCH,
            DateTime::from_timestamp_micros(-1).unwrap(),
            DateTime::from_timestamp_micros(1_751_295_730_950_535).unwrap(),
            DateTime::from_timestamp(1_767_225_599, 999_999_999).unwrap(),
        ];
        for time in times {
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
}
