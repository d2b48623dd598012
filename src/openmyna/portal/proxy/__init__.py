"""Proxy use (代理人): a resident lets a named person use chosen menus for them until a date."""
