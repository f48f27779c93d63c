//! Routing: a request's path and method name one operation; its region, path ids, query and
//! body are parsed into the engine's request types before the engine is touched, so a server
//! can tell reads from writes and take the right lock.

use std::fmt;

use crate::engine::Ipam;
use crate::error::{ArgumentReason, Error};
use crate::model::enums::{Region, ResourceType};
use crate::model::ids::{IpId, PrivateNetworkId, VpcId};
use crate::model::ip::{CustomResource, Source};
use crate::model::request::{
    BookIpRequest, CreatePrivateNetworkRequest, CreateVpcRequest, ListIpsRequest,
    ListPrivateNetworksRequest, ListVpcsRequest, MoveIpRequest, UpdateIpRequest,
};
use crate::rest::body::{invalid, Body};
use crate::rest::query::Query;
use crate::rest::{clip, method_not_allowed, unknown_path, Request, Response, MAX_PATH_BYTES};

/// One parsed request, ready to run against an [`Ipam`]: the operation and all its arguments.
///
/// Parsing does not touch the engine, so a server can take a shared lock for
/// [read-only](Call::is_read_only) calls and an exclusive one for the others.
pub struct Call {
    region: Region,
    op: Op,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("region", &self.region)
            .field("operation", &self.name())
            .finish_non_exhaustive()
    }
}

enum Op {
    Health,
    BookIp(BookIpRequest),
    GetIp(IpId),
    UpdateIp(IpId, UpdateIpRequest),
    ReleaseIp(IpId),
    ReleaseIpSet(Vec<IpId>),
    ListIps(Box<ListIpsRequest>),
    AttachIp(IpId, CustomResource),
    DetachIp(IpId, CustomResource),
    MoveIp(IpId, MoveIpRequest),
    CreateVpc(CreateVpcRequest),
    GetVpc(VpcId),
    ListVpcs(ListVpcsRequest),
    DeleteVpc(VpcId),
    CreatePrivateNetwork(CreatePrivateNetworkRequest),
    GetPrivateNetwork(PrivateNetworkId),
    ListPrivateNetworks(ListPrivateNetworksRequest),
    DeletePrivateNetwork(PrivateNetworkId),
}

