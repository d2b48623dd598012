"""Corporate information (法人インフォメーション): the corporate-number registry, activity records and their APIs.

Floor 2 (registry of corporations, NTA CSV import, activity records, search, synthetic data) with its
gBizINFO v2- and NTA Web-API v4-compatible routers and pages kept beside it.
"""
