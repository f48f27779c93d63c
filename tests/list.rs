//! Listing IPs: every filter of `ListIpsRequest`, how they combine, paging, and every order with
//! its tie-breaks.

use std::net::IpAddr;

use chrono::{DateTime, TimeDelta};
use ipam_engine::{
    ArgumentReason, BookIpRequest, CreatePrivateNetworkRequest, CreateVpcRequest, CustomResource,
    Error, Ip, IpId, Ipam, ListIpsRequest, ListIpsResponse, MacAddress, ManualClock, OrderBy,
    OrganizationId, PrivateNetwork, PrivateNetworkId, ProjectId, Region, ResourceId, ResourceType,
    SeededRandom, ServiceResource, Source, SubnetId, UpdateIpRequest, VpcId,
};
use uuid::Uuid;

const REGION: Region = Region::FrPar;

fn start() -> DateTime<chrono::Utc> {
    DateTime::from_timestamp(1_750_000_000, 0).unwrap()
}

fn engine(seed: u64) -> Ipam {
    Ipam::builder()
        .clock(ManualClock::new(start(), TimeDelta::microseconds(1)))
        .random(SeededRandom::new(seed))
        .build()
}

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0000 | n)
}

fn mac(s: &str) -> MacAddress {
    s.parse().unwrap()
}

fn addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn list(ipam: &Ipam, request: &ListIpsRequest) -> ListIpsResponse {
    ipam.list_ips(REGION, request).unwrap()
}

/// The MAC address of the resource the IP `id` is attached to, if any.
fn mac_of_ip(ipam: &Ipam, id: IpId) -> Option<MacAddress> {
    ipam.get_ip(REGION, id)
        .unwrap()
        .resource
        .and_then(|r| r.mac_address)
}

/// The ids of one unpaged (`page_size` 1000) list, checking `total_count`.
fn ids(ipam: &Ipam, request: ListIpsRequest) -> Vec<IpId> {
    let resp = list(
        ipam,
        &ListIpsRequest {
            page_size: 1000,
            ..request
        },
    );
    assert_eq!(resp.total_count, resp.ips.len() as u64);
    resp.ips.iter().map(|ip| ip.id).collect()
}

fn ordered(ipam: &Ipam, order_by: OrderBy) -> Vec<IpId> {
    ids(
        ipam,
        ListIpsRequest {
            order_by,
            ..ListIpsRequest::default()
        },
    )
}

/// Seven IPs over five Private Networks, three Projects (two in one Organization) and three VPCs.
struct World {
    ipam: Ipam,
    org: OrganizationId,
    p1: ProjectId,
    p2: ProjectId,
    p3: ProjectId,
    a: PrivateNetwork,
    c: PrivateNetwork,
    d: PrivateNetwork,
    v2: VpcId,
    nic: ResourceId,
    lb: ResourceId,
    /// In booking order: IP number n (as the tests count, from 1) is `ips[n - 1]`.
    ips: Vec<Ip>,
}

impl World {
    fn new() -> Self {
        let mut ipam = engine(42);
        let org = OrganizationId::from_uuid(uuid(0x0a));
        let (p1, p2, p3) = (
            ProjectId::from_uuid(uuid(1)),
            ProjectId::from_uuid(uuid(2)),
            ProjectId::from_uuid(uuid(3)),
        );
        ipam.register_project(p1, org);
        ipam.register_project(p3, org);
        let pn = |ipam: &mut Ipam, req: CreatePrivateNetworkRequest| {
            ipam.create_private_network(REGION, req).unwrap()
        };
        let pn_a = pn(&mut ipam, CreatePrivateNetworkRequest::new(p1).name("a"));
        let pn_b = pn(&mut ipam, CreatePrivateNetworkRequest::new(p1).name("b"));
        let v2 = ipam
            .create_vpc(REGION, CreateVpcRequest::new(p1))
            .unwrap()
            .id;
        let pn_c = pn(
            &mut ipam,
            CreatePrivateNetworkRequest::new(p1)
                .name("c")
                .vpc(v2)
                .subnets(["10.0.0.0/24".parse().unwrap()]),
        );
        let pn_d = pn(&mut ipam, CreatePrivateNetworkRequest::new(p2).name("d"));
        let pn_e = pn(&mut ipam, CreatePrivateNetworkRequest::new(p3).name("e"));
        let nic = ResourceId::from_uuid(uuid(0x100));
        let lb = ResourceId::from_uuid(uuid(0x200));
        let on = |p: ProjectId, pn: &PrivateNetwork| {
            BookIpRequest::new(p, Source::PrivateNetworkId(pn.id))
        };
        let ips = vec![
            ipam.book_ip(
                REGION,
                on(p1, &pn_a)
                    .tags(["web"])
                    .resource(CustomResource::new(mac("02:00:00:00:00:01")).with_name("web-1")),
            ),
            ipam.book_ip(REGION, on(p1, &pn_a).ipv6(true).tags(["db"])),
            ipam.book_ip_for_resource(
                REGION,
                on(p1, &pn_b).tags(["web", "prod"]),
                ServiceResource::new(ResourceType::InstancePrivateNic, nic)
                    .mac_address(mac("02:00:00:00:00:02"))
                    .name("nic-web-2"),
            ),
            ipam.book_ip(REGION, on(p1, &pn_c)),
            ipam.book_ip(
                REGION,
                on(p2, &pn_d)
                    .tags(["prod"])
                    .resource(CustomResource::new(mac("02:00:00:00:00:03")).with_name("db-1")),
            ),
            ipam.book_ip(REGION, on(p3, &pn_e)),
            ipam.book_ip_for_resource(
                REGION,
                on(p1, &pn_c).ipv6(true),
                ServiceResource::new(ResourceType::LbServer, lb).name("lb"),
            ),
        ];
        let ips: Vec<Ip> = ips.into_iter().map(Result::unwrap).collect();
        World {
            ipam,
            org,
            p1,
            p2,
            p3,
            a: pn_a,
            c: pn_c,
            d: pn_d,
            v2,
            nic,
            lb,
            ips,
        }
    }

    /// The ids of the given IP numbers.
    fn ids(&self, ns: &[usize]) -> Vec<IpId> {
        ns.iter().map(|&n| self.ip(n).id).collect()
    }

    /// IP number `n`, counted from 1.
    fn ip(&self, n: usize) -> &Ip {
        &self.ips[n - 1]
    }

    /// The ids matching `request`, newest first.
    fn find(&self, request: ListIpsRequest) -> Vec<IpId> {
        ids(&self.ipam, request)
    }
}

const ALL: [usize; 7] = [7, 6, 5, 4, 3, 2, 1];

#[test]
fn the_world_is_as_described() {
    let w = World::new();
    let addresses: Vec<String> = w.ips.iter().map(|ip| ip.address.to_string()).collect();
    assert_eq!(addresses[0], "172.16.0.2/22");
    assert_eq!(addresses[2], "172.16.4.2/22");
    assert_eq!(addresses[3], "10.0.0.2/24");
    assert_eq!(addresses[4], "172.16.0.2/22");
    assert_eq!(addresses[5], "172.16.0.2/22");
    assert!(w.ip(2).is_ipv6 && w.ip(7).is_ipv6);
    assert_eq!(w.ips.len(), 7);
    assert_eq!(w.find(ListIpsRequest::default()), w.ids(&ALL));
    w.ipam.check_invariants().unwrap();
}

#[test]
fn project_and_organization_filters() {
    let mut w = World::new();
    let by_project = |w: &World, p: ProjectId| {
        w.find(ListIpsRequest {
            project_id: Some(p),
            ..ListIpsRequest::default()
        })
    };
    let by_org = |w: &World, o: OrganizationId| {
        w.find(ListIpsRequest {
            organization_id: Some(o),
            ..ListIpsRequest::default()
        })
    };
    assert_eq!(by_project(&w, w.p1), w.ids(&[7, 4, 3, 2, 1]));
    assert_eq!(by_project(&w, w.p2), w.ids(&[5]));
    assert_eq!(by_project(&w, w.p3), w.ids(&[6]));
    assert_eq!(by_project(&w, ProjectId::from_uuid(uuid(9))), []);

    assert_eq!(by_org(&w, w.org), w.ids(&[7, 6, 4, 3, 2, 1]));
    // An unregistered Project belongs to the Organization of the same id.
    assert_eq!(
        by_org(&w, OrganizationId::from_uuid(w.p2.uuid())),
        w.ids(&[5])
    );
    // A registered one does not.
    assert_eq!(by_org(&w, OrganizationId::from_uuid(w.p1.uuid())), []);

    // Registration takes effect at once.
    w.ipam.register_project(w.p2, w.org);
    assert_eq!(by_org(&w, w.org), w.ids(&ALL));
    assert_eq!(by_org(&w, OrganizationId::from_uuid(w.p2.uuid())), []);
    w.ipam.check_invariants().unwrap();
}

