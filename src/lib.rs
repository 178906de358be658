//! Sidak: the backend of the surprise-inspection (sidak) teams of Indonesian local
//! governments. See `README.md` for running it and `openapi.yaml` for the API.

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod openapi;
pub mod service;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
