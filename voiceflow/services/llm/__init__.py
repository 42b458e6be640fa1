"""LLM engines: the provider-neutral contract and the vendor adapters.

- ``engine``: ChatMessage, ToolCallRequest, TextDelta, Done, LLMEngine
- ``errors``: LLMError and its subclasses, what every adapter raises
- ``adapter_kit``: what every adapter shares (argument parsing, Retry-After, system prompt, TTFT)
- ``openai``: OpenAICompatEngine / OpenAIEngine (chat completions of OpenAI or any compatible server)
- ``anthropic``: AnthropicEngine (Messages API streaming)
- ``gemini``: GeminiEngine (google-genai ``streamGenerateContent``)

Nothing is imported here so that importing the package stays cheap.
"""
