"""Tests of tether.policy (a package: its test_losses.py would clash with tests/reward/test_losses.py)."""
