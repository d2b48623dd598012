"""Floor 4: the Information Provision Network (情報提供ネットワークシステム).

Agencies exchange data items only where the exchange table allows, knowing a person only by their own
agency-specific code; every exchange is recorded for both sides in an RFC 6962 Merkle log the citizen
can check.
"""
