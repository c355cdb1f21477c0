"""Storage: Piccolo tables, the database engine, and migrations."""
