"""Floor 6: the ``openmyna`` command."""
