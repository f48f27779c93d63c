//! `ipam-server`: the engine as a local, in-memory Scaleway IPAM v1 (and VPC v2 slice) HTTP
//! service, so that the official SDKs, the CLI, Terraform or scripts can run against it.
//!
//! A thin adapter over [`ipam_engine::rest`]: sockets, logs, snapshots and shutdown live here,
//! every decision about paths, bodies and errors lives in the handler. The engine is a
//! [`SharedIpam`]: one read-write lock per region, so calls in different regions run in
//! parallel, reads run together, and concurrent bookings never collide. Requests are parsed
//! before a lock is taken, and no call does I/O while holding one.
//!
//! ```text
//! cargo run --release --features server --bin ipam-server -- --listen 127.0.0.1:8080 --snapshot ipam.json
//! ```
//!
//! With `--snapshot FILE`, the server starts from the state saved in `FILE` (when it exists; a
//! corrupt or inconsistent file stops the start with the reason) and saves its state there on
//! shutdown (written to `FILE.tmp`, then renamed, so a crash never leaves half a file).
//!
//! The first line on standard output is `listening on ADDRESS` (with the real port when
//! `--listen` asks for port 0). Logs (one line per request: method, path, operation, status,
//! duration) go to standard error. Ctrl-C or SIGTERM stops accepting connections, lets the
//! requests in flight finish, and exits.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{HeaderValue, Request as HttpRequest, Response as HttpResponse, StatusCode};
use ipam_engine::rest::{Call, Request, Response, MAX_BODY_BYTES};
use ipam_engine::{Ipam, SharedIpam, Snapshot};
use tokio::net::TcpListener;

const USAGE: &str = "usage: ipam-server [--listen ADDRESS:PORT] [--snapshot FILE]\n\
    \n\
    Serves the Scaleway IPAM v1 API (and the VPC v2 calls that create Private Networks) from an\n\
    in-memory engine. Default address: 127.0.0.1:8080. With --snapshot, starts from the state\n\
    saved in FILE if it exists, and saves the state there on shutdown.";

type Shared = Arc<SharedIpam>;

/// What the command line asks for.
struct Options {
    listen: SocketAddr,
    snapshot: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return std::process::ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("ipam-server: {message}\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ipam-server: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(options)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipam-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The options, or `None` for `--help`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut snapshot = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                let value = args.next().ok_or("--listen needs an ADDRESS:PORT")?;
                listen = value
                    .parse()
                    .map_err(|_| format!("{value:?} is not an ADDRESS:PORT"))?;
            }
            "--snapshot" => {
                snapshot = Some(PathBuf::from(args.next().ok_or("--snapshot needs a FILE")?));
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(Options { listen, snapshot }))
}

/// The engine saved in `path`, or a new one when there is no such file.
fn load(path: &Path) -> Result<Ipam, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(engine().build()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let snapshot: Snapshot = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} is not a snapshot: {e}", path.display()))?;
    engine()
        .restore(&snapshot)
        .map_err(|e| format!("cannot restore {}: {e}", path.display()))
}

/// Writes the state to `path` through a temporary file and a rename.
fn save(ipam: &SharedIpam, path: &Path) -> Result<usize, String> {
    let snapshot = ipam.snapshot();
    let bytes = serde_json::to_vec(&snapshot).map_err(|e| e.to_string())?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, &bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(snapshot.ip_count())
}

/// The engine's settings: the defaults, with the MAC order index, since any client may list
/// by MAC address (a page costs a few µs instead of a pass over the region).
fn engine() -> ipam_engine::IpamBuilder {
    Ipam::builder().mac_order_index(true)
}

async fn serve(options: Options) -> Result<(), String> {
    let ipam = match &options.snapshot {
        Some(path) => load(path)?,
        None => engine().build(),
    };
    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on {local}");
    tracing::info!(address = %local, "listening");
    let state: Shared = Arc::new(SharedIpam::new(ipam));
    let app = axum::Router::new()
        .fallback(answer)
        .with_state(Arc::clone(&state));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    if let Some(path) = &options.snapshot {
        let ips = save(&state, path)?;
        tracing::info!(path = %path.display(), ips, "snapshot saved");
    }
    tracing::info!("stopped");
    Ok(())
}

/// Every request goes through the REST handler.
async fn answer(State(ipam): State<Shared>, request: HttpRequest<Body>) -> HttpResponse<Body> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let (response, operation) = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => {
            let request = Request::new(&method, &path).query(&query).body(&bytes);
            run(&ipam, &request)
        }
        Err(_) => (Response::payload_too_large(MAX_BODY_BYTES + 1), "-"),
    };
    tracing::info!(
        method = %method,
        path = %path,
        operation,
        status = response.status,
        micros = started.elapsed().as_micros(),
        "request"
    );
    to_http(response)
}

/// Parses outside the locks, then runs under the region's lock: shared for reads.
fn run(ipam: &SharedIpam, request: &Request<'_>) -> (Response, &'static str) {
    let call = match Call::parse(request) {
        Ok(call) => call,
        Err(response) => return (*response, "-"),
    };
    let operation = call.name();
    let region = call.region();
    let response = if call.is_read_only() {
        ipam.read(region, |ipam| call.run_read(ipam))
    } else {
        None
    };
    let response = match response {
        Some(response) => response,
        None => ipam.write(region, |ipam| call.run(ipam)),
    };
    (response, operation)
}

fn to_http(response: Response) -> HttpResponse<Body> {
    let mut http = HttpResponse::new(Body::from(response.body));
    *http.status_mut() =
        StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in response.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            http.headers_mut().insert(name, value);
        }
    }
    http
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
