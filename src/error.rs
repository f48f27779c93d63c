//! The engine's one error type, and its one mapping to the API's error responses (HTTP status,
//! Scaleway error `type` and extra fields). The mapping lives here, next to the variants, so that
//! no other module decides how an error looks on the wire.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::model::enums::ResourceType;
use crate::model::ids::{IpId, PrivateNetworkId, ResourceId, SubnetId, VpcId};
use crate::model::mac::MacAddress;

/// Why an argument was refused, as the API's `details[].reason` says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ArgumentReason {
    /// A required field is missing.
    Required,
    /// A field is not of the expected form (not a UUID, not an address, unknown enum value).
    Format,
    /// A field is well formed but not allowed here (out of range, outside the subnet, ...).
    Constraint,
}

impl ArgumentReason {
    /// The text form used in error bodies.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            ArgumentReason::Required => "required",
            ArgumentReason::Format => "format",
            ArgumentReason::Constraint => "constraint",
        }
    }
}

impl fmt::Display for ArgumentReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resource an IP is, or should be, attached to, as named in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResourceRef {
    /// A custom resource, known by its MAC address.
    Custom(MacAddress),
    /// A product resource, known by its type and id.
    Product(ResourceType, ResourceId),
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourceRef::Custom(mac) => write!(f, "custom resource {mac}"),
            ResourceRef::Product(t, id) => write!(f, "{t} {id}"),
        }
    }
}

/// Everything that can go wrong. Every failed call leaves the engine exactly as it was.
///
/// Each variant maps to one row of the API's error table: see [`Error::http_status`],
/// [`Error::error_type`] and [`Error::to_api_error`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No IP with this id in the region. (404 `not_found`, resource `ip`.)
    #[error("ip {id} is not found")]
    IpNotFound {
        /// The id asked for.
        id: IpId,
    },
    /// No Private Network with this id in the region. (404 `not_found`.)
    #[error("private network {id} is not found")]
    PrivateNetworkNotFound {
        /// The id asked for.
        id: PrivateNetworkId,
    },
    /// No subnet with this id in the region. (404 `not_found`.)
    #[error("subnet {id} is not found")]
    SubnetNotFound {
        /// The id asked for.
        id: SubnetId,
    },
    /// No VPC with this id in the region. (404 `not_found`.)
    #[error("vpc {id} is not found")]
    VpcNotFound {
        /// The id asked for.
        id: VpcId,
    },
    /// Not a region name. (404 `not_found`, resource `region`.)
    #[error("region {region:?} is not known: expected fr-par, it-mil, nl-ams or pl-waw")]
    UnknownRegion {
        /// The name given (truncated when long).
        region: String,
    },
    /// A malformed, missing or out-of-range argument. (400 `invalid_arguments`.)
    #[error("{argument} is invalid: {help}")]
    InvalidArgument {
        /// The argument's name, as in the API (`page_size`, `tags`, ...).
        argument: Cow<'static, str>,
        /// Why it was refused.
        reason: ArgumentReason,
        /// What was expected.
        help: String,
    },
    /// Only Private Networks and their subnets can book IPs. (400 `invalid_arguments`.)
    #[error("source {source_kind} cannot book ips: expected private_network_id or subnet_id")]
    SourceNotBookable {
        /// The source's key (`zonal`, `vpc_id`, `regional`).
        source_kind: &'static str,
    },
    /// The IP's Project is not its Private Network's. (400 `invalid_arguments`.)
    #[error("project_id {found} does not match the private network's project {expected}")]
    ProjectMismatch {
        /// The Private Network's Project.
        expected: crate::ProjectId,
        /// The Project given.
        found: crate::ProjectId,
    },
    /// The subnet is not of the requested family. (400 `invalid_arguments`.)
    #[error("subnet {subnet} is not an {} subnet", if *.is_ipv6 { "ipv6" } else { "ipv4" })]
    SubnetFamilyMismatch {
        /// The subnet given.
        subnet: IpNet,
        /// The requested family.
        is_ipv6: bool,
    },
    /// The requested address is not of the requested family. (400 `invalid_arguments`.)
    #[error("address {address} is not an {} address", if *.is_ipv6 { "ipv6" } else { "ipv4" })]
    AddressFamilyMismatch {
        /// The address given.
        address: IpAddr,
        /// The requested family.
        is_ipv6: bool,
    },
    /// The requested address lies outside the subnet. (400 `invalid_arguments`.)
    #[error("address {address} is outside subnet {subnet}")]
    AddressOutsideSubnet {
        /// The address given.
        address: IpAddr,
        /// The subnet it should be in.
        subnet: IpNet,
    },
    /// The requested address is one the subnet never hands out (network, gateway, broadcast,
    /// anycast). (400 `invalid_arguments`.)
    #[error("address {address} is reserved in subnet {subnet}")]
    AddressUnavailable {
        /// The address given.
        address: IpAddr,
        /// Its subnet.
        subnet: IpNet,
    },
    /// A subnet given for a Private Network is not allowed. (400 `invalid_arguments`.)
    #[error("subnet {subnet} is not allowed: {why}")]
    SubnetNotAllowed {
        /// The subnet given.
        subnet: IpNet,
        /// Which rule it breaks.
        why: &'static str,
    },
    /// A subnet given for a Private Network overlaps another subnet of the VPC.
    /// (400 `invalid_arguments`.)
    #[error("subnet {subnet} overlaps subnet {existing} of the vpc")]
    SubnetOverlap {
        /// The subnet given.
        subnet: IpNet,
        /// The subnet it overlaps.
        existing: IpNet,
    },
    /// The address is booked already. (409 `already_exists`, with the booking IP's id.)
    #[error("address {address} is already booked by ip {ip_id}")]
    AddressInUse {
        /// The address asked for.
        address: IpAddr,
        /// The IP that holds it.
        ip_id: IpId,
    },
    /// No free address left where the booking asked. (409 `out_of_stock`, resource `ip`.)
    #[error("no free {} address left in {}", if *.is_ipv6 { "ipv6" } else { "ipv4" }, .source_id)]
    AddressesExhausted {
        /// The Private Network or subnet id booked from.
        source_id: uuid::Uuid,
        /// The requested family.
        is_ipv6: bool,
    },
    /// No free block left to generate a subnet in the VPC. (409 `out_of_stock`, resource `subnet`.)
    #[error("no free {} block left in vpc {vpc_id}", if *.is_ipv6 { "ipv6" } else { "ipv4" })]
    SubnetsExhausted {
        /// The VPC.
        vpc_id: VpcId,
        /// The family.
        is_ipv6: bool,
    },
    /// The IP is attached to a resource, so it cannot be released or attached elsewhere.
    /// (412 `precondition_failed`, `resource_still_in_use`.)
    #[error("ip {ip_id} is attached to {attached}")]
    IpAttached {
        /// The IP.
        ip_id: IpId,
        /// What it is attached to.
        attached: ResourceRef,
    },
    /// The Private Network still has booked IPs. (412 `precondition_failed`,
    /// `resource_still_in_use`.)
    #[error("private network {id} still has {booked} booked ips")]
    PrivateNetworkNotEmpty {
        /// The Private Network.
        id: PrivateNetworkId,
        /// How many IPs are booked in it.
        booked: u64,
    },
    /// The VPC still has Private Networks. (412 `precondition_failed`, `resource_still_in_use`.)
    #[error("vpc {id} still has {private_networks} private networks")]
    VpcNotEmpty {
        /// The VPC.
        id: VpcId,
        /// How many Private Networks it has.
        private_networks: u32,
    },
    /// The resource named is not the one the IP is attached to. (412 `precondition_failed`,
    /// `resource_not_usable`.)
    #[error("ip {ip_id} is not attached to {requested}")]
    ResourceMismatch {
        /// The IP.
        ip_id: IpId,
        /// The resource the call named.
        requested: ResourceRef,
        /// What the IP is attached to, if anything.
        attached: Option<ResourceRef>,
    },
    /// The IP is attached to a product resource, which only that product may change.
    /// (412 `precondition_failed`, `resource_not_usable`.)
    #[error("ip {ip_id} is attached to {attached}, which only its product may change")]
    ProductAttachment {
        /// The IP.
        ip_id: IpId,
        /// The product resource.
        attached: ResourceRef,
    },
}