#[test]
fn network_filters() {
    let w = World::new();
    let default_vpc = w.a.vpc_id;
    let vpc = |v: VpcId| ListIpsRequest {
        vpc_id: Some(v),
        ..ListIpsRequest::default()
    };
    let source_vpc = |v: VpcId| ListIpsRequest {
        source_vpc_id: Some(v),
        ..ListIpsRequest::default()
    };
    let unknown_vpc = VpcId::from_uuid(uuid(0x99));
    assert_eq!(w.find(vpc(default_vpc)), w.ids(&[3, 2, 1]));
    assert_eq!(w.find(vpc(w.v2)), w.ids(&[7, 4]));
    assert_eq!(w.find(vpc(w.d.vpc_id)), w.ids(&[5]));
    assert_eq!(w.find(vpc(unknown_vpc)), []);
    assert_eq!(w.find(source_vpc(default_vpc)), w.ids(&[3, 2, 1]));
    assert_eq!(w.find(source_vpc(w.v2)), w.ids(&[7, 4]));
    assert_eq!(w.find(source_vpc(unknown_vpc)), []);
    assert_eq!(
        w.find(ListIpsRequest {
            vpc_id: Some(w.v2),
            source_vpc_id: Some(default_vpc),
            ..ListIpsRequest::default()
        }),
        []
    );
    assert_eq!(
        w.find(ListIpsRequest {
            vpc_id: Some(w.v2),
            source_vpc_id: Some(w.v2),
            ..ListIpsRequest::default()
        }),
        w.ids(&[7, 4])
    );

    let pn = |id: PrivateNetworkId| ListIpsRequest {
        private_network_id: Some(id),
        ..ListIpsRequest::default()
    };
    assert_eq!(w.find(pn(w.a.id)), w.ids(&[2, 1]));
    assert_eq!(w.find(pn(w.c.id)), w.ids(&[7, 4]));
    assert_eq!(w.find(pn(w.d.id)), w.ids(&[5]));
    assert_eq!(w.find(pn(PrivateNetworkId::from_uuid(uuid(0x98)))), []);

    let subnet = |id: SubnetId| ListIpsRequest {
        subnet_id: Some(id),
        ..ListIpsRequest::default()
    };
    assert_eq!(w.find(subnet(w.a.subnets[0].id)), w.ids(&[1]));
    assert_eq!(w.find(subnet(w.a.subnets[1].id)), w.ids(&[2]));
    assert_eq!(w.find(subnet(w.c.subnets[0].id)), w.ids(&[4]));
    assert_eq!(w.find(subnet(w.c.subnets[1].id)), w.ids(&[7]));
    assert_eq!(w.find(subnet(SubnetId::from_uuid(uuid(0x97)))), []);
    // A subnet of another Private Network than the one asked: nothing.
    assert_eq!(
        w.find(ListIpsRequest {
            private_network_id: Some(w.a.id),
            subnet_id: Some(w.c.subnets[0].id),
            ..ListIpsRequest::default()
        }),
        []
    );

    let family = |v6: bool| ListIpsRequest {
        is_ipv6: Some(v6),
        ..ListIpsRequest::default()
    };
    assert_eq!(w.find(family(true)), w.ids(&[7, 2]));
    assert_eq!(w.find(family(false)), w.ids(&[6, 5, 4, 3, 1]));
    w.ipam.check_invariants().unwrap();
}

#[test]
fn resource_filters() {
    let w = World::new();
    let attached = |a: bool| ListIpsRequest {
        attached: Some(a),
        ..ListIpsRequest::default()
    };
    assert_eq!(w.find(attached(true)), w.ids(&[7, 5, 3, 1]));
    assert_eq!(w.find(attached(false)), w.ids(&[6, 4, 2]));

    let name = |n: &str| ListIpsRequest {
        resource_name: Some(n.into()),
        ..ListIpsRequest::default()
    };
    assert_eq!(w.find(name("web")), w.ids(&[3, 1]));
    assert_eq!(w.find(name("web-1")), w.ids(&[1]));
    assert_eq!(w.find(name("db")), w.ids(&[5]));
    assert_eq!(w.find(name("lb")), w.ids(&[7]));
    assert_eq!(w.find(name("-")), w.ids(&[5, 3, 1]));
    assert_eq!(w.find(name("nothing")), []);

    let rid = |id: ResourceId| ListIpsRequest {
        resource_id: Some(id),
        ..ListIpsRequest::default()
    };
    assert_eq!(w.find(rid(ResourceId::from(w.ip(1).id))), w.ids(&[1]));
    assert_eq!(w.find(rid(ResourceId::from(w.ip(5).id))), w.ids(&[5]));
    assert_eq!(w.find(rid(w.nic)), w.ids(&[3]));
    assert_eq!(w.find(rid(w.lb)), w.ids(&[7]));
    // An unattached IP's id is no resource id.
    assert_eq!(w.find(rid(ResourceId::from(w.ip(2).id))), []);
    assert_eq!(w.find(rid(ResourceId::from_uuid(uuid(0x300)))), []);

    let rids = |v: Vec<ResourceId>| ListIpsRequest {
        resource_ids: v,
        ..ListIpsRequest::default()
    };
    assert_eq!(
        w.find(rids(vec![w.nic, w.lb, ResourceId::from_uuid(uuid(0x300))])),
        w.ids(&[7, 3])
    );
    assert_eq!(
        w.find(rids(vec![ResourceId::from(w.ip(5).id), w.lb])),
        w.ids(&[7, 5])
    );
    assert_eq!(w.find(rids(vec![ResourceId::from_uuid(uuid(0x300))])), []);
    assert_eq!(w.find(rids(vec![])), w.ids(&ALL));

    let rtype = |t: ResourceType| ListIpsRequest {
        resource_type: Some(t),
        ..ListIpsRequest::default()
    };
    assert_eq!(w.find(rtype(ResourceType::Custom)), w.ids(&[5, 1]));
    assert_eq!(w.find(rtype(ResourceType::InstancePrivateNic)), w.ids(&[3]));
    assert_eq!(w.find(rtype(ResourceType::LbServer)), w.ids(&[7]));
    assert_eq!(w.find(rtype(ResourceType::KafkaCluster)), []);
    // unknown_type filters nothing (the Go SDK always sends it).
    assert_eq!(w.find(rtype(ResourceType::UnknownType)), w.ids(&ALL));

    let rtypes = |v: Vec<ResourceType>| ListIpsRequest {
        resource_types: v,
        ..ListIpsRequest::default()
    };
    assert_eq!(
        w.find(rtypes(vec![ResourceType::Custom, ResourceType::LbServer])),
        w.ids(&[7, 5, 1])
    );
    assert_eq!(
        w.find(rtypes(vec![
            ResourceType::UnknownType,
            ResourceType::LbServer
        ])),
        w.ids(&[7])
    );
    assert_eq!(w.find(rtypes(vec![ResourceType::UnknownType])), w.ids(&ALL));
    assert_eq!(w.find(rtypes(vec![ResourceType::VpcGateway])), []);
    assert_eq!(w.find(rtypes(vec![])), w.ids(&ALL));

    let by_mac = |m: &str| ListIpsRequest {
        mac_address: Some(mac(m)),
        ..ListIpsRequest::default()
    };
    assert_eq!(w.find(by_mac("02:00:00:00:00:01")), w.ids(&[1]));
    assert_eq!(w.find(by_mac("02:00:00:00:00:02")), w.ids(&[3]));
    assert_eq!(w.find(by_mac("02-00-00-00-00-03")), w.ids(&[5]));
    assert_eq!(w.find(by_mac("02:00:00:00:00:04")), []);
    w.ipam.check_invariants().unwrap();
}

#[test]
fn tag_and_id_filters() {
    let w = World::new();
    let tags = |t: &[&str]| ListIpsRequest {
        tags: t.iter().map(|s| (*s).to_owned()).collect(),
        ..ListIpsRequest::default()
    };
    assert_eq!(w.find(tags(&["web"])), w.ids(&[3, 1]));
    assert_eq!(w.find(tags(&["prod"])), w.ids(&[5, 3]));
    assert_eq!(w.find(tags(&["web", "db"])), w.ids(&[3, 2, 1]));
    assert_eq!(w.find(tags(&["web", "prod"])), w.ids(&[5, 3, 1]));
    assert_eq!(w.find(tags(&["nope", "db"])), w.ids(&[2]));
    assert_eq!(w.find(tags(&["nope"])), []);
    assert_eq!(w.find(tags(&["WEB"])), []);
    assert_eq!(w.find(tags(&[])), w.ids(&ALL));

    let unknown = IpId::from_uuid(uuid(0x400));
    let by_ids = |v: Vec<IpId>| ListIpsRequest {
        ip_ids: v,
        ..ListIpsRequest::default()
    };
    assert_eq!(
        w.find(by_ids(vec![w.ip(1).id, w.ip(5).id, unknown])),
        w.ids(&[5, 1])
    );
    assert_eq!(w.find(by_ids(vec![w.ip(5).id, w.ip(5).id])), w.ids(&[5]));
    assert_eq!(w.find(by_ids(vec![unknown])), []);
    assert_eq!(w.find(by_ids(vec![])), w.ids(&ALL));
    w.ipam.check_invariants().unwrap();
}

#[test]
fn zonal_and_regional_filters() {
    let w = World::new();
    for request in [
        ListIpsRequest {
            zonal: Some("fr-par-1".into()),
            ..ListIpsRequest::default()
        },
        ListIpsRequest {
            zonal: Some(String::new()),
            ..ListIpsRequest::default()
        },
        ListIpsRequest {
            regional: Some(true),
            ..ListIpsRequest::default()
        },
        ListIpsRequest {
            zonal: Some("fr-par-1".into()),
            project_id: Some(w.p1),
            ..ListIpsRequest::default()
        },
    ] {
        let resp = list(&w.ipam, &request);
        assert_eq!(resp.total_count, 0, "{request:?}");
        assert!(resp.ips.is_empty());
    }
    assert_eq!(
        w.find(ListIpsRequest {
            regional: Some(false),
            ..ListIpsRequest::default()
        }),
        w.ids(&ALL)
    );
    assert_eq!(
        w.find(ListIpsRequest {
            regional: Some(false),
            project_id: Some(w.p2),
            ..ListIpsRequest::default()
        }),
        w.ids(&[5])
    );
    w.ipam.check_invariants().unwrap();
}

