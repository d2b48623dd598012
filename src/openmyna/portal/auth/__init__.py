"""The resident's portal session: who is logged in, how, and since when."""
