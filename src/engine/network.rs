//! VPCs and Private Networks: the VPC v2 slice the engine needs so that there is somewhere to
//! book IPs.

use ipnet::{IpNet, Ipv6Net};
use smallvec::SmallVec;

use crate::engine::{validate, Ipam, RegionState};
use crate::error::Error;
use crate::model::enums::Region;
use crate::model::ids::{PrivateNetworkId, ProjectId, SubnetId, VpcId};
use crate::model::network::{
    ListPrivateNetworksResponse, ListVpcsResponse, PrivateNetwork, Subnet, Vpc,
};
use crate::model::request::{
    CreatePrivateNetworkRequest, CreateVpcRequest, ListPrivateNetworksRequest, ListVpcsRequest,
};
use crate::model::time::from_micros;
use crate::registry::{Blocks, PnRecord, Registry, VpcRecord};

fn short(id: uuid::Uuid) -> String {
    id.simple().to_string()[..8].to_owned()
}

impl Ipam {
    /// Creates a VPC. O(1).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a name or tags over the [`Limits`](crate::Limits).
    pub fn create_vpc(&mut self, region: Region, request: CreateVpcRequest) -> Result<Vpc, Error> {
        validate::name(&self.limits, "name", request.name.as_deref())?;
        validate::tags(&self.limits, &request.tags)?;
        let id = {
            let ula = Registry::generate_ula(&mut *self.rng);
            self.insert_vpc(region, request, false, ula)
        };
        Ok(self.vpc_view(self.region(region), id))
    }

    fn insert_vpc(
        &mut self,
        region: Region,
        request: CreateVpcRequest,
        is_default: bool,
        ula: Ipv6Net,
    ) -> VpcId {
        let now = self.now();
        let id = VpcId::from_uuid(self.rng.next_uuid());
        let name = match request.name {
            Some(n) if !n.is_empty() => n,
            _ if is_default => "default".to_owned(),
            _ => format!("vpc-{}", short(id.uuid())),
        };
        let registry = &mut self.region_mut(region).registry;
        let seq = registry.next_seq();
        registry.vpcs.insert(
            id,
            VpcRecord {
                id,
                name,
                project: request.project_id,
                tags: request.tags,
                is_default,
                routing_enabled: request.enable_routing,
                created: now,
                updated: now,
                ula,
                subnets: Blocks::default(),
                private_networks: 0,
                seq,
            },
        );
        if is_default {
            registry.default_vpcs.insert(request.project_id, id);
        }
        id
    }

    /// The VPC `id`. O(1).
    ///
    /// # Errors
    /// [`Error::VpcNotFound`].
    pub fn get_vpc(&self, region: Region, id: VpcId) -> Result<Vpc, Error> {
        let rs = self.region(region);
        if !rs.registry.vpcs.contains_key(&id) {
            return Err(Error::VpcNotFound { id });
        }
        Ok(self.vpc_view(rs, id))
    }

    /// The default VPC of `project` in `region`, created on first use. O(1).
    pub fn default_vpc(&mut self, region: Region, project: ProjectId) -> Vpc {
        let id = match self.region(region).registry.default_vpcs.get(&project) {
            Some(&id) => id,
            None => {
                let ula = Registry::generate_ula(&mut *self.rng);
                self.insert_vpc(region, CreateVpcRequest::new(project), true, ula)
            }
        };
        self.vpc_view(self.region(region), id)
    }

    /// Lists VPCs, oldest first. O(v log v) in the region's VPCs.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a page or page size out of range.
    pub fn list_vpcs(
        &self,
        region: Region,
        request: &ListVpcsRequest,
    ) -> Result<ListVpcsResponse, Error> {
        let (start, size) = validate::page(&self.limits, request.page, request.page_size)?;
        let rs = self.region(region);
        let mut vpcs: Vec<&VpcRecord> = rs
            .registry
            .vpcs
            .values()
            .filter(|v| request.project_id.is_none_or(|p| v.project == p))
            .filter(|v| request.is_default.is_none_or(|d| v.is_default == d))
            .collect();
        vpcs.sort_unstable_by_key(|v| v.seq);
        Ok(ListVpcsResponse {
            total_count: vpcs.len() as u64,
            vpcs: page_of(&vpcs, start, size)
                .iter()
                .map(|v| self.vpc_view(rs, v.id))
                .collect(),
        })
    }

    /// Deletes an empty VPC. O(1).
    ///
    /// # Errors
    /// [`Error::VpcNotFound`]; [`Error::VpcNotEmpty`] while it has Private Networks.
    pub fn delete_vpc(&mut self, region: Region, id: VpcId) -> Result<(), Error> {
        let registry = &mut self.region_mut(region).registry;
        let vpc = registry.vpcs.get(&id).ok_or(Error::VpcNotFound { id })?;
        if vpc.private_networks > 0 {
            return Err(Error::VpcNotEmpty {
                id,
                private_networks: vpc.private_networks,
            });
        }
        let vpc = registry.vpcs.remove(&id).expect("checked above");
        if vpc.is_default {
            registry.default_vpcs.remove(&vpc.project);
        }
        Ok(())
    }

