"""Convenience-store issuance (コンビニ交付).

The kiosk terminal, the issuance centre and the municipal certificate server; signed certificates anyone can check.
"""
