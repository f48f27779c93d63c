//! The IP object as the API returns it, and the small types inside it.

use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize};

use crate::model::enums::{Region, ResourceType};
use crate::model::ids::{IpId, PrivateNetworkId, ProjectId, ResourceId, SubnetId, VpcId};
use crate::model::mac::MacAddress;
use crate::model::tags::Tags;
use crate::model::time;

/// Deserializes an optional field where JSON `null` means the same as an absent key.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// A booked IP, exactly as the API serializes it.
///
/// Key order follows the API's own (`id`, `address`, `project_id`, ...). `address` is in CIDR
/// form: the host address and the prefix length of its subnet (`172.16.32.2/22`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Ip {
    /// The IP's id.
    pub id: IpId,
    /// The address with its subnet's prefix length.
    pub address: IpNet,
    /// The Project the IP belongs to (its Private Network's Project).
    pub project_id: ProjectId,
    /// Whether this is an IPv6 address.
    pub is_ipv6: bool,
    /// When the IP was booked.
    #[serde(with = "time")]
    pub created_at: DateTime<Utc>,
    /// When the IP was last modified (equal to `created_at` at booking).
    #[serde(with = "time")]
    pub updated_at: DateTime<Utc>,
    /// Where the IP was booked: always [`Source::SubnetId`] for IPs of a Private Network.
    pub source: Source,
    /// The resource the IP is attached to, if any.
    pub resource: Option<Resource>,
    /// The IP's tags, in the order they were given.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Tags,
    /// Reverse DNS entries.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reverses: Vec<Reverse>,
    /// The IP's region.
    pub region: Region,
    /// The IP's zone: always `None` for private IPs.
    pub zone: Option<String>,
}

/// The resource an IP is attached to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Resource {
    /// The kind of resource.
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    /// The resource's id; for `custom` resources, the IP's own id.
    pub id: ResourceId,
    /// The resource's MAC address, if it has one.
    pub mac_address: Option<MacAddress>,
    /// The resource's name, if it has one.
    pub name: Option<String>,
}

/// A custom resource, named by its MAC address, as given to book, attach, detach and move.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomResource {
    /// The resource's MAC address (any case in requests; stored upper-case).
    pub mac_address: MacAddress,
    /// An optional name.
    #[serde(default)]
    pub name: Option<String>,
}

impl CustomResource {
    /// A custom resource without a name.
    #[must_use]
    pub fn new(mac_address: MacAddress) -> Self {
        Self {
            mac_address,
            name: None,
        }
    }

    /// Sets the name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// A reverse DNS entry of an IP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reverse {
    /// The host name; the engine stores and returns it with a trailing `.`.
    pub hostname: String,
    /// The address the entry is for, if not the IP's own; it must lie in the IP's subnet.
    #[serde(default)]
    pub address: Option<IpAddr>,
}

impl Reverse {
    /// A reverse entry for a host name.
    #[must_use]
    pub fn new(hostname: impl Into<String>, address: Option<IpAddr>) -> Self {
        Self {
            hostname: hostname.into(),
            address,
        }
    }
}

/// Where an IP comes from, or where to book one. In JSON, an object with exactly one key
/// (`{"subnet_id": "..."}`); keys whose value is `null` are ignored when reading.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "SourceRepr")]
#[non_exhaustive]
pub enum Source {
    /// A zone, for public zonal IPs (`fr-par-1`).
    Zonal(String),
    /// A Private Network: book in its subnet of the requested family.
    PrivateNetworkId(PrivateNetworkId),
    /// One subnet of a Private Network.
    SubnetId(SubnetId),
    /// A VPC.
    VpcId(VpcId),
    /// Regional public IPs.
    Regional(bool),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceRepr {
    #[serde(default)]
    zonal: Option<String>,
    #[serde(default)]
    private_network_id: Option<PrivateNetworkId>,
    #[serde(default)]
    subnet_id: Option<SubnetId>,
    #[serde(default)]
    vpc_id: Option<VpcId>,
    #[serde(default)]
    regional: Option<bool>,
}

/// A source object that does not have exactly one key set.
#[derive(Debug)]
pub(crate) struct SourceKeyCount(usize);

impl fmt::Display for SourceKeyCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "source must have exactly one key set, found {}", self.0)
    }
}

impl TryFrom<SourceRepr> for Source {
    type Error = SourceKeyCount;

    fn try_from(r: SourceRepr) -> Result<Self, SourceKeyCount> {
        let mut found = Vec::with_capacity(1);
        if let Some(z) = r.zonal {
            found.push(Source::Zonal(z));
        }
        if let Some(id) = r.private_network_id {
            found.push(Source::PrivateNetworkId(id));
        }
        if let Some(id) = r.subnet_id {
            found.push(Source::SubnetId(id));
        }
        if let Some(id) = r.vpc_id {
            found.push(Source::VpcId(id));
        }
        if let Some(b) = r.regional {
            found.push(Source::Regional(b));
        }
        if found.len() == 1 {
            Ok(found.remove(0))
        } else {
            Err(SourceKeyCount(found.len()))
        }
    }
}

/// One page of a list of IPs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ListIpsResponse {
    /// How many IPs match the filters, regardless of paging.
    pub total_count: u64,
    /// The IPs of the requested page.
    pub ips: Vec<Ip>,
}
