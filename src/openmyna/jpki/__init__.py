"""JPKI (公的個人認証): the signing and user-authentication CAs, CRLs, OCSP and the validity-check service.

Other packages use :mod:`openmyna.jpki.service` only.
"""
