"""Portal account settings: verified e-mail address, nickname, which notice kinds are announced by e-mail."""
