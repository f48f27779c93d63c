//! The API's string enums: regions, resource types and list orders. Each has one canonical
//! lower-snake-case text form used by `Display`, `FromStr` and JSON.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ArgumentReason, Error};
use crate::model::mac::truncate;

macro_rules! string_enum {
    (
        $(#[$doc:meta])*
        $name:ident, $argument:literal, $on_unknown:expr;
        $( $(#[$vdoc:meta])* $variant:ident = $text:literal ),+ $(,)?
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value at `i` in declaration order ([`Self::ALL`]), if any. A chain of
            /// comparisons that compiles to a bounds check, where `ALL.get(i)` loads a table.
            #[allow(dead_code)]
            pub(crate) const fn from_index(i: usize) -> Option<Self> {
                $(
                    if i == $name::$variant as usize {
                        return Some($name::$variant);
                    }
                )+
                None
            }

            /// The canonical text form.
            #[must_use]
            pub const fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self, Error> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($on_unknown(s)),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

fn bad_enum(argument: &'static str, expected: &'static [&'static str]) -> impl Fn(&str) -> Error {
    move |s| Error::InvalidArgument {
        argument: argument.into(),
        reason: ArgumentReason::Format,
        help: format!(
            "{:?} is not a valid {argument}: expected one of {}",
            truncate(s),
            expected.join(", ")
        ),
    }
}

string_enum! {
    /// A Scaleway region. Every IPAM object lives in exactly one region.
    Region, "region", |s: &str| Error::UnknownRegion { region: truncate(s).to_owned() };
    /// Paris.
    #[default]
    FrPar = "fr-par",
    /// Milan.
    ItMil = "it-mil",
    /// Amsterdam.
    NlAms = "nl-ams",
    /// Warsaw.
    PlWaw = "pl-waw",
}

impl Region {
    /// Dense index of the region, `0..COUNT`.
    pub(crate) const fn index(self) -> usize {
        match self {
            Region::FrPar => 0,
            Region::ItMil => 1,
            Region::NlAms => 2,
            Region::PlWaw => 3,
        }
    }
}

const RESOURCE_TYPES: &[&str] = &[
    "unknown_type",
    "custom",
    "instance_server",
    "instance_ip",
    "instance_private_nic",
    "lb_server",
    "fip_ip",
    "vpc_gateway",
    "vpc_gateway_network",
    "k8s_node",
    "k8s_cluster",
    "rdb_instance",
    "redis_cluster",
    "baremetal_server",
    "baremetal_private_nic",
    "llm_deployment",
    "mgdb_instance",
    "apple_silicon_server",
    "apple_silicon_private_nic",
    "serverless_container",
    "serverless_function",
    "vpn_gateway",
    "ddl_datalab",
    "kafka_cluster",
    "bgp_endpoint",
    "scbl_sedb_cluster",
    "dtwh_deployment",
    "sedb_cluster",
    "msgq_cluster",
    "edge_vpc_endpoint",
    "dviz_cluster",
    "nats_cluster",
];

string_enum! {
    /// The kind of resource an IP is attached to. `Custom` is the only kind the public attach,
    /// detach and move calls handle; the others belong to Scaleway products and are managed by
    /// the embedding service through [`Ipam::attach_resource`](crate::Ipam::attach_resource).
    ResourceType, "resource_type", bad_enum("resource_type", RESOURCE_TYPES);
    /// No type: in a list filter, it means "no filter".
    #[default]
    UnknownType = "unknown_type",
    /// A custom resource identified by its MAC address.
    Custom = "custom",
    /// An Instance server.
    InstanceServer = "instance_server",
    /// An Instance flexible IP.
    InstanceIp = "instance_ip",
    /// An Instance private NIC.
    InstancePrivateNic = "instance_private_nic",
    /// A Load Balancer server.
    LbServer = "lb_server",
    /// An Elastic Metal flexible IP.
    FipIp = "fip_ip",
    /// A Public Gateway.
    VpcGateway = "vpc_gateway",
    /// A Public Gateway network.
    VpcGatewayNetwork = "vpc_gateway_network",
    /// A Kubernetes node.
    K8sNode = "k8s_node",
    /// A Kubernetes cluster.
    K8sCluster = "k8s_cluster",
    /// A Managed Database instance.
    RdbInstance = "rdb_instance",
    /// A Redis cluster.
    RedisCluster = "redis_cluster",
    /// An Elastic Metal server.
    BaremetalServer = "baremetal_server",
    /// An Elastic Metal private NIC.
    BaremetalPrivateNic = "baremetal_private_nic",
    /// A Managed Inference deployment.
    LlmDeployment = "llm_deployment",
    /// A `MongoDB` instance.
    MgdbInstance = "mgdb_instance",
    /// An Apple silicon server.
    AppleSiliconServer = "apple_silicon_server",
    /// An Apple silicon private NIC.
    AppleSiliconPrivateNic = "apple_silicon_private_nic",
    /// A Serverless container.
    ServerlessContainer = "serverless_container",
    /// A Serverless function.
    ServerlessFunction = "serverless_function",
    /// A VPN gateway.
    VpnGateway = "vpn_gateway",
    /// A Data Lab.
    DdlDatalab = "ddl_datalab",
    /// A Kafka cluster.
    KafkaCluster = "kafka_cluster",
    /// A BGP endpoint.
    BgpEndpoint = "bgp_endpoint",
    /// A Serverless SQL Database cluster.
    ScblSedbCluster = "scbl_sedb_cluster",
    /// A Data Warehouse deployment.
    DtwhDeployment = "dtwh_deployment",
    /// A Serverless Database cluster.
    SedbCluster = "sedb_cluster",
    /// A Messaging and Queuing cluster.
    MsgqCluster = "msgq_cluster",
    /// An edge VPC endpoint.
    EdgeVpcEndpoint = "edge_vpc_endpoint",
    /// A Data visualization cluster.
    DvizCluster = "dviz_cluster",
    /// A NATS cluster.
    NatsCluster = "nats_cluster",
}

impl ResourceType {
    /// Number of resource types.
    pub(crate) const COUNT: usize = 32;

    /// Dense index, `0..COUNT`.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

const ORDERS: &[&str] = &[
    "created_at_desc",
    "created_at_asc",
    "updated_at_desc",
    "updated_at_asc",
    "attached_at_desc",
    "attached_at_asc",
    "ip_address_desc",
    "ip_address_asc",
    "mac_address_desc",
    "mac_address_asc",
];

string_enum! {
    /// The order of a list of IPs. Every order is total: ties are broken by creation order, in the
    /// key's direction, and IPs without the key (unattached ones, for `attached_at` and
    /// `mac_address`) come last in both directions.
    OrderBy, "order_by", bad_enum("order_by", ORDERS);
    /// Newest first (the default).
    #[default]
    CreatedAtDesc = "created_at_desc",
    /// Oldest first.
    CreatedAtAsc = "created_at_asc",
    /// Most recently modified first.
    UpdatedAtDesc = "updated_at_desc",
    /// Least recently modified first.
    UpdatedAtAsc = "updated_at_asc",
    /// Most recently attached first.
    AttachedAtDesc = "attached_at_desc",
    /// Least recently attached first.
    AttachedAtAsc = "attached_at_asc",
    /// Highest address first (IPv6 before IPv4).
    IpAddressDesc = "ip_address_desc",
    /// Lowest address first (IPv4 before IPv6).
    IpAddressAsc = "ip_address_asc",
    /// Highest MAC address first.
    MacAddressDesc = "mac_address_desc",
    /// Lowest MAC address first.
    MacAddressAsc = "mac_address_asc",
}

impl OrderBy {
    /// Whether the order is descending.
    #[must_use]
    pub const fn is_descending(&self) -> bool {
        matches!(
            self,
            OrderBy::CreatedAtDesc
                | OrderBy::UpdatedAtDesc
                | OrderBy::AttachedAtDesc
                | OrderBy::IpAddressDesc
                | OrderBy::MacAddressDesc
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        assert_eq!(ResourceType::ALL.len(), ResourceType::COUNT);
        assert_eq!(RESOURCE_TYPES.len(), ResourceType::COUNT);
        for (t, s) in ResourceType::ALL.iter().zip(RESOURCE_TYPES) {
            assert_eq!(t.as_str(), *s);
            assert_eq!(s.parse::<ResourceType>().unwrap(), *t);
        }
        assert_eq!(OrderBy::ALL.len(), 10);
        for (o, s) in OrderBy::ALL.iter().zip(ORDERS) {
            assert_eq!(o.as_str(), *s);
            assert_eq!(s.parse::<OrderBy>().unwrap(), *o);
        }
        for (i, r) in Region::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            assert_eq!(r.as_str().parse::<Region>().unwrap(), *r);
        }
    }

    #[test]
    fn unknown_strings_are_errors() {
        assert!(matches!(
            "fr-pa".parse::<Region>(),
            Err(Error::UnknownRegion { .. })
        ));
        assert!(matches!(
            "Custom".parse::<ResourceType>(),
            Err(Error::InvalidArgument { .. })
        ));
        assert!("created_at".parse::<OrderBy>().is_err());
    }
}
