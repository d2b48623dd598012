"""F 公金決済: payment requests from agencies, paid by residents through a payment provider, with receipts.

``provider`` is the interface a real acquirer plugs into; ``sandbox`` is a card / Pay-easy acquirer shipped
for development and tests, talked to over HTTP like any other.
"""