/// One entry of an `invalid_arguments` error's `details`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgumentDetail {
    /// The argument's name.
    pub argument_name: String,
    /// `required`, `format` or `constraint`.
    pub reason: String,
    /// What was expected.
    pub help_message: String,
}

/// An error as the API's JSON body shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status (not part of the body).
    #[serde(skip)]
    pub status: u16,
    /// Per-argument details (`invalid_arguments` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<ArgumentDetail>>,
    /// The fixed message of the error type (`resource is not found`, ...).
    pub message: String,
    /// The kind of resource concerned (`ip`, `private_network`, `region`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The id of the resource concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// The precondition that failed (`resource_still_in_use`, `resource_not_usable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precondition: Option<String>,
    /// A human explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_message: Option<String>,
    /// The Scaleway error type (`not_found`, `invalid_arguments`, ...).
    #[serde(rename = "type")]
    pub error_type: String,
}

impl ApiError {
    /// An error of `error_type` with its `status` and fixed `message`, naming no resource and
    /// giving no details: the fields every error sets, the others for the caller to add.
    pub(crate) fn envelope(status: u16, error_type: &str, message: &str) -> Self {
        Self {
            status,
            details: None,
            message: message.to_owned(),
            resource: None,
            resource_id: None,
            precondition: None,
            help_message: None,
            error_type: error_type.to_owned(),
        }
    }
}

