"""headgaze tests: export, service, dashboard, and the benchmark scripts (tests/bench)."""
