//! An embeddable, in-memory IP address management (IPAM) engine with the semantics of the
//! Scaleway IPAM API v1: book (reserve) private IPv4 and IPv6 addresses in Private Networks,
//! get, update, release them one by one or as a set, list them with every filter, order and
//! page of the API, and attach, detach or move them between custom resources known by MAC
//! address.
//!
//! The engine does no I/O: no sockets, files, threads or wall clock of its own. Time and
//! randomness are injected ([`Clock`], [`RandomSource`]), so with a [`ManualClock`] and a
//! [`SeededRandom`] the same calls give byte-identical results: simulations are reproducible and
//! the engine can be replicated as a state machine.
//!
//! # Example
//!
//! ```
//! use ipam_engine::{
//!     BookIpRequest, CreatePrivateNetworkRequest, CustomResource, Ipam, ListIpsRequest,
//!     ProjectId, Region, Source,
//! };
//!
//! # fn main() -> Result<(), ipam_engine::Error> {
//! let mut ipam = Ipam::new();
//! let region = Region::FrPar;
//! let project: ProjectId = "564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5".parse()?;
//!
//! // A Private Network with a given IPv4 /22; the engine adds an IPv6 /64.
//! let pn = ipam.create_private_network(
//!     region,
//!     CreatePrivateNetworkRequest::new(project).subnets(["172.16.32.0/22".parse().unwrap()]),
//! )?;
//! assert_eq!(pn.subnets.len(), 2);
//!
//! // Book the lowest free address: the first two of the block are never handed out.
//! let ip = ipam.book_ip(region, BookIpRequest::new(project, Source::PrivateNetworkId(pn.id)))?;
//! assert_eq!(ip.address.to_string(), "172.16.32.2/22");
//!
//! // Attach it to a custom resource by MAC address (any case in, upper case out).
//! let mac = "bc:24:11:74:d0:5a".parse()?;
//! let ip = ipam.attach_ip(region, ip.id, CustomResource::new(mac))?;
//! let resource = ip.resource.as_ref().unwrap();
//! assert_eq!(resource.mac_address.unwrap().to_string(), "BC:24:11:74:D0:5A");
//! assert_eq!(resource.id.uuid(), ip.id.uuid());
//!
//! // List the Private Network's attached IPs.
//! let page = ipam.list_ips(
//!     region,
//!     &ListIpsRequest { private_network_id: Some(pn.id), attached: Some(true), ..Default::default() },
//! )?;
//! assert_eq!(page.total_count, 1);
//!
//! // An attached IP cannot be released; detach it first.
//! assert!(ipam.release_ip(region, ip.id).is_err());
//! ipam.detach_ip(region, ip.id, CustomResource::new(mac))?;
//! ipam.release_ip(region, ip.id)?;
//! assert_eq!(ipam.ip_count(region), 0);
//! # Ok(())
//! # }
//! ```
//!
//! # Semantics
//!
//! The contract is the Scaleway IPAM API v1. Points it leaves open are settled as follows:
//!
//! - **Booking.** Only `private_network_id` and `subnet_id` sources book. A Private Network
//!   books in its first subnet (creation order) of the requested family that has room; a
//!   subnet's family must match `is_ipv6`. IPv4: the lowest free address, never the first two
//!   nor the last two of the block. IPv6: a random interface id from the injected
//!   [`RandomSource`], never `::`, `::1` nor the 128 RFC 2526 anycast ids at the top.
//!   [`Ipam::book_ips`], for bulk loads, gives what as many [`Ipam::book_ip`] calls in turn
//!   would, each request standing alone (unlike [`Ipam::release_ip_set`], not all or nothing).
//!   [`Ipam::book_ip_ref`] books as [`Ipam::book_ip`] does and returns the IP borrowed.
//! - **Networks.** A Private Network created without subnets gets the lowest free /22 of
//!   `172.16.0.0/12` not overlapping its VPC, and a random /64 of the VPC's ULA /48; with only
//!   IPv4 subnets given, the /64 is still added; with IPv6 subnets given and no IPv4 one, no IPv4
//!   subnet is added (booking IPv4 there is an `invalid_arguments` error). Without `vpc_id`, the Project's default VPC of the region is used, created
//!   on first use. Given subnets must be in network form, IPv4 /20 to /28 (see [`Limits`]) outside
//!   `0/8`, `127/8`, `100.64/10`, `169.254/16` and `224/4`, IPv6 exactly /64 outside `::/8`,
//!   `fe80::/10` and `ff00::/8`. A Project belongs to the Organization of the same id unless
//!   [`Ipam::register_project`] says otherwise.
//! - **Attachments.** Attaching an IP to the MAC it is already attached to, detaching an
//!   unattached IP, and moving an IP that already sits on `to_resource` (or is already detached
//!   when `to_resource` is absent) succeed without change. Attaching an IP that is attached to
//!   anything else fails with `resource_still_in_use`; detaching or moving from a resource that
//!   is not the attached one, or touching a product attachment through these calls, fails with
//!   `resource_not_usable`. The embedding service manages product attachments with
//!   [`Ipam::attach_resource`], [`Ipam::detach_resource`] and [`Ipam::book_ip_for_resource`].
//!   [`Ipam::attach_ip_ref`], [`Ipam::detach_ip_ref`] and [`Ipam::move_ip_ref`] act as the
//!   calls without `_ref` do and return the IP borrowed.
//! - **Lists.** Filters combine with AND; list filters match any of their items; empty lists
//!   and `resource_type = unknown_type` filter nothing. `vpc_id` and `source_vpc_id` match the
//!   IPs whose Private Network is in the VPC. Private IPs are never zonal nor regional, so any
//!   `zonal` filter, or `regional = true`, matches nothing (`regional = false` filters nothing).
//!   Every order is total: the key, then creation order, both in the key's direction; IPs
//!   without the key come last in both directions. `page` starts at 1; `page_size` is 1 to 1000.
//!   A list by MAC address reads the MAC address of every match, unless the engine keeps the
//!   MAC order index ([`IpamBuilder::mac_order_index`]): the same answers, found by rank.
//! - **Release.** [`Ipam::release_ip_set`] releases all or nothing; repeated ids count once.
//!   A region reclaims the record slots of its released IPs in one O(n) call, a compaction,
//!   which changes nothing the API shows: on its own, once per n releases
//!   ([`Compaction::Automatic`]), or only when the caller asks ([`Compaction::Manual`],
//!   [`Ipam::compact`]).
//! - **Ids.** Every id is a version 4 UUID drawn from the [`RandomSource`]. An IP's id keeps
//!   the first 10 bytes of its draw; the last 6 carry where the engine stores the IP, masked by
//!   a keyed mix of the first 10 (the key is drawn when the engine is built), so that a lookup
//!   by id reads the IP at once, with no id → IP map to keep. They look as random as the draw.
//!   The ids of a restored snapshot, and of IPs that outlived the engine's memory of how it
//!   moved them (it keeps that for the 8 earlier epochs, each ended by a compaction, with the
//!   most live IPs), are found through an id map that holds only those.
//! - **Time.** Timestamps are whole microseconds and never go backwards, even if the clock does,
//!   so `created_at` order is creation order.
//! - **Atomicity.** Every call validates everything before it changes anything: a failed call
//!   leaves the engine as it was. (The one exception is unobservable: an IPv6 booking that gives
//!   up after 64 colliding draws has consumed randomness, those draws and the new IP's id.)
//!
//! # Threads and snapshots
//!
//! [`SharedIpam`] shares an engine between threads with one read-write lock per region.
//! [`Ipam::snapshot`] gives the whole state as serde data with a format version.
//! [`IpamBuilder::restore`] validates a snapshot and rebuilds the engine from it, and refuses an
//! inconsistent one with a [`SnapshotError`].
//!
//! # Feature flags
//!
//! - `server` (off by default): the `ipam-server` binary, an HTTP server (axum, tokio, tracing)
//!   over the [`rest`] handler, so Scaleway clients (SDKs, CLI, Terraform) can use the engine as a
//!   local IPAM: `cargo run --release --features server --bin ipam-server -- --listen
//!   127.0.0.1:8080`. The default build has no such dependency and does no I/O.
//!
//! # Errors
//!
//! Every failure is an [`Error`] variant with structured fields; [`Error::to_api_error`] gives
//! the API's status code and JSON error body for it.

