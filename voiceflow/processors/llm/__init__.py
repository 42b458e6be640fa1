"""LLM engines and the LLM agent processor.

- ``engine``: the provider-neutral interface (ChatMessage, ToolCallRequest, TextDelta, Done, LLMEngine)
- ``errors``: LLMError and its subclasses, what every adapter raises
- ``openai_compat``: OpenAICompatEngine (chat completions of any OpenAI-compatible server)
- ``agent``: LLMAgent, the processor running the tool-call feedback loop

Nothing is imported here so that importing the package stays cheap.
"""
