//! Updating an IP's tags and reverse DNS entries.

use crate::engine::view::IpRef;
use crate::engine::{validate, Ipam};
use crate::error::Error;
use crate::model::enums::Region;
use crate::model::ids::IpId;
use crate::model::ip::Ip;
use crate::model::request::UpdateIpRequest;
use crate::store::Handle;

impl Ipam {
    /// Replaces the tags and/or reverses given in `request` (`None` leaves a field as it is) and
    /// bumps `updated_at`. Reverse host names are stored with a trailing dot. O(t) in the tags.
    ///
    /// # Errors
    /// [`Error::IpNotFound`]; [`Error::InvalidArgument`] for tags over the limits, a malformed
    /// host name, or a reverse address outside the IP's subnet.
    #[allow(clippy::needless_pass_by_value)] // the request is the API's body, taken whole
    #[inline]
    pub fn update_ip(
        &mut self,
        region: Region,
        id: IpId,
        request: UpdateIpRequest,
    ) -> Result<Ip, Error> {
        let handle = self.update(region, id, &request)?;
        Ok(self.region(region).view(handle))
    }

    /// Updates an IP exactly as [`Ipam::update_ip`] does (the same checks, errors and state),
    /// and returns it borrowed, read in place, rather than as an owned [`Ip`]: for a caller
    /// that does not need the IP back whole, the cheaper call. Building and later dropping the
    /// owned `Ip` is about a tenth of a tag update. [`IpRef::to_ip`] gives the owned `Ip`.
    ///
    /// ```
    /// use ipam_engine::{
    ///     BookIpRequest, CreatePrivateNetworkRequest, Ipam, ProjectId, Region, Source,
    ///     UpdateIpRequest,
    /// };
    ///
    /// # fn main() -> Result<(), ipam_engine::Error> {
    /// let mut ipam = Ipam::new();
    /// let project = ProjectId::from_uuid(uuid::Uuid::from_u128(1));
    /// let pn = ipam.create_private_network(Region::FrPar, CreatePrivateNetworkRequest::new(project))?;
    /// let request = BookIpRequest::new(project, Source::PrivateNetworkId(pn.id));
    /// let id = ipam.book_ip(Region::FrPar, request)?.id;
    ///
    /// let update = UpdateIpRequest {
    ///     tags: Some(vec!["web".to_owned()]),
    ///     reverses: None,
    /// };
    /// let ip = ipam.update_ip_ref(Region::FrPar, id, update)?;
    /// assert_eq!(ip.tags().collect::<Vec<_>>(), ["web"]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// Those of [`Ipam::update_ip`].
    #[allow(clippy::needless_pass_by_value)] // the request is the API's body, taken whole
    pub fn update_ip_ref(
        &mut self,
        region: Region,
        id: IpId,
        request: UpdateIpRequest,
    ) -> Result<IpRef<'_>, Error> {
        let handle = self.update(region, id, &request)?;
        Ok(IpRef::new(self.region(region), handle))
    }

    /// [`Ipam::update_ip`] up to the view: the handle of the updated IP.
    fn update(
        &mut self,
        region: Region,
        id: IpId,
        request: &UpdateIpRequest,
    ) -> Result<Handle, Error> {
        let rs = self.region(region);
        // In a large region the id's map slot is a cache miss: start loading it, and look the
        // new tag list up by its names while it comes (both read only).
        rs.store.prefetch_id(id);
        let known = request
            .tags
            .as_deref()
            .map(|names| rs.index.known_tags(names));
        // Once the id gives the handle (its stamp, or the id map), the postings of the new tags
        // (when the region knows them) start loading where the handle goes, while the record
        // loads.
        let handle = self.handle_warming(region, id, |rs, h| {
            if let Some(Some(set)) = known {
                rs.index.warm_tags(set, h);
            }
            rs.store.warm_touch(h);
        })?;
        if let Some(tags) = &request.tags {
            validate::tags(&self.limits, tags)?;
        }
        let reverses = match &request.reverses {
            Some(r) => {
                let rs = self.region(region);
                let subnet = rs.registry.subnet(rs.store.get(handle).subnet).net();
                Some(validate::reverses(&self.limits, subnet, r)?)
            }
            None => None,
        };
        let now = self.now();
        let rs = self.region_mut(region);
        let record = rs.store.get_mut(handle);
        if let (Some(tags), Some(known)) = (&request.tags, known) {
            record.tags = rs
                .index
                .replace_tags_known(handle, record.tags, tags, known);
        }
        if let Some(reverses) = reverses {
            record.set_reverses(reverses);
        }
        rs.store.touch(handle, now);
        Ok(handle)
    }
}
