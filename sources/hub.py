"""The Hugging Face hub, as the lake uses it: which commit a revision is, which checkpoint
branches a repo has, and a verified download of one commit into the lake's own cache.

Why one module: the sensor (is there a new commit?), the evaluation (which commit do I load?) and
the tests (a local hub server) must agree on one protocol. Everything goes through
huggingface_hub's `HfApi` against `HF_ENDPOINT` (default https://huggingface.co; a mirror such as
olah works the same), and only three calls are used: list a repo's refs, list the files of one
commit, download one file of one commit. `HF_HUB_OFFLINE=1` answers from the lake's cache alone.

What is downloaded is decided before any weights are: config.json first (a config that needs
remote code fails unless the entry says `trust_remote_code: true`), safetensors weights when the
repo has them, pickle weights (`*.bin`, `*.pt`) only for an entry with `allow_pickle: true`, and a
tokenizer must be there. Every file is checked against the hash the hub lists for it (sha256 of an
LFS file, git blob sha1 of a small one). Files land under `$EMERGENCE_DATA/hub` (huggingface_hub's
cache layout), never in ~/.cache.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sources.paths import data_dir

DEFAULT_ENDPOINT = "https://huggingface.co"
COMMIT = re.compile(r"^[0-9a-f]{40}$")
STEP = re.compile(r"(\d+)$")
TIMEOUT_SECONDS = 20.0
SAFETENSORS = ("*.safetensors", "*.safetensors.index.json")
PICKLE = ("*.bin", "*.bin.index.json", "*.pt", "*.pth")
# A tokenizer is any of these (fast tokenizer, BPE vocab, sentencepiece, tiktoken).
TOKENIZER = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "tokenizer.model",
    "*.tiktoken",
)
# Small files the loader may read besides config, tokenizer and weights.
SIDE_FILES = ("*.json", "*.txt", "*.model", "*.tiktoken", "*.jinja")
VERIFIED = "lake_verified"  # per-repo folder of commits downloaded and checked in full


class HubError(RuntimeError):
    """One repo cannot be used (missing, no such revision, no tokenizer...): one line for a person."""


class HubUnavailable(HubError):
    """The hub itself cannot be reached: nothing is known about any repo (skip, do not fail)."""


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or DEFAULT_ENDPOINT


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_cache_dir() -> Path:
    """huggingface_hub's cache layout, under the lake's data directory."""
    return data_dir() / "hub"


def _repo_dir(repo_id: str) -> Path:
    return hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))


def _api():
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint(), library_name="emergence-lake")


def _one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _hub_failure(repo_id: str, error: Exception, what: str) -> HubError:
    """huggingface_hub's exception as the lake's: unreachable hub vs. this repo's own problem."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = endpoint()
    if isinstance(error, GatedRepoError):
        return HubError(f"{repo_id} is gated on {where}: accept its terms and set HF_TOKEN")
    if isinstance(error, RepositoryNotFoundError):
        return HubError(f"{repo_id}: no such model repository on {where} (check `weights`)")
    if isinstance(error, RevisionNotFoundError):
        return HubError(f"{repo_id}: {what} not found on {where}")
    status = getattr(getattr(error, "response", None), "status_code", None)
    if isinstance(error, HfHubHTTPError) and status is not None and status < 500:
        if status in (401, 404):
            return HubError(f"{repo_id}: no such model repository on {where} (check `weights`)")
        return HubError(f"{repo_id}: {what}: the hub answered {status} ({_one_line(error)})")
    return HubUnavailable(f"hub {where} unreachable ({_one_line(error)})")


@dataclass(frozen=True)
class RepoRefs:
    """A repo's branches and tags, each name -> the commit it points at."""

    repo_id: str
    branches: dict[str, str]
    tags: dict[str, str]

    def commit_of(self, name: str) -> str | None:
        return self.branches.get(name) or self.tags.get(name)


