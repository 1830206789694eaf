//! A tonic client through `AuthLayer` against a tonic server on loopback
//! whose gate rejects the first token it sees, as a gRPC server rejects a
//! token that expired on its side. Tokens come from the emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use auth_core::{ClientAuth, ClientCredentials, OAuth2};
use auth_emulator::{demo, Emulator, EmulatorConfig, Scheme};
use auth_tower::{AuthBody, AuthLayer};
use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use http::HeaderMap;
use http_body::{Body, Frame};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Status};
use tower::ServiceBuilder;

/// Messages as raw bytes: no protobuf code generation needed.
#[derive(Clone, Copy, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// How the server rejects a token it refuses.
#[derive(Clone, Copy, PartialEq)]
enum Reject {
    /// A trailers-only answer: `grpc-status: 16` in the headers.
    InHeaders,
    /// Headers first, then `grpc-status: 16` in the trailers.
    InTrailers,
}

/// A body of one trailers frame.
struct TrailersOnly(Option<HeaderMap>);

impl Body for TrailersOnly {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().0.take().map(|t| Ok(Frame::trailers(t))))
    }
}

/// The server: echoes the message; the first token it sees is refused on
/// every call that carries it.
struct Server {
    addr: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn server(reject: Reject) -> Server {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&seen);
    let svc = tower::service_fn(move |req: http::Request<tonic::body::Body>| {
        let log = Arc::clone(&log);
        async move {
            let auth = req
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let refused = {
                let mut log = log.lock().unwrap();
                log.push(auth.clone());
                log[0] == auth
            };
            if refused {
                let status = Status::unauthenticated("the access token expired");
                return Ok::<_, Infallible>(match reject {
                    Reject::InHeaders => status.into_http(),
                    Reject::InTrailers => {
                        let mut trailers = HeaderMap::new();
                        status.add_header(&mut trailers).unwrap();
                        let mut r = http::Response::new(tonic::body::Body::new(TrailersOnly(
                            Some(trailers),
                        )));
                        r.headers_mut()
                            .insert("content-type", "application/grpc".parse().unwrap());
                        r
                    }
                });
            }
            let echo = tower::service_fn(|r: tonic::Request<Vec<u8>>| async move {
                Ok::<_, Status>(tonic::Response::new(r.into_inner()))
            });
            Ok(tonic::server::Grpc::new(Raw).unary(echo, req).await)
        }
    });
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = incoming.local_addr().unwrap();
    tokio::spawn(tonic::transport::Server::builder().serve_with_incoming(svc, incoming));
    Server { addr, seen }
}

async fn provider(emu: &Emulator) -> auth_reqwest::TokenProvider {
    auth_reqwest::TokenProvider::builder(
        OAuth2::new(&emu.url("/oauth2/token"), ClientAuth::Basic).unwrap(),
        ClientCredentials::new(demo::OAUTH2_CLIENT_ID, demo::OAUTH2_CLIENT_SECRET).unwrap(),
    )
    .build()
    .unwrap()
}

type ToTonic = fn(http::Request<AuthBody<tonic::body::Body>>) -> http::Request<tonic::body::Body>;
type Client = tonic::client::Grpc<
    auth_tower::AuthService<tower::util::MapRequest<tonic::transport::Channel, ToTonic>>,
>;

/// The stack the README shows: the layer, then tonic's body type.
async fn client(addr: std::net::SocketAddr, layer: AuthLayer) -> Client {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let to_tonic: ToTonic = |r| r.map(tonic::body::Body::new);
    let svc = ServiceBuilder::new()
        .layer(layer)
        .map_request(to_tonic)
        .service(channel);
    tonic::client::Grpc::new(svc)
}

async fn echo(client: &mut Client, message: Vec<u8>) -> Result<Vec<u8>, Status> {
    client.ready().await.unwrap();
    client
        .unary(
            tonic::Request::new(message),
            PathAndQuery::from_static("/test.Echo/Echo"),
            Raw,
        )
        .await
        .map(tonic::Response::into_inner)
}

fn token_requests(emu: &Emulator) -> u64 {
    emu.counters().token_total(Scheme::Oauth2)
}

#[tokio::test]
async fn unauthenticated_in_the_headers_is_retried_once_with_a_new_token() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let srv = server(Reject::InHeaders).await;
    let mut c = client(srv.addr, AuthLayer::new(provider(&emu).await)).await;
    let message: Vec<u8> = (0..=255).cycle().take(10_000).collect();
    let answer = echo(&mut c, message.clone())
        .await
        .expect("the retry succeeds");
    assert_eq!(answer, message, "the replayed body arrived whole");
    assert_eq!(token_requests(&emu), 2, "one new token for the retry");
    let seen = srv.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|a| a.starts_with("Bearer ")), "{seen:?}");
    assert_ne!(seen[0], seen[1], "the retry carried the new token");

    // Later calls use the new token and fetch nothing.
    assert_eq!(echo(&mut c, b"again".to_vec()).await.unwrap(), b"again");
    assert_eq!(token_requests(&emu), 2);
}

#[tokio::test]
async fn a_body_over_the_replay_limit_is_not_retried_but_the_token_is_dropped() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let srv = server(Reject::InHeaders).await;
    let layer = AuthLayer::new(provider(&emu).await).replay_limit(1024);
    let mut c = client(srv.addr, layer).await;
    let big = vec![7u8; 4096];
    let e = echo(&mut c, big.clone()).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    assert_eq!(srv.seen.lock().unwrap().len(), 1, "sent once");
    assert_eq!(echo(&mut c, big.clone()).await.unwrap(), big);
    assert_eq!(
        token_requests(&emu),
        2,
        "the rejected token was invalidated"
    );
}

#[tokio::test]
async fn unauthenticated_in_the_trailers_drops_the_token_for_the_next_call() {
    let emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let srv = server(Reject::InTrailers).await;
    let mut c = client(srv.addr, AuthLayer::new(provider(&emu).await)).await;
    let e = echo(&mut c, b"x".to_vec()).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
    assert_eq!(srv.seen.lock().unwrap().len(), 1, "too late to retry");
    assert_eq!(echo(&mut c, b"y".to_vec()).await.unwrap(), b"y");
    assert_eq!(token_requests(&emu), 2);
}
