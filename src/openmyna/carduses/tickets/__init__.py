"""Ticketless entry (チケットレス): tickets bound to a card holder's per-organiser pseudonym, matched at the venue."""
