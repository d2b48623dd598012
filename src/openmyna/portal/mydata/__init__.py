"""Menu B: わたしの情報, my own data as the agencies hold it, asked over the exchange network."""
