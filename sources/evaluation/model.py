"""Which model to evaluate, how to load it, and which revision of its weights it is.

In the spirit of lm-evaluation-harness ``lm_eval/api``: a model is named by a small spec and
loaded once; the engine only asks it for next-token logits. Any causal LM that transformers can
load works, from a Hugging Face hub id or a local directory (tests build tiny ones locally and go
through this same path).

The weights revision keys the result cache, so it must be known *before* the model is loaded
(a cache hit must not load the model):

- local directory: ``sha256:<hex>``, a digest over the sha256 of every file that can change the
  outputs (weights, config, tokenizer, remote code); per-file digests are memoised under
  ``data/cache/weights_sha256.json`` by (path, size, mtime) so large weights are hashed once;
- hub id: the commit the revision resolves to (asked from the hub, or from the local hub cache
  when offline); a 40-hex ``revision`` is taken as the commit as it is.

torch and transformers are imported inside the functions that need them: Dagster imports the lake
without them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sources.paths import data_dir
from sources.remote import sha256_of

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
# Files of a model directory whose bytes can change what the model computes or how text is tokenized.
_REVISION_SUFFIXES = (
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".json",
    ".txt",
    ".model",
    ".tiktoken",
    ".py",
    ".jinja",
)
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


class ModelLoadError(RuntimeError):
    """The model cannot be loaded; the message is one line meant for a person."""


@dataclass(frozen=True)
class ModelSpec:
    """A model to evaluate: `weights` is a Hugging Face hub id or a local directory."""

    model_id: str  # the lake's id for the model (models.model_id)
    weights: str
    revision: str | None = None  # hub branch/tag/commit; ignored for local directories
    trust_remote_code: bool = False
    allow_pickle: bool = False  # hub repos without safetensors: load *.bin only when asked

    @property
    def is_local(self) -> bool:
        """A path (existing, or written like one) rather than a hub id such as 'org/name'."""
        path = Path(self.weights).expanduser()
        if path.exists():
            return True
        return self.weights.startswith(("/", "./", "../", "~", ".")) or self.weights.count("/") > 1


@dataclass
class LoadedModel:
    """A loaded causal LM with what the engine needs to know about it."""

    spec: ModelSpec
    model: Any  # transformers PreTrainedModel
    tokenizer: Any  # transformers tokenizer
    revision: str
    device: str
    dtype: str
    n_params: int
    max_length: int  # longest sequence the model accepts (positions)
    eos_token_ids: tuple[int, ...]
    pad_token_id: int
    accepts_logits_to_keep: bool
    # Name of forward()'s KV-cache argument: "cache" (transformers 5) or "past_key_values".
    cache_argument: str
    # Whether the model honours a custom 4D attention mask (packed scoring); checked on first use.
    packed_scoring: bool | None = None

    def forward(self, **kwargs: Any) -> Any:
        """model(**kwargs), with `kv_cache` passed under the name this model's forward() uses."""
        if "kv_cache" in kwargs:
            kwargs[self.cache_argument] = kwargs.pop("kv_cache")
        return self.model(**kwargs)

    @staticmethod
    def output_cache(output: Any) -> Any:
        cache = getattr(output, "cache", None)
        return cache if cache is not None else getattr(output, "past_key_values", None)


def default_device() -> str:
    """EMERGENCE_DEVICE when set (e.g. cpu to keep a GPU free), else cuda when present, else cpu."""
    override = os.environ.get("EMERGENCE_DEVICE")
    if override:
        return override
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_dtype(device: str) -> str:
    """float32 on CPU (exact comparisons); bfloat16 on CUDA when the card supports it."""
    if device.startswith("cuda"):
        import torch

        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float32"


def resolve_revision(spec: ModelSpec) -> str:
    """The weights revision used in cache keys, computed without loading the model."""
    if spec.is_local:
        return _local_weights_digest(_local_dir(spec))
    if spec.revision and _COMMIT.match(spec.revision):
        return spec.revision
    return _hub_commit(spec)


def _local_dir(spec: ModelSpec) -> Path:
    path = Path(spec.weights).expanduser().resolve()
    if not path.exists():
        raise ModelLoadError(
            f"model directory {path} does not exist (from --model {spec.weights!r})"
        )
    if not path.is_dir():
        raise ModelLoadError(
            f"--model {spec.weights!r} is a file, not a model directory (expected a directory "
            "with config.json, weights and tokenizer files, or a Hugging Face hub id)"
        )
    # Checked before looking for weights, so that `--model /` never walks the whole disk.
    if not (path / "config.json").is_file():
        raise ModelLoadError(
            f"{path} is not a model directory: it has no config.json (from --model "
            f"{spec.weights!r}; expected what save_pretrained writes)"
        )
    # transformers reads weights from the directory itself, never from subfolders.
    if not any(p.suffix in _WEIGHT_SUFFIXES for p in path.iterdir() if p.is_file()):
        raise ModelLoadError(
            f"model directory {path} has no weight files ({', '.join(_WEIGHT_SUFFIXES)})"
        )
    return path


