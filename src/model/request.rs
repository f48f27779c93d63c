//! Request types: what callers give the engine. JSON `null` reads as an absent field everywhere.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::model::enums::{OrderBy, ResourceType};
use crate::model::ids::{
    IpId, OrganizationId, PrivateNetworkId, ProjectId, ResourceId, SubnetId, VpcId,
};
use crate::model::ip::{null_as_default, CustomResource, Reverse, Source};
use crate::model::mac::MacAddress;

/// Book (reserve) an IP.
///
/// ```
/// # use ipam_engine::{BookIpRequest, Source, ProjectId, PrivateNetworkId, CustomResource};
/// # let project = ProjectId::from_uuid(uuid::Uuid::nil());
/// # let pn = PrivateNetworkId::from_uuid(uuid::Uuid::nil());
/// let request = BookIpRequest::new(project, Source::PrivateNetworkId(pn))
///     .ipv6(true)
///     .tags(["web"])
///     .resource(CustomResource::new("bc:24:11:74:d0:5a".parse()?));
/// # Ok::<(), ipam_engine::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookIpRequest {
    /// The Project of the IP; it must be the Private Network's Project.
    pub project_id: ProjectId,
    /// Where to book: a Private Network or one of its subnets.
    pub source: Source,
    /// Book an IPv6 address instead of an IPv4 one.
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_ipv6: bool,
    /// A specific address (no `/mask`) instead of an automatic one.
    #[serde(default)]
    pub address: Option<IpAddr>,
    /// Tags of the new IP.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    /// A custom resource to attach the new IP to.
    #[serde(default)]
    pub resource: Option<CustomResource>,
}

impl BookIpRequest {
    /// Books an automatic IPv4 address, untagged and unattached, in `source`.
    #[must_use]
    pub fn new(project_id: ProjectId, source: Source) -> Self {
        Self {
            project_id,
            source,
            is_ipv6: false,
            address: None,
            tags: Vec::new(),
            resource: None,
        }
    }

    /// Sets the address family.
    #[must_use]
    pub fn ipv6(mut self, is_ipv6: bool) -> Self {
        self.is_ipv6 = is_ipv6;
        self
    }

    /// Books this exact address; the family follows the address.
    #[must_use]
    pub fn address(mut self, address: IpAddr) -> Self {
        self.is_ipv6 = address.is_ipv6();
        self.address = Some(address);
        self
    }

    /// Sets the tags.
    #[must_use]
    pub fn tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Attaches the new IP to a custom resource.
    #[must_use]
    pub fn resource(mut self, resource: CustomResource) -> Self {
        self.resource = Some(resource);
        self
    }
}

/// Update an IP's tags and reverses. `None` leaves a field as it is; `Some(vec![])` clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateIpRequest {
    /// New tags, replacing the old ones.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// New reverses, replacing the old ones.
    #[serde(default)]
    pub reverses: Option<Vec<Reverse>>,
}

/// Move an IP from one custom resource to another, or detach it when `to_resource` is absent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveIpRequest {
    /// The custom resource the IP is attached to now.
    pub from_resource: CustomResource,
    /// The custom resource to attach it to; `None` leaves the IP detached.
    #[serde(default)]
    pub to_resource: Option<CustomResource>,
}

/// Filters, order and page of a list of IPs. All filters combine with AND; an empty list
/// filter (`tags`, `resource_ids`, `resource_types`, `ip_ids`) filters nothing.
///
/// ```
/// # use ipam_engine::{ListIpsRequest, OrderBy};
/// let request = ListIpsRequest {
///     tags: vec!["web".into()],
///     order_by: OrderBy::IpAddressAsc,
///     page_size: 100,
///     ..ListIpsRequest::default()
/// };
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListIpsRequest {
    /// Sort order (default `created_at_desc`).
    pub order_by: OrderBy,
    /// 1-based page number (default 1).
    pub page: u32,
    /// Page size, `1..=1000` by default limits (default 50).
    pub page_size: u32,
    /// Only IPs of this Project.
    pub project_id: Option<ProjectId>,
    /// Only IPs of Projects of this Organization.
    pub organization_id: Option<OrganizationId>,
    /// Only IPs whose Private Network is in this VPC.
    pub vpc_id: Option<VpcId>,
    /// Only attached (`true`) or unattached (`false`) IPs.
    pub attached: Option<bool>,
    /// Only IPs attached to a resource whose name contains this string.
    pub resource_name: Option<String>,
    /// Only IPs attached to this resource.
    pub resource_id: Option<ResourceId>,
    /// Only IPs attached to one of these resources.
    pub resource_ids: Vec<ResourceId>,
    /// Only IPs attached to a resource of this type; `unknown_type` filters nothing.
    pub resource_type: Option<ResourceType>,
    /// Only IPs attached to a resource of one of these types (`unknown_type` entries are ignored).
    pub resource_types: Vec<ResourceType>,
    /// Only IPs attached to a resource with this MAC address.
    pub mac_address: Option<MacAddress>,
    /// Only IPs with at least one of these tags.
    pub tags: Vec<String>,
    /// Only IPv6 (`true`) or IPv4 (`false`) IPs.
    pub is_ipv6: Option<bool>,
    /// Only IPs with one of these ids.
    pub ip_ids: Vec<IpId>,
    /// Only IPs of this zone: never a private IP, so any value matches nothing.
    pub zonal: Option<String>,
    /// `true`: only regional public IPs, so nothing here; `false` filters nothing.
    pub regional: Option<bool>,
    /// Only IPs of this Private Network.
    pub private_network_id: Option<PrivateNetworkId>,
    /// Only IPs of this subnet.
    pub subnet_id: Option<SubnetId>,
    /// Only IPs booked from this VPC (same as `vpc_id` for private IPs).
    pub source_vpc_id: Option<VpcId>,
}