#[test]
fn filters_and_together() {
    let w = World::new();
    let web = || vec!["web".to_owned()];
    assert_eq!(
        w.find(ListIpsRequest {
            project_id: Some(w.p1),
            tags: web(),
            attached: Some(true),
            ..ListIpsRequest::default()
        }),
        w.ids(&[3, 1])
    );
    assert_eq!(
        w.find(ListIpsRequest {
            project_id: Some(w.p1),
            tags: web(),
            attached: Some(true),
            resource_type: Some(ResourceType::Custom),
            is_ipv6: Some(false),
            ..ListIpsRequest::default()
        }),
        w.ids(&[1])
    );
    assert_eq!(
        w.find(ListIpsRequest {
            project_id: Some(w.p1),
            tags: web(),
            is_ipv6: Some(true),
            ..ListIpsRequest::default()
        }),
        []
    );
    assert_eq!(
        w.find(ListIpsRequest {
            vpc_id: Some(w.v2),
            is_ipv6: Some(false),
            ..ListIpsRequest::default()
        }),
        w.ids(&[4])
    );
    assert_eq!(
        w.find(ListIpsRequest {
            organization_id: Some(w.org),
            tags: vec!["prod".into()],
            ..ListIpsRequest::default()
        }),
        w.ids(&[3])
    );
    assert_eq!(
        w.find(ListIpsRequest {
            private_network_id: Some(w.a.id),
            tags: vec!["web".into(), "prod".into()],
            ..ListIpsRequest::default()
        }),
        w.ids(&[1])
    );
    assert_eq!(
        w.find(ListIpsRequest {
            ip_ids: w.ids(&[1, 2, 3]),
            tags: vec!["db".into()],
            ..ListIpsRequest::default()
        }),
        w.ids(&[2])
    );
    assert_eq!(
        w.find(ListIpsRequest {
            attached: Some(false),
            project_id: Some(w.p1),
            ..ListIpsRequest::default()
        }),
        w.ids(&[4, 2])
    );
    assert_eq!(
        w.find(ListIpsRequest {
            attached: Some(false),
            resource_type: Some(ResourceType::Custom),
            ..ListIpsRequest::default()
        }),
        []
    );
    assert_eq!(
        w.find(ListIpsRequest {
            mac_address: Some(mac("02:00:00:00:00:01")),
            resource_name: Some("db".into()),
            ..ListIpsRequest::default()
        }),
        []
    );
    assert_eq!(
        w.find(ListIpsRequest {
            resource_ids: vec![w.nic, w.lb],
            is_ipv6: Some(true),
            vpc_id: Some(w.v2),
            resource_name: Some("l".into()),
            ..ListIpsRequest::default()
        }),
        w.ids(&[7])
    );
    assert_eq!(
        w.find(ListIpsRequest {
            resource_types: vec![ResourceType::Custom, ResourceType::InstancePrivateNic],
            organization_id: Some(w.org),
            subnet_id: Some(w.a.subnets[0].id),
            ..ListIpsRequest::default()
        }),
        w.ids(&[1])
    );
    w.ipam.check_invariants().unwrap();
}

#[test]
fn paging() {
    let w = World::new();
    let page = |n: u32, size: u32, attached: Option<bool>| {
        let resp = list(
            &w.ipam,
            &ListIpsRequest {
                page: n,
                page_size: size,
                attached,
                ..ListIpsRequest::default()
            },
        );
        (
            resp.total_count,
            resp.ips.iter().map(|ip| ip.id).collect::<Vec<_>>(),
        )
    };
    assert_eq!(page(1, 2, None), (7, w.ids(&[7, 6])));
    assert_eq!(page(2, 2, None), (7, w.ids(&[5, 4])));
    assert_eq!(page(3, 2, None), (7, w.ids(&[3, 2])));
    assert_eq!(page(4, 2, None), (7, w.ids(&[1])));
    assert_eq!(page(5, 2, None), (7, vec![]));
    assert_eq!(page(1000, 1000, None), (7, vec![]));
    assert_eq!(page(u32::MAX, 1000, None), (7, vec![]));
    assert_eq!(page(1, 7, None), (7, w.ids(&ALL)));
    assert_eq!(page(1, 1000, None), (7, w.ids(&ALL)));
    assert_eq!(page(2, 7, None), (7, vec![]));
    assert_eq!(page(1, 3, Some(true)), (4, w.ids(&[7, 5, 3])));
    assert_eq!(page(2, 3, Some(true)), (4, w.ids(&[1])));
    assert_eq!(page(3, 3, Some(true)), (4, vec![]));
    // Ascending pages concatenate to the whole list too.
    let asc: Vec<IpId> = (1..=4)
        .flat_map(|n| {
            list(
                &w.ipam,
                &ListIpsRequest {
                    page: n,
                    page_size: 2,
                    order_by: OrderBy::CreatedAtAsc,
                    ..ListIpsRequest::default()
                },
            )
            .ips
            .into_iter()
            .map(|ip| ip.id)
        })
        .collect();
    assert_eq!(asc, w.ids(&[1, 2, 3, 4, 5, 6, 7]));
    // Pages of a list with no match.
    let resp = list(
        &w.ipam,
        &ListIpsRequest {
            page: 3,
            tags: vec!["nope".into()],
            ..ListIpsRequest::default()
        },
    );
    assert_eq!((resp.total_count, resp.ips.len()), (0, 0));
    // The default page is 1 of 50.
    let d = ListIpsRequest::default();
    assert_eq!(
        (d.page, d.page_size, d.order_by),
        (1, 50, OrderBy::CreatedAtDesc)
    );
    w.ipam.check_invariants().unwrap();
}

fn assert_invalid(result: Result<ListIpsResponse, Error>, arg: &str) {
    match result {
        Err(Error::InvalidArgument {
            argument, reason, ..
        }) => {
            assert_eq!(argument, arg);
            assert_eq!(reason, ArgumentReason::Constraint);
        }
        other => panic!("expected an invalid {arg}, got {other:?}"),
    }
}

#[test]
fn page_and_list_limits_are_checked() {
    let w = World::new();
    let with = |page: u32, page_size: u32| ListIpsRequest {
        page,
        page_size,
        ..ListIpsRequest::default()
    };
    assert_invalid(w.ipam.list_ips(REGION, &with(0, 50)), "page");
    assert_invalid(w.ipam.list_ips(REGION, &with(1, 0)), "page_size");
    assert_invalid(w.ipam.list_ips(REGION, &with(1, 1001)), "page_size");
    assert_invalid(w.ipam.list_ips(REGION, &with(1, u32::MAX)), "page_size");
    assert_eq!(list(&w.ipam, &with(1, 1)).ips.len(), 1);
    assert_eq!(list(&w.ipam, &with(1, 1000)).total_count, 7);

    let unknown = IpId::from_uuid(uuid(0x500));
    assert_invalid(
        w.ipam.list_ips(
            REGION,
            &ListIpsRequest {
                ip_ids: vec![unknown; 1001],
                ..ListIpsRequest::default()
            },
        ),
        "ip_ids",
    );
    assert_eq!(
        list(
            &w.ipam,
            &ListIpsRequest {
                ip_ids: vec![w.ip(1).id; 1000],
                ..ListIpsRequest::default()
            }
        )
        .total_count,
        1
    );
    assert_invalid(
        w.ipam.list_ips(
            REGION,
            &ListIpsRequest {
                resource_ids: vec![ResourceId::from_uuid(uuid(1)); 1001],
                ..ListIpsRequest::default()
            },
        ),
        "resource_ids",
    );
    assert_invalid(
        w.ipam.list_ips(
            REGION,
            &ListIpsRequest {
                resource_types: vec![ResourceType::Custom; 1001],
                ..ListIpsRequest::default()
            },
        ),
        "resource_types",
    );
    assert_invalid(
        w.ipam.list_ips(
            REGION,
            &ListIpsRequest {
                tags: vec!["web".into(); 1001],
                ..ListIpsRequest::default()
            },
        ),
        "tags",
    );
    w.ipam.check_invariants().unwrap();
}

#[test]
fn other_regions_are_separate() {
    let mut w = World::new();
    let pn = w
        .ipam
        .create_private_network(Region::ItMil, CreatePrivateNetworkRequest::new(w.p1))
        .unwrap();
    // The Project's default VPC of it-mil is not fr-par's, so the same block is generated.
    assert_eq!(pn.subnets[0].subnet, w.a.subnets[0].subnet);
    assert_ne!(pn.vpc_id, w.a.vpc_id);
    let ip = w
        .ipam
        .book_ip(
            Region::ItMil,
            BookIpRequest::new(w.p1, Source::PrivateNetworkId(pn.id)).tags(["web"]),
        )
        .unwrap();
    assert_eq!(ip.region, Region::ItMil);
    assert_eq!(ip.address, w.ip(1).address);

    assert_eq!(w.find(ListIpsRequest::default()), w.ids(&ALL));
    assert_eq!(
        w.find(ListIpsRequest {
            ip_ids: vec![ip.id],
            ..ListIpsRequest::default()
        }),
        []
    );
    assert_eq!(
        w.find(ListIpsRequest {
            tags: vec!["web".into()],
            ..ListIpsRequest::default()
        }),
        w.ids(&[3, 1])
    );
    let mil = w
        .ipam
        .list_ips(
            Region::ItMil,
            &ListIpsRequest {
                project_id: Some(w.p1),
                ..ListIpsRequest::default()
            },
        )
        .unwrap();
    assert_eq!(mil.total_count, 1);
    assert_eq!(mil.ips, std::slice::from_ref(&ip));
    let mil_web = w
        .ipam
        .list_ips(
            Region::ItMil,
            &ListIpsRequest {
                tags: vec!["web".into()],
                ..ListIpsRequest::default()
            },
        )
        .unwrap();
    assert_eq!(mil_web.ips, std::slice::from_ref(&ip));
    let ams = w
        .ipam
        .list_ips(Region::NlAms, &ListIpsRequest::default())
        .unwrap();
    assert_eq!((ams.total_count, ams.ips.len()), (0, 0));
    assert_eq!(
        w.ipam.get_ip(REGION, ip.id),
        Err(Error::IpNotFound { id: ip.id })
    );
    assert_eq!(
        w.ipam.get_ip(Region::ItMil, w.ip(1).id),
        Err(Error::IpNotFound { id: w.ip(1).id })
    );
    // A fr-par Private Network filter in it-mil matches nothing.
    let cross = w
        .ipam
        .list_ips(
            Region::ItMil,
            &ListIpsRequest {
                private_network_id: Some(w.a.id),
                ..ListIpsRequest::default()
            },
        )
        .unwrap();
    assert_eq!(cross.total_count, 0);
    assert_eq!(w.ipam.ip_count(Region::ItMil), 1);
    assert_eq!(w.ipam.ip_count(REGION), 7);
    w.ipam.check_invariants().unwrap();
}

