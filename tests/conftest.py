"""Shared fixtures. Tests talk only to 127.0.0.1; no network beyond loopback."""
