"""Floor 0: configuration, storage, cryptography, audit, clock, errors and i18n shared by every domain."""
