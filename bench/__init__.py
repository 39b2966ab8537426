"""The simulated-month benchmark (run by script/bench, never by the test suite)."""
