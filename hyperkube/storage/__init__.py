"""The etcd v3-semantics store: one interface (``interface``), backends for SQLite and etcd."""
