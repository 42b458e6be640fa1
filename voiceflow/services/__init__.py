"""Provider adapters, one package per kind (``stt``, ``tts``, ``llm``), one file per vendor.

Each kind's package holds its contract (``engine.py``: the protocol every adapter
implements and the errors it raises), the helpers adapters share, and the vendor
files. Processors take an engine; they never import a vendor.
"""
