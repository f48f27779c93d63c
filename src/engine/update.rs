//! Updating an IP's tags and reverse DNS entries.

use crate::engine::{validate, Ipam};
use crate::error::Error;
use crate::model::enums::Region;
use crate::model::ids::IpId;
use crate::model::ip::Ip;
use crate::model::request::UpdateIpRequest;

impl Ipam {
    /// Replaces the tags and/or reverses given in `request` (`None` leaves a field as it is) and
    /// bumps `updated_at`. Reverse host names are stored with a trailing dot. O(t) in the tags.
    ///
    /// # Errors
    /// [`Error::IpNotFound`]; [`Error::InvalidArgument`] for tags over the limits, a malformed
    /// host name, or a reverse address outside the IP's subnet.
    #[allow(clippy::needless_pass_by_value)] // the request is the API's body, taken whole
    pub fn update_ip(
        &mut self,
        region: Region,
        id: IpId,
        request: UpdateIpRequest,
    ) -> Result<Ip, Error> {
        let rs = self.region(region);
        // In a large region the id's map slot is a cache miss: start loading it, and look the
        // new tag list up by its names while it comes (both read only).
        rs.store.prefetch_id(id);
        let known = request
            .tags
            .as_deref()
            .map(|names| rs.index.known_tags(names));
        let handle = self.handle(region, id)?;
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
        record.updated = now;
        Ok(rs.view(handle))
    }
}
