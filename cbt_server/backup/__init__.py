"""Backups of the database while a lab is served, and their restore (docs/backup.md).

- :mod:`.service`: take a verified backup (SQLite's online backup API, or ``pg_dump``), list,
  prune and restore with checks;
- :mod:`.settings`: the admin's schedule (``instance/backup.json``) and the last results
  (``instance/backup-state.json``), no database table;
- :mod:`.schedule` (pure): whether a backup is due now;
- :mod:`.scheduler`: one backup at a time across workers and processes (a file lock), the
  audited run, and the background thread of a gunicorn worker.
"""
