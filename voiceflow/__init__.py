"""voiceflow: real-time voice agents as typed frames flowing through a graph of async processors."""

__version__ = "0.1.0"
