//! [`IpRef`]: a booked IP read in place, without building an owned [`Ip`].

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

    /// A record about to be stored, read as the IP it will be (booking returns it so).
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
    pub fn to_ip(&self) -> Ip {
        // A booking, an update or an attachment sets several times at once: one conversion.
        let created_at = self.created_at();
        let updated_at = if self.record.updated == self.record.created {
            created_at
        } else {
            self.updated_at()
        };
        Ip {
            id: self.id(),
            address: self.address(),
            project_id: self.project_id(),
            is_ipv6: self.is_ipv6(),
            created_at,
            updated_at,
            source: Source::SubnetId(self.subnet_id()),
            resource: self.resource(),
            tags: self.rs.index.tag_names(self.record.tags).clone(),
            // Most IPs have none: no call into the slice copy for them.
            reverses: match self.reverses() {
                [] => Vec::new(),
                some => some.to_vec(),
            },
            region: self.region(),
            zone: None,
        }
    }
}

impl Ipam {
    /// The IP `id`, borrowed: reads its fields in place, without allocating. O(1).
    ///
    /// # Errors
    /// [`Error::IpNotFound`].
    pub fn ip(&self, region: Region, id: IpId) -> Result<IpRef<'_>, Error> {
        let rs = self.region(region);
        let record = rs.store.find(id).ok_or(Error::IpNotFound { id })?;
        Ok(IpRef::of_record(rs, record))
    }
}
