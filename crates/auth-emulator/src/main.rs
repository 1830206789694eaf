//! `auth-emulator`: serve the emulator on loopback until Ctrl-C.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use auth_emulator::{demo, Emulator, EmulatorConfig, OpenverseFlavour, Throttles};
use clap::{Parser, ValueEnum};

/// `--flavour`: which Openverse server generation to route like.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Flavour {
    /// Today's Openverse: every route with a trailing slash.
    Openverse,
    /// The seed's CC Catalog API: register, rate_limit and verify without.
    CcCatalog,
}

/// Local emulator of the Openverse, Markable Lens and RFC 6749 token
/// endpoints, with fault injection under /_emulator/.
#[derive(Debug, Parser)]
#[command(name = "auth-emulator", version)]
struct Args {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Loopback address to listen on (127.0.0.0/8 or ::1); anything else
    /// is refused.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Seed for generated ids, secrets and tokens.
    #[arg(long)]
    seed: Option<u64>,
    /// Which Openverse server to emulate.
    #[arg(long, value_enum, default_value = "openverse")]
    flavour: Flavour,
    /// Port of the Markable Lens API listener (a host apart from the
    /// authorization server); 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    markable_api_port: u16,
    /// Switch every throttle off (no 429s, no X-RateLimit headers).
    #[arg(long)]
    no_throttles: bool,
    /// Log every request (never secrets or tokens).
    #[arg(long, short)]
    verbose: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // INFO, not DEBUG: dependencies' debug output could include headers.
    let level = if args.verbose {
        tracing::Level::INFO
    } else {
        tracing::Level::WARN
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .init();

    let flavour = match args.flavour {
        Flavour::Openverse => OpenverseFlavour::Openverse,
        Flavour::CcCatalog => OpenverseFlavour::CcCatalog,
    };
    let throttles = match (args.no_throttles, flavour) {
        (true, _) => Throttles::off(),
        (false, OpenverseFlavour::Openverse) => Throttles::default(),
        (false, OpenverseFlavour::CcCatalog) => Throttles::cc_catalog(),
    };
    let mut config = EmulatorConfig {
        addr: SocketAddr::new(args.host, args.port),
        markable_api_addr: Some(SocketAddr::new(args.host, args.markable_api_port)),
        flavour,
        throttles,
        ..EmulatorConfig::default()
    };
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    let emu = match Emulator::start(config).await {
        Ok(emu) => emu,
        Err(e) => {
            eprintln!("auth-emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let base = emu.base_url();
    // These are fixed demo values, documented in docs/emulator.md; printing
    // them is the point.
    println!(
        "auth-emulator listening on {base} (openverse flavour: {})",
        emu.flavour()
    );
    println!();
    println!("openverse  token    {base}/v1/auth_tokens/token/");
    println!("           id       {}", demo::OPENVERSE_CLIENT_ID);
    println!("           secret   {}", demo::OPENVERSE_CLIENT_SECRET);
    println!("markable   token    {base}/auth/client/authorize");
    println!(
        "           api      {}/api/v1/search",
        emu.markable_api_url()
    );
    println!("           id       {}", demo::MARKABLE_CLIENT_ID);
    println!("           secret   {}", demo::MARKABLE_CLIENT_SECRET);
    println!("oauth2     token    {base}/oauth2/token");
    println!("           id       {}", demo::OAUTH2_CLIENT_ID);
    println!("           secret   {}", demo::OAUTH2_CLIENT_SECRET);
    println!("           jwt id   {}", demo::OAUTH2_JWT_CLIENT_ID);
    println!(
        "           jwt key  auth_emulator::demo::OAUTH2_JWT_PRIVATE_KEY_PEM (ES256, kid {}; see docs/emulator.md)",
        demo::OAUTH2_JWT_KEY_ID
    );
    println!("           issuer   {base} ({base}/.well-known/openid-configuration)");
    println!();
    println!("admin API under {base}/_emulator/ ; Ctrl-C to stop");

    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("auth-emulator: cannot wait for Ctrl-C: {e}");
        return ExitCode::FAILURE;
    }
    emu.shutdown().await;
    ExitCode::SUCCESS
}
