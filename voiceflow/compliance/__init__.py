"""The HIPAA / PCI DSS compliance auditor and the retention purge.

``voiceflow audit`` and ``GET /admin/audit`` run it.
"""
