"""Limits on everything a participant (or anyone on the LAN) can repeat (docs/limits.md).

- :mod:`budgets`: security budgets kept in the database, so every worker and every host sees one
  limit: failed logins per account and per address, wrong session tokens per participant,
  integrity-event requests per attempt.
- :mod:`throttle`: a per-host request throttle per client address, in memory shared by the
  server's workers, that answers a flood with 429 before any database work.
"""
