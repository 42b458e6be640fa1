"""Tests of the llm package."""