/// The endpoints, by path shape.
#[derive(Clone, Copy)]
enum Endpoint<'a> {
    Health,
    Ips,
    Ip(&'a str),
    IpAction(&'a str, Action),
    IpSetRelease,
    Vpcs,
    Vpc(&'a str),
    PrivateNetworks,
    PrivateNetwork(&'a str),
}

#[derive(Clone, Copy)]
enum Action {
    Attach,
    Detach,
    Move,
}

impl<'a> Endpoint<'a> {
    /// The endpoint and region segment of a path, or `None` for an unknown path.
    fn of(path: &'a str) -> Option<(Self, &'a str)> {
        if path.len() > MAX_PATH_BYTES {
            return None;
        }
        let rest = path.strip_prefix('/')?;
        if rest == "healthz" {
            return Some((Endpoint::Health, ""));
        }
        let segments: Vec<&str> = rest.split('/').collect();
        if segments.iter().any(|s| s.is_empty()) {
            return None;
        }
        let endpoint = match segments.as_slice() {
            ["ipam", "v1", "regions", _, tail @ ..] => match tail {
                ["ips"] => Endpoint::Ips,
                ["ips", id] => Endpoint::Ip(id),
                ["ips", id, "attach"] => Endpoint::IpAction(id, Action::Attach),
                ["ips", id, "detach"] => Endpoint::IpAction(id, Action::Detach),
                ["ips", id, "move"] => Endpoint::IpAction(id, Action::Move),
                ["ip-sets", "release"] => Endpoint::IpSetRelease,
                _ => return None,
            },
            ["vpc", "v2", "regions", _, tail @ ..] => match tail {
                ["vpcs"] => Endpoint::Vpcs,
                ["vpcs", id] => Endpoint::Vpc(id),
                ["private-networks"] => Endpoint::PrivateNetworks,
                ["private-networks", id] => Endpoint::PrivateNetwork(id),
                _ => return None,
            },
            _ => return None,
        };
        Some((endpoint, segments[3]))
    }

    fn methods(self) -> &'static [&'static str] {
        match self {
            Endpoint::Health => &["GET"],
            Endpoint::Ips | Endpoint::Vpcs | Endpoint::PrivateNetworks => &["GET", "POST"],
            Endpoint::Ip(_) => &["GET", "PATCH", "DELETE"],
            Endpoint::IpAction(..) | Endpoint::IpSetRelease => &["POST"],
            Endpoint::Vpc(_) | Endpoint::PrivateNetwork(_) => &["GET", "DELETE"],
        }
    }
}

impl Call {
    /// Parses a request: path, then method, then region, path ids, query and body, in that
    /// order. The error is the response to send (404, 405, 400, 413), with a JSON body.
    ///
    /// # Errors
    /// The response for an unknown path or method, an unknown region, a malformed id, query
    /// or body, or a body over [`MAX_BODY_BYTES`](crate::rest::MAX_BODY_BYTES).
    pub fn parse(request: &Request<'_>) -> Result<Self, Box<Response>> {
        let Some((endpoint, region)) = Endpoint::of(request.path) else {
            return Err(Box::new(unknown_path(request.method, request.path)));
        };
        if !endpoint.methods().contains(&request.method) {
            return Err(Box::new(method_not_allowed(
                request.method,
                endpoint.methods(),
            )));
        }
        let region = if matches!(endpoint, Endpoint::Health) {
            Region::default()
        } else {
            region
                .parse::<Region>()
                .map_err(|e| Box::new(Response::error(&e)))?
        };
        let op = Self::op(endpoint, request).map_err(|e| match e {
            Failure::Engine(e) => Box::new(Response::error(&e)),
            Failure::Response(r) => r,
        })?;
        Ok(Call { region, op })
    }

    fn op(endpoint: Endpoint<'_>, request: &Request<'_>) -> Result<Op, Failure> {
        let body = || Body::parse(request.body).map_err(Failure::Response);
        let query = || Query::parse(request.query).map_err(Failure::Engine);
        let op = match (endpoint, request.method) {
            (Endpoint::Health, _) => Op::Health,
            (Endpoint::Ips, "POST") => Op::BookIp(book_ip(body()?)?),
            (Endpoint::Ips, _) => Op::ListIps(Box::new(list_ips(&query()?)?)),
            (Endpoint::Ip(id), "GET") => Op::GetIp(path_id(id, "ip_id")?),
            (Endpoint::Ip(id), "PATCH") => {
                let id = path_id(id, "ip_id")?;
                let mut b = body()?;
                Op::UpdateIp(
                    id,
                    UpdateIpRequest {
                        tags: b.optional("tags")?,
                        reverses: b.optional("reverses")?,
                    },
                )
            }
            (Endpoint::Ip(id), _) => Op::ReleaseIp(path_id(id, "ip_id")?),
            (Endpoint::IpAction(id, action), _) => {
                let id = path_id(id, "ip_id")?;
                let mut b = body()?;
                match action {
                    Action::Attach => Op::AttachIp(id, b.required("resource")?),
                    Action::Detach => Op::DetachIp(id, b.required("resource")?),
                    Action::Move => Op::MoveIp(
                        id,
                        MoveIpRequest {
                            from_resource: b.required("from_resource")?,
                            to_resource: b.optional("to_resource")?,
                        },
                    ),
                }
            }
            (Endpoint::IpSetRelease, _) => Op::ReleaseIpSet(body()?.or_default("ip_ids")?),
            (Endpoint::Vpcs, "POST") => {
                let mut b = body()?;
                Op::CreateVpc(CreateVpcRequest {
                    name: b.optional("name")?,
                    project_id: b.required("project_id")?,
                    tags: b.or_default("tags")?,
                    enable_routing: b.or_default("enable_routing")?,
                })
            }
            (Endpoint::Vpcs, _) => {
                let q = query()?;
                Op::ListVpcs(ListVpcsRequest {
                    page: q.u32("page")?.unwrap_or(1),
                    page_size: q.u32("page_size")?.unwrap_or(50),
                    project_id: q.one("project_id")?,
                    is_default: q.bool("is_default")?,
                })
            }
            (Endpoint::Vpc(id), "GET") => Op::GetVpc(path_id(id, "vpc_id")?),
            (Endpoint::Vpc(id), _) => Op::DeleteVpc(path_id(id, "vpc_id")?),
            (Endpoint::PrivateNetworks, "POST") => {
                let mut b = body()?;
                Op::CreatePrivateNetwork(CreatePrivateNetworkRequest {
                    name: b.optional("name")?,
                    project_id: b.required("project_id")?,
                    tags: b.or_default("tags")?,
                    subnets: b.or_default("subnets")?,
                    vpc_id: b.optional("vpc_id")?,
                    default_route_propagation_enabled: b
                        .or_default("default_route_propagation_enabled")?,
                })
            }
            (Endpoint::PrivateNetworks, _) => {
                let q = query()?;
                Op::ListPrivateNetworks(ListPrivateNetworksRequest {
                    page: q.u32("page")?.unwrap_or(1),
                    page_size: q.u32("page_size")?.unwrap_or(50),
                    project_id: q.one("project_id")?,
                    vpc_id: q.one("vpc_id")?,
                })
            }
            (Endpoint::PrivateNetwork(id), "GET") => {
                Op::GetPrivateNetwork(path_id(id, "private_network_id")?)
            }
            (Endpoint::PrivateNetwork(id), _) => {
                Op::DeletePrivateNetwork(path_id(id, "private_network_id")?)
            }
        };
        Ok(op)
    }

    /// The region the call is for (`fr-par` for `/healthz`).
    #[must_use]
    pub fn region(&self) -> Region {
        self.region
    }

    /// The operation's name, as in the API (`BookIP`, `ListIPs`, `CreatePrivateNetwork`...).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self.op {
            Op::Health => "Health",
            Op::BookIp(_) => "BookIP",
            Op::GetIp(_) => "GetIP",
            Op::UpdateIp(..) => "UpdateIP",
            Op::ReleaseIp(_) => "ReleaseIP",
            Op::ReleaseIpSet(_) => "ReleaseIPSet",
            Op::ListIps(_) => "ListIPs",
            Op::AttachIp(..) => "AttachIP",
            Op::DetachIp(..) => "DetachIP",
            Op::MoveIp(..) => "MoveIP",
            Op::CreateVpc(_) => "CreateVPC",
            Op::GetVpc(_) => "GetVPC",
            Op::ListVpcs(_) => "ListVPCs",
            Op::DeleteVpc(_) => "DeleteVPC",
            Op::CreatePrivateNetwork(_) => "CreatePrivateNetwork",
            Op::GetPrivateNetwork(_) => "GetPrivateNetwork",
            Op::ListPrivateNetworks(_) => "ListPrivateNetworks",
            Op::DeletePrivateNetwork(_) => "DeletePrivateNetwork",
        }
    }

    /// Whether the call only reads, so that [`Call::run_read`] can run it through a shared
    /// reference.
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        matches!(
            self.op,
            Op::Health
                | Op::GetIp(_)
                | Op::ListIps(_)
                | Op::GetVpc(_)
                | Op::ListVpcs(_)
                | Op::GetPrivateNetwork(_)
                | Op::ListPrivateNetworks(_)
        )
    }

    /// Runs a [read-only](Call::is_read_only) call; `None` when the call would change the
    /// engine (run it with [`Call::run`]).
    pub fn run_read(&self, ipam: &Ipam) -> Option<Response> {
        let region = self.region;
        Some(match &self.op {
            Op::Health => Response::json(200, &serde_json::json!({ "status": "ok" })),
            Op::GetIp(id) => respond(ipam.get_ip(region, *id)),
            Op::ListIps(r) => respond(ipam.list_ips(region, r)),
            Op::GetVpc(id) => respond(ipam.get_vpc(region, *id)),
            Op::ListVpcs(r) => respond(ipam.list_vpcs(region, r)),
            Op::GetPrivateNetwork(id) => respond(ipam.get_private_network(region, *id)),
            Op::ListPrivateNetworks(r) => respond(ipam.list_private_networks(region, r)),
            _ => return None,
        })
    }

    /// Runs the call and gives the response: 200 with the object, 204 with an empty body for
    /// releases and deletions, or the engine error's status and JSON body.
    pub fn run(self, ipam: &mut Ipam) -> Response {
        if let Some(response) = self.run_read(ipam) {
            return response;
        }
        let region = self.region;
        match self.op {
            Op::BookIp(r) => respond(ipam.book_ip(region, r)),
            Op::UpdateIp(id, r) => respond(ipam.update_ip(region, id, r)),
            Op::ReleaseIp(id) => empty(ipam.release_ip(region, id)),
            Op::ReleaseIpSet(ids) => empty(ipam.release_ip_set(region, &ids)),
            Op::AttachIp(id, r) => respond(ipam.attach_ip(region, id, r)),
            Op::DetachIp(id, r) => respond(ipam.detach_ip(region, id, r)),
            Op::MoveIp(id, r) => respond(ipam.move_ip(region, id, r)),
            Op::CreateVpc(r) => respond(ipam.create_vpc(region, r)),
            Op::DeleteVpc(id) => empty(ipam.delete_vpc(region, id)),
            Op::CreatePrivateNetwork(r) => respond(ipam.create_private_network(region, r)),
            Op::DeletePrivateNetwork(id) => empty(ipam.delete_private_network(region, id)),
            Op::Health
            | Op::GetIp(_)
            | Op::ListIps(_)
            | Op::GetVpc(_)
            | Op::ListVpcs(_)
            | Op::GetPrivateNetwork(_)
            | Op::ListPrivateNetworks(_) => unreachable!("read-only calls ran above"),
        }
    }
}

