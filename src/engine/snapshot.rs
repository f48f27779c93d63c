//! Snapshot and restore: the whole observable state of an engine as plain serde data, and an
//! engine rebuilt from it.
//!
//! A [`Snapshot`] holds what the API can observe and nothing derived: VPCs, Private Networks and
//! their subnets in creation order, the booked IPs in creation order, the Project → Organization
//! map and the clock floor. Indexes, pools and hash keys are rebuilt on restore, so a snapshot is
//! independent of the engine's internal layout. Its form is canonical: two engines that answer
//! every query alike give equal snapshots, so comparing serialized snapshots compares states.
//!
//! Restoring checks everything an engine could never have produced (a duplicate id, an address
//! outside its subnet or booked twice, overlapping subnets, a resource of the wrong kind, a
//! timestamp out of range or out of creation order, a value over the [`Limits`](crate::Limits))
//! and refuses the snapshot with a [`SnapshotError`] naming the first problem; it never panics.

use std::collections::HashSet;
use std::net::IpAddr;

use chrono::DateTime;
use ipnet::{IpNet, Ipv6Net};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::engine::{validate, Ipam, IpamBuilder, RegionState};
use crate::model::enums::{Region, ResourceType};
use crate::model::ids::{
    IpId, OrganizationId, PrivateNetworkId, ProjectId, ResourceId, SubnetId, VpcId,
};
use crate::model::ip::Reverse;
use crate::model::mac::MacAddress;
use crate::pool::AddressProblem;
use crate::registry::{Blocks, PnRecord, Registry, VpcRecord};
use crate::store::{Attachment, Record};

/// The snapshot format this version of the engine writes and reads.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;

/// The whole state of an [`Ipam`], as serde data: write it with any serde format (JSON with
/// `serde_json`, or a binary one) and rebuild an engine from it with [`IpamBuilder::restore`].
///
/// ```
/// use ipam_engine::{BookIpRequest, CreatePrivateNetworkRequest, Ipam, ProjectId, Region, Source};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut ipam = Ipam::new();
/// let project: ProjectId = "564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5".parse()?;
/// let pn = ipam.create_private_network(Region::FrPar, CreatePrivateNetworkRequest::new(project))?;
/// let ip = ipam.book_ip(Region::FrPar, BookIpRequest::new(project, Source::PrivateNetworkId(pn.id)))?;
///
/// let json = serde_json::to_string(&ipam.snapshot())?;
/// let restored = Ipam::builder().restore(&serde_json::from_str(&json)?)?;
/// assert_eq!(restored.get_ip(Region::FrPar, ip.id)?, ip);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    format_version: u32,
    /// The engine's last clock reading, in microseconds (timestamps never go below it).
    clock_floor: i64,
    /// Projects registered with [`Ipam::register_project`], by Project id.
    #[serde(default)]
    organizations: Vec<(ProjectId, OrganizationId)>,
    /// The regions that hold anything, in [`Region::ALL`] order.
    #[serde(default)]
    regions: Vec<RegionSnapshot>,
}

impl Snapshot {
    /// The format version of this snapshot.
    pub fn format_version(&self) -> u32 {
        self.format_version
    }

