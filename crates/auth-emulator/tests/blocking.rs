//! The blocking emulator from plain `#[test]`s: no tokio runtime here, only
//! std::net and hand-written HTTP/1.1, as a blocking client's tests would be.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use auth_emulator::{
    demo, BlockingEmulator, Emulator, EmulatorConfig, EmulatorError, Endpoint, Fault, FaultPlan,
    Scheme,
};
use base64::Engine as _;

struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// One request with `Connection: close`, read to the end.
fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no response head")
        })?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad status line"))?;
    Ok(Response {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    })
}

fn token_request(emu: &BlockingEmulator) -> std::io::Result<Response> {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        demo::OAUTH2_CLIENT_ID,
        demo::OAUTH2_CLIENT_SECRET
    ));
    send(
        emu.addr(),
        "POST",
        "/oauth2/token",
        &[
            ("Authorization", &format!("Basic {basic}")),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        "grant_type=client_credentials&scope=read",
    )
}

#[test]
fn serves_without_a_runtime_in_the_test() {
    let emu = BlockingEmulator::start(EmulatorConfig::default()).unwrap();
    assert!(emu.base_url().starts_with("http://127.0.0.1:"));

    let resp = token_request(&emu).unwrap();
    assert_eq!(resp.status, 200);
    assert!(resp
        .head
        .to_ascii_lowercase()
        .contains("cache-control: no-store"));
    let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(body["scope"], "read");
    assert_eq!(body["token_type"], "Bearer");

    // Control methods are plain synchronous calls.
    emu.add_fault(FaultPlan::next(
        Endpoint::Oauth2Token,
        Fault::ServerError {
            status: 503,
            retry_after_secs: Some(1),
        },
        1,
    ))
    .unwrap();
    let resp = token_request(&emu).unwrap();
    assert_eq!(resp.status, 503);
    assert!(resp.head.to_ascii_lowercase().contains("retry-after: 1"));

    emu.add_fault(FaultPlan::next(
        Endpoint::Oauth2Token,
        Fault::ConnectionReset,
        1,
    ))
    .unwrap();
    match token_request(&emu) {
        Err(_) => {}
        Ok(resp) => panic!("expected a reset, got status {}", resp.status),
    }

    let counters = emu.counters();
    assert_eq!(counters.token_total(Scheme::Oauth2), 3);
    assert_eq!(counters.token_requests[&Scheme::Oauth2].issued, 1);
    assert_eq!(counters.faults_injected, 2);
}

#[test]
fn drop_stops_the_server() {
    let emu = Emulator::start_blocking(EmulatorConfig::default()).unwrap();
    let addr = emu.addr();
    let api_addr = emu.markable_api_addr();
    assert_ne!(addr, api_addr);
    let control = emu.control();
    assert_eq!(
        send(addr, "GET", "/_emulator/counters", &[], "")
            .unwrap()
            .status,
        200
    );
    // Leave a connection open to show drop does not wait for it.
    let _idle = TcpStream::connect(addr).unwrap();
    drop(emu);
    assert!(TcpStream::connect(addr).is_err());
    assert!(TcpStream::connect(api_addr).is_err());
    // A control handle that outlives the server still answers.
    assert_eq!(control.counters().token_requests_total, 0);
}

#[test]
fn refuses_non_loopback_addresses() {
    let config = EmulatorConfig {
        addr: "0.0.0.0:0".parse().unwrap(),
        ..EmulatorConfig::default()
    };
    assert!(matches!(
        BlockingEmulator::start(config),
        Err(EmulatorError::NonLoopback(_))
    ));
}
