"""Replication: units on remotes, the plan, the ledger, and the verbs that move units (sync,
remote verify, repair, rebuild)."""
