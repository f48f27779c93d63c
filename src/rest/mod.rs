//! The REST layer: the one place that knows HTTP paths, methods, query strings and status codes.
//! It turns a request (method, path, query, body bytes) into a call on [`Ipam`] and the call's
//! result into a status and a JSON body, with no I/O of its own, so that any HTTP server (or a
//! test) can drive it and every answer can be checked without a socket.
//!
//! Every endpoint of the Scaleway IPAM API v1, and the slice of VPC v2 that makes Private
//! Networks exist, is served:
//!
//! | method and path | call |
//! |---|---|
//! | `POST /ipam/v1/regions/{region}/ips` | [`Ipam::book_ip`] |
//! | `GET /ipam/v1/regions/{region}/ips` | [`Ipam::list_ips`] |
//! | `GET`, `PATCH`, `DELETE /ipam/v1/regions/{region}/ips/{ip_id}` | [`Ipam::get_ip`], [`Ipam::update_ip`], [`Ipam::release_ip`] (204) |
//! | `POST /ipam/v1/regions/{region}/ips/{ip_id}/attach`, `/detach`, `/move` | [`Ipam::attach_ip`], [`Ipam::detach_ip`], [`Ipam::move_ip`] |
//! | `POST /ipam/v1/regions/{region}/ip-sets/release` | [`Ipam::release_ip_set`] (204) |
//! | `POST`, `GET /vpc/v2/regions/{region}/vpcs` | [`Ipam::create_vpc`], [`Ipam::list_vpcs`] |
//! | `GET`, `DELETE /vpc/v2/regions/{region}/vpcs/{vpc_id}` | [`Ipam::get_vpc`], [`Ipam::delete_vpc`] (204) |
//! | `POST`, `GET /vpc/v2/regions/{region}/private-networks` | [`Ipam::create_private_network`], [`Ipam::list_private_networks`] |
//! | `GET`, `DELETE /vpc/v2/regions/{region}/private-networks/{id}` | [`Ipam::get_private_network`], [`Ipam::delete_private_network`] (204) |
//! | `GET /healthz` | `{"status":"ok"}` |
//!
//! What real clients send is accepted: bodies on `GET` and `DELETE` are ignored, JSON `null`
//! means an absent field, unknown body and query keys are ignored, query booleans are `true` or
//! `false` in any case (the Python SDK sends `True`), array filters repeat their key
//! (`tags=a&tags=b`), an empty or `null` query value means the key is absent, and
//! `resource_type=unknown_type` filters nothing. Every error is a JSON body with
//! `Content-Type: application/json`: engine errors through [`Error::to_api_error`], and the
//! errors only this layer knows (unknown path 404, wrong method 405, body not JSON 400, body
//! over [`MAX_BODY_BYTES`] 413, query over [`MAX_QUERY_BYTES`] 400) built here.
//!
//! ```
//! use ipam_engine::rest::{handle, Request};
//! use ipam_engine::Ipam;
//!
//! let mut ipam = Ipam::new();
//! let project = "564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5";
//! let body = format!(r#"{{"project_id":"{project}","subnets":["172.16.32.0/22"]}}"#);
//! let pn = handle(
//!     &mut ipam,
//!     &Request::new("POST", "/vpc/v2/regions/fr-par/private-networks").body(body.as_bytes()),
//! );
//! assert_eq!(pn.status, 200);
//! let pn: serde_json::Value = serde_json::from_slice(&pn.body).unwrap();
//!
//! let body = format!(
//!     r#"{{"project_id":"{project}","source":{{"private_network_id":{}}}}}"#,
//!     pn["id"]
//! );
//! let ip = handle(&mut ipam, &Request::new("POST", "/ipam/v1/regions/fr-par/ips").body(body.as_bytes()));
//! assert_eq!(ip.status, 200);
//! let ip: serde_json::Value = serde_json::from_slice(&ip.body).unwrap();
//! assert_eq!(ip["address"], "172.16.32.2/22");
//!
//! let gone = handle(&mut ipam, &Request::new("GET", "/ipam/v1/regions/fr-par/nowhere"));
//! assert_eq!(gone.status, 404);
//! assert_eq!(gone.content_type(), Some("application/json"));
//! ```

mod body;
mod query;
mod route;

use serde::Serialize;

use crate::engine::Ipam;
use crate::error::{ApiError, Error};

pub use route::Call;