    /// Number of booked IPs in the snapshot, over every region.
    pub fn ip_count(&self) -> usize {
        self.regions.iter().map(|r| r.ips.len()).sum()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegionSnapshot {
    region: Region,
    #[serde(default)]
    vpcs: Vec<VpcSnapshot>,
    #[serde(default)]
    private_networks: Vec<PnSnapshot>,
    #[serde(default)]
    ips: Vec<IpSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VpcSnapshot {
    id: VpcId,
    name: String,
    project_id: ProjectId,
    tags: Vec<String>,
    is_default: bool,
    routing_enabled: bool,
    created: i64,
    updated: i64,
    ula: Ipv6Net,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PnSnapshot {
    id: PrivateNetworkId,
    name: String,
    project_id: ProjectId,
    vpc_id: VpcId,
    tags: Vec<String>,
    default_route_propagation: bool,
    created: i64,
    updated: i64,
    subnets: Vec<SubnetSnapshot>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubnetSnapshot {
    id: SubnetId,
    subnet: IpNet,
    created: i64,
    updated: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IpSnapshot {
    id: IpId,
    subnet_id: SubnetId,
    address: IpAddr,
    created: i64,
    updated: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource: Option<AttachmentSnapshot>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    reverses: Vec<Reverse>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AttachmentSnapshot {
    #[serde(rename = "type")]
    resource_type: ResourceType,
    id: ResourceId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mac_address: Option<MacAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    attached_at: i64,
}

/// Why a snapshot cannot be restored. The engine is not built; nothing else changes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The snapshot was written in a format this version does not read.
    #[error(
        "snapshot format version {found} is not supported: this engine reads version {supported}"
    )]
    UnsupportedVersion {
        /// The snapshot's `format_version`.
        found: u32,
        /// The version this engine reads.
        supported: u32,
    },
    /// The snapshot describes a state no engine could be in; `what` names the first problem.
    #[error("inconsistent snapshot: {what}")]
    Inconsistent {
        /// The first problem found.
        what: String,
    },
}

fn bad(what: impl Into<String>) -> SnapshotError {
    SnapshotError::Inconsistent { what: what.into() }
}

fn check_time(what: &str, micros: i64) -> Result<(), SnapshotError> {
    if DateTime::from_timestamp_micros(micros).is_none() {
        return Err(bad(format!("{what}: timestamp {micros} is out of range")));
    }
    Ok(())
}

impl Ipam {
    /// The engine's whole state as a [`Snapshot`]. O(n) in everything stored.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot_with(self.last_micros, |i| &self.regions[i])
    }

    /// A snapshot with these organizations, of the regions `region(i)` for every region index.
    pub(crate) fn snapshot_with<'a>(
        &self,
        clock_floor: i64,
        region: impl Fn(usize) -> &'a RegionState,
    ) -> Snapshot {
        let mut organizations: Vec<(ProjectId, OrganizationId)> =
            self.organizations.iter().map(|(&p, &o)| (p, o)).collect();
        organizations.sort_unstable();
        Snapshot {
            format_version: SNAPSHOT_FORMAT_VERSION,
            clock_floor,
            organizations,
            regions: (0..Region::ALL.len())
                .map(|i| region_snapshot(region(i)))
                .filter(|r| !r.vpcs.is_empty())
                .collect(),
        }
    }
}

fn region_snapshot(rs: &RegionState) -> RegionSnapshot {
    let registry = &rs.registry;
    let mut vpcs: Vec<&VpcRecord> = registry.vpcs.values().collect();
    vpcs.sort_unstable_by_key(|v| v.seq);
    let mut pns: Vec<&PnRecord> = registry.pns.values().collect();
    pns.sort_unstable_by_key(|p| p.seq);
    RegionSnapshot {
        region: rs.region,
        vpcs: vpcs
            .into_iter()
            .map(|v| VpcSnapshot {
                id: v.id,
                name: v.name.clone(),
                project_id: v.project,
                tags: v.tags.clone(),
                is_default: v.is_default,
                routing_enabled: v.routing_enabled,
                created: v.created,
                updated: v.updated,
                ula: v.ula,
            })
            .collect(),
        private_networks: pns
            .into_iter()
            .map(|p| PnSnapshot {
                id: p.id,
                name: p.name.clone(),
                project_id: p.project,
                vpc_id: p.vpc,
                tags: p.tags.clone(),
                default_route_propagation: p.default_route_propagation,
                created: p.created,
                updated: p.updated,
                subnets: p
                    .subnets
                    .iter()
                    .map(|&slot| {
                        let s = registry.subnet(slot);
                        SubnetSnapshot {
                            id: s.id,
                            subnet: s.net(),
                            created: s.created,
                            updated: s.updated,
                        }
                    })
                    .collect(),
            })
            .collect(),
        ips: rs
            .store
            .iter()
            .map(|(_, r)| {
                let s = registry.subnet(r.subnet);
                IpSnapshot {
                    id: r.id,
                    subnet_id: s.id,
                    address: s.pool.address(r.offset),
                    created: r.created,
                    updated: r.updated,
                    tags: rs.index.tag_names(r.tags).to_vec(),
                    resource: r.attachment().map(|a| AttachmentSnapshot {
                        resource_type: a.resource_type,
                        id: a.id,
                        mac_address: a.mac,
                        name: a.name.map(str::to_owned),
                        attached_at: a.attached_at,
                    }),
                    reverses: r.reverses().to_vec(),
                }
            })
            .collect(),
    }
}

impl IpamBuilder {
    /// Builds an engine holding the state of `snapshot`, with this builder's clock, randomness
    /// and limits. O(n) in the snapshot.
    ///
    /// # Errors
    /// [`SnapshotError::UnsupportedVersion`] for another format version;
    /// [`SnapshotError::Inconsistent`] for a state no engine could be in under these limits.
    pub fn restore(self, snapshot: &Snapshot) -> Result<Ipam, SnapshotError> {
        if snapshot.format_version != SNAPSHOT_FORMAT_VERSION {
            return Err(SnapshotError::UnsupportedVersion {
                found: snapshot.format_version,
                supported: SNAPSHOT_FORMAT_VERSION,
            });
        }
        let mut ipam = self.build();
        for &(project, organization) in &snapshot.organizations {
            if ipam.organizations.insert(project, organization).is_some() {
                return Err(bad(format!("project {project} is registered twice")));
            }
        }
        let mut seen = HashSet::new();
        let mut latest = i64::MIN;
        for region in &snapshot.regions {
            if !seen.insert(region.region) {
                return Err(bad(format!("region {} appears twice", region.region)));
            }
            latest = latest.max(ipam.restore_region(region)?);
        }
        if snapshot.clock_floor < latest {
            return Err(bad(format!(
                "clock floor {} is older than a stored timestamp ({latest})",
                snapshot.clock_floor
            )));
        }
        ipam.last_micros = snapshot.clock_floor;
        ipam.check_invariants().map_err(bad)?;
        Ok(ipam)
    }
}

impl Ipam {
    /// Rebuilds one region; returns its latest timestamp.
    fn restore_region(&mut self, snap: &RegionSnapshot) -> Result<i64, SnapshotError> {
        let limits = self.limits.clone();
        let prefixes = (limits.min_ipv4_prefix, limits.max_ipv4_prefix);
        let region = snap.region;
        let mut latest = i64::MIN;
        let mut times = |what: &str, created: i64, updated: i64| {
            check_time(what, created)?;
            check_time(what, updated)?;
            latest = latest.max(created).max(updated);
            Ok::<(), SnapshotError>(())
        };
        let max_subnets = (limits.max_subnets + 1).max(2);
        let invalid = |what: String, e: crate::Error| bad(format!("{what}: {e}"));

        let registry = &mut self.regions[region.index()].registry;
        for v in &snap.vpcs {
            let what = format!("vpc {}", v.id);
            times(&what, v.created, v.updated)?;
            validate::name(&limits, "name", Some(&v.name)).map_err(|e| invalid(what.clone(), e))?;
            validate::tags(&limits, &v.tags).map_err(|e| invalid(what.clone(), e))?;
            if v.ula.prefix_len() != 48 || v.ula.trunc() != v.ula {
                return Err(bad(format!("{what}: ula {} is not a /48 block", v.ula)));
            }
            if registry.vpcs.contains_key(&v.id) {
                return Err(bad(format!("{what} appears twice")));
            }
            if v.is_default && registry.default_vpcs.insert(v.project_id, v.id).is_some() {
                return Err(bad(format!(
                    "project {} has two default vpcs",
                    v.project_id
                )));
            }
            let seq = registry.next_seq();
            registry.vpcs.insert(
                v.id,
                VpcRecord {
                    id: v.id,
                    name: v.name.clone(),
                    project: v.project_id,
                    tags: v.tags.clone(),
                    is_default: v.is_default,
                    routing_enabled: v.routing_enabled,
                    created: v.created,
                    updated: v.updated,
                    ula: v.ula,
                    subnets: Blocks::default(),
                    private_networks: 0,
                    seq,
                },
            );
        }

        for p in &snap.private_networks {
            let what = format!("private network {}", p.id);
            times(&what, p.created, p.updated)?;
            validate::name(&limits, "name", Some(&p.name)).map_err(|e| invalid(what.clone(), e))?;
            validate::tags(&limits, &p.tags).map_err(|e| invalid(what.clone(), e))?;
            if registry.pns.contains_key(&p.id) {
                return Err(bad(format!("{what} appears twice")));
            }
            let vpc = registry
                .vpcs
                .get(&p.vpc_id)
                .ok_or_else(|| bad(format!("{what}: vpc {} does not exist", p.vpc_id)))?;
            if vpc.project != p.project_id {
                return Err(bad(format!("{what}: its vpc belongs to another project")));
            }
            if p.subnets.is_empty() || p.subnets.len() > max_subnets {
                return Err(bad(format!(
                    "{what}: has {} subnets, expected 1 to {max_subnets}",
                    p.subnets.len(),
                )));
            }
            let mut nets: Vec<IpNet> = Vec::with_capacity(p.subnets.len());
            for s in &p.subnets {
                let what = format!("{what}, subnet {}", s.id);
                times(&what, s.created, s.updated)?;
                Registry::check_given(s.subnet, prefixes).map_err(|e| invalid(what.clone(), e))?;
                if let Some(existing) = registry.overlap(Some(vpc), &nets, s.subnet) {
                    return Err(bad(format!("{what}: {} overlaps {existing}", s.subnet)));
                }
                if registry.subnet_slot(s.id).is_some()
                    || p.subnets.iter().filter(|o| o.id == s.id).count() > 1
                {
                    return Err(bad(format!("{what} appears twice")));
                }
                nets.push(s.subnet);
            }
            let mut pn = PnRecord {
                id: p.id,
                name: p.name.clone(),
                project: p.project_id,
                vpc: p.vpc_id,
                tags: p.tags.clone(),
                created: p.created,
                updated: p.updated,
                subnets: SmallVec::new(),
                default_route_propagation: p.default_route_propagation,
                seq: registry.next_seq(),
            };
            for s in &p.subnets {
                let slot = registry.add_subnet(s.id, s.subnet, &mut pn, s.created);
                registry.subnet_mut(slot).updated = s.updated;
            }
            registry
                .vpcs
                .get_mut(&p.vpc_id)
                .expect("checked above")
                .private_networks += 1;
            registry.pns.insert(p.id, pn);
        }

        let rs = &mut self.regions[region.index()];
        let mut previous_created = i64::MIN;
        for ip in &snap.ips {
            let what = format!("ip {}", ip.id);
            times(&what, ip.created, ip.updated)?;
            if ip.created < previous_created {
                return Err(bad(format!("{what}: not in creation order")));
            }
            previous_created = ip.created;
            if rs.store.contains_id(ip.id) {
                return Err(bad(format!("{what} appears twice")));
            }
            let slot = rs
                .registry
                .subnet_slot(ip.subnet_id)
                .ok_or_else(|| bad(format!("{what}: subnet {} does not exist", ip.subnet_id)))?;
            let subnet = rs.registry.subnet(slot);
            let net = subnet.net();
            let offset = match subnet.pool.free_offset(ip.address) {
                Ok(offset) => offset,
                Err(AddressProblem::Taken(_)) => {
                    return Err(bad(format!(
                        "{what}: address {} is booked twice",
                        ip.address
                    )))
                }
                Err(_) => {
                    return Err(bad(format!(
                        "{what}: address {} is not bookable in {net}",
                        ip.address
                    )))
                }
            };
            validate::tags(&limits, &ip.tags).map_err(|e| invalid(what.clone(), e))?;
            let reverses = validate::reverses(&limits, net, &ip.reverses)
                .map_err(|e| invalid(what.clone(), e))?;
            if *reverses != *ip.reverses {
                return Err(bad(format!("{what}: reverse host names must end with '.'")));
            }
            let attachment = match &ip.resource {
                Some(a) => {
                    times(&what, a.attached_at, a.attached_at)?;
                    validate::name(&limits, "resource.name", a.name.as_deref())
                        .map_err(|e| invalid(what.clone(), e))?;
                    match a.resource_type {
                        ResourceType::UnknownType => {
                            return Err(bad(format!("{what}: resource of unknown type")))
                        }
                        ResourceType::Custom
                            if a.id != ResourceId::from(ip.id) || a.mac_address.is_none() =>
                        {
                            return Err(bad(format!(
                                "{what}: a custom resource has the ip's id and a mac address"
                            )))
                        }
                        _ => {}
                    }
                    Some(Attachment {
                        resource_type: a.resource_type,
                        id: a.id,
                        mac: a.mac_address,
                        name: a.name.clone().map(String::into_boxed_str),
                        attached_at: a.attached_at,
                    })
                }
                None => None,
            };
            let handle = rs
                .store
                .next_handle()
                .ok_or_else(|| bad("more ips than the engine can hold"))?;

            // Valid: apply.
            rs.registry.subnet_mut(slot).pool.take(offset, handle);
            rs.registry.subnet_mut(slot).handles.append(handle);
            let tags = rs.index.add_tags(handle, &ip.tags);
            if let Some(a) = &attachment {
                rs.index.add_attachment(handle, a.as_ref());
            }
            let mut record = Record::new(ip.id, slot, offset, ip.created, tags);
            record.updated = ip.updated;
            record.set_attachment(attachment);
            record.set_reverses(reverses);
            rs.store.insert(record);
        }
        // Handles here need not be those the ids were stamped with: hints go by what holds.
        rs.store.settle_epoch();
        rs.store.order_logs();
        Ok(latest)
    }
}
