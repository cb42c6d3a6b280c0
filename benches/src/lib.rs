//! Criterion benchmarks of mediabot's per-20 ms-frame path live in `benches/benches/`.
//!
//! This library only holds helpers the benches share (fixture loading); run the benches with
//! `cargo bench -p mediabot-benches`.
