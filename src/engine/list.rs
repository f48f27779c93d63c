//! Reading IPs: one by id, or a filtered, ordered page.

use crate::engine::view::IpRef;
use crate::engine::{validate, Ipam};
use crate::error::Error;
use crate::model::enums::Region;
use crate::model::ids::IpId;
use crate::model::ip::{Ip, ListIpsResponse};
use crate::model::request::ListIpsRequest;
use crate::query;

impl Ipam {
    /// The IP `id`. O(1).
    ///
    /// [`Ipam::ip`] reads the same fields in place, without building the owned `Ip`: at 1M
    /// IPs, a loop of gets of scattered ids takes 1.1-1.3x the time with `get_ip` as with `ip`
    /// for the common IP (IPv4, no resource or a custom one without a name, no reverses, a few
    /// short tags, booked and last changed on the engine clock's day); others take the general
    /// path, which ran at about 2x before the common one had a path of its own.
    ///
    /// # Errors
    /// [`Error::IpNotFound`].
    #[inline]
    pub fn get_ip(&self, region: Region, id: IpId) -> Result<Ip, Error> {
        // The record straight from the store, not through `ip`'s `Result<IpRef>`.
        let rs = self.region(region);
        let record = rs.store.find(id).ok_or(Error::IpNotFound { id })?;
        Ok(IpRef::of_record(rs, record).to_ip())
    }

    /// Lists the IPs matching every filter of `request`, in its order, one page at a time;
    /// `total_count` counts every match. A page past the end is empty.
    ///
    /// Cost is proportional to the matches, not to the region's IPs: O(m) bitmap work for the
    /// filters, plus O(page) for `created_at` orders or O(m + p log p) for the others (p: the
    /// page size), however deep the page.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a page or page size out of range, or a list filter with
    /// more items than [`Limits::max_list_items`](crate::Limits).
    pub fn list_ips(
        &self,
        region: Region,
        request: &ListIpsRequest,
    ) -> Result<ListIpsResponse, Error> {
        let (start, size) = validate::page(&self.limits, request.page, request.page_size)?;
        validate::items(&self.limits, "ip_ids", request.ip_ids.len())?;
        validate::items(&self.limits, "resource_ids", request.resource_ids.len())?;
        validate::items(&self.limits, "resource_types", request.resource_types.len())?;
        validate::items(&self.limits, "tags", request.tags.len())?;
        let rs = self.region(region);
        let page = query::run(rs, |p| self.organization_of(p), request, start, size);
        rs.store.prefetch_records(page.handles.iter().copied());
        Ok(ListIpsResponse {
            total_count: page.total,
            ips: page.handles.into_iter().map(|h| rs.view(h)).collect(),
        })
    }
}
