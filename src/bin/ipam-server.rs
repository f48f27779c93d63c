//! `ipam-server`: the engine as a local, in-memory Scaleway IPAM v1 (and VPC v2 slice) HTTP
//! service, so that the official SDKs, the CLI, Terraform or scripts can run against it.
//!
//! A thin adapter over [`ipam_engine::rest`]: sockets, locking, logs and shutdown live here,
//! every decision about paths, bodies and errors lives in the handler. One `Mutex` guards the
//! engine (which is `Send` but not `Sync`, its clock and random source being plain trait
//! objects): every call holds it alone, so concurrent bookings never collide. Requests are parsed
//! before the lock is taken, and no call does I/O while holding it.
//!
//! ```text
//! cargo run --release --features server --bin ipam-server -- --listen 127.0.0.1:8080
//! ```
//!
//! The first line on standard output is `listening on ADDRESS` (with the real port when
//! `--listen` asks for port 0). Logs (one line per request: method, path, operation, status,
//! duration) go to standard error. Ctrl-C or SIGTERM stops accepting connections, lets the
//! requests in flight finish, and exits.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::body::{to_bytes, Body};
use axum::extract::State;
use axum::http::{HeaderValue, Request as HttpRequest, Response as HttpResponse, StatusCode};
use ipam_engine::rest::{Call, Request, Response, MAX_BODY_BYTES};
use ipam_engine::Ipam;
use tokio::net::TcpListener;

const USAGE: &str = "usage: ipam-server [--listen ADDRESS:PORT]\n\
    \n\
    Serves the Scaleway IPAM v1 API (and the VPC v2 calls that create Private Networks) from an\n\
    in-memory engine. Default address: 127.0.0.1:8080.";

type Shared = Arc<Mutex<Ipam>>;

fn main() -> std::process::ExitCode {
    let listen = match parse_args(std::env::args().skip(1)) {
        Ok(Some(listen)) => listen,
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
    match runtime.block_on(serve(listen)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipam-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The listen address, or `None` for `--help`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<SocketAddr>, String> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                let value = args.next().ok_or("--listen needs an ADDRESS:PORT")?;
                listen = value
                    .parse()
                    .map_err(|_| format!("{value:?} is not an ADDRESS:PORT"))?;
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(listen))
}

async fn serve(listen: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    let local = listener.local_addr()?;
    println!("listening on {local}");
    tracing::info!(address = %local, "listening");
    let state: Shared = Arc::new(Mutex::new(Ipam::new()));
    let app = axum::Router::new().fallback(answer).with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
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

/// Parses outside the lock, then runs under it.
fn run(ipam: &Shared, request: &Request<'_>) -> (Response, &'static str) {
    let call = match Call::parse(request) {
        Ok(call) => call,
        Err(response) => return (*response, "-"),
    };
    let operation = call.name();
    // A panic while the lock is held cannot leave the engine half-changed (every call
    // validates before it changes anything), so a poisoned lock is still usable.
    let mut guard = ipam.lock().unwrap_or_else(PoisonError::into_inner);
    (call.run(&mut guard), operation)
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
