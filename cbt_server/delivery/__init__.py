"""Participant delivery: entry, attempt assembly, autosave, resume, expiry."""