impl Default for ListIpsRequest {
    fn default() -> Self {
        Self {
            order_by: OrderBy::default(),
            page: 1,
            page_size: 50,
            project_id: None,
            organization_id: None,
            vpc_id: None,
            attached: None,
            resource_name: None,
            resource_id: None,
            resource_ids: Vec::new(),
            resource_type: None,
            resource_types: Vec::new(),
            mac_address: None,
            tags: Vec::new(),
            is_ipv6: None,
            ip_ids: Vec::new(),
            zonal: None,
            regional: None,
            private_network_id: None,
            subnet_id: None,
            source_vpc_id: None,
        }
    }
}

/// Create a VPC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateVpcRequest {
    /// The VPC's name; a name is generated when absent or empty.
    #[serde(default)]
    pub name: Option<String>,
    /// Its Project.
    pub project_id: ProjectId,
    /// Its tags.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    /// Enable routing between its Private Networks (default `false`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub enable_routing: bool,
}

impl CreateVpcRequest {
    /// A VPC of `project_id` with a generated name.
    #[must_use]
    pub fn new(project_id: ProjectId) -> Self {
        Self {
            name: None,
            project_id,
            tags: Vec::new(),
            enable_routing: false,
        }
    }
}

/// Create a Private Network.
///
/// Without `subnets`, the engine generates an IPv4 /22 inside `172.16.0.0/12` that overlaps no
/// other Private Network of the VPC, and an IPv6 /64 inside the VPC's ULA /48. With only IPv4
/// subnets given, the IPv6 /64 is still added. Without `vpc_id`, the Project's default VPC of the
/// region is used (and created on first use).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePrivateNetworkRequest {
    /// The name; generated when absent or empty.
    #[serde(default)]
    pub name: Option<String>,
    /// Its Project.
    pub project_id: ProjectId,
    /// Its tags.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    /// Its subnets: IPv4 /20 to /28, IPv6 /64, in canonical network form.
    #[serde(default, deserialize_with = "null_as_default")]
    pub subnets: Vec<IpNet>,
    /// Its VPC; the Project's default VPC when absent.
    #[serde(default)]
    pub vpc_id: Option<VpcId>,
    /// Propagate default routes (default `false`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub default_route_propagation_enabled: bool,
}

impl CreatePrivateNetworkRequest {
    /// A Private Network of `project_id` with generated name and subnets, in the default VPC.
    #[must_use]
    pub fn new(project_id: ProjectId) -> Self {
        Self {
            name: None,
            project_id,
            tags: Vec::new(),
            subnets: Vec::new(),
            vpc_id: None,
            default_route_propagation_enabled: false,
        }
    }

    /// Sets the name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the subnets.
    #[must_use]
    pub fn subnets<I: IntoIterator<Item = IpNet>>(mut self, subnets: I) -> Self {
        self.subnets = subnets.into_iter().collect();
        self
    }

    /// Puts the Private Network in this VPC.
    #[must_use]
    pub fn vpc(mut self, vpc_id: VpcId) -> Self {
        self.vpc_id = Some(vpc_id);
        self
    }
}

/// Filters and page of a list of Private Networks (creation order, oldest first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListPrivateNetworksRequest {
    /// 1-based page number.
    pub page: u32,
    /// Page size.
    pub page_size: u32,
    /// Only this Project's.
    pub project_id: Option<ProjectId>,
    /// Only those of this VPC.
    pub vpc_id: Option<VpcId>,
}

impl Default for ListPrivateNetworksRequest {
    fn default() -> Self {
        Self {
            page: 1,
            page_size: 50,
            project_id: None,
            vpc_id: None,
        }
    }
}

/// Filters and page of a list of VPCs (creation order, oldest first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListVpcsRequest {
    /// 1-based page number.
    pub page: u32,
    /// Page size.
    pub page_size: u32,
    /// Only this Project's.
    pub project_id: Option<ProjectId>,
    /// Only default (`true`) or non-default (`false`) VPCs.
    pub is_default: Option<bool>,
}

impl Default for ListVpcsRequest {
    fn default() -> Self {
        Self {
            page: 1,
            page_size: 50,
            project_id: None,
            is_default: None,
        }
    }
}

/// A product resource (an Instance NIC, a Load Balancer...) that the embedding service attaches
/// an IP to through [`Ipam::attach_resource`](crate::Ipam::attach_resource).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceResource {
    /// Its type: anything but `unknown_type` and `custom`.
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    /// Its id.
    pub id: ResourceId,
    /// Its MAC address, if it has one.
    #[serde(default)]
    pub mac_address: Option<MacAddress>,
    /// Its name, if it has one.
    #[serde(default)]
    pub name: Option<String>,
}

impl ServiceResource {
    /// A resource of `resource_type` with id `id`, without MAC address or name.
    #[must_use]
    pub fn new(resource_type: ResourceType, id: ResourceId) -> Self {
        Self {
            resource_type,
            id,
            mac_address: None,
            name: None,
        }
    }

    /// Sets the MAC address.
    #[must_use]
    pub fn mac_address(mut self, mac: MacAddress) -> Self {
        self.mac_address = Some(mac);
        self
    }

    /// Sets the name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}
