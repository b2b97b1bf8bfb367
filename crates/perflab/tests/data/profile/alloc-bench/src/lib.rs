//! Nothing: the benchmarks are the fixture.
