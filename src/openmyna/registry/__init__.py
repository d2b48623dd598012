"""Floor 2: the resident registry (住民基本台帳): residents, households and their history."""