    /// Creates a Private Network, generating its subnets as [`CreatePrivateNetworkRequest`]
    /// describes. O(log s) in the subnets of its VPC for given subnets; generating the IPv4
    /// /22 reads the VPC's blocks of 172.16.0.0/12 (at most 1,024 of them).
    ///
    /// # Errors
    /// [`Error::VpcNotFound`]; [`Error::ProjectMismatch`] when the VPC is another Project's;
    /// [`Error::SubnetNotAllowed`] and [`Error::SubnetOverlap`] for given subnets;
    /// [`Error::SubnetsExhausted`] when no block is left to generate one;
    /// [`Error::InvalidArgument`] for names, tags or subnet counts over the [`Limits`](crate::Limits).
    pub fn create_private_network(
        &mut self,
        region: Region,
        request: CreatePrivateNetworkRequest,
    ) -> Result<PrivateNetwork, Error> {
        validate::name(&self.limits, "name", request.name.as_deref())?;
        validate::tags(&self.limits, &request.tags)?;
        if request.subnets.len() > self.limits.max_subnets {
            return Err(Error::constraint(
                "subnets",
                format!(
                    "at most {} subnets, found {}",
                    self.limits.max_subnets,
                    request.subnets.len()
                ),
            ));
        }
        let project = request.project_id;
        let registry = &self.regions[region.index()].registry;
        let vpc_id = match request.vpc_id {
            Some(id) => {
                let vpc = registry.vpcs.get(&id).ok_or(Error::VpcNotFound { id })?;
                if vpc.project != project {
                    return Err(Error::ProjectMismatch {
                        expected: vpc.project,
                        found: project,
                    });
                }
                Some(id)
            }
            None => registry.default_vpcs.get(&project).copied(),
        };
        let vpc = vpc_id.and_then(|id| registry.vpcs.get(&id));
        let prefixes = (self.limits.min_ipv4_prefix, self.limits.max_ipv4_prefix);
        let mut nets: Vec<IpNet> = Vec::with_capacity(request.subnets.len() + 2);
        for &net in &request.subnets {
            Registry::check_given(net, prefixes)?;
            if let Some(existing) = registry.overlap(vpc, &nets, net) {
                return Err(Error::SubnetOverlap {
                    subnet: net,
                    existing,
                });
            }
            nets.push(net);
        }
        let pending_vpc_id = vpc_id.unwrap_or_else(|| VpcId::from_uuid(uuid::Uuid::nil()));
        if nets.is_empty() {
            let v4 = Registry::generate_v4(vpc, &nets).ok_or(Error::SubnetsExhausted {
                vpc_id: pending_vpc_id,
                is_ipv6: false,
            })?;
            nets.push(v4);
        }
        // The ULA /48 of the VPC, or of the default VPC this call will create.
        let ula = match vpc {
            Some(v) => v.ula,
            None => Registry::generate_ula(&mut *self.rng),
        };
        if !nets.iter().any(|n| matches!(n, IpNet::V6(_))) {
            let v6 = registry
                .generate_v6(ula, vpc, &nets, &mut *self.rng)
                .ok_or(Error::SubnetsExhausted {
                    vpc_id: pending_vpc_id,
                    is_ipv6: true,
                })?;
            nets.push(v6);
        }

        // Everything is valid: apply.
        let vpc_id = match vpc_id {
            Some(id) => id,
            None => self.insert_vpc(region, CreateVpcRequest::new(project), true, ula),
        };
        let now = self.now();
        let id = PrivateNetworkId::from_uuid(self.rng.next_uuid());
        let subnet_ids: Vec<SubnetId> = nets
            .iter()
            .map(|_| SubnetId::from_uuid(self.rng.next_uuid()))
            .collect();
        let registry = &mut self.region_mut(region).registry;
        let name = match request.name {
            Some(n) if !n.is_empty() => n,
            _ => format!("pn-{}", short(id.uuid())),
        };
        let mut pn = PnRecord {
            id,
            name,
            project,
            vpc: vpc_id,
            tags: request.tags,
            created: now,
            updated: now,
            subnets: SmallVec::new(),
            default_route_propagation: request.default_route_propagation_enabled,
            seq: registry.next_seq(),
        };
        for (net, sid) in nets.into_iter().zip(subnet_ids) {
            registry.add_subnet(sid, net, &mut pn, now);
        }
        let vpc = registry.vpcs.get_mut(&vpc_id).expect("vpc exists");
        vpc.private_networks += 1;
        registry.pns.insert(id, pn);
        Ok(self.pn_view(self.region(region), id))
    }