/// Eight IPs whose addresses tie across two VPCs that use the same blocks.
struct Ordered {
    ipam: Ipam,
    ips: Vec<IpId>,
}

impl Ordered {
    fn new() -> Self {
        let mut ipam = engine(7);
        let p = ProjectId::from_uuid(uuid(1));
        let x = ipam
            .create_private_network(
                REGION,
                CreatePrivateNetworkRequest::new(p).subnets([
                    "172.16.0.0/22".parse().unwrap(),
                    "fd00:aaaa:bbbb:1::/64".parse().unwrap(),
                ]),
            )
            .unwrap();
        let v2 = ipam.create_vpc(REGION, CreateVpcRequest::new(p)).unwrap();
        let y = ipam
            .create_private_network(
                REGION,
                CreatePrivateNetworkRequest::new(p).vpc(v2.id).subnets([
                    "172.16.0.0/22".parse().unwrap(),
                    "fd00:aaaa:bbbb:1::/64".parse().unwrap(),
                ]),
            )
            .unwrap();
        let mut book = |pn: &PrivateNetwork, a: &str| {
            ipam.book_ip(
                REGION,
                BookIpRequest::new(p, Source::PrivateNetworkId(pn.id)).address(addr(a)),
            )
            .unwrap()
            .id
        };
        let ips = vec![
            book(&x, "172.16.0.50"),
            book(&x, "fd00:aaaa:bbbb:1::10"),
            book(&y, "172.16.0.50"),
            book(&x, "172.16.0.7"),
            book(&y, "fd00:aaaa:bbbb:1::5"),
            book(&x, "172.16.3.200"),
            book(&y, "fd00:aaaa:bbbb:1::10"),
            book(&y, "172.16.0.9"),
        ];
        Ordered { ipam, ips }
    }

    fn ids(&self, ns: &[usize]) -> Vec<IpId> {
        ns.iter().map(|&n| self.ips[n]).collect()
    }

    /// The pages of `size` of `order_by`, concatenated.
    fn paged(&self, order_by: OrderBy, size: u32) -> Vec<IpId> {
        let mut out = Vec::new();
        for page in 1.. {
            let resp = list(
                &self.ipam,
                &ListIpsRequest {
                    order_by,
                    page,
                    page_size: size,
                    ..ListIpsRequest::default()
                },
            );
            assert_eq!(resp.total_count, 8);
            if resp.ips.is_empty() {
                break;
            }
            out.extend(resp.ips.iter().map(|ip| ip.id));
        }
        out
    }

    fn check(&self, order_by: OrderBy, expected: &[usize]) {
        let expected = self.ids(expected);
        assert_eq!(ordered(&self.ipam, order_by), expected, "{order_by}");
        for size in [1, 3, 5] {
            assert_eq!(self.paged(order_by, size), expected, "{order_by} by {size}");
        }
    }
}

#[test]
fn orders_by_creation_and_address() {
    let o = Ordered::new();
    o.check(OrderBy::CreatedAtAsc, &[0, 1, 2, 3, 4, 5, 6, 7]);
    o.check(OrderBy::CreatedAtDesc, &[7, 6, 5, 4, 3, 2, 1, 0]);
    // Numeric (not textual) order, IPv4 before IPv6; equal addresses in creation order.
    o.check(OrderBy::IpAddressAsc, &[3, 7, 0, 2, 5, 4, 1, 6]);
    o.check(OrderBy::IpAddressDesc, &[6, 1, 4, 5, 2, 0, 7, 3]);
    // Nothing is attached and nothing was updated: attached_at and mac_address have no key, and
    // fall back to creation order in their direction.
    o.check(OrderBy::UpdatedAtAsc, &[0, 1, 2, 3, 4, 5, 6, 7]);
    o.check(OrderBy::UpdatedAtDesc, &[7, 6, 5, 4, 3, 2, 1, 0]);
    o.check(OrderBy::AttachedAtAsc, &[0, 1, 2, 3, 4, 5, 6, 7]);
    o.check(OrderBy::AttachedAtDesc, &[7, 6, 5, 4, 3, 2, 1, 0]);
    o.check(OrderBy::MacAddressAsc, &[0, 1, 2, 3, 4, 5, 6, 7]);
    o.check(OrderBy::MacAddressDesc, &[7, 6, 5, 4, 3, 2, 1, 0]);
    o.ipam.check_invariants().unwrap();
}

#[test]
fn orders_by_update_attachment_and_mac() {
    let mut o = Ordered::new();
    let i = o.ips.clone();
    o.ipam
        .update_ip(
            REGION,
            i[2],
            UpdateIpRequest {
                tags: Some(vec!["x".into()]),
                reverses: None,
            },
        )
        .unwrap();
    o.ipam
        .attach_ip(REGION, i[5], CustomResource::new(mac("02:00:00:00:00:03")))
        .unwrap();
    o.ipam
        .attach_ip(REGION, i[0], CustomResource::new(mac("02:00:00:00:00:01")))
        .unwrap();
    o.ipam
        .attach_ip(REGION, i[6], CustomResource::new(mac("0a:00:00:00:00:00")))
        .unwrap();
    o.ipam
        .attach_resource(
            REGION,
            i[4],
            ServiceResource::new(ResourceType::LbServer, ResourceId::from_uuid(uuid(0x77))),
        )
        .unwrap();
    // The same MAC as i[0]: a tie on mac_address.
    o.ipam
        .attach_ip(REGION, i[7], CustomResource::new(mac("02:00:00:00:00:01")))
        .unwrap();

    o.check(OrderBy::UpdatedAtAsc, &[1, 3, 2, 5, 0, 6, 4, 7]);
    o.check(OrderBy::UpdatedAtDesc, &[7, 4, 6, 0, 5, 2, 3, 1]);
    // Unattached IPs last in both directions, in creation order in the key's direction.
    o.check(OrderBy::AttachedAtAsc, &[5, 0, 6, 4, 7, 1, 2, 3]);
    o.check(OrderBy::AttachedAtDesc, &[7, 4, 6, 0, 5, 3, 2, 1]);
    // The product resource without a MAC has no key either.
    o.check(OrderBy::MacAddressAsc, &[0, 7, 5, 6, 1, 2, 3, 4]);
    o.check(OrderBy::MacAddressDesc, &[6, 5, 7, 0, 4, 3, 2, 1]);
    // Creation order is not affected by updates.
    o.check(OrderBy::CreatedAtAsc, &[0, 1, 2, 3, 4, 5, 6, 7]);
    o.check(OrderBy::CreatedAtDesc, &[7, 6, 5, 4, 3, 2, 1, 0]);
    // Orders apply after filters.
    assert_eq!(
        ids(
            &o.ipam,
            ListIpsRequest {
                order_by: OrderBy::MacAddressDesc,
                is_ipv6: Some(false),
                ..ListIpsRequest::default()
            }
        ),
        o.ids(&[5, 7, 0, 3, 2])
    );
    assert_eq!(
        ids(
            &o.ipam,
            ListIpsRequest {
                order_by: OrderBy::IpAddressDesc,
                attached: Some(true),
                ..ListIpsRequest::default()
            }
        ),
        o.ids(&[6, 4, 5, 0, 7])
    );
    o.ipam.check_invariants().unwrap();
}

#[test]
fn equal_times_tie_break_by_creation_in_the_keys_direction() {
    // A clock that never moves: every timestamp is equal.
    let mut ipam = Ipam::builder()
        .clock(ManualClock::new(start(), TimeDelta::zero()))
        .random(SeededRandom::new(3))
        .build();
    let p = ProjectId::from_uuid(uuid(1));
    let pn = ipam
        .create_private_network(REGION, CreatePrivateNetworkRequest::new(p))
        .unwrap();
    let j: Vec<IpId> = (0..4)
        .map(|_| {
            ipam.book_ip(
                REGION,
                BookIpRequest::new(p, Source::PrivateNetworkId(pn.id)),
            )
            .unwrap()
            .id
        })
        .collect();
    ipam.attach_ip(REGION, j[2], CustomResource::new(mac("02:00:00:00:00:09")))
        .unwrap();
    ipam.attach_ip(REGION, j[0], CustomResource::new(mac("02:00:00:00:00:09")))
        .unwrap();
    let first = ipam.get_ip(REGION, j[0]).unwrap();
    let last = ipam.get_ip(REGION, j[3]).unwrap();
    assert_eq!(first.created_at, last.created_at);
    assert_eq!(first.updated_at, last.updated_at);

    let at = |ns: [usize; 4]| ns.map(|n| j[n]).to_vec();
    assert_eq!(ordered(&ipam, OrderBy::CreatedAtAsc), at([0, 1, 2, 3]));
    assert_eq!(ordered(&ipam, OrderBy::CreatedAtDesc), at([3, 2, 1, 0]));
    assert_eq!(ordered(&ipam, OrderBy::UpdatedAtAsc), at([0, 1, 2, 3]));
    assert_eq!(ordered(&ipam, OrderBy::UpdatedAtDesc), at([3, 2, 1, 0]));
    assert_eq!(ordered(&ipam, OrderBy::AttachedAtAsc), at([0, 2, 1, 3]));
    assert_eq!(ordered(&ipam, OrderBy::AttachedAtDesc), at([2, 0, 3, 1]));
    assert_eq!(ordered(&ipam, OrderBy::MacAddressAsc), at([0, 2, 1, 3]));
    assert_eq!(ordered(&ipam, OrderBy::MacAddressDesc), at([2, 0, 3, 1]));
    assert_eq!(ordered(&ipam, OrderBy::IpAddressAsc), at([0, 1, 2, 3]));
    assert_eq!(ordered(&ipam, OrderBy::IpAddressDesc), at([3, 2, 1, 0]));
    ipam.check_invariants().unwrap();
}

