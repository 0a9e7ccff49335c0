"""Harvest licences from a running system or an old system disk (`arkeep harvest`).

`sources.toml` says where each product keeps its licence; `hives` reads Windows registry hives
(offline with regipy, live with winreg); `layout` finds the places on a disk; `plan` reads them
into a plan, and `record` turns the plan's keys into encrypted licence records.
"""
