//! The `json` target: raw bytes into every JSON type's deserializer (requests, responses, the
//! objects inside them, the API error), the text parsers (MAC addresses, ids, regions, resource
//! types, orders, CIDRs and addresses) and the REST layer's own request parsers (every body
//! endpoint's fields, every list's query string, path ids and regions), with no engine behind
//! them. Shared by the fuzz target and the corpus replay test (`#[path]` includes).
//!
//! Nothing may panic; whatever parses prints in canonical form and parses back to the same value;
//! whatever the REST layer refuses gets a JSON error body.

use std::fmt::Debug;
use std::net::IpAddr;
use std::str::FromStr;

use ipam_engine::rest::{Call, Request, Response};
use ipam_engine::{
    ApiError, ArgumentDetail, BookIpRequest, CreatePrivateNetworkRequest, CreateVpcRequest,
    CustomResource, Error, Ip, IpId, ListIpsResponse, ListPrivateNetworksResponse,
    ListVpcsResponse, MacAddress, MoveIpRequest, OrderBy, OrganizationId, PrivateNetwork,
    PrivateNetworkId, ProjectId, Region, Resource, ResourceId, ResourceType, Reverse,
    ServiceResource, Source, Subnet, SubnetId, UpdateIpRequest, Vpc, VpcId,
};
use ipnet::IpNet;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Runs the input through every parser; panics on the first broken property.
pub(crate) fn check(data: &[u8]) {
    roundtrip::<BookIpRequest>(data);
    roundtrip::<UpdateIpRequest>(data);
    roundtrip::<MoveIpRequest>(data);
    roundtrip::<CustomResource>(data);
    roundtrip::<ServiceResource>(data);
    roundtrip::<CreatePrivateNetworkRequest>(data);
    roundtrip::<CreateVpcRequest>(data);
    roundtrip::<Ip>(data);
    roundtrip::<Resource>(data);
    roundtrip::<Reverse>(data);
    roundtrip::<Source>(data);
    roundtrip::<ListIpsResponse>(data);
    roundtrip::<Vpc>(data);
    roundtrip::<PrivateNetwork>(data);
    roundtrip::<Subnet>(data);
    roundtrip::<ListVpcsResponse>(data);
    roundtrip::<ListPrivateNetworksResponse>(data);
    roundtrip::<ApiError>(data);
    roundtrip::<ArgumentDetail>(data);
    roundtrip::<MacAddress>(data);
    roundtrip::<Region>(data);
    roundtrip::<ResourceType>(data);
    roundtrip::<OrderBy>(data);
    roundtrip::<IpId>(data);
    roundtrip::<IpNet>(data);
    rest_bodies(data);
    if let Ok(text) = std::str::from_utf8(data) {
        text_parsers(text);
        rest_text(text);
    }
}

/// Whatever parses serializes back to something that parses to the same value.
fn roundtrip<T>(data: &[u8])
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    if let Ok(v) = serde_json::from_slice::<T>(data) {
        let text = serde_json::to_string(&v).expect("serializable");
        let back: T = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "{}: {v:?} prints as {text}, which does not parse: {e}",
                std::any::type_name::<T>()
            )
        });
        assert_eq!(
            back,
            v,
            "{}: {text} does not parse back to the value it came from",
            std::any::type_name::<T>()
        );
    }
}

/// A text form that parses prints canonically and parses back to the same value.
fn text_roundtrip<T>(text: &str) -> Option<T>
where
    T: FromStr + ToString + PartialEq + Debug,
    T::Err: Debug,
{
    let v = text.parse::<T>().ok()?;
    let printed = v.to_string();
    let back = printed.parse::<T>().unwrap_or_else(|e| {
        panic!(
            "{}: {text:?} prints as {printed:?}, which does not parse: {e:?}",
            std::any::type_name::<T>()
        )
    });
    assert_eq!(back, v, "{}: {text:?}", std::any::type_name::<T>());
    Some(v)
}

fn id<T>(text: &str)
where
    T: FromStr<Err = Error> + ToString + PartialEq + Debug,
{
    match text_roundtrip::<T>(text) {
        Some(v) => {
            let printed = v.to_string();
            assert!(
                printed.len() == 36
                    && printed
                        .bytes()
                        .all(|c| c == b'-' || c.is_ascii_digit() || c.is_ascii_lowercase()),
                "{}: {text:?} prints as {printed:?}",
                std::any::type_name::<T>()
            );
        }
        None => refused(&text.parse::<T>().expect_err("refused")),
    }
}

