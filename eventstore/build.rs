//! The migrations are embedded by `sqlx::migrate!`; a new or changed migration file must
//! rebuild this crate, or a binary would run without it.

#![allow(clippy::print_stdout)]

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
