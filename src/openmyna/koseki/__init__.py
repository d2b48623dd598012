"""The family register (戸籍): a minimal register of 本籍, 筆頭者, members and their events, kept by the
municipality of the 本籍 (which may differ from where the members live), and its residence annex (附票)."""