impl Error {
    /// The HTTP status of the error's response.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        self.to_api_error().status
    }

    /// The Scaleway error `type`.
    #[must_use]
    pub fn error_type(&self) -> &'static str {
        match self.row() {
            Row::NotFound(..) => "not_found",
            Row::InvalidArgument(..) => "invalid_arguments",
            Row::AlreadyExists(..) => "already_exists",
            Row::OutOfStock(..) => "out_of_stock",
            Row::Precondition(..) => "precondition_failed",
        }
    }

    /// The error as the API returns it: status and JSON body.
    #[must_use]
    pub fn to_api_error(&self) -> ApiError {
        let base =
            |status: u16, message: &str| ApiError::envelope(status, self.error_type(), message);
        match self.row() {
            Row::NotFound(resource, id) => ApiError {
                resource: Some(resource.to_owned()),
                resource_id: Some(id),
                ..base(404, "resource is not found")
            },
            Row::InvalidArgument(argument, reason) => ApiError {
                details: Some(vec![ArgumentDetail {
                    argument_name: argument.to_owned(),
                    reason: reason.as_str().to_owned(),
                    help_message: self.help(),
                }]),
                ..base(400, "invalid argument(s)")
            },
            Row::AlreadyExists(resource, id) => ApiError {
                resource: Some(resource.to_owned()),
                resource_id: Some(id),
                help_message: Some(self.help()),
                ..base(409, "resource already exists")
            },
            Row::OutOfStock(resource) => ApiError {
                resource: Some(resource.to_owned()),
                help_message: Some(self.help()),
                ..base(409, "resource is out of stock")
            },
            Row::Precondition(precondition) => ApiError {
                precondition: Some(precondition.to_owned()),
                help_message: Some(self.help()),
                ..base(412, "precondition is not respected")
            },
        }
    }

    fn help(&self) -> String {
        match self {
            Error::InvalidArgument { help, .. } => help.clone(),
            Error::PrivateNetworkNotEmpty { .. } => {
                "Private Network must be empty to be deleted".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// The one mapping from variants to rows of the API's error table.
    fn row(&self) -> Row<'_> {
        use ArgumentReason::{Constraint, Format};
        match self {
            Error::IpNotFound { id } => Row::NotFound("ip", id.to_string()),
            Error::PrivateNetworkNotFound { id } => {
                Row::NotFound("private_network", id.to_string())
            }
            Error::SubnetNotFound { id } => Row::NotFound("subnet", id.to_string()),
            Error::VpcNotFound { id } => Row::NotFound("vpc", id.to_string()),
            Error::UnknownRegion { region } => Row::NotFound("region", region.clone()),
            Error::InvalidArgument {
                argument, reason, ..
            } => Row::InvalidArgument(argument, *reason),
            Error::SourceNotBookable { .. } => Row::InvalidArgument("source", Constraint),
            Error::ProjectMismatch { .. } => Row::InvalidArgument("project_id", Constraint),
            Error::SubnetFamilyMismatch { .. } => Row::InvalidArgument("is_ipv6", Constraint),
            Error::AddressFamilyMismatch { .. } => Row::InvalidArgument("address", Format),
            Error::AddressOutsideSubnet { .. } | Error::AddressUnavailable { .. } => {
                Row::InvalidArgument("address", Constraint)
            }
            Error::SubnetNotAllowed { .. } | Error::SubnetOverlap { .. } => {
                Row::InvalidArgument("subnets", Constraint)
            }
            Error::AddressInUse { ip_id, .. } => Row::AlreadyExists("ip", ip_id.to_string()),
            Error::AddressesExhausted { .. } => Row::OutOfStock("ip"),
            Error::SubnetsExhausted { .. } => Row::OutOfStock("subnet"),
            Error::IpAttached { .. }
            | Error::PrivateNetworkNotEmpty { .. }
            | Error::VpcNotEmpty { .. } => Row::Precondition("resource_still_in_use"),
            Error::ResourceMismatch { .. } | Error::ProductAttachment { .. } => {
                Row::Precondition("resource_not_usable")
            }
        }
    }

    /// An `invalid_arguments` error with reason `constraint`.
    pub(crate) fn constraint(argument: impl Into<Cow<'static, str>>, help: String) -> Self {
        Error::InvalidArgument {
            argument: argument.into(),
            reason: ArgumentReason::Constraint,
            help,
        }
    }
}

enum Row<'a> {
    NotFound(&'static str, String),
    InvalidArgument(&'a str, ArgumentReason),
    AlreadyExists(&'static str, String),
    OutOfStock(&'static str),
    Precondition(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_body_matches_the_recorded_one() {
        let id: IpId = "03adfd64-bdc8-4bb5-87af-6d0c8e1a5617".parse().unwrap();
        let e = Error::IpNotFound { id };
        assert_eq!(e.http_status(), 404);
        assert_eq!(
            serde_json::to_string(&e.to_api_error()).unwrap(),
            r#"{"message":"resource is not found","resource":"ip","resource_id":"03adfd64-bdc8-4bb5-87af-6d0c8e1a5617","type":"not_found"}"#
        );
    }
}
