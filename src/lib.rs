//! pbx-cluster: one profile in, a highly available two-node Asterisk PBX out.
//!
//! Data flow: profile (TOML) -> model (validated) -> render (files per node)
//! -> plan -> apply -> verify. Each stage takes the previous stage's type.

pub mod apply;
pub mod cli;
pub mod commands;
pub mod diagnostics;
pub mod engine;
pub mod error;
pub mod exec;
pub mod fsutil;
pub mod image;
pub mod mode;
pub mod model;
pub mod output;
pub mod package;
pub mod plan;
pub mod profile;
pub mod raw;
pub mod render;

pub use commands::run;
pub mod runtime;

/// Where the package installs the binary: what rendered files and plans call.
pub const SELF_BIN: &str = "/usr/sbin/pbx-cluster";
