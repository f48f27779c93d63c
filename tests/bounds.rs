//! Resource bounds: no request can make the engine allocate without bound or loop without bound.
//! Each bound is a documented limit ([`Limits`], the REST handler's size constants) and breaching
//! it is a clear error that changes nothing.

mod common;

use ipam_engine::rest::{handle, Request, MAX_BODY_BYTES, MAX_QUERY_BYTES};
use ipam_engine::{
    CreatePrivateNetworkRequest, Error, Ipam, Limits, ListIpsRequest, ProjectId, Region,
};
use ipnet::IpNet;
use serde_json::Value;

const REGION: Region = Region::FrPar;

fn project() -> ProjectId {
    "564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5".parse().unwrap()
}

fn snapshot(ipam: &Ipam) -> String {
    serde_json::to_string(&ipam.snapshot()).unwrap()
}

#[test]
fn pools_are_never_larger_than_the_limits_allow() {
    let mut ipam = common::engine(1);
    let before = snapshot(&ipam);
    for subnet in [
        "0.0.0.0/0",
        "10.0.0.0/1",
        "10.0.0.0/8",
        "10.0.0.0/19",
        "10.0.0.0/29",
        "10.0.0.0/32",
        "::/0",
        "fd00::/8",
        "fd00::/48",
        "fd00::/63",
        "fd00::/65",
        "fd00::1/128",
    ] {
        let net: IpNet = subnet.parse().unwrap();
        let err = ipam
            .create_private_network(
                REGION,
                CreatePrivateNetworkRequest::new(project()).subnets([net]),
            )
            .unwrap_err();
        assert!(
            matches!(err, Error::SubnetNotAllowed { subnet, .. } if subnet == net),
            "{subnet}: {err:?}"
        );
        assert_eq!(snapshot(&ipam), before, "{subnet}");
    }
}

#[test]
fn a_wider_ipv4_limit_is_honoured_and_still_bounded() {
    // An embedding service may allow /12 pools; an empty one costs a few words whatever its size.
    let mut limits = Limits::default();
    limits.min_ipv4_prefix = 12;
    let mut ipam = Ipam::builder().limits(limits).build();
    let pn = ipam
        .create_private_network(
            REGION,
            CreatePrivateNetworkRequest::new(project()).subnets(["10.0.0.0/12".parse().unwrap()]),
        )
        .unwrap();
    assert_eq!(pn.subnets[0].subnet.to_string(), "10.0.0.0/12");
    assert!(ipam
        .create_private_network(
            REGION,
            CreatePrivateNetworkRequest::new(project()).subnets(["11.0.0.0/11".parse().unwrap()]),
        )
        .is_err());
}

#[test]
fn huge_pages_and_page_sizes_are_answered_without_work_or_refused() {
    let ipam = common::engine(2);
    let far = ipam
        .list_ips(
            REGION,
            &ListIpsRequest {
                page: u32::MAX,
                page_size: 1000,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(far.ips.is_empty());
    for page_size in [0, 1001, u32::MAX] {
        let err = ipam
            .list_ips(
                REGION,
                &ListIpsRequest {
                    page_size,
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument { argument, .. } if argument == "page_size"),
            "{err:?}"
        );
    }
}

fn rest(ipam: &mut Ipam, method: &str, target: &str, body: &[u8]) -> (u16, Value) {
    let r = handle(ipam, &Request::new(method, target).body(body));
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

#[test]
fn hostile_rest_requests_get_clear_errors_and_change_nothing() {
    let mut ipam = common::engine(3);
    let before = snapshot(&ipam);
    let ips = "/ipam/v1/regions/fr-par/ips";
    let cases: Vec<(&str, String, Vec<u8>, u16)> = vec![
        ("GET", format!("{ips}?page=4294967296"), vec![], 400),
        ("GET", format!("{ips}?page=-1"), vec![], 400),
        (
            "GET",
            format!("{ips}?page_size=99999999999999999999"),
            vec![],
            400,
        ),
        (
            "GET",
            format!("{ips}?page=1&{}", "tags=a&".repeat(MAX_QUERY_BYTES / 7)),
            vec![],
            400,
        ),
        (
            "GET",
            format!("{ips}?tags={}", "a".repeat(200)),
            vec![],
            200,
        ),
        ("POST", ips.to_owned(), vec![b'['; 100_000], 400),
        (
            "POST",
            ips.to_owned(),
            format!("{{\"tags\":[{}]}}", "\"x\",".repeat(100_000)).into_bytes(),
            400,
        ),
        ("POST", ips.to_owned(), vec![b' '; MAX_BODY_BYTES + 1], 413),
        (
            "POST",
            "/vpc/v2/regions/fr-par/private-networks".to_owned(),
            format!(
                "{{\"project_id\":\"{}\",\"subnets\":[\"0.0.0.0/0\"]}}",
                project()
            )
            .into_bytes(),
            400,
        ),
        (
            "POST",
            "/vpc/v2/regions/fr-par/private-networks".to_owned(),
            format!(
                "{{\"project_id\":\"{}\",\"subnets\":[\"fd00::/32\"]}}",
                project()
            )
            .into_bytes(),
            400,
        ),
    ];
    for (method, target, body, status) in cases {
        let (got, v) = rest(&mut ipam, method, &target, &body);
        let shown: String = target.chars().take(80).collect();
        assert_eq!(got, status, "{method} {shown}: {v}");
        if status != 200 {
            assert!(v["message"].is_string(), "{method} {shown}: {v}");
        }
        assert_eq!(snapshot(&ipam), before, "{method} {shown}");
    }
}
