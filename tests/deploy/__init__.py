"""Tests of the deployment files for the Prometheus + Alertmanager path (deploy/)."""
