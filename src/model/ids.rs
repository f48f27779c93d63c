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
        // 8-byte aligned (a `Uuid` alone is 1): an id is then moved and compared as two 8-byte
        // words. Aligned to 1, a caller's loop of gets assembled each id's upper half from four
        // narrow loads, or in another build copied it through the stack in pieces that the
        // 8-byte reloads of the lookup could not take from (store forwarding fails): an owned
        // get of an IP in cache took 40 ns in that build, 23 in the other, and 21.4-22.7 ns
        // aligned (probe, 20k IPs), 15 instructions fewer. Records, `Ip`s and requests kept
        // their sizes.
        #[repr(align(8))]
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids are 8-byte aligned and no larger for it; the records, views and requests that hold
    /// them keep their sizes. (An `Ip` is 256 bytes since a MAC address became one word: its
    /// resource's type byte no longer shares 8 bytes with the address.)
    #[test]
    fn ids_are_two_aligned_words() {
        assert_eq!(std::mem::align_of::<IpId>(), 8);
        assert_eq!(std::mem::size_of::<IpId>(), 16);
        assert_eq!(std::mem::size_of::<crate::Ip>(), 256);
        assert_eq!(std::mem::size_of::<crate::BookIpRequest>(), 120);
        let id: IpId = "3f5c5d9e-8c36-4d1b-9d0e-7a8b2f0c1e2d".parse().unwrap();
        assert_eq!(
            id.uuid().to_string(),
            "3f5c5d9e-8c36-4d1b-9d0e-7a8b2f0c1e2d"
        );
    }
}
