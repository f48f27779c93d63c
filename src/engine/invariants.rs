//! The consistency check run after every property-test case and fuzz iteration.

use crate::engine::Ipam;

impl Ipam {
    /// Checks that pools, records and every index agree: every record's address is taken in its
    /// pool by that record, every index entry points at a live record and back, pool counts
    /// equal the subnets' handle sets. O(n) in all IPs. Returns a description of the first
    /// disagreement found.
    ///
    /// # Errors
    /// A description of the first inconsistency.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        for rs in &self.regions {
            let region = rs.region;
            let ctx = |e: String| format!("{region}: {e}");
            rs.store.check().map_err(ctx)?;
            rs.registry.check().map_err(ctx)?;
            rs.index.check(rs.store.iter()).map_err(ctx)?;
            let mut in_subnets = 0u64;
            for (slot, s) in rs.registry.subnet_slots() {
                in_subnets += s.handles.len();
                for h in s.handles.iter() {
                    if !rs.store.live().contains(h) {
                        return Err(ctx(format!("subnet {} holds dead handle {h}", s.id)));
                    }
                    if rs.store.get(h).subnet != slot {
                        return Err(ctx(format!(
                            "handle {h} in subnet {} belongs elsewhere",
                            s.id
                        )));
                    }
                }
                // A noted release is a dead record's handle.
                for &h in s.handles.released() {
                    if rs.store.live().contains(h) {
                        return Err(ctx(format!(
                            "subnet {} notes live handle {h} as released",
                            s.id
                        )));
                    }
                }
            }
            if in_subnets != rs.store.len() as u64 {
                return Err(ctx(format!(
                    "{in_subnets} handles in subnets, {} records",
                    rs.store.len()
                )));
            }
            let mut last_created = i64::MIN;
            for (h, r) in rs.store.iter() {
                let s = rs.registry.subnet(r.subnet);
                if s.pool.owner(r.offset) != Some(h) {
                    return Err(ctx(format!(
                        "ip {} at offset {} not owned in its pool",
                        r.id, r.offset
                    )));
                }
                if r.created < last_created || r.updated < r.created {
                    return Err(ctx(format!("ip {} breaks creation order or times", r.id)));
                }
                last_created = r.created;
                if let Some(a) = r.attachment() {
                    if a.resource_type == crate::ResourceType::Custom
                        && (a.id.uuid() != r.id.uuid() || a.mac.is_none())
                    {
                        return Err(ctx(format!(
                            "custom attachment of ip {} is malformed",
                            r.id
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::Ipam;
    use crate::model::enums::Region;
    use crate::model::ids::ProjectId;
    use crate::model::ip::Source;
    use crate::model::request::{BookIpRequest, CreatePrivateNetworkRequest};
    use crate::registry::Blocks;

    #[test]
    fn a_vpc_missing_its_subnet_blocks_is_caught() {
        let mut ipam = Ipam::builder()
            .random(crate::env::SeededRandom::new(3))
            .build();
        let project = ProjectId::from_uuid(uuid::Uuid::from_u128(1));
        let pn = ipam
            .create_private_network(Region::FrPar, CreatePrivateNetworkRequest::new(project))
            .unwrap()
            .id;
        let request = BookIpRequest::new(project, Source::PrivateNetworkId(pn));
        ipam.book_ip(Region::FrPar, request).unwrap();
        ipam.check_invariants().unwrap();
        let registry = &mut ipam.region_mut(Region::FrPar).registry;
        let vpc = registry.pns[&pn].vpc;
        registry.vpcs.get_mut(&vpc).unwrap().subnets = Blocks::default();
        let err = ipam.check_invariants().unwrap_err();
        assert!(err.contains("missing from its vpc"), "{err}");
    }
}
