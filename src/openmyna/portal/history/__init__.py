"""Menu A: the exchange history (やりとり履歴) with proofs the browser checks."""
