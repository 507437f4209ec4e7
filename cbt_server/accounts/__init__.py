"""Accounts: creating users and checking credentials."""
