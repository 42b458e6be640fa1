"""Speech-to-text engines: the contract and the offline pocketsphinx adapter.

Vendor modules are not imported here, so importing the contract stays cheap.
"""

from voiceflow.services.stt.engine import FinalTranscript, STTEngine, STTInputError, STTSession

__all__ = ["FinalTranscript", "STTEngine", "STTInputError", "STTSession"]
