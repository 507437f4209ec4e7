"""Exam sessions: creating them, their rosters and what each role sees of them."""
