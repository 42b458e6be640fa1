"""The recognizer child process: pocketsphinx decoders for the streams of one server worker.

Run by ``ProcessPocketsphinxEngine`` (``sphinx_process.py``) as
``python -m voiceflow.services.stt.sphinx_child``. Messages are length-prefixed pickles,
parent to child on stdin, child to parent on stdout (nothing else may write there: the
child's ``print`` goes to stderr). The first message is the engine's configuration; the
child builds its share of decoders, answers ``("ready",)``, then serves in order:

- ``("open", sid, channel_cmn, hints)``: a decoder session for stream ``sid``;
- ``("audio", sid, pcm16)``: decode; answers ``("events", sid, done, events)`` when there
  are events, and at least every ``ACK_EVERY`` chunks (``done``: chunks of the stream
  decoded so far, the parent's flow control);
- ``("finalize", sid)``: answers ``("final", sid, done, final, channel_cmn)``;
- ``("close", sid)``: the decoder goes back to the child's pool.

A decoder error answers ``("failure", sid, message)`` and the stream goes on. The child
exits when its stdin closes (the parent closed it, or the parent died).
"""

from __future__ import annotations

import pickle
import signal
import struct
import sys
from typing import IO, Any

from voiceflow.services.stt.engine import FinalText, STTEvent
from voiceflow.services.stt.sphinx_decoder import DecoderSession, take_decoder

#: chunks between two acknowledgements when a stream's audio gives no event
ACK_EVERY = 10
_HEADER = struct.Struct("<I")


def write_message(out: IO[bytes], message: tuple[Any, ...]) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(data)) + data)
    out.flush()


def read_message(inp: IO[bytes]) -> tuple[Any, ...] | None:
    """The next message, or None at the end of the pipe (a cut-off message is the end too)."""
    header = inp.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = inp.read(size)
    if len(data) < size:
        return None
    message: tuple[Any, ...] = pickle.loads(data)
    return message


class _Sessions:
    def __init__(self, out: IO[bytes], options: dict[str, Any]) -> None:
        from voiceflow.services.stt.pocketsphinx import PocketsphinxEngine

        self.out = out
        self.engine = PocketsphinxEngine(**options)
        self.sessions: dict[int, DecoderSession] = {}
        self.done: dict[int, int] = {}

    def open(self, sid: int, channel_cmn: str | None, hints: tuple[str, ...]) -> None:
        try:
            self.engine.channel_cmn = channel_cmn
            pooled = take_decoder(self.engine.options)
            self.sessions[sid] = DecoderSession(self.engine, pooled, frozenset(hints))
            self.done[sid] = 0
        except Exception as exc:
            self._fail(sid, exc)

    def audio(self, sid: int, pcm16: bytes) -> None:
        session = self.sessions.get(sid)
        if session is None:
            return  # its open failed (reported then)
        events: list[STTEvent] = []
        try:
            events = session.decode(pcm16)
        except Exception as exc:
            self._fail(sid, exc)
        done = self.done[sid] = self.done[sid] + 1
        if events or done % ACK_EVERY == 0:
            write_message(self.out, ("events", sid, done, events))

    def finalize(self, sid: int) -> None:
        session = self.sessions.get(sid)
        final = FinalText("", 0.0, speech_final=True, from_finalize=True)
        if session is not None:
            try:
                final = session.finish()
            except Exception as exc:
                self._fail(sid, exc)
        write_message(self.out, ("final", sid, self.done.get(sid, 0), final, self.engine.channel_cmn))

    def close(self, sid: int) -> None:
        self.done.pop(sid, None)
        if (session := self.sessions.pop(sid, None)) is not None:
            session.release()

    def _fail(self, sid: int, exc: Exception) -> None:
        write_message(self.out, ("failure", sid, f"pocketsphinx: {type(exc).__name__}: {exc}"))


def serve(inp: IO[bytes], out: IO[bytes]) -> None:
    """Answer the parent's messages until its pipe closes."""
    config = read_message(inp)
    if config is None:
        return
    _, options, prewarm = config
    sessions = _Sessions(out, options)
    sessions.engine.prewarm(prewarm)
    write_message(out, ("ready",))
    while (message := read_message(inp)) is not None:
        op, sid, *args = message
        if op == "audio":
            sessions.audio(sid, *args)
        elif op == "open":
            sessions.open(sid, *args)
        elif op == "finalize":
            sessions.finalize(sid)
        elif op == "close":
            sessions.close(sid)
        else:
            raise ValueError(f"sphinx child: unknown message {op!r}")


def main() -> None:
    # the parent decides when this process ends (it closes the pipe): a Ctrl-C to the process
    # group must not kill a recognizer under a call that is still draining
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = sys.stdout.buffer
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
