"""LLM policy judge: an instruction-following model reads the policy and judges content.

    from warden.llm import JudgeSettings, PolicyJudge
    judge = PolicyJudge(policy, settings=JudgeSettings(categories=["spam_scam"]))
    judgement = judge.judge(Content(id="1", text="WIN a free iPhone, click here"))

Modules: `config` (settings), `prompt` (prompt from the policy), `schema` (output schema and
parser), `backends` (llama.cpp in-process, OpenAI-compatible HTTP), `verify` (quoted
evidence checked against the content), `cache`, `judge` (the orchestration), `evaluate`
(agreement with labels). The detector adapter is `warden.detectors.llm_judge`.
"""

from __future__ import annotations

from .backends import (
    BackendError,
    BackendUnavailable,
    CountingBackend,
    JudgeBackend,
    LlamaCppBackend,
    OpenAICompatibleBackend,
    backend_from_settings,
)
from .cache import JudgeCache
from .config import JudgeSettings
from .judge import Judgement, PolicyJudge

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "CountingBackend",
    "JudgeBackend",
    "JudgeCache",
    "JudgeSettings",
    "Judgement",
    "LlamaCppBackend",
    "OpenAICompatibleBackend",
    "PolicyJudge",
    "backend_from_settings",
]
