"""The LLM agent processor (tool-call loop); engines live in ``voiceflow.services.llm``.

Nothing is imported here so that importing the package stays cheap.
"""
