"""Presentation that is not the command line's own: list lines, rendered reports, the kit page."""
