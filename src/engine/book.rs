//! Booking: resolve the source to a subnet, take an address, store the record, index it.

use smallvec::SmallVec;

use crate::engine::view::IpRef;
use crate::engine::{validate, Ipam, RegionState};
use crate::error::{ArgumentReason, Error};
use crate::model::enums::{Region, ResourceType};
use crate::model::ip::{Ip, Source};
use crate::model::request::{BookIpRequest, ServiceResource};
use crate::pool::AddressProblem;
use crate::store::{Attachment, Handle, Record};

/// What the new IP is attached to, validated.
enum NewAttachment {
    Custom(crate::model::ip::CustomResource),
    Service(ServiceResource),
}

impl Ipam {
    /// Books an IP: a specific address, or the lowest free IPv4 address / a random IPv6
    /// interface id, in the Private Network's first subnet of the family that has room (or in
    /// the given subnet). With `resource`, the IP is attached to that custom resource at once.
    ///
    /// O(1) amortized: the IPv4 allocator never scans the pool.
    ///
    /// # Errors
    /// - [`Error::SourceNotBookable`] for a source other than a Private Network or subnet;
    /// - [`Error::PrivateNetworkNotFound`], [`Error::SubnetNotFound`];
    /// - [`Error::ProjectMismatch`] when `project_id` is not the Private Network's Project;
    /// - [`Error::SubnetFamilyMismatch`], [`Error::AddressFamilyMismatch`],
    ///   [`Error::AddressOutsideSubnet`], [`Error::AddressUnavailable`] for a bad address;
    /// - [`Error::AddressInUse`] when the address is booked (with the holder's id);
    /// - [`Error::AddressesExhausted`] when no address is free;
    /// - [`Error::InvalidArgument`] for tags or a name over the [`Limits`](crate::Limits).
    #[inline]
    pub fn book_ip(&mut self, region: Region, request: BookIpRequest) -> Result<Ip, Error> {
        let mut request = request;
        let attachment = request.resource.take().map(NewAttachment::Custom);
        let handle = self.book(region, request, attachment)?;
        Ok(self.region(region).view(handle))
    }

