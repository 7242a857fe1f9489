//! `catat bench`: measurements side by side with the raw database and a peer library, in one
//! run, written as JSON and a markdown table.

pub mod auth;
pub mod billing;
pub mod commands;
pub mod measure;
mod orders;
mod orders_list;
pub mod payments;
mod peer;
mod server;
pub mod store;
