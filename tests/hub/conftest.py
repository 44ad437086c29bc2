"""A real Hugging Face hub protocol on 127.0.0.1: olah (a self-hosted hub mirror, PyPI `olah`)
serving local git repositories of tiny models in offline mode, and the lake pointed at it with
HF_ENDPOINT.

Why olah: it is an existing, maintained hub mirror whose offline mode serves plain git
repositories (`mirrors-path/models/<org>/<name>`) with the hub's own routes: refs, commit
metadata, file trees and `resolve/<commit>/<file>` downloads with the hub's headers. The repos are
built here (config, safetensors weights, tokenizer: sources/evaluation/toy_models.py) and are
real git: a test pushes a commit or adds a branch and the server sees it at once. The server is
session-scoped (~2 s to start), binds 127.0.0.1 on a free port, and is stopped at the end; its
access log is how a test counts what was downloaded.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ORG = "lake-test"
TASK = "arithmetic/3_digit_addition"  # a task the warehouse catalogue knows
GIT = ["git", "-c", "user.name=lake test", "-c", "user.email=test@localhost"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class HubServer:
    """The running server, its git repos and its access log."""

    url: str
    mirrors: Path
    log: Path

    def repo_dir(self, name: str) -> Path:
        return self.mirrors / "models" / ORG / name

    def git(self, name: str, *args: str) -> str:
        done = subprocess.run(
            [*GIT, "-C", str(self.repo_dir(name)), *args],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def create(self, name: str, files: Path, *, drop: tuple[str, ...] = ()) -> str:
        """A repo holding the files of `files` (minus `drop`) on `main`; its commit."""
        repo = self.repo_dir(name)
        repo.mkdir(parents=True)
        for file in files.iterdir():
            if file.is_file() and file.name not in drop:
                (repo / file.name).write_bytes(file.read_bytes())
        self.git(name, "init", "-q", "-b", "main")
        return self.commit(name, "add the model")

    def commit(self, name: str, message: str, files: dict[str, str] | None = None) -> str:
        """Commit (on the checked-out branch) the given text files, or everything changed."""
        for path, text in (files or {}).items():
            (self.repo_dir(name) / path).write_text(text)
        self.git(name, "add", "-A")
        self.git(name, "commit", "-q", "--allow-empty", "-m", message)
        return self.git(name, "rev-parse", "HEAD")

    def branch(self, name: str, branch: str, message: str) -> str:
        """A new branch off main with one commit of its own (a training checkpoint)."""
        self.git(name, "branch", branch, "main")
        self.git(name, "checkout", "-q", branch)
        commit = self.commit(name, message, {"checkpoint.txt": branch})
        self.git(name, "checkout", "-q", "main")
        return commit

    def downloads(self, name: str) -> int:
        """File downloads of this repo the server has answered so far."""
        needle = f'"GET /{ORG}/{name}/resolve/'
        return sum(needle in line for line in self.log.read_text().splitlines())


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    try:
        import olah  # noqa: F401
    except ImportError as error:  # not a skip: CI must not go green without the hub tests
        raise RuntimeError("the hub tests need olah: pip install -e '.[test]'") from error
    root = tmp_path_factory.mktemp("hub")
    mirrors = root / "mirrors"
    (mirrors / "models" / ORG).mkdir(parents=True)
    port = _free_port()
    (root / "configs.toml").write_text(
        "[basic]\n"
        'host = "127.0.0.1"\n'
        f"port = {port}\n"
        f'repos-path = "{root / "olah-cache"}"\n'
        f'mirrors-path = ["{mirrors}"]\n'
        f'mirror-netloc = "127.0.0.1:{port}"\n'
        f'mirror-lfs-netloc = "127.0.0.1:{port}"\n'
        "[accessibility]\n"
        "offline = true\n"
    )
    log = root / "olah.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", "from olah.server import cli; cli()", "-c", "configs.toml"],
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"olah did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield HubServer(f"http://127.0.0.1:{port}", mirrors, log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def tiny_model_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained 1-layer GPT-2 (width 32) with a tokenizer that has seen the task's text,
    saved with save_pretrained (config.json, model.safetensors, tokenizer files)."""
    from sources.evaluation import toy_models

    texts = [f"Q: What is {a} plus {b}? A: {a + b}" for a in range(10) for b in range(10)]
    tokenizer = toy_models.build_tokenizer(texts, vocab_size=300)
    model = toy_models.build_model(
        "gpt2",
        len(tokenizer),
        layers=1,
        width=32,
        heads=2,
        max_positions=256,
        eos_token_id=tokenizer.eos_token_id,
    )
    return toy_models.save(model, tokenizer, tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture
def lake_on_hub(hub_server, tmp_path, monkeypatch, mirror) -> Path:
    """The lake pointed at the test hub, with its own data dir (and so its own hub cache)."""
    data = tmp_path / "data"
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("EMERGENCE_DATA", str(data))
    monkeypatch.setenv("EMERGENCE_MIRROR", str(mirror))
    monkeypatch.setenv("EMERGENCE_DEVICE", "cpu")
    monkeypatch.setenv("EMERGENCE_REGISTRY", str(tmp_path / "models.yaml"))
    return data


def write_registry(path: Path, *entries: str) -> None:
    """Registry entries given as YAML flow mappings' insides."""
    path.write_text(
        "models:\n"
        + "".join(
            f"  - {{{e}, family: Tiny, train_tokens: 1.0e+9, tasks: ['{TASK}'], limit: 4, "
            "shots: 0, dtype: float32, device: cpu, source: built in the test}\n"
            for e in entries
        )
    )