/// `n` Private Networks of `project`, each with one /20 (`10.k.0.0/20` for the `k`th).
fn networks_of_20(ipam: &mut Ipam, project: ProjectId, n: u8) -> Vec<PrivateNetworkId> {
    (0..n)
        .map(|k| {
            let net = format!("10.{k}.0.0/20").parse().unwrap();
            ipam.create_private_network(
                REGION,
                CreatePrivateNetworkRequest::new(project).subnets([net]),
            )
            .unwrap()
            .id
        })
        .collect()
}

/// The tag filter answers the same whatever the tag's density (which decides how the engine
/// holds its postings): tags carried by every IP, by one in four, one in sixteen, one in
/// eighteen (a bitset of the handles), one in sixty-four and one in a thousand, while they thin
/// out (releases, updates that drop one in sixteen) until they are rare and one in sixteen then
/// comes back on every IP left, in every page and both creation orders, alone and with a
/// Private Network larger or smaller than the tag (of a few IPs, held in order, or of hundreds,
/// held as a bitmap).
#[test]
fn tag_filters_hold_at_every_density() {
    let mut ipam = engine(11);
    let project = ProjectId::from_uuid(uuid(1));
    // Five networks take turns; the sixth takes one IP in five thousand, the seventh one in
    // forty.
    let pns = networks_of_20(&mut ipam, project, 7);
    let tags_of = |i: usize| {
        let mut t = vec!["all"];
        for (tag, every) in [
            ("one-in-4", 4),
            ("one-in-16", 16),
            ("one-in-18", 18),
            ("one-in-64", 64),
            ("rare", 1000),
        ] {
            if i.is_multiple_of(every) {
                t.push(tag);
            }
        }
        t
    };
    let n = 20_000;
    let mut tagged: Vec<(IpId, PrivateNetworkId, Vec<&str>)> = (0..n)
        .map(|i| {
            let pn = match (i % 5000, i % 40) {
                (18, _) => pns[5],
                (_, 6) => pns[6],
                _ => pns[i % 5],
            };
            let request =
                BookIpRequest::new(project, Source::PrivateNetworkId(pn)).tags(tags_of(i));
            let id = ipam.book_ip(REGION, request).unwrap().id;
            (id, pn, tags_of(i))
        })
        .collect();
    // The ids in ascending update order: by `updated_at`, then by creation.
    let by_update = |ipam: &Ipam, ids: &[IpId]| {
        let mut keyed: Vec<_> = ids
            .iter()
            .map(|id| {
                let ip = ipam.get_ip(REGION, *id).unwrap();
                (ip.updated_at, ip.created_at, ip.id)
            })
            .collect();
        keyed.sort();
        keyed.into_iter().map(|k| k.2).collect::<Vec<IpId>>()
    };
    let check = |ipam: &Ipam, tagged: &[(IpId, PrivateNetworkId, Vec<&str>)]| {
        ipam.check_invariants().unwrap();
        for tag in [
            "all",
            "one-in-4",
            "one-in-16",
            "one-in-18",
            "one-in-64",
            "rare",
        ] {
            let expected: Vec<IpId> = tagged
                .iter()
                .filter(|(_, _, t)| t.contains(&tag))
                .map(|(id, _, _)| *id)
                .collect();
            // With a network, large or small: a page in creation order, one by update.
            for network in [pns[1], pns[5], pns[6]] {
                let in_pn: Vec<IpId> = tagged
                    .iter()
                    .filter(|(_, pn, t)| *pn == network && t.contains(&tag))
                    .map(|(id, _, _)| *id)
                    .collect();
                let request = ListIpsRequest {
                    tags: vec![tag.to_owned()],
                    private_network_id: Some(network),
                    order_by: OrderBy::CreatedAtAsc,
                    page_size: 1000,
                    ..ListIpsRequest::default()
                };
                let resp = list(ipam, &request);
                assert_eq!(resp.total_count, in_pn.len() as u64, "{tag} in a network");
                let first: Vec<IpId> = in_pn.iter().copied().take(1000).collect();
                assert_eq!(resp.ips.iter().map(|ip| ip.id).collect::<Vec<_>>(), first);
                let request = ListIpsRequest {
                    order_by: OrderBy::UpdatedAtAsc,
                    page_size: 3,
                    ..request
                };
                let resp = list(ipam, &request);
                assert_eq!(resp.total_count, in_pn.len() as u64, "{tag} in a network");
                let want = &by_update(ipam, &in_pn)[..in_pn.len().min(3)];
                assert_eq!(resp.ips.iter().map(|ip| ip.id).collect::<Vec<_>>(), want);
            }
            // With the filters applied after the postings: none of these IPs is attached.
            let request = ListIpsRequest {
                tags: vec![tag.to_owned()],
                attached: Some(false),
                order_by: OrderBy::CreatedAtDesc,
                page_size: 5,
                ..ListIpsRequest::default()
            };
            let resp = list(ipam, &request);
            assert_eq!(resp.total_count, expected.len() as u64, "{tag} unattached");
            let last: Vec<IpId> = expected.iter().rev().take(5).copied().collect();
            assert_eq!(resp.ips.iter().map(|ip| ip.id).collect::<Vec<_>>(), last);
            let request = ListIpsRequest {
                tags: vec![tag.to_owned()],
                resource_name: Some("srv".to_owned()),
                ..ListIpsRequest::default()
            };
            assert_eq!(
                list(ipam, &request).total_count,
                0,
                "{tag} by resource name"
            );
            // With a filter smaller than the tag: its matches are tested against the tag.
            let some: Vec<IpId> = tagged.iter().step_by(3).take(200).map(|e| e.0).collect();
            let request = ListIpsRequest {
                tags: vec![tag.to_owned()],
                ip_ids: some.clone(),
                order_by: OrderBy::CreatedAtAsc,
                ..ListIpsRequest::default()
            };
            let want: Vec<IpId> = tagged
                .iter()
                .filter(|(id, _, t)| some.contains(id) && t.contains(&tag))
                .map(|e| e.0)
                .collect();
            assert_eq!(ids(ipam, request), want, "{tag} among ids");
            let request = ListIpsRequest {
                tags: vec![tag.to_owned()],
                order_by: OrderBy::UpdatedAtDesc,
                page: 2,
                page_size: 10,
                ..ListIpsRequest::default()
            };
            let resp = list(ipam, &request);
            assert_eq!(resp.total_count, expected.len() as u64, "{tag}");
            // Descending: both keys in the order's direction, the ascending order reversed.
            let want: Vec<IpId> = by_update(ipam, &expected)
                .into_iter()
                .rev()
                .skip(10)
                .take(10)
                .collect();
            assert_eq!(
                resp.ips.iter().map(|ip| ip.id).collect::<Vec<_>>(),
                want,
                "{tag}"
            );
            for order_by in [OrderBy::CreatedAtAsc, OrderBy::CreatedAtDesc] {
                let mut got = Vec::new();
                for page in 1.. {
                    let resp = list(
                        ipam,
                        &ListIpsRequest {
                            tags: vec![tag.to_owned()],
                            order_by,
                            page,
                            page_size: 1000,
                            ..ListIpsRequest::default()
                        },
                    );
                    assert_eq!(resp.total_count, expected.len() as u64, "{tag}");
                    if resp.ips.is_empty() {
                        break;
                    }
                    got.extend(resp.ips.iter().map(|ip| ip.id));
                }
                if order_by == OrderBy::CreatedAtDesc {
                    got.reverse();
                }
                assert_eq!(got, expected, "{tag} {order_by:?}");
            }
        }
    };
    let set_tags = |ipam: &mut Ipam, id: IpId, tags: &[&str]| {
        let update = UpdateIpRequest {
            tags: Some(tags.iter().map(|t| (*t).to_owned()).collect()),
            reverses: None,
        };
        ipam.update_ip(REGION, id, update).unwrap();
    };
    check(&ipam, &tagged);
    // Releases thin every tag out: one in three IPs, then one in two of the rest, which makes
    // the engine renumber its records.
    for every in [3, 2] {
        let mut k = 0;
        tagged.retain(|(id, _, _)| {
            k += 1;
            k % every != 0 || {
                ipam.release_ip(REGION, *id).unwrap();
                false
            }
        });
        check(&ipam, &tagged);
    }
    // Drop "one-in-16" from all but one in thirty of its IPs.
    let mut carriers = 0;
    for (id, _, tags) in &mut tagged {
        if tags.contains(&"one-in-16") {
            carriers += 1;
            if carriers % 30 != 0 {
                tags.retain(|t| *t != "one-in-16");
                set_tags(&mut ipam, *id, tags);
            }
        }
    }
    check(&ipam, &tagged);
    // Back up: every other IP left gets "one-in-16" again, then every IP.
    for step in [2, 1] {
        for (k, (id, _, tags)) in tagged.iter_mut().enumerate() {
            if k % step == 0 && !tags.contains(&"one-in-16") {
                tags.push("one-in-16");
                set_tags(&mut ipam, *id, tags);
            }
        }
        check(&ipam, &tagged);
    }
}

/// A clock the test moves by hand: it stands still until told otherwise.
#[derive(Debug, Clone)]
struct HandClock(std::sync::Arc<std::sync::atomic::AtomicI64>);

/// An engine on the clock `micros`, compacted only when asked.
fn hand_clock_engine(micros: &std::sync::Arc<std::sync::atomic::AtomicI64>, seed: u64) -> Ipam {
    Ipam::builder()
        .clock(HandClock(micros.clone()))
        .random(SeededRandom::new(seed))
        .compaction(ipam_engine::Compaction::Manual)
        .build()
}

