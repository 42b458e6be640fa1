"""Cloud providers (Deepgram, Anthropic, Gemini, OpenAI) through their SDKs against local fakes."""
