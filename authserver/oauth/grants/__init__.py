"""Our token-endpoint grants, in Authlib's grant style."""
