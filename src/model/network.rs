//! VPCs, Private Networks and subnets as the VPC v2 API returns them.

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::model::enums::Region;
use crate::model::ids::{OrganizationId, PrivateNetworkId, ProjectId, SubnetId, VpcId};
use crate::model::ip::null_as_default;
use crate::model::time;

/// A VPC: a group of Private Networks whose subnets never overlap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Vpc {
    /// The VPC's id.
    pub id: VpcId,
    /// Its name.
    pub name: String,
    /// The Organization of its Project.
    pub organization_id: OrganizationId,
    /// Its Project.
    pub project_id: ProjectId,
    /// Its region.
    pub region: Region,
    /// Its tags.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    /// Whether this is the Project's default VPC in the region.
    pub is_default: bool,
    /// Creation time.
    #[serde(with = "time")]
    pub created_at: DateTime<Utc>,
    /// Last modification time.
    #[serde(with = "time")]
    pub updated_at: DateTime<Utc>,
    /// Number of Private Networks in the VPC.
    pub private_network_count: u32,
    /// Whether routing between its Private Networks is enabled.
    pub routing_enabled: bool,
}

/// A Private Network: one IPv4 and one IPv6 subnet (or more) where IPs are booked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PrivateNetwork {
    /// The Private Network's id.
    pub id: PrivateNetworkId,
    /// Its name.
    pub name: String,
    /// The Organization of its Project.
    pub organization_id: OrganizationId,
    /// Its Project.
    pub project_id: ProjectId,
    /// Its region.
    pub region: Region,
    /// Its tags.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    /// Creation time.
    #[serde(with = "time")]
    pub created_at: DateTime<Utc>,
    /// Last modification time.
    #[serde(with = "time")]
    pub updated_at: DateTime<Utc>,
    /// Its subnets, in creation order.
    pub subnets: Vec<Subnet>,
    /// The VPC it belongs to.
    pub vpc_id: VpcId,
    /// Always `true`: DHCP is managed by the IPAM.
    pub dhcp_enabled: bool,
    /// Whether default routes are propagated.
    pub default_route_propagation_enabled: bool,
}

/// One subnet of a Private Network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Subnet {
    /// The subnet's id.
    pub id: SubnetId,
    /// Creation time.
    #[serde(with = "time")]
    pub created_at: DateTime<Utc>,
    /// Last modification time.
    #[serde(with = "time")]
    pub updated_at: DateTime<Utc>,
    /// The block, in CIDR form (`172.16.32.0/22`).
    pub subnet: IpNet,
    /// The Project of its Private Network.
    pub project_id: ProjectId,
    /// The Private Network it belongs to.
    pub private_network_id: PrivateNetworkId,
    /// The VPC of its Private Network.
    pub vpc_id: VpcId,
    /// Its region.
    pub region: Region,
}

/// One page of a list of Private Networks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ListPrivateNetworksResponse {
    /// How many Private Networks match, regardless of paging.
    pub total_count: u64,
    /// The requested page.
    pub private_networks: Vec<PrivateNetwork>,
}

/// One page of a list of VPCs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ListVpcsResponse {
    /// How many VPCs match, regardless of paging.
    pub total_count: u64,
    /// The requested page.
    pub vpcs: Vec<Vpc>,
}
