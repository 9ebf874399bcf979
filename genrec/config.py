"""One settings object for the whole product, read from GENREC_* variables and genrec.toml.

Precedence: explicit arguments > environment (GENREC_*) > genrec.toml > defaults.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from genrec.components import AgentConfig, RankerConfig

ENV_PREFIX = "GENREC_"


def _toml_path() -> Path:
    """genrec.toml in the working directory, or the file named by GENREC_CONFIG."""
    return Path(os.environ.get("GENREC_CONFIG", "genrec.toml"))


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the optional genrec.toml; a broken file is a clear error, not a silent default."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self.path = _toml_path()
        self.data: dict[str, Any] = {}
        if self.path.is_file():
            try:
                raw = tomllib.loads(self.path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"{self.path}: not valid TOML ({exc}); fix or remove the file") from exc
            # accept both top-level keys and a [genrec] table
            self.data = dict(raw.get("genrec", raw))

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self.data.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    """Effective settings. Every field can be set as GENREC_<NAME> or in genrec.toml.

    >>> Settings(home="/tmp/genrec-doc").models_dir.name
    'models'
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", validate_default=True)

    home: Path = Field(Path("~/.cache/genrec"), description="Folder holding every artifact.")
    dataset: str = Field("ml-100k", description="Dataset the app and commands use by default.")
    split: str = Field("u1", description="Train/test split used for training and evaluation.")
    seed: int = Field(42, description="Seed for every random choice (splits, training, simulators).")

    llm: str = Field(
        "local",
        description="LLM backend: local, openai, none, fake, or vllm:MODEL (start vLLM).",
    )
    llm_model: str = Field("", description="Model id or path; empty means the backend's default.")
    llm_base_url: str = Field("http://127.0.0.1:8000/v1", description="OpenAI-compatible endpoint.")
    llm_api_key: str = Field("EMPTY", description="API key sent to the OpenAI-compatible endpoint.")
    llm_timeout: float = Field(60.0, description="Seconds to wait for one LLM call.")
    llm_max_tokens: int = Field(256, description="Most tokens the LLM may write per call.")
    policy: Literal["auto", "tool-calling", "guided"] = Field(
        "auto", description="Dialogue policy; auto picks tool-calling for openai, guided otherwise."
    )

    embedder: str = Field(
        "all-MiniLM-L6-v2",
        description="sentence-transformers model name/path, or openai:MODEL for /v1/embeddings.",
    )
    embedder_base_url: str = Field("", description="Embeddings endpoint; empty means llm_base_url.")
    chroma_mode: Literal["embedded", "server"] = Field("embedded", description="Chroma client kind.")
    chroma_host: str = Field("127.0.0.1", description="Chroma server host (server mode).")
    chroma_port: int = Field(8001, description="Chroma server port (server mode).")

    api_key: str = Field("", description="Bearer token the HTTP API requires when set.")
    device: str = Field("auto", description="Torch device: auto, cpu or cuda.")

    agent: AgentConfig = Field(default_factory=AgentConfig,
                               description="The agent's knobs ([agent] in genrec.toml).")
    ranker: RankerConfig = Field(default_factory=RankerConfig,
                                 description="The CF ranker's hyperparameters ([ranker] in genrec.toml).")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    def model_post_init(self, __context: Any) -> None:
        object.__setattr__(self, "home", Path(self.home).expanduser())

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

    def sources(self) -> dict[str, str]:
        """Where each effective value came from: 'env GENREC_X', the toml path, or 'default'."""
        toml = _TomlSource(type(self))
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            env_name = f"{ENV_PREFIX}{name.upper()}"
            if name in self.model_fields_set and env_name not in os.environ and name not in toml.data:
                out[name] = "argument"
            elif env_name in os.environ:
                out[name] = f"env {env_name}"
            elif name in toml.data:
                out[name] = str(toml.path)
            else:
                out[name] = "default"
        return out


def get_settings(**overrides: Any) -> Settings:
    """Fresh settings (environment and genrec.toml are read each call)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
