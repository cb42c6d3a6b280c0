//! The `mediabot` command line.

fn main() {}
