"""Intake: reading installers, receipts and password-manager exports into licence data."""