def _local_weights_digest(path: Path) -> str:
    memo_file = data_dir() / "cache" / "weights_sha256.json"
    try:
        memo: dict[str, list] = json.loads(memo_file.read_text()) if memo_file.exists() else {}
    except (OSError, json.JSONDecodeError):
        memo = {}
    entries = []
    changed = False
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix in _REVISION_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    for file in files:
        stat = file.stat()
        key = str(file)
        fingerprint = [stat.st_size, stat.st_mtime_ns]
        cached = memo.get(key)
        if cached and cached[:2] == fingerprint:
            digest = cached[2]
        else:
            digest = sha256_of(file)
            memo[key] = [*fingerprint, digest]
            changed = True
        entries.append(f"{file.relative_to(path).as_posix()}\t{digest}")
    if changed:
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=memo_file.parent, delete=False) as tmp:
            json.dump(memo, tmp)
        os.replace(tmp.name, memo_file)
    return "sha256:" + hashlib.sha256("\n".join(entries).encode()).hexdigest()


def _hub_commit(spec: ModelSpec) -> str:
    """Through sources.hub (HF_ENDPOINT, HF_HUB_OFFLINE, the lake's cache)."""
    from sources.hub import HubError, resolve_commit

    try:
        return resolve_commit(spec.weights, spec.revision or "main")
    except HubError as error:
        raise ModelLoadError(str(error)) from None


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    first = text[0] if text else type(error).__name__
    return first if len(first) <= 300 else first[:297] + "..."


def load_model(spec: ModelSpec, device: str | None = None, dtype: str | None = None) -> LoadedModel:
    """Load tokenizer and causal LM (eval mode) or raise `ModelLoadError` with one line."""
    revision = resolve_revision(spec)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # the engine reports its own progress
    device = device or default_device()
    dtype = dtype or default_dtype(device)
    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise ModelLoadError(f"unknown dtype {dtype!r} (expected float32, bfloat16 or float16)")
    if spec.is_local:
        source = str(_local_dir(spec))
        extra: dict[str, Any] = {}
        has_safetensors = any(Path(source).glob("*.safetensors"))
        use_safetensors: bool | None = bool(has_safetensors)
    else:
        # downloaded (verified, safetensors unless allow_pickle) into the lake's cache, then
        # loaded from there like a local directory
        from sources.hub import HubError, download_snapshot

        try:
            source = str(
                download_snapshot(
                    spec.weights,
                    revision,
                    trust_remote_code=spec.trust_remote_code,
                    allow_pickle=spec.allow_pickle,
                )
            )
        except HubError as error:
            raise ModelLoadError(str(error)) from None
        extra = {}
        use_safetensors = any(Path(source).glob("*.safetensors"))
    what = f"{spec.weights!r}" + (f"@{revision}" if not spec.is_local else "")
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            source, trust_remote_code=spec.trust_remote_code, **extra
        )
        model = AutoModelForCausalLM.from_pretrained(
            source,
            trust_remote_code=spec.trust_remote_code,
            use_safetensors=use_safetensors,
            dtype=torch_dtype,
            **extra,
        )
    except ModelLoadError:
        raise
    except Exception as error:  # noqa: BLE001 - any loading failure becomes one clear line
        raise ModelLoadError(
            f"cannot load {what} as a causal language model: {_one_line(error)}"
        ) from None
    model.to(device)
    model.eval()
    import inspect

    parameters = inspect.signature(model.forward).parameters
    accepts_logits_to_keep = "logits_to_keep" in parameters
    cache_argument = "cache" if "cache" in parameters else "past_key_values"
    eos_ids = _eos_token_ids(model, tokenizer)
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = eos_ids[0] if eos_ids else 0
    return LoadedModel(
        spec=spec,
        model=model,
        tokenizer=tokenizer,
        revision=revision,
        device=device,
        dtype=dtype,
        n_params=sum(p.numel() for p in model.parameters()),
        max_length=_max_length(model, tokenizer),
        eos_token_ids=eos_ids,
        pad_token_id=int(pad_id),
        accepts_logits_to_keep=accepts_logits_to_keep,
        cache_argument=cache_argument,
    )


def _eos_token_ids(model: Any, tokenizer: Any) -> tuple[int, ...]:
    ids: list[int] = []
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (configured, tokenizer.eos_token_id):
        if value is None:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            if int(item) not in ids:
                ids.append(int(item))
    return tuple(ids)


def _max_length(model: Any, tokenizer: Any) -> int:
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "n_ctx", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 1_000_000:
        return limit
    return 2048