#![deny(missing_docs)]
// Five places use `unsafe`, each with its proof: the cache prefetch hint and the zeroed table
// in `flat.rs`, the owned `Ip` written field by field (its timestamps as words) in
// `engine/view.rs`, the day cache's date kept as bits in `model/time.rs`, and the slab's dead
// tail forgotten unread in `slab.rs` (measured where they are).
#![deny(unsafe_code)]

mod engine;
mod env;
mod error;
mod flat;
mod hash;
mod index;
mod live;
mod macorder;
mod model;
mod pool;
mod postings;
mod query;
mod recency;
mod registry;
pub mod rest;
mod slab;
mod store;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use engine::{
    Compaction, IpRef, Ipam, IpamBuilder, Limits, SharedIpam, Snapshot, SnapshotError,
    SNAPSHOT_FORMAT_VERSION,
};
pub use env::{Clock, ManualClock, OsRandom, RandomSource, SeededRandom, SystemClock};
pub use error::{ApiError, ArgumentDetail, ArgumentReason, Error, ResourceRef};
pub use model::enums::{OrderBy, Region, ResourceType};
pub use model::ids::{
    IpId, OrganizationId, PrivateNetworkId, ProjectId, ResourceId, SubnetId, VpcId,
};
pub use model::ip::{CustomResource, Ip, ListIpsResponse, Resource, Reverse, Source};
pub use model::mac::MacAddress;
pub use model::network::{
    ListPrivateNetworksResponse, ListVpcsResponse, PrivateNetwork, Subnet, Vpc,
};
pub use model::request::{
    BookIpRequest, CreatePrivateNetworkRequest, CreateVpcRequest, ListIpsRequest,
    ListPrivateNetworksRequest, ListVpcsRequest, MoveIpRequest, ServiceResource, UpdateIpRequest,
};
pub use model::tags::{Tags, TagsIter};
