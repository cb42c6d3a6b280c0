//! Per-20 ms-frame costs of the receive path (filled in below).

fn main() {}