impl ipam_engine::Clock for HandClock {
    fn now(&mut self) -> DateTime<chrono::Utc> {
        DateTime::from_timestamp_micros(self.now_micros()).unwrap()
    }

    fn now_micros(&mut self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Pages in update order come right however the times tie, through changes, releases, a
/// compaction and a restore: the long run of a clock that stood still (which the engine's
/// update log leaves to the full sort) and short runs of IPs changed in one microsecond at the
/// ends of pages (which it sorts), with no filter, a tag on a third of the IPs and a network.
#[test]
fn update_order_pages_hold_however_times_tie() {
    let micros = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(
        start().timestamp_micros(),
    ));
    let tick = |n: i64| micros.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    let mut ipam = hand_clock_engine(&micros, 17);
    let project = ProjectId::from_uuid(uuid(1));
    let pns = networks_of_20(&mut ipam, project, 2);
    let book = |ipam: &mut Ipam, i: usize| {
        let tags = if i.is_multiple_of(3) {
            vec!["third", "every"]
        } else {
            vec!["every"]
        };
        let request = BookIpRequest::new(project, Source::PrivateNetworkId(pns[i % 2])).tags(tags);
        ipam.book_ip(REGION, request).unwrap().id
    };
    // 2,500 IPs booked while the clock stands still (about 1,560 are left unchanged: more ties
    // than the update log sorts), then 2,500 in runs of one to four.
    let mut ids: Vec<IpId> = (0..2500).map(|i| book(&mut ipam, i)).collect();
    for i in 2500..5000 {
        if i % 4 == 0 || i % 7 == 0 {
            tick(1);
        }
        ids.push(book(&mut ipam, i));
    }
    // Changes: updates of every fifth IP (newest first), attachments of every seventh, in
    // runs of one to three; releases of every eleventh, but the attached.
    for (k, &id) in ids.iter().enumerate().rev().step_by(5) {
        if k % 3 == 0 {
            tick(1);
        }
        let update = UpdateIpRequest {
            tags: Some(if k % 2 == 0 {
                vec!["third".into()]
            } else {
                vec![]
            }),
            reverses: None,
        };
        ipam.update_ip(REGION, id, update).unwrap();
    }
    for (k, &id) in ids.iter().enumerate().step_by(7) {
        tick(i64::from(k % 2 == 0));
        let mac = mac(&format!("02:00:00:00:{:02x}:{:02x}", k >> 8, k & 0xff));
        ipam.attach_ip(REGION, id, CustomResource::new(mac))
            .unwrap();
    }
    // Every seventh IP is attached: those stay.
    for (k, &id) in ids.iter().enumerate().step_by(11) {
        if k % 7 != 0 {
            ipam.release_ip(REGION, id).unwrap();
        }
    }
    check_update_pages(&ipam, pns[1]);
    assert!(ipam.compact(REGION) > 0);
    check_update_pages(&ipam, pns[1]);
    let restored = Ipam::builder()
        .clock(HandClock(micros.clone()))
        .random(SeededRandom::new(17))
        .restore(&ipam.snapshot())
        .unwrap();
    check_update_pages(&restored, pns[1]);
    ipam.check_invariants().unwrap();
}

/// Checks pages of every size at the start, middle and end of both update orders against the
/// IPs sorted by `(updated_at, created_at)` then creation, for each filter.
fn check_update_pages(ipam: &Ipam, pn: PrivateNetworkId) {
    check_time_pages(
        ipam,
        pn,
        [OrderBy::UpdatedAtAsc, OrderBy::UpdatedAtDesc],
        |ip| Some(ip.updated_at.timestamp_micros()),
    );
}

/// Checks pages of every size at the start, middle and end of `orders` (ascending, then
/// descending) against the matches sorted by `time` then creation, those without a time last
/// (by creation in the order's direction), for each filter: none, a tag on a third of the IPs,
/// the network `pn`, a tag on (nearly) every IP and the IPv4 family.
fn check_time_pages(
    ipam: &Ipam,
    pn: PrivateNetworkId,
    orders: [OrderBy; 2],
    time: impl Fn(&Ip) -> Option<i64>,
) {
    let filters = [
        ListIpsRequest::default(),
        ListIpsRequest {
            tags: vec!["third".into()],
            ..ListIpsRequest::default()
        },
        ListIpsRequest {
            private_network_id: Some(pn),
            ..ListIpsRequest::default()
        },
        // Filters that most IPs pass: a tag that IPs are booked with (updates may drop it) and
        // the family. Pages past the matches with a time come off the logs.
        ListIpsRequest {
            tags: vec!["every".into()],
            ..ListIpsRequest::default()
        },
        ListIpsRequest {
            is_ipv6: Some(false),
            ..ListIpsRequest::default()
        },
    ];
    for filter in filters {
        let all = in_creation_order(ipam, &filter);
        let (wants, timed) = keyed_orders(&all, &time);
        for (order_by, want) in orders.into_iter().zip(&wants) {
            for size in [1u32, 7, 100, 1000] {
                let pages = want.len().div_ceil(size as usize) as u32;
                let mut numbers = vec![1, 2, 3, pages / 3, pages / 2, pages - 1, pages, pages + 1];
                // Pages that start in the run of the still clock, and about its end; about the
                // end of the timed matches.
                numbers.extend([800, 1500, 1560, 1600].map(|k| k / size + 1));
                let edge = timed as u32;
                numbers.extend([edge.saturating_sub(3) / size + 1, edge / size + 1]);
                for page in numbers.into_iter().filter(|&p| p >= 1) {
                    check_page(ipam, &filter, order_by, page, size, want);
                }
            }
        }
    }
}

/// Pages in attachment order come right however the times tie, through attachments, moves,
/// detachments, releases, a compaction and a restore: IPs booked attached (which the engine's
/// attach log holds unlogged until the next attachment) while the clock stands still, more
/// than the log sorts, runs of IPs attached in one microsecond, and the unattached IPs after
/// them in both directions; with no filter, a tag on a third of the IPs and a network. The
/// test keeps each IP's attachment time, which the API does not show.
#[test]
fn attach_order_pages_hold_however_times_tie() {
    let micros = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(
        start().timestamp_micros(),
    ));
    let now = || micros.load(std::sync::atomic::Ordering::Relaxed);
    let tick = |n: i64| micros.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    let mut ipam = hand_clock_engine(&micros, 19);
    let project = ProjectId::from_uuid(uuid(1));
    let pns = networks_of_20(&mut ipam, project, 2);
    let nic = |k: usize, moved: bool| {
        CustomResource::new(mac(&format!(
            "02:00:00:{:02x}:{:02x}:{:02x}",
            u8::from(moved),
            k >> 8,
            k & 0xff
        )))
    };
    let mut attached_at = std::collections::HashMap::new();
    // 1,500 IPs booked attached while the clock stands still, then 3,500 in runs of one to
    // four, every other one attached.
    let mut ids = Vec::new();
    for i in 0..5000 {
        if i >= 1500 && (i % 4 == 0 || i % 7 == 0) {
            tick(1);
        }
        let tags = if i % 3 == 0 {
            vec!["third", "every"]
        } else {
            vec!["every"]
        };
        let mut request =
            BookIpRequest::new(project, Source::PrivateNetworkId(pns[i % 2])).tags(tags);
        if i < 1500 || i % 2 == 0 {
            request = request.resource(nic(i, false));
        }
        let id = ipam.book_ip(REGION, request).unwrap().id;
        if i < 1500 || i % 2 == 0 {
            attached_at.insert(id, now());
        }
        ids.push(id);
    }
    let change = |ipam: &mut Ipam, attached_at: &mut std::collections::HashMap<IpId, i64>| {
        // Attachments of the unattached, in runs of one to three; moves of every ninth attached
        // IP and detachments of every thirteenth; releases of every eleventh IP, but the attached.
        for (k, &id) in ids.iter().enumerate().rev() {
            let Ok(ip) = ipam.get_ip(REGION, id) else {
                continue;
            };
            if k % 3 == 0 {
                tick(1);
            }
            match &ip.resource {
                None if k % 2 == 1 => {
                    ipam.attach_ip(REGION, id, nic(k, false)).unwrap();
                    attached_at.insert(id, now());
                }
                Some(r) if k % 9 == 0 => {
                    let from = r.mac_address.unwrap();
                    let to = nic(k, from == nic(k, false).mac_address);
                    let request = ipam_engine::MoveIpRequest {
                        from_resource: CustomResource::new(from),
                        to_resource: Some(to),
                    };
                    ipam.move_ip(REGION, id, request).unwrap();
                    attached_at.insert(id, now());
                }
                Some(r) if k % 13 == 0 => {
                    let on = CustomResource::new(r.mac_address.unwrap());
                    ipam.detach_ip(REGION, id, on).unwrap();
                    attached_at.remove(&id);
                }
                _ => {}
            }
            // Attached IPs cannot be released.
            if k % 11 == 0 && !attached_at.contains_key(&id) {
                ipam.release_ip(REGION, id).unwrap();
            }
        }
    };
    let check = |ipam: &Ipam, attached_at: &std::collections::HashMap<IpId, i64>| {
        ipam.check_invariants().unwrap();
        check_time_pages(
            ipam,
            pns[1],
            [OrderBy::AttachedAtAsc, OrderBy::AttachedAtDesc],
            |ip| attached_at.get(&ip.id).copied(),
        );
    };
    // Pages of the IPs as booked: none of them logged yet.
    check(&ipam, &attached_at);
    change(&mut ipam, &mut attached_at);
    check(&ipam, &attached_at);
    assert!(ipam.compact(REGION) > 0);
    check(&ipam, &attached_at);
    let restored = Ipam::builder()
        .clock(HandClock(micros.clone()))
        .random(SeededRandom::new(19))
        .restore(&ipam.snapshot())
        .unwrap();
    check(&restored, &attached_at);
    // More changes after the compaction, then a second one.
    change(&mut ipam, &mut attached_at);
    check(&ipam, &attached_at);
    assert!(ipam.compact(REGION) > 0);
    check(&ipam, &attached_at);
}

