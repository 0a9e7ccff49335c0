"""Secrets: the wrapped archive key, what is derived from it, and documents encrypted at rest."""
