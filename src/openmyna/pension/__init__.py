"""Floor 2: the pension office's ledger (年金): members, their enrolment and the benefits they receive."""
