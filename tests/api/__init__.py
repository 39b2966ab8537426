"""Tests for the Enphase API v4 client package (no Home Assistant involved)."""
