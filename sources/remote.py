"""Pinned, checksummed remote files, with an offline mirror that can stand in for the network.

Every remote file the lake reads is named by a `RemoteFile`: a URL pinned to a commit or a package
version, its sha256, and its path inside a mirror directory (``<host>/<path as in the URL>``).
`fetch` returns a local, verified copy: from the cache under ``data/raw/`` when it is there, else
from ``$EMERGENCE_MIRROR`` when set, else from the network. A file whose bytes do not match the
pinned sha256 is never used.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sources.paths import mirror_dir, raw_dir

logger = logging.getLogger(__name__)


class RemoteUnavailable(RuntimeError):
    """A remote file could be had neither from the cache, the mirror nor the network."""


class ChecksumMismatch(RuntimeError):
    """Bytes did not match the pinned sha256."""


@dataclass(frozen=True)
class RemoteFile:
    url: str
    sha256: str

    @property
    def mirror_path(self) -> str:
        """Path inside a mirror directory: the URL's host and path, as in ../shared/mirror."""
        without_scheme = self.url.split("://", 1)[1]
        host, _, path = without_scheme.partition("/")
        if host == "raw.githubusercontent.com":
            # raw.githubusercontent.com/<owner>/<repo>/<sha>/<path> is mirrored as
            # github.com/<owner>/<repo>/<sha>/<path>.
            return f"github.com/{path}"
        return f"{host}/{path}"

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, remote: RemoteFile, where: str) -> None:
    actual = sha256_of(path)
    if actual != remote.sha256:
        raise ChecksumMismatch(
            f"{where}: sha256 {actual} does not match the pinned {remote.sha256} for {remote.url}"
        )


def fetch(
    remote: RemoteFile,
    *,
    timeout_s: float = 60.0,
    report: Callable[[str], None] | None = None,
) -> Path:
    """Return a verified local copy of `remote`, caching it under data/raw/.

    `report` hears, in one line, about a cached copy that no longer matches its pin and is being
    replaced (default: this module's logger, at warning level).
    """
    cached = raw_dir() / remote.mirror_path
    if cached.exists():
        found = sha256_of(cached)
        if found == remote.sha256:
            return cached
        (report or logger.warning)(
            f"{cached}: corrupt cached copy (sha256 {found}, expected {remote.sha256}); "
            "replacing it from the mirror or the network"
        )
        cached.unlink()  # a corrupt or stale cache entry is re-fetched, never used

    mirror = mirror_dir()
    if mirror is not None and not mirror.is_dir():
        raise RemoteUnavailable(
            f"EMERGENCE_MIRROR={mirror} does not exist or is not a directory: point it at a "
            "mirror laid out <host>/<path> (for example ../shared/mirror), or unset it to "
            f"download {remote.url}"
        )
    cached.parent.mkdir(parents=True, exist_ok=True)
    if mirror is not None:
        mirrored = mirror / remote.mirror_path
        if not mirrored.exists():
            raise RemoteUnavailable(
                f"{remote.url} is not in the mirror EMERGENCE_MIRROR={mirror} "
                f"(looked for {mirrored})"
            )
        _verify(mirrored, remote, str(mirrored))
        _atomic_copy(mirrored, cached)
        return cached

    try:
        with urllib.request.urlopen(remote.url, timeout=timeout_s) as response:  # noqa: S310 (pinned https)
            _atomic_write_stream(response, cached, remote)
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise RemoteUnavailable(
            f"cannot download {remote.url} ({error}). Offline? Set EMERGENCE_MIRROR to a mirror "
            "directory laid out <host>/<path> (for example ../shared/mirror) and run again."
        ) from error
    return cached


def _atomic_copy(source: Path, target: Path) -> None:
    with (
        tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp,
        source.open("rb") as handle,
    ):
        shutil.copyfileobj(handle, tmp)
    os.replace(tmp.name, target)


def _atomic_write_stream(stream, target: Path, remote: RemoteFile) -> None:
    tmp = tempfile.NamedTemporaryFile(dir=target.parent, delete=False)  # noqa: SIM115 (closed below, kept for os.replace)
    try:
        with tmp:
            shutil.copyfileobj(stream, tmp)
        _verify(Path(tmp.name), remote, f"download of {remote.url}")
        os.replace(tmp.name, target)
    finally:
        if os.path.exists(tmp.name):
            os.unlink(tmp.name)
