"""The resource registry: kinds, scopes, strategies (defaults, validation, tables), schemas."""
