"""Run configuration (YAML) validated by pydantic; errors name the file and the bad key."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from eval.errors import UserError
from eval.records import ReviewScale, ReviewSource


class ConfigError(UserError):
    """A config problem, already phrased for the user (file and key included)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Format = Literal["tickets", "zendesk", "intercom", "freshdesk", "messages_csv"]
"""``tickets``: our Ticket records (JSONL, CSV, Parquet, a hub dataset); the others are helpdesk exports."""


class DataConfig(_Strict):
    paths: list[str] = Field(min_length=1)
    format: Format = "tickets"
    mapping: str | dict[str, Any] | None = None
    """A mapping file, or the mapping itself (e.g. ``{category: {tag_prefix: cat_}}``)."""
    max_text_chars: int = Field(default=20_000, gt=0)
    max_quarantine: float = Field(default=0.05, ge=0.0, le=1.0)


class RetrievalResponder(_Strict):
    kind: Literal["retrieval"] = "retrieval"
    history_fraction: float = Field(default=0.5, gt=0.0, lt=1.0)
    batch_size: int = Field(default=256, gt=0)


class PrecomputedResponder(_Strict):
    kind: Literal["precomputed"]
    path: str


DEFAULT_SYSTEM_PROMPT = (
    "You are a customer support agent. Write the agent's next reply to the customer: "
    "accurate, polite, concise, following company policy. Escalate when you cannot resolve the issue."
)


class Endpoint(_Strict):
    """An OpenAI-compatible chat-completions server and how hard we may push it."""

    base_url: str = Field(min_length=1)
    model: str = Field(min_length=1)
    api_key_env: str | None = None
    """Name of the environment variable holding the API key (never the key itself)."""
    api_key_header: Literal["authorization", "api-key"] = "authorization"
    """``api-key`` for Azure OpenAI keys; ``authorization`` sends ``Bearer <key>``."""
    api_version: str | None = None
    """Azure OpenAI's ``api-version`` query parameter, when its endpoint needs one."""
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_tokens: int = Field(default=400, gt=0)
    seed: int | None = None
    concurrency: int = Field(default=8, gt=0)
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=5, ge=0)
    backoff_base_s: float = Field(default=0.5, gt=0)
    backoff_max_s: float = Field(default=30.0, gt=0)
    requests_per_minute: float | None = Field(default=None, gt=0)
    tokens_per_minute: float | None = Field(default=None, gt=0)
    price_prompt_per_1k: float = Field(default=0.0, ge=0)
    price_completion_per_1k: float = Field(default=0.0, ge=0)
    redact: bool = True
    """Redact personal data from every outgoing message (eval.redact), as for rating packets."""
    cache: bool = True
    cache_path: str | None = None
    """SQLite response cache; default ``$XDG_CACHE_HOME/support-eval/responses.sqlite``."""

    def params(self) -> dict[str, Any]:
        """Generation parameters sent with every request (and part of the cache key)."""
        out: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.top_p is not None:
            out["top_p"] = self.top_p
        if self.seed is not None:
            out["seed"] = self.seed
        return out


class OpenAIResponder(Endpoint):
    kind: Literal["openai"]
    system_prompt: str = Field(default=DEFAULT_SYSTEM_PROMPT, min_length=1)
    knowledge_path: str | None = None
    """Optional text file of knowledge snippets appended to the system prompt."""
    batch_size: int = Field(default=512, gt=0)
    """Requests handed to the client at once; two batches are in flight, so none idles between them."""


class JudgeConfig(Endpoint):
    """The model behind ``llm_judge`` criteria and the pairwise judge."""

    kind: Literal["endpoint"] = Field(default="endpoint", exclude=True)
    """Left out of the config's dump, so configs written before judges had kinds keep their hash."""
    json_mode: bool = True
    """Ask for ``response_format: json_object`` (servers that lack it ignore or reject it)."""
    min_items: int = Field(default=30, ge=1)
    """Calibration needs at least this many rated items in a category before the judge is trusted."""
    pairwise: bool = False
    """Also run the pairwise judge over every item in `run` (two calls per item)."""


class PrecomputedJudge(_Strict):
    """Another system's verdicts on our items (DESIGN.md Judge verdict), imported instead of calling a model."""

    kind: Literal["precomputed"]
    path: str
    min_items: int = Field(default=30, ge=1)
    """As for an endpoint judge: rated items a category needs before calibration may trust the judge."""


def _judge_kind(v: Any) -> str:
    """A judge section without ``kind`` is an endpoint, as every judge was before there were kinds."""
    return str(v.get("kind", "endpoint") if isinstance(v, dict) else getattr(v, "kind", "endpoint"))


Judge = Annotated[Annotated[JudgeConfig, Tag("endpoint")] | Annotated[PrecomputedJudge, Tag("precomputed")],
                  Discriminator(_judge_kind)]

