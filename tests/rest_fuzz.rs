//! Fuzz-style tests of the REST handler: thousands of random byte strings and of mutated valid
//! requests go through it. Every answer must be a JSON body with `Content-Type:
//! application/json` (or the empty body of a 204), no call may panic, and the engine's
//! invariants must hold throughout. A seeded generator keeps every run the same.

use ipam_engine::rest::{handle, Request, Response};
use ipam_engine::{Ipam, SeededRandom};
use serde_json::Value;

/// xorshift64*: small, seeded, good enough to pick bytes and mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn check(response: &Response, what: &str) {
    assert!(
        (200..600).contains(&response.status),
        "{what}: status {}",
        response.status
    );
    if response.status == 204 {
        assert!(response.body.is_empty(), "{what}: 204 with a body");
        return;
    }
    assert_eq!(response.content_type(), Some("application/json"), "{what}");
    let v: Value = serde_json::from_slice(&response.body)
        .unwrap_or_else(|e| panic!("{what}: body is not JSON ({e})"));
    if response.status >= 400 {
        assert!(
            v["type"].is_string() && v["message"].is_string(),
            "{what}: {v}"
        );
    }
}

fn engine() -> Ipam {
    Ipam::builder().random(SeededRandom::new(11)).build()
}

const METHODS: &[&str] = &[
    "GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "", "get", "\0",
];

#[test]
fn random_bytes_always_get_a_json_answer() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut ipam = engine();
    for i in 0..5000 {
        let path = String::from_utf8_lossy(&rng.bytes(64)).into_owned();
        let query = String::from_utf8_lossy(&rng.bytes(64)).into_owned();
        let body = rng.bytes(256);
        let method = *rng.pick(METHODS);
        // Half the paths start like a real one, so routing goes deeper.
        let prefix = *rng.pick(&[
            "",
            "/ipam/v1/regions/fr-par/ips",
            "/ipam/v1/regions/fr-par/ips/",
            "/vpc/v2/regions/fr-par/",
            "/ipam/v1/regions/",
        ]);
        let path = format!("{prefix}{path}");
        let r = handle(
            &mut ipam,
            &Request::new(method, &path).query(&query).body(&body),
        );
        check(&r, &format!("case {i}: {method} {path:?}"));
    }
    ipam.check_invariants().unwrap();
}

const PROJECT: &str = "564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5";

