"""Tests for the Enphase Cloud integration and its simulator."""
