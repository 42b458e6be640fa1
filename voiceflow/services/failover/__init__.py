"""Failover across providers of one kind, each guarded by a circuit breaker.

``stt.FailoverSTT`` (replays the audio since the last final to the next recognizer),
``llm.FailoverLLM`` (retries before the first token, continues after it). TTS failover
is the ``TTSRouter`` (``voiceflow.services.tts.router``): it also chooses the voice.
"""