/// Valid requests, with `{pn}` and `{ip}` standing for live ids.
const TEMPLATES: &[(&str, &str, &str)] = &[
    ("POST", "/ipam/v1/regions/fr-par/ips", r#"{"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","source":{"private_network_id":"{pn}"},"is_ipv6":false,"tags":["a","b"]}"#),
    ("POST", "/ipam/v1/regions/fr-par/ips", r#"{"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","source":{"private_network_id":"{pn}"},"is_ipv6":true,"resource":{"mac_address":"bc:24:11:74:d0:5a","name":"n"}}"#),
    ("POST", "/ipam/v1/regions/fr-par/ips", r#"{"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","source":{"private_network_id":"{pn}"},"address":"172.16.32.9"}"#),
    ("GET", "/ipam/v1/regions/fr-par/ips/{ip}", "{}"),
    ("PATCH", "/ipam/v1/regions/fr-par/ips/{ip}", r#"{"tags":["x"],"reverses":[{"hostname":"a.example.com","address":"172.16.32.5"}]}"#),
    ("DELETE", "/ipam/v1/regions/fr-par/ips/{ip}", "{}"),
    ("POST", "/ipam/v1/regions/fr-par/ip-sets/release", r#"{"ip_ids":["{ip}"]}"#),
    ("POST", "/ipam/v1/regions/fr-par/ips/{ip}/attach", r#"{"resource":{"mac_address":"bc:24:11:74:d0:5a","name":null}}"#),
    ("POST", "/ipam/v1/regions/fr-par/ips/{ip}/detach", r#"{"resource":{"mac_address":"bc:24:11:74:d0:5a"}}"#),
    ("POST", "/ipam/v1/regions/fr-par/ips/{ip}/move", r#"{"from_resource":{"mac_address":"bc:24:11:74:d0:5a"},"to_resource":{"mac_address":"bc:24:11:74:d0:5b"}}"#),
    ("GET", "/ipam/v1/regions/fr-par/ips?order_by=ip_address_asc&page=1&page_size=5&tags=a&tags=x&is_ipv6=True&attached=false&private_network_id={pn}&resource_type=unknown_type&mac_address=bc%3A24%3A11%3A74%3Ad0%3A5a&resource_name=n", ""),
    ("POST", "/vpc/v2/regions/fr-par/private-networks", r#"{"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","name":"p","tags":[],"subnets":["172.16.64.0/22"]}"#),
    ("GET", "/vpc/v2/regions/fr-par/private-networks/{pn}", ""),
    ("DELETE", "/vpc/v2/regions/fr-par/private-networks/{pn}", ""),
    ("GET", "/vpc/v2/regions/fr-par/private-networks?page=1&page_size=3", ""),
    ("POST", "/vpc/v2/regions/fr-par/vpcs", r#"{"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","name":"v","enable_routing":true}"#),
    ("GET", "/vpc/v2/regions/fr-par/vpcs?is_default=true", ""),
];

#[path = "../fuzz/checks/splices.rs"]
mod splices;

use splices::SPLICES;

fn mutate(rng: &mut Rng, text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(5) {
            0 if !bytes.is_empty() => {
                let end = (at + rng.below(8)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            1 => {
                let splice = rng.pick(&SPLICES).as_bytes();
                bytes.splice(at..at, splice.iter().copied());
            }
            2 if at < bytes.len() => bytes[at] = rng.next() as u8,
            3 => bytes.insert(at, rng.next() as u8),
            _ => {
                let end = (at + rng.below(16)).min(bytes.len());
                let splice = rng.pick(&SPLICES).as_bytes();
                bytes.splice(at..end, splice.iter().copied());
            }
        }
    }
    bytes
}

#[test]
fn mutated_valid_requests_always_get_a_json_answer() {
    let mut rng = Rng(0x5151_2024_dead_beef);
    let mut ipam = engine();
    let setup = format!(r#"{{"project_id":"{PROJECT}","subnets":["172.16.32.0/22"]}}"#);
    let pn = handle(
        &mut ipam,
        &Request::new("POST", "/vpc/v2/regions/fr-par/private-networks").body(setup.as_bytes()),
    );
    let pn: Value = serde_json::from_slice(&pn.body).unwrap();
    let mut pns = vec![pn["id"].as_str().unwrap().to_owned()];
    let mut ips: Vec<String> = Vec::new();
    let mut successes = 0;
    for i in 0..6000 {
        let (method, target, body) = *rng.pick(TEMPLATES);
        let pn = rng.pick(&pns).clone();
        let ip = if ips.is_empty() {
            "00000000-0000-0000-0000-000000000000".to_owned()
        } else {
            rng.pick(&ips).clone()
        };
        let target = target.replace("{pn}", &pn).replace("{ip}", &ip);
        let body = body.replace("{pn}", &pn).replace("{ip}", &ip);
        // One case in four runs unmutated, so that state builds up.
        let (target, body) = match rng.below(4) {
            0 => (target.into_bytes(), body.into_bytes()),
            1 => (mutate(&mut rng, &target), body.into_bytes()),
            _ => (target.into_bytes(), mutate(&mut rng, &body)),
        };
        let target = String::from_utf8_lossy(&target).into_owned();
        let r = handle(&mut ipam, &Request::new(method, &target).body(&body));
        check(
            &r,
            &format!(
                "case {i}: {method} {target:?} {:?}",
                String::from_utf8_lossy(&body)
            ),
        );
        if r.status == 200 {
            successes += 1;
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            if let Some(id) = v["id"].as_str() {
                if v["address"].is_string() {
                    ips.push(id.to_owned());
                } else if v["subnets"].is_array() {
                    pns.push(id.to_owned());
                }
            }
        }
        if i % 500 == 0 {
            ipam.check_invariants().unwrap();
        }
    }
    ipam.check_invariants().unwrap();
    assert!(
        successes > 500,
        "only {successes} requests succeeded: mutations too aggressive"
    );
}
