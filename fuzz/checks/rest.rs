//! The `rest` target: the fuzz input is a sequence of HTTP requests, raw or made from templates of
//! valid requests and then mutated, run through [`ipam_engine::rest::handle`] against one engine
//! whose state builds up. Shared by the fuzz target and the corpus replay test (`#[path]`
//! includes).
//!
//! After every request: no panic; the answer is a JSON body with `Content-Type:
//! application/json` (or the empty body of a 204 from a release or a deletion); an error body is
//! the API's envelope with the `type` of its status; a success body decodes into the operation's
//! response type and encodes back to the same JSON, and the object it returns is the one the
//! engine now holds; the engine's invariants hold; and an error response, or any read-only call,
//! leaves the whole state (every VPC, Private Network and IP of every region, through the public
//! list calls) exactly as it was.
//!
//! # Input format
//!
//! Requests follow each other until the input runs out (at most [`MAX_REQUESTS`]). Each starts
//! with a mode byte:
//! - `mode % 4 == 0`, raw: a method byte (index into [`METHODS`]), a shape byte (even: one of
//!   [`ENDPOINTS`] with its ids filled in, odd: nothing), then three chunks (a length byte and
//!   that many bytes): appended to the path, the query string, the body.
//! - otherwise, templated: a byte picks one of [`TEMPLATES`], one byte per `$placeholder` in it
//!   picks a live id (or a region, Project, MAC), then a byte gives zero to three mutations
//!   (JSON values replaced or removed, bytes spliced, path segments replaced, query pairs added,
//!   the method changed, path, query or body grown to their size limit).
//!
//! Ids come from the answers seen so far, so deleted objects and ids of the wrong kind are used
//! too.

#[allow(dead_code)]
#[path = "bytes.rs"]
mod bytes;
#[path = "splices.rs"]
mod splices;

use splices::SPLICES;

use std::fmt::Debug;

