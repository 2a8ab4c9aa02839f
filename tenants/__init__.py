"""Agencies, client companies, users, memberships, roles and the tenant boundary."""
