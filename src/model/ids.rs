//! Identifier newtypes: one type per kind of object, so an IP id can never be passed where a
//! Private Network id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{ArgumentReason, Error};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $argument:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID.
            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID this id wraps.
            #[must_use]
            pub const fn uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl FromStr for $name {
            type Err = Error;

            /// Parses the hyphenated (or any other standard) UUID text form.
            fn from_str(s: &str) -> Result<Self, Error> {
                Uuid::parse_str(s).map(Self).map_err(|_| Error::InvalidArgument {
                    argument: $argument.into(),
                    reason: ArgumentReason::Format,
                    help: format!("{:?} is not a UUID", crate::model::mac::truncate(s)),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }
    };
}

id_type!(
    /// The id of a booked IP.
    IpId,
    "ip_id"
);
id_type!(
    /// The id of a Private Network.
    PrivateNetworkId,
    "private_network_id"
);
id_type!(
    /// The id of a subnet of a Private Network.
    SubnetId,
    "subnet_id"
);
id_type!(
    /// The id of a VPC.
    VpcId,
    "vpc_id"
);
id_type!(
    /// The id of a Scaleway Project, the owner of networks and IPs.
    ProjectId,
    "project_id"
);
id_type!(
    /// The id of an Organization, which groups Projects.
    OrganizationId,
    "organization_id"
);
id_type!(
    /// The id of a resource an IP is attached to. For `custom` resources it equals the IP's id.
    ResourceId,
    "resource_id"
);

impl From<IpId> for ResourceId {
    fn from(id: IpId) -> Self {
        Self(id.0)
    }
}
