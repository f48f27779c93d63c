//! Code shared by the criterion bench (`benches/engine.rs`) and the harness
//! (`examples/bench.rs`, which includes this directory with `#[path]`): the physical floor, the
//! benchmarked engines and operations, and how an operation is timed. One definition, so the two
//! report the same scenarios.

pub(crate) mod floor;
pub(crate) mod measure;
pub(crate) mod workload;
