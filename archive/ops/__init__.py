"""The operations behind the commands: one verb per module, each returning a typed result."""