fn enumeration<T>(text: &str, as_str: impl Fn(&T) -> &'static str)
where
    T: FromStr<Err = Error> + ToString + PartialEq + Debug,
{
    match text_roundtrip::<T>(text) {
        Some(v) => assert_eq!(as_str(&v), text, "{}", std::any::type_name::<T>()),
        None => refused(&text.parse::<T>().expect_err("refused")),
    }
}

/// A parser's error maps to an API error with a message.
fn refused(e: &Error) {
    let api = e.to_api_error();
    assert!(
        (400..500).contains(&api.status) && !api.message.is_empty(),
        "{e:?} maps to {api:?}"
    );
    assert!(!e.to_string().is_empty(), "{e:?} has no message");
}

fn text_parsers(text: &str) {
    match text_roundtrip::<MacAddress>(text) {
        // Six hex pairs with one separator, `:` or `-`, in any case: upper case with `:` out.
        Some(mac) => assert_eq!(
            mac.to_string(),
            text.to_ascii_uppercase().replace('-', ":"),
            "MAC {text:?}"
        ),
        None => refused(&text.parse::<MacAddress>().expect_err("refused")),
    }
    id::<IpId>(text);
    id::<PrivateNetworkId>(text);
    id::<SubnetId>(text);
    id::<VpcId>(text);
    id::<ProjectId>(text);
    id::<OrganizationId>(text);
    id::<ResourceId>(text);
    enumeration::<Region>(text, Region::as_str);
    enumeration::<ResourceType>(text, ResourceType::as_str);
    enumeration::<OrderBy>(text, OrderBy::as_str);
    text_roundtrip::<IpNet>(text);
    text_roundtrip::<IpAddr>(text);
}

const NIL: &str = "00000000-0000-0000-0000-000000000000";

/// The endpoints that read a body, by method and path.
const BODY_ENDPOINTS: [(&str, &str); 8] = [
    ("POST", "/ipam/v1/regions/fr-par/ips"),
    (
        "PATCH",
        "/ipam/v1/regions/fr-par/ips/00000000-0000-0000-0000-000000000000",
    ),
    (
        "POST",
        "/ipam/v1/regions/fr-par/ips/00000000-0000-0000-0000-000000000000/attach",
    ),
    (
        "POST",
        "/ipam/v1/regions/fr-par/ips/00000000-0000-0000-0000-000000000000/detach",
    ),
    (
        "POST",
        "/ipam/v1/regions/fr-par/ips/00000000-0000-0000-0000-000000000000/move",
    ),
    ("POST", "/ipam/v1/regions/fr-par/ip-sets/release"),
    ("POST", "/vpc/v2/regions/fr-par/vpcs"),
    ("POST", "/vpc/v2/regions/fr-par/private-networks"),
];

/// The endpoints that read a query string.
const LIST_PATHS: [&str; 3] = [
    "/ipam/v1/regions/fr-par/ips",
    "/vpc/v2/regions/fr-par/vpcs",
    "/vpc/v2/regions/fr-par/private-networks",
];

/// The REST layer either accepts a request or answers it with a JSON error.
fn parse(request: &Request<'_>) {
    if let Err(r) = Call::parse(request) {
        check_refusal(&r, request);
    }
}

fn check_refusal(r: &Response, request: &Request<'_>) {
    assert!(
        (400..500).contains(&r.status),
        "{request:?}: refused with {}",
        r.status
    );
    assert_eq!(r.content_type(), Some("application/json"), "{request:?}");
    let api: ApiError = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{request:?}: the error body is not the envelope ({e})"));
    assert!(!api.error_type.is_empty(), "{request:?}: no error type");
}

fn rest_bodies(data: &[u8]) {
    for (method, path) in BODY_ENDPOINTS {
        parse(&Request::new(method, path).body(data));
    }
}

fn rest_text(text: &str) {
    for path in LIST_PATHS {
        parse(&Request::new("GET", path).query(text));
    }
    let ip = format!("/ipam/v1/regions/fr-par/ips/{text}");
    let region = format!("/ipam/v1/regions/{text}/ips/{NIL}");
    let pn = format!("/vpc/v2/regions/fr-par/private-networks/{text}");
    for path in [text, &ip, &region, &pn] {
        parse(&Request {
            method: "GET",
            path,
            query: "",
            body: &[],
        });
    }
    parse(&Request {
        method: text,
        path: "/ipam/v1/regions/fr-par/ips",
        query: "",
        body: &[],
    });
}
