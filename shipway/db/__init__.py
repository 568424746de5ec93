"""Database schema (SQLModel tables), engines and migrations."""
