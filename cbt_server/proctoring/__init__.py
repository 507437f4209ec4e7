"""The proctor's console: scope, token, live monitor, interventions, session report."""
