"""Floor 1: organisations (every actor of the platform), their keys and credentials, and staff accounts."""