enum Failure {
    Engine(Error),
    Response(Box<Response>),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Engine(e)
    }
}

fn respond<T: serde::Serialize>(result: Result<T, Error>) -> Response {
    match result {
        Ok(value) => Response::json(200, &value),
        Err(e) => Response::error(&e),
    }
}

fn empty(result: Result<(), Error>) -> Response {
    match result {
        Ok(()) => Response::no_content(),
        Err(e) => Response::error(&e),
    }
}

fn path_id<T: std::str::FromStr>(segment: &str, argument: &'static str) -> Result<T, Error> {
    segment.parse().map_err(|_| {
        invalid(
            argument,
            ArgumentReason::Format,
            format!("{:?} is not a UUID", clip(segment)),
        )
    })
}

fn book_ip(mut b: Body) -> Result<BookIpRequest, Error> {
    Ok(BookIpRequest {
        project_id: b.required("project_id")?,
        source: b.required::<Source>("source")?,
        is_ipv6: b.or_default("is_ipv6")?,
        address: b.optional("address")?,
        tags: b.or_default("tags")?,
        resource: b.optional("resource")?,
    })
}

fn list_ips(q: &Query) -> Result<ListIpsRequest, Error> {
    let defaults = ListIpsRequest::default();
    Ok(ListIpsRequest {
        order_by: q.one("order_by")?.unwrap_or(defaults.order_by),
        page: q.u32("page")?.unwrap_or(defaults.page),
        page_size: q.u32("page_size")?.unwrap_or(defaults.page_size),
        project_id: q.one("project_id")?,
        organization_id: q.one("organization_id")?,
        vpc_id: q.one("vpc_id")?,
        attached: q.bool("attached")?,
        resource_name: q.string("resource_name"),
        resource_id: q.one("resource_id")?,
        resource_ids: q.many("resource_ids")?,
        resource_type: q
            .one::<ResourceType>("resource_type")?
            .filter(|t| *t != ResourceType::UnknownType),
        resource_types: q.many("resource_types")?,
        mac_address: q.one("mac_address")?,
        tags: q.strings("tags"),
        is_ipv6: q.bool("is_ipv6")?,
        ip_ids: q.many("ip_ids")?,
        zonal: q.string("zonal"),
        regional: q.bool("regional")?,
        private_network_id: q.one("private_network_id")?,
        subnet_id: q.one("subnet_id")?,
        source_vpc_id: q.one("source_vpc_id")?,
    })
}
