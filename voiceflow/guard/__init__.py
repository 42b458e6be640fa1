"""Defences at the edge: bounded parsing, who may connect, admission of new calls.

``json_limits`` (JSON with size and depth bounds), ``http_limits`` (an ASGI
middleware bounding request bodies in size and time, and a uvicorn protocol
bounding the time to send headers), ``tokens`` (one-time Media Streams tokens
and short-lived page tokens), ``origin`` (same-origin checks, trusted Host,
security headers), ``admission`` (per-address and total bounds on new calls).
Only the standard library and the ASGI/uvicorn layer are imported here, so
transports and routes can both use it.
"""
