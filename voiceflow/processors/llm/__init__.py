"""LLM engines (provider-neutral interface + adapters) and the LLM agent processor."""
