"""Chatframe's load benchmark: `make bench` (see README.md)."""
