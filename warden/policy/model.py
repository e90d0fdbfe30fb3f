"""Policy schema, loading and validation with error locations (file:line)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from ..errors import WardenError

ActionName = Literal["allow", "label", "age_restrict", "limit", "remove", "review"]
Severity = Literal["low", "medium", "high", "critical"]
SEVERITY_WEIGHT = {"low": 1.0, "medium": 2.0, "high": 3.0, "critical": 4.0}
# When categories disagree, the strongest action wins; review outranks label/allow
# because a human must look before anything softer is applied.
DEFAULT_ACTION_PRECEDENCE: list[ActionName] = ["remove", "age_restrict", "limit", "review", "label", "allow"]


class PolicyError(WardenError):
    """A policy file that does not validate; `problems` lists 'location: message' lines."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s)\n" + "\n".join(f"  - {p}" for p in problems))


class ActionRule(BaseModel):
    """Apply `action` when P(violation) reaches a threshold.

    The threshold is one of: a probability (`min_probability`); the score at which the
    calibration data reaches `target_precision`; or the score above which at most `max_share`
    of the calibration traffic falls (a review budget, usable before any labelled data exists).
    The last two are resolved per model version so a rule means the same after retraining.
    """

    model_config = ConfigDict(extra="forbid")

    action: ActionName
    target_precision: float | None = Field(default=None, gt=0.0, lt=1.0)
    min_probability: float | None = Field(default=None, ge=0.0, le=1.0)
    max_share: float | None = Field(default=None, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _exactly_one_threshold(self) -> ActionRule:
        given = [v for v in (self.target_precision, self.min_probability, self.max_share) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of target_precision, min_probability or max_share")
        return self


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    definition: str = Field(min_length=10)
    severity: Severity
    in_scope: list[str] = Field(default_factory=list, description="Examples that violate.")
    out_of_scope: list[str] = Field(default_factory=list, description="Near misses that do not.")
    actions: list[ActionRule] = Field(
        min_length=1, description="Strongest first; the first rule reached wins."
    )
    prevalence: float | None = Field(
        default=None,
        gt=0.0,
        lt=1.0,
        description="Expected share of content on the platform that violates this category. Target "
        "precisions are computed at this prevalence instead of the calibration data's (often higher) one.",
    )

    @model_validator(mode="after")
    def _examples(self) -> Category:
        if len(self.in_scope) < 3:
            raise ValueError(f"category {self.id!r} needs at least 3 in_scope examples for few-shot scoring")
        return self


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: str = Field(min_length=1)
    description: str = ""
    action_precedence: list[ActionName] = Field(default_factory=lambda: list(DEFAULT_ACTION_PRECEDENCE))
    categories: list[Category] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Policy:
        ids = [c.id for c in self.categories]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate category ids: {', '.join(dupes)}")
        missing = set(DEFAULT_ACTION_PRECEDENCE) - set(self.action_precedence)
        if missing:
            raise ValueError(f"action_precedence must list every action; missing {sorted(missing)}")
        return self

    @property
    def category_ids(self) -> list[str]:
        return [c.id for c in self.categories]

    def category(self, category_id: str) -> Category:
        for c in self.categories:
            if c.id == category_id:
                return c
        raise KeyError(category_id)

    def fingerprint(self) -> str:
        """Content hash: two policies with the same version but different rules are told apart."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:12]

    @property
    def full_version(self) -> str:
        return f"{self.name}@{self.version}+{self.fingerprint()}"


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Walk a composed YAML node along a pydantic error location and return its 1-based line."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if node is None:
            break
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for key, value in node.value:
                if key.value == part:
                    nxt = value
                    line = key.start_mark.line + 1
                    break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def load_policy_text(text: str, source: str = "<policy>") -> Policy:
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise PolicyError(source, [f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    except RecursionError:
        # A policy is a few levels deep; thousands of nested brackets are an attack, not a policy.
        raise PolicyError(source, [f"{source}: nested too deeply to be a policy"]) from None
    if not isinstance(data, dict):
        raise PolicyError(
            source, [f"{source}:1: the policy must be a mapping with name, version and categories"]
        )
    try:
        return Policy.model_validate(data)
    except PydanticValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = _line_of(root, loc)
            path = ".".join(str(p) for p in loc) or "(root)"
            where = f"{source}:{line}" if line else source
            problems.append(f"{where}: {path}: {err['msg']}")
        raise PolicyError(source, problems) from exc


def load_policy(path: str | Path) -> Policy:
    path = Path(path)
    if not path.exists():
        raise PolicyError(str(path), [f"{path}: file not found"])
    if not path.is_file():
        raise PolicyError(str(path), [f"{path}: not a file"])
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PolicyError(str(path), [f"{path}:{line}: invalid UTF-8 at byte {exc.start}"]) from exc
    return load_policy_text(text, source=str(path))
