//! Releasing IPs, one or a set (all or nothing), and reclaiming the slots they leave.

use roaring::RoaringBitmap;

use crate::engine::{validate, Compaction, Ipam};
use crate::error::{Error, ResourceRef};
use crate::model::enums::{Region, ResourceType};
use crate::model::ids::IpId;
use crate::store::{AttachmentRef, Handle};

/// Compaction waits for at least this many dead slots, so small stores never pay for it.
const MIN_DEAD_TO_COMPACT: usize = 4096;

pub(crate) fn resource_ref(a: AttachmentRef<'_>) -> ResourceRef {
    match (a.resource_type, a.mac) {
        (ResourceType::Custom, Some(mac)) => ResourceRef::Custom(mac),
        (t, _) => ResourceRef::Product(t, a.id),
    }
}

impl Ipam {
    /// Releases an unattached IP, giving its address back to the pool. O(1) amortized.
    ///
    /// With [`Compaction::Automatic`] (the default), the release that leaves more released
    /// record slots than live IPs in the region (and at least 4,096) then compacts the region,
    /// renumbering every live IP's handle in the store, pools and indexes: O(n) in the region's
    /// live IPs, once per n releases. That one call takes about 35-40 ms at 1M live IPs and
    /// 0.5 s at 10M on a 2-core development machine (README, Benchmarks).
    /// [`Ipam::release_ip_set`] compacts the same way. With [`Compaction::Manual`], no release
    /// does: [`Ipam::compact`] does, when the caller chooses.
    ///
    /// # Errors
    /// [`Error::IpNotFound`]; [`Error::IpAttached`] while it is attached to a resource.
    pub fn release_ip(&mut self, region: Region, id: IpId) -> Result<(), Error> {
        let handle = self.releasable(region, id)?;
        self.remove(region, handle);
        self.maybe_compact(region);
        Ok(())
    }

    /// Releases every IP of `ids`, or none: one unknown or attached id fails the whole call and
    /// changes nothing. Repeated ids count once. O(k) amortized in the number of ids.
    ///
    /// # Errors
    /// [`Error::IpNotFound`] or [`Error::IpAttached`] for the first offending id;
    /// [`Error::InvalidArgument`] for more ids than [`Limits::max_list_items`](crate::Limits).
    pub fn release_ip_set(&mut self, region: Region, ids: &[IpId]) -> Result<(), Error> {
        validate::items(&self.limits, "ip_ids", ids.len())?;
        let mut handles = RoaringBitmap::new();
        for &id in ids {
            handles.insert(self.releasable(region, id)?);
        }
        for handle in &handles {
            self.remove(region, handle);
        }
        self.maybe_compact(region);
        Ok(())
    }

    fn releasable(&self, region: Region, id: IpId) -> Result<Handle, Error> {
        let handle = self.handle_to_change(region, id)?;
        if let Some(a) = self.region(region).store.get(handle).attachment() {
            return Err(Error::IpAttached {
                ip_id: id,
                attached: resource_ref(a),
            });
        }
        Ok(handle)
    }

    fn remove(&mut self, region: Region, handle: Handle) {
        let rs = self.region_mut(region);
        let record = rs.store.remove(handle);
        rs.index.remove_tags(handle, record.tags);
        if let Some(a) = record.attachment() {
            rs.index.remove_attachment(handle, a);
        }
        let subnet = rs.registry.subnet_mut(record.subnet);
        subnet.handles.remove(handle);
        let owner = subnet.pool.release(record.offset);
        debug_assert_eq!(owner, Some(handle));
    }

    fn maybe_compact(&mut self, region: Region) {
        let released = self.released_slots(region);
        if self.compaction == Compaction::Automatic
            && released >= MIN_DEAD_TO_COMPACT
            && released > self.ip_count(region)
        {
            self.renumber(region);
        }
    }

    /// Number of record slots that IPs released in `region` left and that the next compaction
    /// reclaims (72 bytes each). O(1).
    #[must_use]
    pub fn released_slots(&self, region: Region) -> usize {
        self.region(region).store.dead()
    }

    /// Compacts `region` now, whatever the [`Compaction`] setting: reclaims the record slots of
    /// the IPs released there and renumbers every live IP's handle, in order, in the store,
    /// pools and indexes. Returns the number of slots reclaimed ([`Ipam::released_slots`]
    /// before the call); with none, it does nothing. Every IP, list page and snapshot reads
    /// the same after as before. O(n) in the region's live IPs: about 35-40 ms at 1M IPs and
    /// 0.5 s at 10M on a 2-core development machine.
    ///
    /// ```
    /// use ipam_engine::{
    ///     BookIpRequest, Compaction, CreatePrivateNetworkRequest, Ipam, ProjectId, Region, Source,
    /// };
    ///
    /// # fn main() -> Result<(), ipam_engine::Error> {
    /// let mut ipam = Ipam::builder().compaction(Compaction::Manual).build();
    /// let project = ProjectId::from_uuid(uuid::Uuid::from_u128(1));
    /// let pn = ipam.create_private_network(Region::FrPar, CreatePrivateNetworkRequest::new(project))?;
    /// for _ in 0..3 {
    ///     let request = BookIpRequest::new(project, Source::PrivateNetworkId(pn.id));
    ///     let id = ipam.book_ip(Region::FrPar, request)?.id;
    ///     ipam.release_ip(Region::FrPar, id)?;
    /// }
    /// assert_eq!(ipam.released_slots(Region::FrPar), 3);
    /// assert_eq!(ipam.compact(Region::FrPar), 3);
    /// assert_eq!(ipam.released_slots(Region::FrPar), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn compact(&mut self, region: Region) -> usize {
        let released = self.released_slots(region);
        if released > 0 {
            self.renumber(region);
        }
        released
    }

    /// Drops the slots of released IPs and renumbers live handles, in order, everywhere.
    /// O(n) in the region's live IPs; amortized O(1) per release by [`Ipam::maybe_compact`].
    pub(crate) fn renumber(&mut self, region: Region) {
        let rs = self.region_mut(region);
        let renumbering = rs.store.compact(MIN_DEAD_TO_COMPACT);
        rs.index.remap(&renumbering);
        for subnet in rs.registry.subnets_mut() {
            subnet.handles = subnet.handles.remapped(&renumbering);
            subnet.pool.remap_owners(|h| renumbering.get(h));
        }
    }
}
