"""Outbound campaigns: contacts (CSV), calling hours, the dialer, analytics, the manager."""