    /// Books an IP exactly as [`Ipam::book_ip`] does (the same address, id, errors and state),
    /// and returns the new IP borrowed, read in place, rather than as an owned [`Ip`]: for a
    /// caller that wants a field or two of it (its id, its address), the cheaper call. Building,
    /// copying out and later dropping the owned `Ip` (its tag list, reverses, resource) is about
    /// a quarter of a booking when the memory touched is in cache. [`IpRef::to_ip`] gives the
    /// owned `Ip`.
    ///
    /// ```
    /// use ipam_engine::{BookIpRequest, CreatePrivateNetworkRequest, Ipam, ProjectId, Region, Source};
    ///
    /// # fn main() -> Result<(), ipam_engine::Error> {
    /// let mut ipam = Ipam::new();
    /// let project = ProjectId::from_uuid(uuid::Uuid::from_u128(1));
    /// let pn = ipam.create_private_network(Region::FrPar, CreatePrivateNetworkRequest::new(project))?;
    /// let request = BookIpRequest::new(project, Source::PrivateNetworkId(pn.id));
    ///
    /// let ip = ipam.book_ip_ref(Region::FrPar, request)?;
    /// let (id, address) = (ip.id(), ip.address());
    /// assert_eq!(address.to_string(), "172.16.0.2/22");
    /// assert_eq!(ipam.get_ip(Region::FrPar, id)?.address, address);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// Those of [`Ipam::book_ip`].
    pub fn book_ip_ref(
        &mut self,
        region: Region,
        request: BookIpRequest,
    ) -> Result<IpRef<'_>, Error> {
        let mut request = request;
        let attachment = request.resource.take().map(NewAttachment::Custom);
        let handle = self.book(region, request, attachment)?;
        Ok(IpRef::new(self.region(region), handle))
    }

    /// Books each of `requests` in turn, exactly as that many [`Ipam::book_ip`] calls would (the
    /// same addresses, ids and errors, in the same order), and returns their results in order.
    /// Each request stands alone: one that fails changes nothing and the next one still runs.
    ///
    /// A bulk load is its use. Before booking a few requests, it starts loading the memory they
    /// are going to touch (each one's Private Network, subnet, pool tail and MAC slot), so that
    /// those cache misses overlap instead of following one another. That pays when consecutive
    /// requests go to different Private Networks of a region too large for the cache (a 10M-IP
    /// load over 4,000 networks took about 30 % less time). When what they touch is in cache
    /// anyway, the calls one by one are faster: by 4-9 % filling one network in turn, by 12-20 %
    /// in regions of 20k-100k IPs with batches of up to 1,000, where holding and then freeing
    /// that many owned `Ip`s (248 bytes each) costs more than the warming. Batches of a few
    /// hundred requests keep the results small.
    ///
    /// ```
    /// use ipam_engine::{
    ///     BookIpRequest, CreatePrivateNetworkRequest, Ipam, PrivateNetworkId, ProjectId, Region,
    ///     Source,
    /// };
    ///
    /// # fn main() -> Result<(), ipam_engine::Error> {
    /// let mut ipam = Ipam::new();
    /// let project = ProjectId::from_uuid(uuid::Uuid::from_u128(1));
    /// let create = CreatePrivateNetworkRequest::new(project);
    /// let pn = ipam.create_private_network(Region::FrPar, create)?.id;
    /// let unknown = PrivateNetworkId::from_uuid(uuid::Uuid::from_u128(9));
    /// let requests = [pn, unknown, pn]
    ///     .map(|pn| BookIpRequest::new(project, Source::PrivateNetworkId(pn)));
    ///
    /// let ips = ipam.book_ips(Region::FrPar, requests);
    /// assert_eq!(ips[0].as_ref().unwrap().address.to_string(), "172.16.0.2/22");
    /// assert!(ips[1].is_err()); // no such Private Network
    /// assert_eq!(ips[2].as_ref().unwrap().address.to_string(), "172.16.0.3/22");
    /// # Ok(())
    /// # }
    /// ```
    pub fn book_ips<I>(&mut self, region: Region, requests: I) -> Vec<Result<Ip, Error>>
    where
        I: IntoIterator<Item = BookIpRequest>,
    {
        let mut requests = requests.into_iter();
        // A hint only: an iterator may claim more than memory holds.
        let mut results = Vec::with_capacity(requests.size_hint().0.min(4096));
        let mut ahead: Vec<BookIpRequest> = Vec::with_capacity(WARM_AHEAD);
        loop {
            ahead.extend(requests.by_ref().take(WARM_AHEAD));
            if ahead.is_empty() {
                return results;
            }
            self.region(region).warm_bookings(&ahead);
            results.extend(ahead.drain(..).map(|request| self.book_ip(region, request)));
        }
    }

    /// Books an IP attached to a product resource (any type but `custom` and `unknown_type`),
    /// for the service that embeds the engine. Otherwise like [`Ipam::book_ip`].
    ///
    /// # Errors
    /// Those of [`Ipam::book_ip`]; [`Error::InvalidArgument`] when `request.resource` is also
    /// set or the resource type is `custom` or `unknown_type`.
    pub fn book_ip_for_resource(
        &mut self,
        region: Region,
        request: BookIpRequest,
        resource: ServiceResource,
    ) -> Result<Ip, Error> {
        if request.resource.is_some() {
            return Err(Error::constraint(
                "resource",
                "an ip is attached to one resource: give either a custom resource or a product resource".into(),
            ));
        }
        check_service_resource(&resource)?;
        let attachment = Some(NewAttachment::Service(resource));
        let handle = self.book(region, request, attachment)?;
        Ok(self.region(region).view(handle))
    }

    /// Books `request`; returns the new IP's handle, for the caller to read the IP from its
    /// slab slot.
    ///
    /// A record without attachment (most bookings) is built in its slot
    /// ([`Store::push_new`](crate::store::Store::push_new)). Built on the stack and then moved
    /// into the slab, it was copied with 16- and 8-byte loads of fields its constructor wrote in
    /// narrower stores (an id in two halves, two `u32`s); such a load waits for those stores to
    /// reach the cache, as store-to-load forwarding fails. Built in place, `book_ip_ref` in an
    /// empty /16 took 55 instead of 58 ns (probe, medians of alternating runs).
    #[allow(clippy::needless_pass_by_value)]
    fn book(
        &mut self,
        region: Region,
        request: BookIpRequest,
        attachment: Option<NewAttachment>,
    ) -> Result<Handle, Error> {
        validate::tags(&self.limits, &request.tags)?;
        let name = match &attachment {
            Some(NewAttachment::Custom(c)) => c.name.as_deref(),
            Some(NewAttachment::Service(s)) => s.name.as_deref(),
            None => None,
        };
        validate::name(&self.limits, "resource.name", name)?;
        let is_ipv6 = request.is_ipv6;
        let rs = self.region(region);
        let registry = &rs.registry;
        // Its slot in the MAC postings is a cache miss in a large region: start loading it.
        let mac = match &attachment {
            Some(NewAttachment::Custom(c)) => Some(c.mac_address),
            Some(NewAttachment::Service(s)) => s.mac_address,
            None => None,
        };
        if let Some(mac) = mac {
            rs.index.prefetch_mac(mac);
        }

        let single: [u32; 1];
        let (slots, source_id): (&[u32], uuid::Uuid) = match &request.source {
            Source::PrivateNetworkId(id) => {
                // An error has drop glue: built eagerly (`ok_or`), it costs every booking.
                let Some(pn) = registry.pns.get(id) else {
                    return Err(Error::PrivateNetworkNotFound { id: *id });
                };
                if pn.project != request.project_id {
                    return Err(Error::ProjectMismatch {
                        expected: pn.project,
                        found: request.project_id,
                    });
                }
                (&pn.subnets[..], id.uuid())
            }
            Source::SubnetId(id) => {
                let Some(slot) = registry.subnet_slot(*id) else {
                    return Err(Error::SubnetNotFound { id: *id });
                };
                let s = registry.subnet(slot);
                if s.project != request.project_id {
                    return Err(Error::ProjectMismatch {
                        expected: s.project,
                        found: request.project_id,
                    });
                }
                if s.is_ipv6() != is_ipv6 {
                    return Err(Error::SubnetFamilyMismatch {
                        subnet: s.net(),
                        is_ipv6,
                    });
                }
                single = [slot];
                (&single[..], id.uuid())
            }
            Source::Zonal(_) => {
                return Err(Error::SourceNotBookable {
                    source_kind: "zonal",
                })
            }
            Source::VpcId(_) => {
                return Err(Error::SourceNotBookable {
                    source_kind: "vpc_id",
                })
            }
            Source::Regional(_) => {
                return Err(Error::SourceNotBookable {
                    source_kind: "regional",
                })
            }
        };
        let exhausted = || Error::AddressesExhausted { source_id, is_ipv6 };
        // The source's subnets of the requested family, in creation order.
        let candidates = || {
            slots
                .iter()
                .copied()
                .filter(|&s| registry.subnet(s).is_ipv6() == is_ipv6)
        };
        let Some(first) = candidates().next() else {
            // Only a Private Network created with subnets of one family lacks the other.
            let family = if is_ipv6 { "ipv6" } else { "ipv4" };
            return Err(Error::constraint(
                if request.address.is_some() {
                    "address"
                } else {
                    "is_ipv6"
                },
                format!("private network {source_id} has no {family} subnet"),
            ));
        };

        // Pick the subnet, and the offset when the address is given.
        let (slot, offset) = match request.address {
            Some(address) => {
                if address.is_ipv6() != is_ipv6 {
                    return Err(Error::AddressFamilyMismatch { address, is_ipv6 });
                }
                let slot = candidates()
                    .find(|&s| registry.subnet(s).net().contains(&address))
                    .unwrap_or(first);
                let s = registry.subnet(slot);
                match s.pool.free_offset(address) {
                    Ok(offset) => (slot, Some(offset)),
                    Err(AddressProblem::Outside | AddressProblem::WrongFamily) => {
                        return Err(Error::AddressOutsideSubnet {
                            address,
                            subnet: s.net(),
                        })
                    }
                    Err(AddressProblem::Unavailable) => {
                        return Err(Error::AddressUnavailable {
                            address,
                            subnet: s.net(),
                        })
                    }
                    Err(AddressProblem::Taken(owner)) => {
                        return Err(Error::AddressInUse {
                            address,
                            ip_id: rs.store.get(owner).id,
                        })
                    }
                }
            }
            None => {
                let has_room = |&s: &u32| registry.subnet(s).pool.has_room();
                // Mostly the first: a later subnet is tried once the first is full.
                let slot = if has_room(&first) {
                    first
                } else {
                    candidates().find(has_room).ok_or_else(exhausted)?
                };
                (slot, None)
            }
        };
        if rs.store.next_handle().is_none() {
            self.renumber(region);
        }
        let Some(handle) = self.region(region).store.next_handle() else {
            return Err(exhausted());
        };

        // The id is drawn first, as seeded runs have always drawn it; once the address is
        // taken, it is stamped with the new handle and checked against the few ids the store
        // maps (drawing again in the rare case one has it).
        let drawn = self.rng.next_uuid();

        // Take the address: the last step that can fail (an IPv6 draw that keeps colliding).
        let rng = &mut *self.rng;
        let pool = &mut self.regions[region.index()].registry.subnet_mut(slot).pool;
        let offset = match offset {
            Some(offset) => {
                pool.take(offset, handle);
                offset
            }
            None => pool.take_auto(handle, rng).ok_or_else(exhausted)?,
        };

        let now = self.now();
        let rs = &mut self.regions[region.index()];
        let tags = rs.index.add_tags(handle, &request.tags);
        rs.registry.subnet_mut(slot).handles.append(handle);
        let rng = &mut *self.rng;
        let id = rs.store.unique_id(drawn, || rng.next_uuid());
        let attachment = attachment.map(|a| match a {
            NewAttachment::Custom(c) => Attachment::custom(id, c, now),
            NewAttachment::Service(s) => Attachment::service(s, now),
        });
        if let Some(a) = &attachment {
            rs.index.add_attachment(handle, a.as_ref());
        }
        let inserted = match attachment {
            None => rs.store.push_new(id, slot, offset, now, tags),
            Some(attachment) => {
                let mut record = Record::new(id, slot, offset, now, tags);
                record.set_attachment(Some(attachment));
                rs.store.push_stamped(record)
            }
        };
        debug_assert_eq!(inserted, handle);
        Ok(handle)
    }
}

