"""Socket transports' shared parts and the browser WebSocket protocol.

``input`` (``PcmInput``: a graph source fed by a socket handler), ``call``
(``SocketCall``: one socket carrying one call), ``output`` (``WebSocketOutput``:
paced linear16 plus JSON events), ``browser`` (``BrowserCall``, the ``/ws`` protocol).
"""

from voiceflow.transports.websocket.browser import BrowserCall, WebSocketInput
from voiceflow.transports.websocket.call import SocketCall
from voiceflow.transports.websocket.input import DTMF_DIGITS, PcmInput
from voiceflow.transports.websocket.output import WebSocketOutput, WebSocketWire

__all__ = [
    "DTMF_DIGITS",
    "BrowserCall",
    "PcmInput",
    "SocketCall",
    "WebSocketInput",
    "WebSocketOutput",
    "WebSocketWire",
]
