"""Floor 2: the municipality's tax ledger (地方税): each resident's assessed income and tax per year."""
