"""Portal menu C お知らせ (notices from agencies) and D 民間送達 (copies to delivery services the resident chose)."""
