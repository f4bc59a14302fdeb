//! The `dittofs` command.
fn main() {}
