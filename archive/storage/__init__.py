"""The content-addressed store: objects named by their BLAKE3, written once, checked on read."""
