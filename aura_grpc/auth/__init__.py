"""Org-scoped bearer tokens and the scopes each method needs."""