/// Pages of every IP in address order (which the engine reads off the pools, subnet by
/// subnet, skipping whole subnets by their counts) against every IP sorted by family, address
/// and creation: many subnets, some with the same or overlapping blocks in other VPCs (an
/// address then held twice), IPv6 ones, pages of every size that start and end across
/// subnets, and again after releases and a compaction.
#[test]
fn address_order_pages_hold_across_overlapping_subnets() {
    let mut ipam = engine(23);
    let project = ProjectId::from_uuid(uuid(1));
    let other_vpc = ipam
        .create_vpc(REGION, CreateVpcRequest::new(project))
        .unwrap()
        .id;
    let blocks: [(&str, &str, bool); 9] = [
        ("10.0.1.0/24", "fd00:0:0:1::/64", false),
        ("10.0.0.0/24", "fd00:0:0:2::/64", false),
        // Overlapping the two above, in another VPC: one group of three blocks.
        ("10.0.0.0/23", "fd00:0:0:1::/64", true),
        ("192.168.0.0/24", "fd00:0:0:3::/64", false),
        // The same block in the other VPC.
        ("192.168.0.0/24", "fd00:0:0:4::/64", true),
        ("172.16.0.0/26", "fd00:0:0:5::/64", false),
        // A block that reaches past a smaller one it holds, to a third: one group.
        ("10.8.0.0/22", "fd00:0:0:6::/64", true),
        ("10.8.0.128/25", "fd00:0:0:7::/64", false),
        ("10.8.2.0/24", "fd00:0:0:8::/64", false),
    ];
    let pns: Vec<PrivateNetworkId> = blocks
        .iter()
        .map(|&(v4, v6, other)| {
            let mut request = CreatePrivateNetworkRequest::new(project)
                .subnets([v4.parse().unwrap(), v6.parse().unwrap()]);
            if other {
                request = request.vpc(other_vpc);
            }
            ipam.create_private_network(REGION, request).unwrap().id
        })
        .collect();
    let mut ids = Vec::new();
    for round in 0..100 {
        for (k, &pn) in pns.iter().enumerate() {
            let ipv6 = (round + k) % 5 == 0;
            let tags = if (round + k) % 3 == 0 {
                vec!["third"]
            } else {
                vec![]
            };
            let request = BookIpRequest::new(project, Source::PrivateNetworkId(pn))
                .ipv6(ipv6)
                .tags(tags);
            // The small /26 fills up; the rest take turns.
            if let Ok(ip) = ipam.book_ip(REGION, request) {
                ids.push(ip.id);
            }
        }
    }
    // Addresses of the /22 past its /25, among the /24's.
    for a in ["10.8.2.7", "10.8.2.200", "10.8.3.9"] {
        let request =
            BookIpRequest::new(project, Source::PrivateNetworkId(pns[6])).address(addr(a));
        ids.push(ipam.book_ip(REGION, request).unwrap().id);
    }
    // Every fifth IP attached: a filter on attachment leaves some IPs of its subnets out.
    for (k, &id) in ids.iter().enumerate().step_by(5) {
        let mac = mac(&format!("02:00:00:00:{:02x}:{:02x}", k >> 8, k & 0xff));
        ipam.attach_ip(REGION, id, CustomResource::new(mac))
            .unwrap();
    }
    // No filter, filters the subnets answer alone (the IPs of the matching subnets), and
    // others.
    let filters = [
        ListIpsRequest::default(),
        ListIpsRequest {
            vpc_id: Some(other_vpc),
            ..ListIpsRequest::default()
        },
        ListIpsRequest {
            private_network_id: Some(pns[2]),
            ..ListIpsRequest::default()
        },
        ListIpsRequest {
            is_ipv6: Some(true),
            ..ListIpsRequest::default()
        },
        ListIpsRequest {
            is_ipv6: Some(false),
            project_id: Some(project),
            ..ListIpsRequest::default()
        },
        ListIpsRequest {
            vpc_id: Some(other_vpc),
            attached: Some(false),
            ..ListIpsRequest::default()
        },
        // Filters that leave some IPs of the subnets: the pools' IPs are tested against them.
        ListIpsRequest {
            tags: vec!["third".into()],
            ..ListIpsRequest::default()
        },
        ListIpsRequest {
            tags: vec!["third".into()],
            vpc_id: Some(other_vpc),
            ..ListIpsRequest::default()
        },
        ListIpsRequest {
            attached: Some(true),
            private_network_id: Some(pns[6]),
            ..ListIpsRequest::default()
        },
    ];
    let check = |ipam: &Ipam| {
        ipam.check_invariants().unwrap();
        for filter in &filters {
            check_address_pages(ipam, filter);
        }
    };
    check(&ipam);
    for (k, &id) in ids.iter().enumerate() {
        if k % 3 != 1 && k % 5 != 0 {
            ipam.release_ip(REGION, id).unwrap();
        }
    }
    check(&ipam);
    assert!(ipam.compact(REGION) > 0);
    check(&ipam);
}

/// Checks pages of every size in both address orders of the matches of `filter` against them
/// sorted by family, address and creation.
fn check_address_pages(ipam: &Ipam, filter: &ListIpsRequest) {
    let all = in_creation_order(ipam, filter);
    let (wants, _) = keyed_orders(&all, |ip| Some((ip.is_ipv6, ip.address.addr())));
    let orders = [OrderBy::IpAddressAsc, OrderBy::IpAddressDesc];
    check_every_page(ipam, filter, orders, &wants);
}

/// The matches `all` (in creation order) in the two directions of an order by `key`, and how
/// many have a key: ascending, those with one sorted by it (ties by creation), then those
/// without, by creation; descending, each part the other way round.
fn keyed_orders<K: Ord>(all: &[Ip], key: impl Fn(&Ip) -> Option<K>) -> ([Vec<IpId>; 2], usize) {
    let mut keyed: Vec<(K, usize, IpId)> = Vec::new();
    let mut keyless: Vec<IpId> = Vec::new();
    for (rank, ip) in all.iter().enumerate() {
        match key(ip) {
            Some(k) => keyed.push((k, rank, ip.id)),
            None => keyless.push(ip.id),
        }
    }
    keyed.sort();
    let ascending = keyed.iter().map(|k| k.2).chain(keyless.iter().copied());
    let descending = keyed
        .iter()
        .rev()
        .map(|k| k.2)
        .chain(keyless.iter().rev().copied());
    ([ascending.collect(), descending.collect()], keyed.len())
}

/// Checks the pages of `filter` in `orders` (ascending, then descending) against `wants`, every
/// match in each: of 1, 7, 100 and 1,000 IPs, one small page in 13, and the page past the end.
fn check_every_page(
    ipam: &Ipam,
    filter: &ListIpsRequest,
    orders: [OrderBy; 2],
    wants: &[Vec<IpId>; 2],
) {
    for (order_by, want) in orders.into_iter().zip(wants) {
        for size in [1u32, 7, 100, 1000] {
            let pages = want.len().div_ceil(size as usize) as u32;
            for page in (1..=pages + 1).step_by(if size < 100 { 13 } else { 1 }) {
                check_page(ipam, filter, order_by, page, size, want);
            }
        }
    }
}

/// Every match of `filter`, in creation order, page by page.
fn in_creation_order(ipam: &Ipam, filter: &ListIpsRequest) -> Vec<Ip> {
    let mut all = Vec::new();
    for page in 1.. {
        let resp = list(
            ipam,
            &ListIpsRequest {
                order_by: OrderBy::CreatedAtAsc,
                page,
                page_size: 1000,
                ..filter.clone()
            },
        );
        if resp.ips.is_empty() {
            break;
        }
        all.extend(resp.ips);
    }
    all
}

/// Checks page `page` of `size` of the matches of `filter` in `order_by` against `want`, every
/// match in that order.
fn check_page(
    ipam: &Ipam,
    filter: &ListIpsRequest,
    order_by: OrderBy,
    page: u32,
    size: u32,
    want: &[IpId],
) {
    let resp = list(
        ipam,
        &ListIpsRequest {
            order_by,
            page,
            page_size: size,
            ..filter.clone()
        },
    );
    assert_eq!(resp.total_count, want.len() as u64);
    let from = ((page - 1) * size) as usize;
    let expected: Vec<IpId> = want
        .iter()
        .skip(from)
        .take(size as usize)
        .copied()
        .collect();
    let got: Vec<IpId> = resp.ips.iter().map(|ip| ip.id).collect();
    let differ = got.iter().zip(&expected).position(|(a, b)| a != b);
    assert!(
        got.len() == expected.len() && differ.is_none(),
        "{order_by} page {page} of {size}, {filter:?}: {} IPs for {}, first wrong at {differ:?}",
        got.len(),
        expected.len()
    );
}