/// Largest request body accepted, in bytes; a larger one gets 413 `invalid_request`.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Longest query string accepted, in bytes; a longer one gets 400 `invalid_arguments`.
pub const MAX_QUERY_BYTES: usize = 64 << 10;

/// Longest path accepted, in bytes; a longer one is an unknown path (404).
pub const MAX_PATH_BYTES: usize = 1024;

/// An HTTP request as the handler sees it: borrowed method, path, query string and body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method, as sent (`GET`, `POST`, ...; methods are case-sensitive).
    pub method: &'a str,
    /// The path, without the query string (`/ipam/v1/regions/fr-par/ips`).
    pub path: &'a str,
    /// The query string without its `?` (`page=1&tags=a`), empty when there is none.
    pub query: &'a str,
    /// The body bytes, empty when there is none.
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// A request without query string or body. A `?` in `target` splits off the query string,
    /// so `Request::new("GET", "/ipam/v1/regions/fr-par/ips?page=2")` works too.
    #[must_use]
    pub fn new(method: &'a str, target: &'a str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self {
            method,
            path,
            query,
            body: &[],
        }
    }

    /// Sets the query string (without its `?`).
    #[must_use]
    pub fn query(mut self, query: &'a str) -> Self {
        self.query = query;
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: &'a [u8]) -> Self {
        self.body = body;
        self
    }
}

/// An HTTP response: status, headers and body. Every body is JSON except the empty body of a
/// 204.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Headers to send: `Content-Type` for JSON bodies, `Allow` for 405.
    pub headers: Vec<(&'static str, String)>,
    /// The body: JSON, or empty for 204.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with a JSON body.
    fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Self {
        // Serializing the engine's own types cannot fail: no maps with non-string keys, no
        // custom serializers that error.
        let body = serde_json::to_vec(value).expect("response types serialize");
        Self {
            status,
            headers: vec![("Content-Type", "application/json".to_owned())],
            body,
        }
    }

    /// 204 with an empty body.
    fn no_content() -> Self {
        Self {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The response for an engine error.
    fn error(e: &Error) -> Self {
        let api = e.to_api_error();
        Self::json(api.status, &api)
    }

    /// The 413 `invalid_request` response for a body of at least `len` bytes, over
    /// [`MAX_BODY_BYTES`]: for servers that stop reading a body once it is too large.
    #[must_use]
    pub fn payload_too_large(len: usize) -> Self {
        body_too_large(len)
    }

    /// The value of header `name` (ASCII case-insensitive), if set.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `Content-Type` header, if set (always `application/json` when the body is not
    /// empty).
    #[must_use]
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }
}

/// Answers one request against `ipam`: parses it ([`Call::parse`]) and runs it
/// ([`Call::run`]). Never panics and always gives a JSON body (or the empty body of a 204).
pub fn handle(ipam: &mut Ipam, request: &Request<'_>) -> Response {
    match Call::parse(request) {
        Ok(call) => call.run(ipam),
        Err(response) => *response,
    }
}

/// Errors that only the REST layer knows, with JSON bodies in the API's envelope.
fn unknown_path(method: &str, path: &str) -> Response {
    let api = ApiError {
        resource: Some("path".to_owned()),
        resource_id: Some(format!("{} {}", clip(method), clip(path))),
        help_message: Some("no such endpoint in ipam v1 or vpc v2".to_owned()),
        ..ApiError::envelope(404, "not_found", "resource is not found")
    };
    Response::json(404, &api)
}

fn method_not_allowed(method: &str, allowed: &[&str]) -> Response {
    let allow = allowed.join(", ");
    let api = ApiError {
        help_message: Some(format!(
            "method {} is not allowed here: expected one of {allow}",
            clip(method)
        )),
        ..ApiError::envelope(405, "method_not_allowed", "method not allowed")
    };
    let mut response = Response::json(405, &api);
    response.headers.push(("Allow", allow));
    response
}

fn body_too_large(len: usize) -> Response {
    let api = ApiError {
        help_message: Some(format!(
            "the body must be at most {MAX_BODY_BYTES} bytes, found {len} or more"
        )),
        ..ApiError::envelope(413, "invalid_request", "request entity too large")
    };
    Response::json(413, &api)
}

/// Shortens hostile input before it is echoed in an error body.
fn clip(s: &str) -> &str {
    clip_to(s, 64)
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn clip_to(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
