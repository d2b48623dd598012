"""Mynaportal (マイナポータル): the resident's portal, one sub-package per menu.

``auth`` (card and QR login, the resident's web session) is what every menu builds on; the menus
(exchange history, own data, notices, private delivery, public payment, linked sites) sit beside it.
"""