/// Pages in MAC order come right over many IPs: MACs in no relation to creation order, some
/// shared by two IPs (a tie, broken by creation in the order's direction), and IPs with no MAC
/// after them in both directions; with no filter (read off the MAC map) and with filters, after
/// detachments, moves, releases and a compaction, and once an IP is attached to a resource
/// with no MAC (read off the records then).
#[test]
fn mac_order_pages_hold_with_shared_macs_and_ips_without_one() {
    let mut ipam = Ipam::builder()
        .clock(ManualClock::new(start(), TimeDelta::microseconds(1)))
        .random(SeededRandom::new(23))
        .compaction(ipam_engine::Compaction::Manual)
        .build();
    let project = ProjectId::from_uuid(uuid(1));
    let pns = networks_of_20(&mut ipam, project, 2);
    // A bijection of `k`: distinct MACs, in an order unrelated to `k`.
    let scrambled = |k: u32| {
        let b = k.wrapping_mul(2_654_435_761).to_be_bytes();
        MacAddress::new([0x02, 0, b[0], b[1], b[2], b[3]])
    };
    let mut ids = Vec::new();
    for k in 0..3000u32 {
        let pn = pns[k as usize % 2];
        let request = BookIpRequest::new(project, Source::PrivateNetworkId(pn));
        let id = ipam.book_ip(REGION, request).unwrap().id;
        ids.push(id);
        if k % 7 != 0 {
            // Every fifth IP shares the MAC of the one before it.
            let mac = if k % 5 == 0 {
                scrambled(k - 1)
            } else {
                scrambled(k)
            };
            ipam.attach_ip(REGION, id, CustomResource::new(mac))
                .unwrap();
        }
    }
    let filters = [
        ListIpsRequest::default(),
        ListIpsRequest {
            private_network_id: Some(pns[1]),
            ..ListIpsRequest::default()
        },
        ListIpsRequest {
            attached: Some(true),
            ..ListIpsRequest::default()
        },
    ];
    let check = |ipam: &Ipam| {
        ipam.check_invariants().unwrap();
        for filter in &filters {
            check_mac_pages(ipam, filter);
        }
    };
    check(&ipam);
    for (k, &id) in ids.iter().enumerate() {
        let k32 = u32::try_from(k).unwrap();
        let Some(mac) = mac_of_ip(&ipam, id) else {
            continue;
        };
        match k % 11 {
            0 => {
                ipam.detach_ip(REGION, id, CustomResource::new(mac))
                    .unwrap();
            }
            1 => {
                let request = ipam_engine::MoveIpRequest {
                    from_resource: CustomResource::new(mac),
                    to_resource: Some(CustomResource::new(scrambled(k32 + 5000))),
                };
                ipam.move_ip(REGION, id, request).unwrap();
            }
            2 => {
                ipam.detach_ip(REGION, id, CustomResource::new(mac))
                    .unwrap();
                ipam.release_ip(REGION, id).unwrap();
            }
            _ => {}
        }
    }
    check(&ipam);
    assert!(ipam.compact(REGION) > 0);
    check(&ipam);
    // An IP attached to a resource with no MAC: no key, as the IPs without attachment.
    let bare = ids[7];
    let service = ServiceResource::new(ResourceType::LbServer, ResourceId::from_uuid(uuid(0x77)));
    ipam.attach_resource(REGION, bare, service).unwrap();
    check(&ipam);
}

/// Checks pages of every size in both MAC orders of the matches of `filter` against them
/// sorted by MAC and creation, the IPs without a MAC last, in creation order in the order's
/// direction.
fn check_mac_pages(ipam: &Ipam, filter: &ListIpsRequest) {
    let all = in_creation_order(ipam, filter);
    let mac = |ip: &Ip| Some(ip.resource.as_ref()?.mac_address?.octets());
    let (wants, with_mac) = keyed_orders(&all, mac);
    // Both parts, unless the filter keeps only attached IPs.
    assert!(with_mac > 0);
    assert!(with_mac < all.len() || filter.attached == Some(true));
    let orders = [OrderBy::MacAddressAsc, OrderBy::MacAddressDesc];
    check_every_page(ipam, filter, orders, &wants);
}

/// Lists in MAC address order, over more IPs than one block of the engine's MAC order holds:
/// with no filter, with a tag on most IPs (walked in MAC order), on a few (sorted) and with a
/// network, in both directions, at pages before, across and after the boundary between the IPs
/// with a MAC address and those without (unattached, or attached to a resource without one),
/// before and after detaches, moves, releases and a compaction renumber the IPs; the same
/// answers whether the engine keeps the MAC order index or not.
#[test]
fn mac_order_pages_hold_over_many_ips() {
    for keep in [true, false] {
        mac_order_pages(keep);
    }
}

fn mac_order_pages(keep_mac_order: bool) {
    let mut ipam = Ipam::builder()
        .clock(ManualClock::new(start(), TimeDelta::microseconds(1)))
        .random(SeededRandom::new(5))
        .compaction(ipam_engine::Compaction::Manual)
        .mac_order_index(keep_mac_order)
        .build();
    let project = ProjectId::from_uuid(uuid(1));
    let pns = networks_of_20(&mut ipam, project, 3);
    let mac_of = |k: usize| {
        // 1,700 addresses for 4,000 attached IPs, out of creation order: shared ones too.
        let b = ((k * 7919) % 1700) as u32;
        MacAddress::new([0x02, 0, 0, 0, (b >> 8) as u8, b as u8])
    };
    // In creation order.
    let mut ips: Vec<IpId> = Vec::new();
    for k in 0..6000 {
        let mut request = BookIpRequest::new(project, Source::PrivateNetworkId(pns[k % 3])).tags(
            if k % 10 == 0 {
                vec!["few"]
            } else {
                vec!["most"]
            },
        );
        let id = match k % 3 {
            0 => ipam.book_ip(REGION, request).unwrap().id,
            _ if k % 50 == 1 => {
                let service = ServiceResource::new(
                    ResourceType::InstancePrivateNic,
                    ResourceId::from_uuid(uuid(1000 + k as u128)),
                );
                ipam.book_ip_for_resource(REGION, request, service)
                    .unwrap()
                    .id
            }
            _ => {
                request = request.resource(CustomResource::new(mac_of(k)));
                ipam.book_ip(REGION, request).unwrap().id
            }
        };
        ips.push(id);
    }
    let check = |ipam: &Ipam, ips: &[IpId]| {
        ipam.check_invariants().unwrap();
        // (no MAC address, its bytes, creation) of each IP, ascending.
        let mut keyed: Vec<(bool, [u8; 6], usize, IpId)> = ips
            .iter()
            .enumerate()
            .map(|(k, id)| {
                let mac = mac_of_ip(ipam, *id);
                (mac.is_none(), mac.map_or([0; 6], |m| m.octets()), k, *id)
            })
            .collect();
        keyed.sort_unstable();
        let with_mac = keyed.iter().filter(|k| !k.0).count();
        let tags_of = |id: IpId| {
            ipam.get_ip(REGION, id)
                .unwrap()
                .tags
                .iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let filters = [
            ("none", ListIpsRequest::default()),
            (
                "most",
                ListIpsRequest {
                    tags: vec!["most".to_owned()],
                    ..ListIpsRequest::default()
                },
            ),
            (
                "few",
                ListIpsRequest {
                    tags: vec!["few".to_owned()],
                    ..ListIpsRequest::default()
                },
            ),
            (
                "network",
                ListIpsRequest {
                    private_network_id: Some(pns[1]),
                    ..ListIpsRequest::default()
                },
            ),
        ];
        for (name, filter) in &filters {
            let matching: Vec<IpId> = keyed
                .iter()
                .map(|k| k.3)
                .filter(|&id| match *name {
                    "none" => true,
                    "network" => ipam.ip(REGION, id).unwrap().private_network_id() == pns[1],
                    tag => tags_of(id).iter().any(|t| t == tag),
                })
                .collect();
            let boundary = keyed
                .iter()
                .filter(|k| !k.0 && matching.contains(&k.3))
                .count();
            for desc in [false, true] {
                // Descending: the keys reversed, then those without, newest first.
                let want_all: Vec<IpId> = if desc {
                    let mut w: Vec<IpId> = matching[..boundary].iter().rev().copied().collect();
                    w.extend(matching[boundary..].iter().rev());
                    w
                } else {
                    matching.clone()
                };
                let order_by = if desc {
                    OrderBy::MacAddressDesc
                } else {
                    OrderBy::MacAddressAsc
                };
                for (page_size, page) in [
                    (100, 1),
                    (7, 3),
                    (50, boundary / 50),
                    (50, boundary / 50 + 1),
                    (50, boundary / 50 + 2),
                    (1000, 2),
                    (1000, matching.len() / 1000 + 1),
                    (10, matching.len() / 10 + 2),
                ] {
                    let page = page.max(1);
                    let request = ListIpsRequest {
                        order_by,
                        page: page as u32,
                        page_size: page_size as u32,
                        ..filter.clone()
                    };
                    let resp = list(ipam, &request);
                    assert_eq!(resp.total_count, matching.len() as u64, "{name}");
                    let want: Vec<IpId> = want_all
                        .iter()
                        .skip((page - 1) * page_size)
                        .take(page_size)
                        .copied()
                        .collect();
                    let got: Vec<IpId> = resp.ips.iter().map(|ip| ip.id).collect();
                    assert_eq!(got, want, "{name} {order_by:?} page {page} of {page_size}");
                }
            }
        }
        with_mac
    };
    let with_mac = check(&ipam, &ips);
    assert!(
        (3500..4000).contains(&with_mac),
        "{with_mac} with a MAC address"
    );
    // A snapshot restored into an engine that keeps the index or not lists the same.
    let restored = Ipam::builder()
        .mac_order_index(keep_mac_order)
        .restore(&ipam.snapshot())
        .unwrap();
    assert_eq!(check(&restored, &ips), with_mac);

    // Detach some, move others to new addresses, release one in seven.
    for (k, &id) in ips.iter().enumerate() {
        let Some(mac) = mac_of_ip(&ipam, id) else {
            continue;
        };
        if k % 5 == 0 {
            ipam.detach_ip(REGION, id, CustomResource::new(mac))
                .unwrap();
        } else if k % 5 == 1 {
            let request = ipam_engine::MoveIpRequest {
                from_resource: CustomResource::new(mac),
                to_resource: Some(CustomResource::new(mac_of(k * 3 + 1))),
            };
            ipam.move_ip(REGION, id, request).unwrap();
        }
    }
    let mut kept = Vec::new();
    for (k, &id) in ips.iter().enumerate() {
        if k % 7 == 3 && ipam.get_ip(REGION, id).unwrap().resource.is_none() {
            ipam.release_ip(REGION, id).unwrap();
        } else {
            kept.push(id);
        }
    }
    check(&ipam, &kept);
    assert!(ipam.compact(REGION) > 0);
    check(&ipam, &kept);
}
