"""Tests of khronos.metrics and the daemon HTTP server."""
