"""WebRTC transport (aiortc): browser peers over native RTCPeerConnection.

``WebRTCTransport`` answers ``POST /webrtc/offer`` and runs one graph per peer:
``WebRTCInput`` (the peer's microphone as 16 kHz ``AudioRaw``) → pipeline →
``WebRTCOutput`` (agent ``TTSAudio`` onto the paced ``OutboundAudioTrack``, text
and latency onto the "events" data channel, playout reports upstream).
"""

from voiceflow.transports.webrtc.input import WebRTCInput, frame_to_mono
from voiceflow.transports.webrtc.offer import OfferError, parse_offer
from voiceflow.transports.webrtc.output import WebRTCOutput
from voiceflow.transports.webrtc.peer import WebRTCPeer
from voiceflow.transports.webrtc.track import OUTBOUND_RATE, OutboundAudioTrack, PlayoutEvent
from voiceflow.transports.webrtc.transport import Answer, PeerLimitError, PipelineStartError, WebRTCTransport

__all__ = [
    "OUTBOUND_RATE",
    "Answer",
    "OfferError",
    "OutboundAudioTrack",
    "PeerLimitError",
    "PipelineStartError",
    "PlayoutEvent",
    "WebRTCInput",
    "WebRTCOutput",
    "WebRTCPeer",
    "WebRTCTransport",
    "frame_to_mono",
    "parse_offer",
]
