//! SQLite adapter of the Store port (being written).
