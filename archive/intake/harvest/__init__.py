"""Harvest licences from a running system or an old system disk (`arkeep harvest`).

`sources.toml` says where each product keeps its licence (`sources` reads it); `hives` reads
Windows registry hives (offline with regipy, live with winreg); `layout` finds the places on a
disk; `registry_sources` and `file_sources` follow the table's entries there (`productkey`
decodes Microsoft's keys), `installed` lists the installed programs; `plan` puts it all in one
plan (`findings` are its parts), and `record` turns the plan's keys into encrypted licence
records.
"""
