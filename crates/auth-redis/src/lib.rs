#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Without a store feature only the configuration types are built.
#![cfg_attr(not(any(feature = "blocking", feature = "async")), allow(dead_code))]

mod config;
mod entry;
mod error;
mod health;
mod shared;

#[cfg(feature = "async")]
mod async_store;
#[cfg(feature = "blocking")]
mod blocking;

#[cfg(feature = "async")]
pub use async_store::AsyncRedisTokenStore;
#[cfg(feature = "blocking")]
pub use blocking::RedisTokenStore;
pub use config::{
    EncryptionKey, RedisConfig, CACHE_CA_FILE_ENV, CACHE_KEY_ENV, CACHE_KEY_FILE_ENV,
    CACHE_URL_ENV, DEFAULT_CONNECT_TIMEOUT, DEFAULT_LEASE_TTL, DEFAULT_NO_EXPIRY_TTL,
    DEFAULT_POLL_INTERVAL, DEFAULT_PREFIX, DEFAULT_SETUP_TIMEOUT, DEFAULT_TIMEOUT,
};
pub use error::Error;