use bytes::Bytes;
use chrono::{DateTime, TimeDelta};
use ipam_engine::rest::{handle, Call, Request, MAX_BODY_BYTES, MAX_PATH_BYTES, MAX_QUERY_BYTES};
use ipam_engine::{
    ApiError, Ip, Ipam, ListIpsRequest, ListIpsResponse, ListPrivateNetworksRequest,
    ListPrivateNetworksResponse, ListVpcsRequest, ListVpcsResponse, ManualClock, OrderBy,
    PrivateNetwork, Region, SeededRandom, Vpc,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Most requests decoded from one input.
pub(crate) const MAX_REQUESTS: usize = 64;

const PROJECTS: [&str; 3] = [
    "564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5",
    "a8e3e5b4-6c2f-4e22-9d4e-7e2e4c0a1f11",
    // Unknown to the engine until something is created with it.
    "7d0c2e3a-1b4f-4c5d-8e6f-9a0b1c2d3e4f",
];
const NIL: &str = "00000000-0000-0000-0000-000000000000";
const MACS: [&str; 5] = [
    "bc:24:11:74:d0:5a",
    "BC-24-11-74-D0-5B",
    "02:00:00:00:00:01",
    "bc:24:11:74:D0:5A",
    "bc:24:11:74:d0",
];
const REGIONS: [&str; 8] = [
    "fr-par", "fr-par", "fr-par", "fr-par", "nl-ams", "pl-waw", "it-mil", "fr-pa",
];

/// Methods, including ones no endpoint allows.
pub(crate) const METHODS: [&str; 9] = [
    "GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "", "get", "\0",
];

/// Every endpoint's path, with placeholders.
pub(crate) const ENDPOINTS: [&str; 11] = [
    "/ipam/v1/regions/$region/ips",
    "/ipam/v1/regions/$region/ips/$ip",
    "/ipam/v1/regions/$region/ips/$ip/attach",
    "/ipam/v1/regions/$region/ips/$ip/detach",
    "/ipam/v1/regions/$region/ips/$ip/move",
    "/ipam/v1/regions/$region/ip-sets/release",
    "/vpc/v2/regions/$region/vpcs",
    "/vpc/v2/regions/$region/vpcs/$vpc",
    "/vpc/v2/regions/$region/private-networks",
    "/vpc/v2/regions/$region/private-networks/$pn",
    "/healthz",
];

/// Valid requests (method, path and query, body) with placeholders: `$region`, `$ip`, `$pn`,
/// `$subnet`, `$vpc`, `$project`, `$mac`, and `$id` (an id of any kind).
pub(crate) const TEMPLATES: [(&str, &str, &str); 24] = [
    ("POST", "/ipam/v1/regions/$region/ips", r#"{"project_id":"$project","source":{"private_network_id":"$pn"},"is_ipv6":false,"tags":["a","b"]}"#),
    ("POST", "/ipam/v1/regions/$region/ips", r#"{"project_id":"$project","source":{"subnet_id":"$subnet"},"address":"172.16.32.9"}"#),
    ("POST", "/ipam/v1/regions/$region/ips", r#"{"project_id":"$project","source":{"private_network_id":"$pn"},"is_ipv6":true,"resource":{"mac_address":"$mac","name":"n"}}"#),
    ("GET", "/ipam/v1/regions/$region/ips/$ip", ""),
    ("PATCH", "/ipam/v1/regions/$region/ips/$ip", r#"{"tags":["x"],"reverses":[{"hostname":"a.example.com","address":"172.16.32.5"}]}"#),
    ("DELETE", "/ipam/v1/regions/$region/ips/$ip", ""),
    ("POST", "/ipam/v1/regions/$region/ip-sets/release", r#"{"ip_ids":["$ip","$ip"]}"#),
    ("POST", "/ipam/v1/regions/$region/ips/$ip/attach", r#"{"resource":{"mac_address":"$mac","name":null}}"#),
    ("POST", "/ipam/v1/regions/$region/ips/$ip/detach", r#"{"resource":{"mac_address":"$mac"}}"#),
    ("POST", "/ipam/v1/regions/$region/ips/$ip/move", r#"{"from_resource":{"mac_address":"$mac"},"to_resource":{"mac_address":"$mac","name":"m"}}"#),
    ("POST", "/ipam/v1/regions/$region/ips/$ip/move", r#"{"from_resource":{"mac_address":"$mac"}}"#),
    ("GET", "/ipam/v1/regions/$region/ips?order_by=ip_address_asc&page=1&page_size=5&tags=a&tags=x&is_ipv6=False&attached=true&private_network_id=$pn&mac_address=$mac&resource_name=n", ""),
    ("GET", "/ipam/v1/regions/$region/ips?order_by=attached_at_desc&project_id=$project&vpc_id=$vpc&subnet_id=$subnet&resource_type=custom&resource_types=unknown_type&ip_ids=$ip&resource_id=$ip", ""),
    ("POST", "/vpc/v2/regions/$region/private-networks", r#"{"project_id":"$project","name":"p","tags":["t"],"subnets":["172.16.64.0/28","fd00:1:2:3::/64"],"vpc_id":"$vpc"}"#),
    ("POST", "/vpc/v2/regions/$region/private-networks", r#"{"project_id":"$project"}"#),
    ("GET", "/vpc/v2/regions/$region/private-networks/$pn", ""),
    ("DELETE", "/vpc/v2/regions/$region/private-networks/$pn", ""),
    ("GET", "/vpc/v2/regions/$region/private-networks?page=1&page_size=3&project_id=$project&vpc_id=$vpc", ""),
    ("POST", "/vpc/v2/regions/$region/vpcs", r#"{"project_id":"$project","name":"v","tags":["t"],"enable_routing":true}"#),
    ("GET", "/vpc/v2/regions/$region/vpcs?is_default=true&project_id=$project&page=1&page_size=2", ""),
    ("GET", "/vpc/v2/regions/$region/vpcs/$vpc", ""),
    ("DELETE", "/vpc/v2/regions/$region/vpcs/$vpc", ""),
    ("GET", "/ipam/v1/regions/$region/ips/$id", ""),
    ("GET", "/healthz", ""),
];

/// Query keys, for added pairs.
const QUERY_KEYS: [&str; 24] = [
    "order_by",
    "page",
    "page_size",
    "project_id",
    "organization_id",
    "vpc_id",
    "attached",
    "resource_name",
    "resource_id",
    "resource_ids",
    "resource_type",
    "resource_types",
    "mac_address",
    "tags",
    "is_ipv6",
    "ip_ids",
    "zonal",
    "regional",
    "private_network_id",
    "subnet_id",
    "source_vpc_id",
    "is_default",
    "tags[]",
    "ip_ids[]",
];

/// Query values, for added pairs (`$...` are placeholders).
const QUERY_VALUES: [&str; 24] = [
    "",
    "null",
    "0",
    "1",
    "1000",
    "1001",
    "4294967296",
    "True",
    "FALSE",
    "yes",
    "%ff",
    "%41",
    "bc%3A24%3A11%3A74%3Ad0%3A5a",
    "unknown_type",
    "mac_address_desc",
    "created_at_asc",
    "a+b",
    "fr-par-1",
    "$ip",
    "$pn",
    "$subnet",
    "$vpc",
    "$project",
    "$id",
];

/// Path segments, for replaced ones.
const SEGMENTS: [&str; 16] = [
    "",
    "..",
    "%2F",
    "IPS",
    "ips",
    "fr-par",
    "nl-ams",
    "é",
    "00000000-0000-0000-0000-000000000000",
    "564AA517-68B0-4FD7-8C8C-D21C4BCDCBD5",
    "{564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5}",
    "564aa51768b04fd78c8cd21c4bcdcbd5",
    "urn:uuid:564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5",
    "$id",
    "$ip",
    "$pn",
];

/// Ids seen in answers so far, a few of each kind.
#[derive(Default)]
struct Ids {
    ips: Vec<String>,
    pns: Vec<String>,
    subnets: Vec<String>,
    vpcs: Vec<String>,
}

/// How many ids of each kind are kept: the newest.
const KEEP: usize = 12;

fn remember(list: &mut Vec<String>, id: Option<&str>) {
    if let Some(id) = id {
        if !list.iter().any(|x| x == id) {
            if list.len() == KEEP {
                list.remove(0);
            }
            list.push(id.to_owned());
        }
    }
}

impl Ids {
    /// Remembers the ids of every object in an answer.
    fn harvest(&mut self, v: &Value) {
        let Value::Object(o) = v else { return };
        let id = o.get("id").and_then(Value::as_str);
        if o.contains_key("address") {
            remember(&mut self.ips, id);
        } else if let Some(Value::Array(subnets)) = o.get("subnets") {
            remember(&mut self.pns, id);
            for s in subnets {
                remember(&mut self.subnets, s.get("id").and_then(Value::as_str));
            }
        } else if o.contains_key("private_network_count") {
            remember(&mut self.vpcs, id);
        }
        remember(&mut self.vpcs, o.get("vpc_id").and_then(Value::as_str));
        for key in ["ips", "private_networks", "vpcs"] {
            if let Some(Value::Array(items)) = o.get(key) {
                for item in items {
                    self.harvest(item);
                }
            }
        }
    }

    /// The value of placeholder `name`, picked by `k`.
    fn value(&self, name: &str, k: u8) -> String {
        let pick = |list: &[String], k: u8| {
            if list.is_empty() || k == u8::MAX {
                NIL.to_owned()
            } else {
                list[usize::from(k) % list.len()].clone()
            }
        };
        match name {
            "region" => REGIONS[usize::from(k) % REGIONS.len()].to_owned(),
            "project" => PROJECTS[usize::from(k) % PROJECTS.len()].to_owned(),
            "mac" => MACS[usize::from(k) % MACS.len()].to_owned(),
            "ip" => pick(&self.ips, k),
            "pn" => pick(&self.pns, k),
            "subnet" => pick(&self.subnets, k),
            "vpc" => pick(&self.vpcs, k),
            _ => match k % 5 {
                0 => pick(&self.ips, k / 5),
                1 => pick(&self.pns, k / 5),
                2 => pick(&self.subnets, k / 5),
                3 => pick(&self.vpcs, k / 5),
                _ => PROJECTS[usize::from(k / 5) % PROJECTS.len()].to_owned(),
            },
        }
    }
}

/// `template` with each `$placeholder` replaced, one input byte each.
fn render(template: &str, b: &mut Bytes<'_>, ids: &Ids) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let end = after
            .find(|c: char| !c.is_ascii_lowercase())
            .unwrap_or(after.len());
        out.push_str(&ids.value(&after[..end], b.u8()));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// A request that owns its parts.
#[derive(Clone, Debug)]
pub(crate) struct Owned {
    method: String,
    path: String,
    query: String,
    body: Vec<u8>,
}

impl Owned {
    fn request(&self) -> Request<'_> {
        Request {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            body: &self.body,
        }
    }

    fn describe(&self) -> String {
        let clip = |s: &str| s.chars().take(300).collect::<String>();
        format!(
            "{:?} {:?} ? {:?} body {:?}",
            self.method,
            clip(&self.path),
            clip(&self.query),
            clip(&String::from_utf8_lossy(&self.body))
        )
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn next_request(b: &mut Bytes<'_>, ids: &Ids) -> Owned {
    if b.u8().is_multiple_of(4) {
        let method = METHODS[b.below(METHODS.len())].to_owned();
        let shape = b.u8();
        let mut path = if shape.is_multiple_of(2) {
            render(ENDPOINTS[usize::from(shape / 2) % ENDPOINTS.len()], b, ids)
        } else {
            String::new()
        };
        path.push_str(&lossy(b.chunk()));
        let query = lossy(b.chunk());
        let body = b.chunk().to_vec();
        return Owned {
            method,
            path,
            query,
            body,
        };
    }
    let (method, target, body) = TEMPLATES[b.below(TEMPLATES.len())];
    let target = render(target, b, ids);
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut request = Owned {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        body: render(body, b, ids).into_bytes(),
    };
    for _ in 0..b.u8() % 4 {
        mutate(&mut request, b, ids);
    }
    request
}

/// A JSON value that pushes a field's parser: wrong types, edge numbers, ids of every kind,
/// MACs, addresses and CIDRs in and out of form, long and odd strings.
fn interesting(k: u8, ids: &Ids, b: &mut Bytes<'_>) -> Value {
    use serde_json::json;
    match k % 40 {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(false),
        3 => json!(0),
        4 => json!(-1),
        5 => json!(1.5),
        6 => json!(u64::MAX),
        7 => json!(""),
        8 => json!("x"),
        9 => json!([]),
        10 => json!({}),
        11 => json!([null]),
        12 => json!({ "a": 1 }),
        13 => json!(ids.value("ip", b.u8())),
        14 => json!(ids.value("pn", b.u8())),
        15 => json!(ids.value("subnet", b.u8())),
        16 => json!(ids.value("vpc", b.u8())),
        17 => json!(ids.value("project", b.u8())),
        18 => json!(NIL),
        19 => json!(ids.value("mac", b.u8())),
        20 => json!("BC-24-11-74-D0-5A"),
        21 => json!("bc:24:11:74:d0:5a:00"),
        22 => json!("172.16.32.5"),
        23 => json!("172.16.32.0/28"),
        24 => json!("fd00::1"),
        25 => json!("fd00:1:2:3::/64"),
        26 => json!("10.0.0.0/8"),
        27 => json!("0.0.0.0/0"),
        28 => json!("a".repeat(300)),
        29 => json!("\u{0}é\u{fffd}"),
        30 => json!(["a", "a"]),
        31 => json!(vec!["t"; 65]),
        32 => json!({ "private_network_id": ids.value("pn", b.u8()) }),
        33 => json!({ "subnet_id": ids.value("subnet", b.u8()) }),
        34 => json!({ "zonal": "fr-par-1", "regional": null }),
        35 => json!({ "mac_address": ids.value("mac", b.u8()) }),
        36 => json!([{ "hostname": "h.example.com" }, { "hostname": "bad host" }]),
        37 => json!("instance_private_nic"),
        38 => json!("172.16.32.13"),
        _ => json!(4_294_967_296_u64),
    }
}

/// Every value's JSON pointer, the root's excluded.
fn slots(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                slots(x, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                slots(x, &p, out);
            }
        }
        _ => {}
    }
}

/// Removes the value at `pointer` from its parent.
fn remove(root: &mut Value, pointer: &str) {
    let (parent, last) = pointer.rsplit_once('/').expect("a pointer below the root");
    let key = last.replace("~1", "/").replace("~0", "~");
    match root.pointer_mut(parent) {
        Some(Value::Object(o)) => {
            o.remove(&key);
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = key.parse::<usize>() {
                if i < a.len() {
                    a.remove(i);
                }
            }
        }
        _ => {}
    }
}

fn mutate(request: &mut Owned, b: &mut Bytes<'_>, ids: &Ids) {
    let kind = b.u8() % 8;
    match kind {
        0 | 1 => {
            let Ok(mut json) = serde_json::from_slice::<Value>(&request.body) else {
                return splice(&mut request.body, b);
            };
            let mut all = Vec::new();
            slots(&json, "", &mut all);
            let pick = b.u8();
            if kind == 0 && !all.is_empty() {
                let pointer = &all[usize::from(pick) % all.len()];
                let choice = b.u8();
                let new = interesting(choice, ids, b);
                if let Some(slot) = json.pointer_mut(pointer) {
                    *slot = new;
                }
            } else if pick.is_multiple_of(2) && !all.is_empty() {
                remove(&mut json, &all[usize::from(pick / 2) % all.len()]);
            } else if let Value::Object(object) = &mut json {
                // Add a key, known to some endpoint or not.
                let keys = [
                    "project_id",
                    "source",
                    "address",
                    "resource",
                    "tags",
                    "reverses",
                    "is_ipv6",
                    "ip_ids",
                    "subnets",
                    "vpc_id",
                    "name",
                    "to_resource",
                    "from_resource",
                    "enable_routing",
                    "unknown",
                ];
                let key = keys[b.below(keys.len())];
                let choice = b.u8();
                object.insert(key.to_owned(), interesting(choice, ids, b));
            }
            request.body = serde_json::to_vec(&json).expect("a Value serializes");
        }
        2 => splice(&mut request.body, b),
        3 => {
            let at = b.below(request.body.len() + 1);
            let x = b.u8();
            match x % 3 {
                0 if at < request.body.len() => request.body[at] = b.u8(),
                1 => request.body.insert(at, b.u8()),
                _ => {
                    let end = (at + usize::from(x % 16)).min(request.body.len());
                    request.body.drain(at..end);
                }
            }
        }
        4 => {
            let mut segments: Vec<String> = request.path.split('/').map(str::to_owned).collect();
            let i = b.below(segments.len());
            let segment = b.below(SEGMENTS.len());
            segments[i] = render(SEGMENTS[segment], b, ids);
            request.path = segments.join("/");
        }
        5 => {
            let key = QUERY_KEYS[b.below(QUERY_KEYS.len())];
            let value = render(QUERY_VALUES[b.below(QUERY_VALUES.len())], b, ids);
            if !request.query.is_empty() {
                request.query.push('&');
            }
            request.query.push_str(key);
            request.query.push('=');
            request.query.push_str(&value);
        }
        6 => METHODS[b.below(METHODS.len())].clone_into(&mut request.method),
        _ => {
            // Grow one part to its limit, or one byte past it.
            let x = b.u8();
            let over = usize::from(x / 3 % 2);
            match x % 3 {
                0 => {
                    let n = (MAX_PATH_BYTES + over).saturating_sub(request.path.len());
                    request.path.push_str(&"a".repeat(n));
                }
                1 => {
                    if !request.query.is_empty() {
                        request.query.push('&');
                    }
                    let n = (MAX_QUERY_BYTES + over).saturating_sub(request.query.len());
                    request.query.push_str(&"x".repeat(n));
                }
                _ => {
                    let n = (MAX_BODY_BYTES + over).saturating_sub(request.body.len());
                    request.body.resize(request.body.len() + n, b' ');
                }
            }
        }
    }
}

/// Replaces a few bytes at a picked place with a picked fragment.
fn splice(bytes: &mut Vec<u8>, b: &mut Bytes<'_>) {
    let at = b.below(bytes.len() + 1);
    let end = (at + b.below(16)).min(bytes.len());
    let fragment = SPLICES[b.below(SPLICES.len())].as_bytes();
    bytes.splice(at..end, fragment.iter().copied());
}

/// One setup request, which must succeed.
fn call(ipam: &mut Ipam, ids: &mut Ids, method: &str, path: &str, body: &str) {
    let r = handle(ipam, &Request::new(method, path).body(body.as_bytes()));
    assert_eq!(r.status, 200, "setup {method} {path}: {:?}", lossy(&r.body));
    ids.harvest(&serde_json::from_slice(&r.body).expect("JSON"));
}

/// A fresh engine with a little of everything, and the ids it holds.
fn setup() -> (Ipam, Ids) {
    let start = DateTime::from_timestamp(1_750_000_000, 0).expect("a valid time");
    let mut ipam = Ipam::builder()
        .clock(ManualClock::new(start, TimeDelta::microseconds(1)))
        .random(SeededRandom::new(7))
        .build();
    let mut ids = Ids::default();
    let [p0, p1, _] = PROJECTS;
    let pns = "/vpc/v2/regions/fr-par/private-networks";
    call(
        &mut ipam,
        &mut ids,
        "POST",
        pns,
        &format!(r#"{{"project_id":"{p0}","subnets":["172.16.32.0/28"]}}"#),
    );
    call(
        &mut ipam,
        &mut ids,
        "POST",
        pns,
        &format!(r#"{{"project_id":"{p1}"}}"#),
    );
    call(
        &mut ipam,
        &mut ids,
        "POST",
        "/vpc/v2/regions/fr-par/vpcs",
        &format!(r#"{{"project_id":"{p0}","name":"spare"}}"#),
    );
    call(
        &mut ipam,
        &mut ids,
        "POST",
        "/vpc/v2/regions/nl-ams/private-networks",
        &format!(r#"{{"project_id":"{p0}"}}"#),
    );
    let pn = ids.pns[0].clone();
    call(
        &mut ipam,
        &mut ids,
        "POST",
        "/ipam/v1/regions/fr-par/ips",
        &format!(r#"{{"project_id":"{p0}","source":{{"private_network_id":"{pn}"}}}}"#),
    );
    let ip = ids.ips[0].clone();
    call(
        &mut ipam,
        &mut ids,
        "POST",
        &format!("/ipam/v1/regions/fr-par/ips/{ip}/attach"),
        &format!(r#"{{"resource":{{"mac_address":"{}"}}}}"#, MACS[0]),
    );
    (ipam, ids)
}

/// Whether `FUZZ_TRACE` is set: then every request and answer is printed, for triage.
fn tracing() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("FUZZ_TRACE").is_some())
}

/// Runs the input's requests through the REST handler; panics on the first broken property.
pub(crate) fn check(data: &[u8]) {
    let (mut ipam, mut ids) = setup();
    let mut b = Bytes(data);
    let mut n = 0;
    while !b.is_empty() && n < MAX_REQUESTS {
        let request = next_request(&mut b, &ids);
        exchange(&mut ipam, &mut ids, &request, n);
        n += 1;
    }
}

/// The whole observable state: every VPC, Private Network and IP of every region.
#[derive(Debug, PartialEq)]
struct State(Vec<RegionState>);

/// Every VPC, Private Network and IP of one region, oldest first.
#[derive(Debug, PartialEq)]
struct RegionState {
    region: Region,
    vpcs: Vec<Vpc>,
    pns: Vec<PrivateNetwork>,
    ips: Vec<Ip>,
}

fn state(ipam: &Ipam) -> State {
    let size = ipam.limits().max_page_size;
    State(
        Region::ALL
            .iter()
            .map(|&region| {
                let mut vpcs = Vec::new();
                let mut pns = Vec::new();
                let mut ips = Vec::new();
                for page in 1.. {
                    let r = ipam
                        .list_vpcs(
                            region,
                            &ListVpcsRequest {
                                page,
                                page_size: size,
                                ..ListVpcsRequest::default()
                            },
                        )
                        .expect("list VPCs");
                    if r.vpcs.is_empty() {
                        break;
                    }
                    vpcs.extend(r.vpcs);
                }
                for page in 1.. {
                    let r = ipam
                        .list_private_networks(
                            region,
                            &ListPrivateNetworksRequest {
                                page,
                                page_size: size,
                                ..ListPrivateNetworksRequest::default()
                            },
                        )
                        .expect("list Private Networks");
                    if r.private_networks.is_empty() {
                        break;
                    }
                    pns.extend(r.private_networks);
                }
                for page in 1.. {
                    let r = ipam
                        .list_ips(
                            region,
                            &ListIpsRequest {
                                order_by: OrderBy::CreatedAtAsc,
                                page,
                                page_size: size,
                                ..ListIpsRequest::default()
                            },
                        )
                        .expect("list IPs");
                    if r.ips.is_empty() {
                        break;
                    }
                    ips.extend(r.ips);
                }
                RegionState {
                    region,
                    vpcs,
                    pns,
                    ips,
                }
            })
            .collect(),
    )
}

/// Where two states first differ.
fn first_difference(before: &State, after: &State) -> String {
    fn in_list<T: PartialEq + Debug>(what: &str, a: &[T], b: &[T]) -> Option<String> {
        if a == b {
            return None;
        }
        let i = a
            .iter()
            .zip(b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        Some(format!(
            "{what} #{i} of {} then {}: {:?} became {:?}",
            a.len(),
            b.len(),
            a.get(i),
            b.get(i)
        ))
    }
    for (b, a) in before.0.iter().zip(&after.0) {
        let found = in_list("VPC", &b.vpcs, &a.vpcs)
            .or_else(|| in_list("Private Network", &b.pns, &a.pns))
            .or_else(|| in_list("IP", &b.ips, &a.ips));
        if let Some(d) = found {
            return format!("{}: {d}", b.region);
        }
    }
    "no difference".to_owned()
}

/// The error `type` each status carries.
fn error_types(status: u16) -> &'static [&'static str] {
    match status {
        400 => &["invalid_arguments"],
        404 => &["not_found"],
        405 => &["method_not_allowed"],
        409 => &["already_exists", "out_of_stock"],
        412 => &["precondition_failed"],
        413 => &["invalid_request"],
        _ => &[],
    }
}

/// Decodes a success body as `T` and checks that it encodes back to the same JSON.
fn decode<T: DeserializeOwned + Serialize>(body: &Value, what: &str) -> T {
    let typed: T = serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("{what}: the body does not decode ({e}): {body}"));
    let back = serde_json::to_value(&typed).expect("serializable");
    assert_eq!(
        &back, body,
        "{what}: the body does not survive a round trip"
    );
    typed
}

/// Sends one request and checks everything about its answer.
fn exchange(ipam: &mut Ipam, ids: &mut Ids, owned: &Owned, n: usize) {
    let request = owned.request();
    let what = format!("request {n}: {}", owned.describe());
    let parsed = Call::parse(&request);
    let (name, read_only, region) = match &parsed {
        Ok(call) => (Some(call.name()), call.is_read_only(), call.region()),
        Err(_) => (None, true, Region::default()),
    };
    let before = state(ipam);
    let response = handle(ipam, &request);
    if let Err(e) = ipam.check_invariants() {
        panic!("{what}: invariants broken: {e}");
    }
    let after = state(ipam);
    if let Err(refused) = &parsed {
        assert_eq!(
            **refused, response,
            "{what}: handle differs from Call::parse"
        );
    }
    let status = response.status;
    if tracing() {
        eprintln!("{what} -> {status} {}", lossy(&response.body));
    }
    let what = format!(
        "{what} -> {status} {}",
        lossy(&response.body[..response.body.len().min(400)])
    );
    if status >= 400 || read_only {
        assert!(
            before == after,
            "{what}: the state changed: {}",
            first_difference(&before, &after)
        );
    }
    assert!((200..600).contains(&status), "{what}: status");
    if status == 204 {
        assert!(response.body.is_empty(), "{what}: 204 with a body");
        assert!(
            matches!(
                name,
                Some("ReleaseIP" | "ReleaseIPSet" | "DeleteVPC" | "DeletePrivateNetwork")
            ),
            "{what}: 204 for {name:?}"
        );
        if name != Some("ReleaseIPSet") {
            assert!(before != after, "{what}: a deletion deleted nothing");
        }
        frame(
            name.unwrap_or_default(),
            region,
            &before,
            &after,
            &Value::Null,
            &what,
        );
        return;
    }
    assert_eq!(
        response.content_type(),
        Some("application/json"),
        "{what}: content type"
    );
    let body: Value = serde_json::from_slice(&response.body)
        .unwrap_or_else(|e| panic!("{what}: the body is not JSON ({e})"));
    if status >= 400 {
        let api: ApiError = decode(&body, &what);
        assert!(
            error_types(status).contains(&api.error_type.as_str()),
            "{what}: type {} with status {status}",
            api.error_type
        );
        assert!(!api.message.is_empty(), "{what}: empty message");
        if api.error_type == "invalid_arguments" {
            assert!(
                api.details.as_ref().is_some_and(|d| !d.is_empty()),
                "{what}: no details"
            );
        }
        return;
    }
    assert_eq!(status, 200, "{what}: unexpected success status");
    let name = name.unwrap_or_else(|| panic!("{what}: success for a request that does not parse"));
    match name {
        "BookIP" | "GetIP" | "UpdateIP" | "AttachIP" | "DetachIP" | "MoveIP" => {
            let ip: Ip = decode(&body, &what);
            assert_eq!(
                ipam.get_ip(ip.region, ip.id).as_ref(),
                Ok(&ip),
                "{what}: the engine holds another IP"
            );
        }
        "ListIPs" => {
            let page: ListIpsResponse = decode(&body, &what);
            assert!(
                page.ips.len() as u64 <= page.total_count,
                "{what}: page over total"
            );
        }
        "CreateVPC" | "GetVPC" => {
            let vpc: Vpc = decode(&body, &what);
            assert_eq!(
                ipam.get_vpc(vpc.region, vpc.id).as_ref(),
                Ok(&vpc),
                "{what}: the engine holds another VPC"
            );
        }
        "ListVPCs" => {
            let page: ListVpcsResponse = decode(&body, &what);
            assert!(
                page.vpcs.len() as u64 <= page.total_count,
                "{what}: page over total"
            );
        }
        "CreatePrivateNetwork" | "GetPrivateNetwork" => {
            let pn: PrivateNetwork = decode(&body, &what);
            assert_eq!(
                ipam.get_private_network(pn.region, pn.id).as_ref(),
                Ok(&pn),
                "{what}: the engine holds another Private Network"
            );
        }
        "ListPrivateNetworks" => {
            let page: ListPrivateNetworksResponse = decode(&body, &what);
            assert!(
                page.private_networks.len() as u64 <= page.total_count,
                "{what}: page over total"
            );
        }
        "Health" => assert_eq!(body, serde_json::json!({ "status": "ok" }), "{what}"),
        other => panic!("{what}: 200 for {other}"),
    }
    frame(name, region, &before, &after, &body, &what);
    ids.harvest(&body);
}

/// Whether `small` is `big` with some items removed.
fn removed_from<T: PartialEq>(small: &[T], big: &[T]) -> bool {
    let mut rest = big.iter();
    small.iter().all(|x| rest.any(|y| y == x))
}

/// A successful change touches nothing but its own region, and there nothing but what it is
/// about: a creation appends its object (lists are oldest first), a deletion removes objects
/// and keeps the order of the others, an IP call changes no network and a network call no IP,
/// and a change of an IP leaves the other IPs as they were.
fn frame(name: &str, region: Region, before: &State, after: &State, body: &Value, what: &str) {
    for (b, a) in before.0.iter().zip(&after.0) {
        if b.region != region {
            assert!(
                b == a,
                "{what}: another region changed: {}",
                first_difference(before, after)
            );
            continue;
        }
        let ip_call = matches!(
            name,
            "BookIP"
                | "UpdateIP"
                | "AttachIP"
                | "DetachIP"
                | "MoveIP"
                | "ReleaseIP"
                | "ReleaseIPSet"
        );
        if ip_call {
            assert!(
                b.vpcs == a.vpcs && b.pns == a.pns,
                "{what}: an IP call changed a network: {}",
                first_difference(before, after)
            );
        } else {
            assert!(b.ips == a.ips, "{what}: a network call changed an IP");
        }
        let appended = |old: usize, new: usize| new == old + 1;
        match name {
            "BookIP" => {
                let ip: Ip = decode(body, what);
                assert!(
                    appended(b.ips.len(), a.ips.len())
                        && a.ips[..b.ips.len()] == b.ips[..]
                        && a.ips.last() == Some(&ip),
                    "{what}: the booking is not the one new IP"
                );
            }
            "UpdateIP" | "AttachIP" | "DetachIP" | "MoveIP" => {
                let ip: Ip = decode(body, what);
                assert_eq!(b.ips.len(), a.ips.len(), "{what}: IPs came or went");
                for (x, y) in b.ips.iter().zip(&a.ips) {
                    if x.id == ip.id {
                        assert_eq!(y, &ip, "{what}: the IP is not the answer");
                    } else {
                        assert_eq!(x, y, "{what}: another IP changed");
                    }
                }
            }
            "ReleaseIP" => assert!(
                appended(a.ips.len(), b.ips.len()) && removed_from(&a.ips, &b.ips),
                "{what}: the release did not remove exactly one IP"
            ),
            "ReleaseIPSet" => assert!(
                removed_from(&a.ips, &b.ips),
                "{what}: the release changed more than it removed"
            ),
            "CreateVPC" => {
                let vpc: Vpc = decode(body, what);
                assert!(
                    appended(b.vpcs.len(), a.vpcs.len())
                        && a.vpcs[..b.vpcs.len()] == b.vpcs[..]
                        && a.vpcs.last() == Some(&vpc),
                    "{what}: the VPC is not the one new VPC"
                );
                assert!(
                    b.pns == a.pns,
                    "{what}: a VPC creation changed a Private Network"
                );
            }
            "DeleteVPC" => {
                assert!(
                    appended(a.vpcs.len(), b.vpcs.len()) && removed_from(&a.vpcs, &b.vpcs),
                    "{what}: the deletion did not remove exactly one VPC"
                );
                assert!(
                    b.pns == a.pns,
                    "{what}: a VPC deletion changed a Private Network"
                );
            }
            "CreatePrivateNetwork" => {
                let pn: PrivateNetwork = decode(body, what);
                assert!(
                    appended(b.pns.len(), a.pns.len())
                        && a.pns[..b.pns.len()] == b.pns[..]
                        && a.pns.last() == Some(&pn),
                    "{what}: the Private Network is not the one new Private Network"
                );
            }
            "DeletePrivateNetwork" => assert!(
                appended(a.pns.len(), b.pns.len()) && removed_from(&a.pns, &b.pns),
                "{what}: the deletion did not remove exactly one Private Network"
            ),
            _ => {}
        }
    }
}
