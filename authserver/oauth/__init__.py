"""Chatframe's authorization server: Authlib's machinery plus our grants and extensions."""
