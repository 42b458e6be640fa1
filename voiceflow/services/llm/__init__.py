"""LLM engines: the provider-neutral contract and the vendor adapters.

- ``engine``: ChatMessage, ToolCallRequest, TextDelta, Done, LLMEngine
- ``errors``: LLMError and its subclasses, what every adapter raises
- ``openai``: OpenAICompatEngine (chat completions of OpenAI or any compatible server)

Nothing is imported here so that importing the package stays cheap.
"""
