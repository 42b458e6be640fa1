"""Telephony operations: outbound calls through Twilio's REST API, answering-machine detection,
transfers to people, and compliant outbound campaigns (see the README's Telephony section).

``service.Telephony`` places and follows calls; ``line`` holds the two processors a Twilio
call's graph gets; ``pipeline.TelephonyPipeline`` wraps any pipeline with them; ``campaign/``
is the dialer on SQLite.
"""