    /// The Private Network `id`. O(1).
    ///
    /// # Errors
    /// [`Error::PrivateNetworkNotFound`].
    pub fn get_private_network(
        &self,
        region: Region,
        id: PrivateNetworkId,
    ) -> Result<PrivateNetwork, Error> {
        let rs = self.region(region);
        if !rs.registry.pns.contains_key(&id) {
            return Err(Error::PrivateNetworkNotFound { id });
        }
        Ok(self.pn_view(rs, id))
    }

    /// Lists Private Networks, oldest first. O(p log p) in the region's Private Networks.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a page or page size out of range.
    pub fn list_private_networks(
        &self,
        region: Region,
        request: &ListPrivateNetworksRequest,
    ) -> Result<ListPrivateNetworksResponse, Error> {
        let (start, size) = validate::page(&self.limits, request.page, request.page_size)?;
        let rs = self.region(region);
        let mut pns: Vec<&PnRecord> = rs
            .registry
            .pns
            .values()
            .filter(|p| request.project_id.is_none_or(|id| p.project == id))
            .filter(|p| request.vpc_id.is_none_or(|id| p.vpc == id))
            .collect();
        pns.sort_unstable_by_key(|p| p.seq);
        Ok(ListPrivateNetworksResponse {
            total_count: pns.len() as u64,
            private_networks: page_of(&pns, start, size)
                .iter()
                .map(|p| self.pn_view(rs, p.id))
                .collect(),
        })
    }

    /// Deletes a Private Network that has no booked IP, with its subnets. O(s) in its subnets.
    ///
    /// # Errors
    /// [`Error::PrivateNetworkNotFound`]; [`Error::PrivateNetworkNotEmpty`] while IPs are booked
    /// in it.
    pub fn delete_private_network(
        &mut self,
        region: Region,
        id: PrivateNetworkId,
    ) -> Result<(), Error> {
        let registry = &self.region(region).registry;
        let pn = registry
            .pns
            .get(&id)
            .ok_or(Error::PrivateNetworkNotFound { id })?;
        let booked: u64 = pn
            .subnets
            .iter()
            .map(|&s| registry.subnet(s).pool.len())
            .sum();
        if booked > 0 {
            return Err(Error::PrivateNetworkNotEmpty { id, booked });
        }
        let now = self.now();
        let registry = &mut self.region_mut(region).registry;
        let pn = registry.pns.remove(&id).expect("checked above");
        for &slot in &pn.subnets {
            registry.remove_subnet(slot);
        }
        if let Some(vpc) = registry.vpcs.get_mut(&pn.vpc) {
            vpc.private_networks -= 1;
            vpc.updated = now;
        }
        Ok(())
    }

    fn vpc_view(&self, rs: &RegionState, id: VpcId) -> Vpc {
        let v = &rs.registry.vpcs[&id];
        Vpc {
            id: v.id,
            name: v.name.clone(),
            organization_id: self.organization_of(v.project),
            project_id: v.project,
            region: rs.region,
            tags: v.tags.clone(),
            is_default: v.is_default,
            created_at: from_micros(v.created),
            updated_at: from_micros(v.updated),
            private_network_count: v.private_networks,
            routing_enabled: v.routing_enabled,
        }
    }

    fn pn_view(&self, rs: &RegionState, id: PrivateNetworkId) -> PrivateNetwork {
        let p = &rs.registry.pns[&id];
        PrivateNetwork {
            id: p.id,
            name: p.name.clone(),
            organization_id: self.organization_of(p.project),
            project_id: p.project,
            region: rs.region,
            tags: p.tags.clone(),
            created_at: from_micros(p.created),
            updated_at: from_micros(p.updated),
            subnets: p
                .subnets
                .iter()
                .map(|&slot| {
                    let s = rs.registry.subnet(slot);
                    Subnet {
                        id: s.id,
                        created_at: from_micros(s.created),
                        updated_at: from_micros(s.updated),
                        subnet: s.net(),
                        project_id: s.project,
                        private_network_id: s.pn,
                        vpc_id: s.vpc,
                        region: rs.region,
                    }
                })
                .collect(),
            vpc_id: p.vpc,
            dhcp_enabled: true,
            default_route_propagation_enabled: p.default_route_propagation,
        }
    }
}

/// The items `start..start + size` of `items`, or nothing past the end.
pub(crate) fn page_of<T>(items: &[T], start: u64, size: usize) -> &[T] {
    let start = usize::try_from(start)
        .unwrap_or(usize::MAX)
        .min(items.len());
    let end = start.saturating_add(size).min(items.len());
    &items[start..end]
}
