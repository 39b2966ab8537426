"""Tests of the Enphase API v4 simulator, over HTTP against the running app."""
