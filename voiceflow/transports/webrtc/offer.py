"""Checking a peer's SDP offer before aiortc sees it, with messages that say what is wrong.

``parse_offer`` takes the decoded JSON body of ``POST /webrtc/offer``; anything
it rejects raises ``OfferError`` (HTTP 400) naming the field and the problem,
never echoing more than a short, printable excerpt of what was sent.
The SDP is parsed (aiortc's own parser, no connection involved) and its shape
checked here, so a malformed offer is refused before any peer connection, ICE
gathering or port exists for it.
"""

from __future__ import annotations

from aiortc import RTCSessionDescription
from aiortc.sdp import SessionDescription

__all__ = ["MAX_SDP_BYTES", "OfferError", "parse_offer", "short_reason", "short_repr"]

#: a browser offer with audio and a data channel is 2-6 KB; anything far bigger is not an offer
MAX_SDP_BYTES = 64 * 1024
#: audio plus the data channel is 2; a little room for a browser's extra sections
MAX_MEDIA_SECTIONS = 4
MAX_CANDIDATES = 64


class OfferError(ValueError):
    """The offer cannot be answered; the message is safe to return to the client."""


def short_repr(value: object, limit: int = 40) -> str:
    """A printable, bounded excerpt of client data for an error message."""
    text = repr(value)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_offer(body: object) -> RTCSessionDescription:
    """The offer in ``body`` (``{"sdp": str, "type": "offer"}``), or ``OfferError``."""
    if not isinstance(body, dict):
        raise OfferError(f"body must be a JSON object with 'sdp' and 'type', got {type(body).__name__}")
    missing = [key for key in ("sdp", "type") if key not in body]
    if missing:
        raise OfferError(f"missing field(s): {', '.join(missing)}")
    kind, sdp = body["type"], body["sdp"]
    if kind != "offer":
        raise OfferError(f"'type' must be 'offer', got {short_repr(kind)}")
    if not isinstance(sdp, str):
        raise OfferError(f"'sdp' must be a string, got {type(sdp).__name__}")
    if len(sdp.encode("utf-8", "replace")) > MAX_SDP_BYTES:
        raise OfferError(f"'sdp' is larger than {MAX_SDP_BYTES} bytes")
    lines = [line.strip() for line in sdp.strip().splitlines()]
    if not lines or lines[0] != "v=0":
        raise OfferError("'sdp' is not a session description (the first line must be 'v=0')")
    if not any(line.startswith("m=audio ") for line in lines):
        raise OfferError("the offer has no audio section ('m=audio'); the call needs a microphone track")
    if not any(line.startswith("a=fingerprint:") for line in lines):
        raise OfferError("the offer has no DTLS fingerprint ('a=fingerprint:')")
    if not any(line.startswith("a=ice-ufrag:") for line in lines):
        raise OfferError("the offer has no ICE credentials ('a=ice-ufrag:')")
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc's parser raises whatever the bad line makes it raise
        raise OfferError(f"the SDP offer was rejected: {short_reason(exc)}") from None
    if len(parsed.media) > MAX_MEDIA_SECTIONS:
        raise OfferError(f"the offer has {len(parsed.media)} media sections (at most {MAX_MEDIA_SECTIONS})")
    if sum(len(m.ice_candidates) for m in parsed.media) > MAX_CANDIDATES:
        raise OfferError(f"the offer has more than {MAX_CANDIDATES} ICE candidates")
    check_sections(parsed)
    return RTCSessionDescription(sdp=sdp, type="offer")


def short_reason(exc: BaseException) -> str:
    """A short, single-line reason from aiortc's error (no traceback, no internals)."""
    if isinstance(exc, KeyError | IndexError) and exc.args:
        text = f"unsupported or malformed value {exc.args[0]!r}"
    else:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= 120 else text[:117] + "..."


def check_sections(parsed: SessionDescription) -> None:
    """The shape aiortc's negotiation relies on (a malformed one breaks it after the answer is sent)."""
    kinds = [m.kind for m in parsed.media]
    if kinds.count("audio") != 1 or kinds.count("application") > 1 or set(kinds) - {"audio", "application"}:
        raise OfferError("the offer must have one audio section and at most one data channel section")
    mids = [m.rtp.muxId for m in parsed.media]
    if any(not mid for mid in mids) or len(set(mids)) != len(mids):
        raise OfferError("every media section needs its own 'a=mid:'")
    for group in parsed.group:
        if group.semantic == "BUNDLE" and any(str(item) not in mids for item in group.items):
            raise OfferError("'a=group:BUNDLE' names a section the offer does not have")
    for media in parsed.media:
        ice, dtls = media.ice, media.dtls
        if ice is None or not ice.usernameFragment or not ice.password:
            raise OfferError(f"the {media.kind} section has no ICE credentials")
        if dtls is None or not dtls.fingerprints:
            raise OfferError(f"the {media.kind} section has no DTLS fingerprint")
        if media.kind == "audio" and not media.rtp.codecs:
            raise OfferError("the audio section offers no codec")
        if media.kind == "application" and media.sctp_port is None and not media.sctpmap:
            raise OfferError("the data channel section has no SCTP port")
