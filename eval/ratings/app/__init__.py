"""The rating app: FastAPI over an embedded SQLite store, one secret link per reviewer."""
