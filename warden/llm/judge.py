"""The policy judge: prompt -> backend -> parsed verdicts -> verified evidence, with a cache.

`PolicyJudge.judge_many(items)` returns one `Judgement` per item. Categories are judged in
groups of `categories_per_call`; each group is one model call and one cache entry keyed by
(content hash, policy version, model id, categories).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from ..content import Content
from ..policy.model import Policy
from .backends import BackendError, JudgeBackend, backend_from_settings
from .cache import JudgeCache, cache_key
from .config import JudgeSettings
from .prompt import build_prompt, clause_text
from .schema import JudgeOutputError, parse_verdicts
from .verify import CheckedVerdict, check_verdict, violation_probability


@dataclass
class Judgement:
    """The judge's answer for one item: verified verdicts per category, or errors."""

    content_id: str
    model_id: str
    policy_version: str
    verdicts: dict[str, CheckedVerdict] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # category -> why it has no verdict
    calls: int = 0  # model calls made (cache misses)
    cached: int = 0  # groups answered from the cache
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    truncated: bool = False

    def scores(self) -> dict[str, float]:
        return {c: violation_probability(v.verdict, v.confidence) for c, v in self.verdicts.items()}

    def to_dict(self, policy: Policy | None = None) -> dict[str, Any]:
        verdicts = {}
        for cat, v in self.verdicts.items():
            d = v.to_dict()
            if policy is not None and v.clause != "none":
                d["clause_text"] = clause_text(policy, v.clause)
            verdicts[cat] = d
        out: dict[str, Any] = {
            "model": self.model_id,
            "policy": self.policy_version,
            "verdicts": verdicts,
            "calls": self.calls,
            "cached": self.cached,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }
        if self.errors:
            out["errors"] = self.errors
        if self.truncated:
            out["truncated"] = True
        return out


@dataclass(frozen=True)
class _Group:
    item_index: int
    categories: tuple[str, ...]


@dataclass(frozen=True)
class _Answer:
    verdicts: dict[str, CheckedVerdict]
    cached: bool
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    truncated: bool


class PolicyJudge:
    def __init__(
        self,
        policy: Policy,
        backend: JudgeBackend | None = None,
        settings: JudgeSettings | None = None,
        cache: JudgeCache | None = None,
    ) -> None:
        self.policy = policy
        self.settings = settings or JudgeSettings()
        self.backend = backend if backend is not None else backend_from_settings(self.settings)
        if cache is None and (self.settings.cache_size > 0 or self.settings.cache_path is not None):
            cache = JudgeCache(self.settings.cache_size, self.settings.cache_path)
        self.cache = cache
        self.categories = list(self.settings.categories or policy.category_ids)
        for cat in self.categories:
            policy.category(cat)  # KeyError names an unknown category at construction time

    def load(self) -> None:
        self.backend.load()

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    def _groups(self, categories: Sequence[str]) -> list[tuple[str, ...]]:
        n = self.settings.categories_per_call
        cats = list(categories)
        return [tuple(cats[i : i + n]) for i in range(0, len(cats), n)]

    def _answer(self, item: Content, categories: tuple[str, ...], model_id: str) -> _Answer:
        s = self.settings
        prompt = build_prompt(
            self.policy, categories, item.text, item.context, s.max_examples, s.max_content_chars
        )
        key = cache_key(item.content_hash(), self.policy.full_version, model_id, categories)
        raw = self.cache.get(key) if self.cache is not None else None
        cached = raw is not None
        prompt_tokens = completion_tokens = 0
        started = time.perf_counter()
        if raw is None:
            completion = self.backend.complete(
                prompt.messages, prompt.schema, s.max_tokens_per_category * len(categories) + 16
            )
            raw = completion.text
            prompt_tokens, completion_tokens = completion.prompt_tokens, completion.completion_tokens
        parsed = parse_verdicts(raw, categories)
        if not cached and self.cache is not None:
            self.cache.put(key, raw)  # only answers that parse are cached
        verdicts = {c: check_verdict(c, v, item.text, s.downgrade_factor) for c, v in parsed.items()}
        return _Answer(
            verdicts,
            cached,
            prompt_tokens,
            completion_tokens,
            time.perf_counter() - started,
            prompt.truncated,
        )

    def judge_many(
        self, items: Sequence[Content], categories: Sequence[Sequence[str]] | Sequence[str] | None = None
    ) -> list[Judgement]:
        """Judge every item for `categories`: None = the configured ones; a list of ids = the
        same for every item; a list of lists = per item (e.g. only the uncertain ones)."""
        if not items:
            return []
        per_item: list[Sequence[str]]
        if categories is None:
            per_item = [self.categories] * len(items)
        elif not categories:
            per_item = [[] for _ in items]
        elif all(isinstance(c, str) for c in categories):
            per_item = [cast(list[str], list(categories))] * len(items)
        else:
            per_item = [list(c) for c in categories]
            if len(per_item) != len(items):
                raise ValueError(f"{len(per_item)} category lists for {len(items)} items")
        self.load()
        model_id = self.backend.model_id
        version = self.policy.full_version
        judgements = [Judgement(item.id, model_id, version) for item in items]
        groups = [_Group(i, g) for i, cats in enumerate(per_item) for g in self._groups(cats)]
        # Group-major order: consecutive calls share their system prompt (the policy text of the
        # same categories), which a local backend keeps in its KV cache instead of re-reading.
        groups.sort(key=lambda g: g.categories)

        def run(group: _Group) -> _Answer | Exception:
            try:
                return self._answer(items[group.item_index], group.categories, model_id)
            except (BackendError, JudgeOutputError) as exc:
                if self.settings.on_error == "raise":
                    raise
                return exc

        workers = max(1, min(self.backend.max_concurrency, len(groups)))
        if workers == 1:
            answers = [run(g) for g in groups]
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llm-judge") as pool:
                answers = list(pool.map(run, groups))
        for group, answer in zip(groups, answers, strict=True):
            j = judgements[group.item_index]
            if isinstance(answer, Exception):
                for cat in group.categories:
                    j.errors[cat] = f"{type(answer).__name__}: {answer}"
                continue
            j.verdicts.update(answer.verdicts)
            j.cached += int(answer.cached)
            j.calls += int(not answer.cached)
            j.prompt_tokens += answer.prompt_tokens
            j.completion_tokens += answer.completion_tokens
            j.seconds += answer.seconds
            j.truncated = j.truncated or answer.truncated
        return judgements

    def judge(self, item: Content, categories: Sequence[str] | None = None) -> Judgement:
        return self.judge_many([item], None if categories is None else list(categories))[0]

    def close(self) -> None:
        self.backend.close()
        if self.cache is not None:
            self.cache.close()