/// How many requests [`Ipam::book_ips`] warms at once: enough for their cache misses to overlap,
/// few enough that what the first one loads is still in cache when the last one is booked. 8
/// and 32 loaded 10M IPs in times the machine's noise could not tell from 16's.
const WARM_AHEAD: usize = 16;

impl RegionState {
    /// Starts loading what booking `requests` touches, in stages, so that the cache misses of
    /// the requests overlap: their MAC slots and Private Networks, then the records of those
    /// networks' subnets, then the tails of the subnets' pools and handle sets. Reads only.
    fn warm_bookings(&self, requests: &[BookIpRequest]) {
        let registry = &self.registry;
        // Each request's candidate subnets, and the family it books.
        let mut subnets: SmallVec<[(&[u32], bool); WARM_AHEAD]> = SmallVec::new();
        for request in requests {
            if let Some(resource) = &request.resource {
                self.index.prefetch_mac(resource.mac_address);
            }
            if let Some(slots) = registry.source_slots(&request.source) {
                subnets.push((slots, request.is_ipv6));
            }
        }
        for &(slots, _) in &subnets {
            for &slot in slots {
                registry.prefetch_subnet(slot);
            }
        }
        for &(slots, is_ipv6) in &subnets {
            if let Some(&slot) = slots
                .iter()
                .find(|&&s| registry.subnet(s).is_ipv6() == is_ipv6)
            {
                let subnet = registry.subnet(slot);
                subnet.pool.warm();
                subnet.handles.warm();
            }
        }
    }
}

/// Checks a product resource given by the embedding service.
pub(crate) fn check_service_resource(resource: &ServiceResource) -> Result<(), Error> {
    if matches!(
        resource.resource_type,
        ResourceType::Custom | ResourceType::UnknownType
    ) {
        return Err(Error::InvalidArgument {
            argument: "resource.type".into(),
            reason: ArgumentReason::Constraint,
            help: format!(
                "product resources cannot be of type {}: custom resources go through attach, detach and move",
                resource.resource_type
            ),
        });
    }
    Ok(())
}
