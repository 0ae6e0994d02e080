"""Data-access functions: each takes a session, reads or writes, and only flushes."""