def list_refs(repo_id: str) -> RepoRefs:
    """The repo's branches and tags (one API call); offline: the refs the lake's cache saw last."""
    if offline():
        refs_dir = _repo_dir(repo_id) / "refs"
        if not refs_dir.is_dir():
            raise HubError(
                f"{repo_id}: HF_HUB_OFFLINE is set and the lake's cache has no refs of it"
            )
        branches = {
            p.relative_to(refs_dir).as_posix(): p.read_text().strip()
            for p in refs_dir.rglob("*")
            if p.is_file()
        }
        return RepoRefs(repo_id, branches, {})
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    try:
        # HfApi.list_repo_refs's own request, with a timeout: a hub that hangs must not hang
        # the sensor (huggingface_hub's client has none by default)
        response = get_session().get(
            f"{endpoint()}/api/models/{repo_id}/refs",
            headers=build_hf_headers(library_name="emergence-lake"),
            timeout=TIMEOUT_SECONDS,
        )
        hf_raise_for_status(response)
        data = response.json()
        found = RepoRefs(
            repo_id,
            {b["name"]: b["targetCommit"] for b in data["branches"]},
            {t["name"]: t["targetCommit"] for t in data["tags"]},
        )
    except Exception as error:  # noqa: BLE001 - every hub failure becomes one line
        raise _hub_failure(repo_id, error, "its refs") from None
    _remember_refs(found)
    return found


def _remember_refs(refs: RepoRefs) -> None:
    """Keep refs/<name> -> commit in the cache (huggingface_hub's layout) for offline runs."""
    from sources.registry import git_ref_problem

    for name, commit in {**refs.tags, **refs.branches}.items():
        if git_ref_problem(name) or not COMMIT.match(commit):
            continue  # never a path outside the cache, whatever a server answers
        path = _repo_dir(refs.repo_id) / "refs" / name
        if not path.is_file() or path.read_text().strip() != commit:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(commit)


def resolve_commit(repo_id: str, revision: str, refs: RepoRefs | None = None) -> str:
    """The commit `revision` (branch, tag or commit sha) of `repo_id` is now; raise HubError."""
    refs = refs or list_refs(repo_id)
    commit = refs.commit_of(revision)
    if commit:
        return commit
    if COMMIT.match(revision) and not offline():
        try:  # the commit must exist in this repo (which exists: it has refs)
            _api().model_info(repo_id, revision=revision, timeout=TIMEOUT_SECONDS)
            return revision
        except Exception as error:  # noqa: BLE001
            from huggingface_hub.errors import HfHubHTTPError

            if not isinstance(error, HfHubHTTPError):  # no answer at all: the hub is down
                raise _hub_failure(repo_id, error, f"commit {revision}") from None
            # an answer, but no commit (the hub says 404; olah's mirror says 500)
    elif COMMIT.match(revision):
        return revision
    names = sorted(refs.branches) + sorted(refs.tags)
    shown = ", ".join(names[:8]) + (f" … and {len(names) - 8} more" if len(names) > 8 else "")
    raise HubError(
        f"{repo_id}: revision {revision!r} not found on {endpoint()} "
        f"(expected a branch, tag or commit sha; it has {shown or 'no refs'})"
    )


def matching_branches(refs: RepoRefs, patterns: list[str]) -> dict[str, str]:
    """Branch -> commit for every branch a pattern names ('step*', or a plain branch name),
    ordered by training step."""
    names = [b for b in refs.branches if any(fnmatch.fnmatchcase(b, p) for p in patterns)]
    ordered = sorted(names, key=lambda b: (checkpoint_step(b) or 0, b))
    return {b: refs.branches[b] for b in ordered}


def checkpoint_step(branch: str) -> int | None:
    """The training step a checkpoint branch names ('step1000' -> 1000), or None."""
    match = STEP.search(branch)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class RepoFile:
    path: str
    size: int
    blob_id: str  # git blob sha1
    sha256: str | None  # LFS files only


def _list_files(repo_id: str, commit: str) -> list[RepoFile]:
    try:
        entries = _api().list_repo_tree(repo_id, revision=commit, recursive=True)
        files = [e for e in entries if hasattr(e, "blob_id")]
    except Exception as error:  # noqa: BLE001
        raise _hub_failure(repo_id, error, f"commit {commit}") from None
    return [
        RepoFile(e.path, e.size, e.blob_id, e.lfs.sha256 if getattr(e, "lfs", None) else None)
        for e in files
    ]


def _matches(path: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(Path(path).name, p) for p in patterns)