Responder = Annotated[
    RetrievalResponder | PrecomputedResponder | OpenAIResponder, Field(discriminator="kind")
]


class ReplayConfig(_Strict):
    turns: Literal["all", "first"] = "all"
    responder: Responder = RetrievalResponder()


class RubricsConfig(_Strict):
    path: str


class RatingsConfig(_Strict):
    key: str | None = None
    files: list[str] = Field(default_factory=list)
    guidelines: str | None = None
    """Rating guidelines (YAML) shown to reviewers; the package's default when unset."""


def _scale(v: ReviewScale) -> ReviewScale:
    if v != "pass_fail" and not (math.isfinite(v[0]) and math.isfinite(v[1]) and v[0] < v[1]):
        raise ValueError("a scale is [min, max] with min < max, or pass_fail")
    return v


Scale = Annotated[ReviewScale, AfterValidator(_scale)]


class ReviewColumns(_Strict):
    """A QA tool's export read through a column mapping: the column holding each Review field (a
    field not named here is read from the column of its own name). ``critical`` may list the
    scorecard's critical categories: the answer is critical when any of them failed (a cell of 0,
    fail, failed, false or no). ``answer`` and ``source`` are values for every row, not columns."""

    review_id: str | None = None
    item_id: str | None = None
    reviewer: str | None = None
    score: str | None = None
    acceptable: str | None = None
    critical: str | list[str] | None = None
    reviewed_at: str | None = None
    comment: str | None = None
    answer: Literal["historical", "replayed"] | None = None
    source: ReviewSource | None = None


class ReviewFile(_Strict):
    """One review file with its own scale or columns (else the ``reviews`` section's)."""

    path: str
    scale: Scale | None = None
    columns: ReviewColumns | None = None


class ReviewsConfig(_Strict):
    """Single-answer reviews (DESIGN.md Review): files, their score scale (mapped linearly to 1-5), a column mapping."""

    files: list[str | ReviewFile] = Field(default_factory=list)
    scale: Scale = (1.0, 5.0)
    columns: ReviewColumns | None = None

    def file_specs(self) -> list[ReviewFile]:
        """Every file with the scale and columns it is read with."""
        specs = [ReviewFile(path=f) if isinstance(f, str) else f for f in self.files]
        return [f.model_copy(update={"scale": f.scale or self.scale, "columns": f.columns or self.columns})
                for f in specs]


class RunConfig(_Strict):
    name: str = Field(min_length=1)
    seed: int = 0
    data: DataConfig
    replay: ReplayConfig = ReplayConfig()
    rubrics: RubricsConfig | None = None
    """The packaged default rubric when unset (``eval.rubrics.extend.rubrics_path``)."""
    ratings: RatingsConfig = RatingsConfig()
    reviews: ReviewsConfig = ReviewsConfig()
    policy: dict[str, Any] | str | None = None
    judge: Judge | None = None
    ray_address: str | None = None
    """Ray cluster for ``--engine ray`` (else ``RAY_ADDRESS``, else a local Ray instance)."""
    source: str | None = Field(default=None, exclude=True)

    @property
    def judge_endpoint(self) -> JudgeConfig | None:
        """The judge's model, if the config has one (a precomputed judge calls none)."""
        return self.judge if isinstance(self.judge, JudgeConfig) else None

    def resolve(self, path: str) -> Path:
        """Paths in a config are relative to the config file, as users expect."""
        p = Path(path)
        if p.is_absolute() or self.source is None:
            return p
        return (Path(self.source).parent / p).resolve()

    def digest(self) -> str:
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


def without_cache(cfg: RunConfig) -> RunConfig:
    """The config with every response cache bypassed (``--no-cache``); recorded as such in the manifest."""
    update: dict[str, Any] = {}
    if isinstance(cfg.replay.responder, Endpoint):
        responder = cfg.replay.responder.model_copy(update={"cache": False})
        update["replay"] = cfg.replay.model_copy(update={"responder": responder})
    if cfg.judge_endpoint is not None:
        update["judge"] = cfg.judge_endpoint.model_copy(update={"cache": False})
    return cfg.model_copy(update=update)


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if not str(part).startswith("function-"))


def problems(exc: ValidationError) -> str:
    """Every validation error as "key 'a.b': message", for one-line user errors."""
    return "; ".join(f"key '{_where(e['loc'])}': {e['msg']}" for e in exc.errors(include_url=False))


def read_yaml_mapping(path: str | Path, what: str, error: type[ValueError] = ConfigError) -> dict[str, Any]:
    """A YAML file whose top level is a mapping (config, policy, mapping); errors name the file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise error(f"{path}: {what} file not found") from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise error(f"{path}: expected a mapping of {what} keys at the top level")
    return raw


def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    raw = read_yaml_mapping(path, "config")
    try:
        return RunConfig.model_validate({**raw, "source": str(path.resolve())})
    except ValidationError as exc:
        raise ConfigError(f"{path}: {problems(exc)}") from exc
