"""Paced agent-audio output with playout tracking, shared by the socket transports.

``output`` holds ``PacedAudioOutput`` (the sink processor: pacing, marks, playout
reports, barge-in clears); ``wire`` holds the ``AudioWire`` protocol a transport
implements and the ``OutputStats`` an output keeps.
"""

from voiceflow.transports.playout.output import PacedAudioOutput
from voiceflow.transports.playout.wire import AudioWire, OutputStats

__all__ = ["AudioWire", "OutputStats", "PacedAudioOutput"]