def choose_files(
    repo_id: str, commit: str, files: list[RepoFile], *, allow_pickle: bool, remote_code: bool
) -> list[RepoFile]:
    """What to download: config, tokenizer, side files, and ONE kind of weights; raise HubError
    naming what is missing."""
    where = f"{repo_id}@{commit[:12]}"
    names = {f.path for f in files}
    if "config.json" not in names:
        raise HubError(f"{where} has no config.json: not a transformers model repository")
    if not any(_matches(f.path, TOKENIZER) for f in files):
        raise HubError(
            f"{where} has no tokenizer (none of {', '.join(TOKENIZER)}); "
            "the lake evaluates text, so the repo needs one"
        )
    safetensors = [f for f in files if _matches(f.path, SAFETENSORS)]
    pickles = [f for f in files if _matches(f.path, PICKLE)]
    if safetensors:
        weights = safetensors
    elif pickles and allow_pickle:
        weights = pickles
    elif pickles:
        raise HubError(
            f"{where} has only pickle weights ({', '.join(sorted(f.path for f in pickles)[:3])}); "
            "loading a pickle can run code: set `allow_pickle: true` on its registry entry to accept them"
        )
    else:
        raise HubError(f"{where} has no weights (*.safetensors, or *.bin with allow_pickle)")
    side = [
        f
        for f in files
        if f not in weights
        and not _matches(f.path, PICKLE)
        and (_matches(f.path, SIDE_FILES) or (remote_code and f.path.endswith(".py")))
    ]
    return side + weights


def _git_blob_sha1(path: Path) -> str:
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())  # noqa: S324 - git's own hash
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(repo_id: str, commit: str, file: RepoFile, local: Path) -> None:
    found = _sha256(local) if file.sha256 else _git_blob_sha1(local)
    expected = file.sha256 or file.blob_id
    if found != expected:
        Path(os.path.realpath(local)).unlink(missing_ok=True)
        local.unlink(missing_ok=True)
        kind = "sha256" if file.sha256 else "git blob sha1"
        raise HubError(
            f"{repo_id}@{commit[:12]}, file {file.path}: {kind} {found} does not match the "
            f"hub's {expected}; the download was deleted"
        )


def needs_remote_code(config: dict) -> bool:
    """Whether transformers can only build this config with code from the repo itself."""
    from transformers import CONFIG_MAPPING

    return config.get("model_type") not in CONFIG_MAPPING and bool(config.get("auto_map"))


def download_snapshot(
    repo_id: str, commit: str, *, trust_remote_code: bool = False, allow_pickle: bool = False
) -> Path:
    """The local folder holding `commit` of `repo_id`, downloaded and verified once into the
    lake's cache; a second call for the same commit touches no network. Raise HubError."""
    if not COMMIT.match(commit):
        raise HubError(f"{repo_id}: {commit!r} is not a commit sha (resolve the revision first)")
    snapshot = _repo_dir(repo_id) / "snapshots" / commit
    marker = _repo_dir(repo_id) / VERIFIED / f"{commit}.json"
    if marker.is_file():
        listed = json.loads(marker.read_text())
        permitted = (trust_remote_code or not listed.get("remote_code")) and (
            allow_pickle or not listed.get("pickle")
        )
        if permitted and all((snapshot / name).is_file() for name in listed["files"]):
            return snapshot
    if offline():
        raise HubError(
            f"{repo_id}@{commit[:12]}: HF_HUB_OFFLINE is set and the lake's cache "
            f"({hub_cache_dir()}) does not hold it"
        )
    from huggingface_hub import hf_hub_download

    def fetch(file: RepoFile) -> Path:
        try:
            local = hf_hub_download(
                repo_id,
                file.path,
                revision=commit,
                cache_dir=hub_cache_dir(),
                endpoint=endpoint(),
                etag_timeout=TIMEOUT_SECONDS,
            )
        except Exception as error:  # noqa: BLE001
            raise _hub_failure(repo_id, error, f"file {file.path} at {commit}") from None
        _verify(repo_id, commit, file, Path(local))
        return Path(local)

    files = _list_files(repo_id, commit)
    config_file = next((f for f in files if f.path == "config.json"), None)
    remote_code = False
    if config_file is not None:
        config = json.loads(fetch(config_file).read_text())
        remote_code = needs_remote_code(config)
        if remote_code and not trust_remote_code:
            raise HubError(
                f"{repo_id}@{commit[:12]} needs remote code (config.json model_type "
                f"{config.get('model_type')!r} is not built into transformers; auto_map "
                f"{sorted(config['auto_map'])}): set `trust_remote_code: true` on its registry "
                "entry only if you trust that code"
            )
    chosen = choose_files(
        repo_id, commit, files, allow_pickle=allow_pickle, remote_code=trust_remote_code
    )
    for file in chosen:
        if file.path != "config.json":
            fetch(file)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(
        json.dumps(
            {
                "files": [f.path for f in chosen],
                "remote_code": remote_code,
                "pickle": any(_matches(f.path, PICKLE) for f in chosen),
            },
            indent=1,
        )
    )
    return snapshot
