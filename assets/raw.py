"""Raw layer: curated files and verified copies of remote files, exactly as their sources give them."""

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from assets.frames_io import FRAMES_IO_MANAGER
from checks.validation import ValidationError
from sources.literature import LiteratureTables, display_path, read_literature
from sources.obsscaling import COMMIT, REMOTE_FILES, fetch_obsscaling
from sources.paths import literature_dir
from sources.remote import ChecksumMismatch, RemoteUnavailable, sha256_of

GROUP = "raw"


@dataclass(frozen=True)
class RemoteFetch:
    """Verified local copies, or why there are none (the lake goes on without them)."""

    paths: dict[str, Path] | None
    unavailable_reason: str | None = None


@dg.asset(
    group_name=GROUP,
    description=(
        "Published numbers curated in sources/literature/: Wei et al. Table 1, model scale, task "
        "catalogue with random levels, and one results CSV per paper (README, 'Adding a paper'). "
        "Every cell is read as text and typed; a bad cell fails here with file, row and column."
    ),
    code_version="1",
    io_manager_key=FRAMES_IO_MANAGER,  # Arrow IPC, not a pickle (assets/frames_io.py)
)
def literature_files(context: dg.AssetExecutionContext) -> LiteratureTables:
    directory = literature_dir()
    try:
        tables = read_literature(directory)
    except ValidationError as error:
        raise dg.Failure(description=str(error)) from error
    files = sorted(p for p in directory.rglob("*.csv"))
    context.add_output_metadata(
        {
            "files": dg.MetadataValue.md(
                "\n".join(f"- `{display_path(p)}` sha256 `{sha256_of(p)[:12]}`" for p in files)
            ),
            "results_rows": tables.results.height,
            "models": tables.models.height,
            "tasks": tables.tasks.height,
        }
    )
    return tables


@dg.asset(
    group_name=GROUP,
    description=(
        f"ObsScaling (Ruan et al. 2024) eval_results CSVs at commit {COMMIT[:7]}, verified by "
        "sha256, cached under data/raw/, read from EMERGENCE_MIRROR when set. Offline without a "
        "mirror this records why it is unavailable; the check `obsscaling_available` fails with "
        "what to set, and the warehouse keeps the ObsScaling rows it already has."
    ),
    code_version="1",
)
def obsscaling_files(context: dg.AssetExecutionContext) -> RemoteFetch:
    try:
        paths = fetch_obsscaling()
    except (RemoteUnavailable, ChecksumMismatch) as error:
        context.log.error(str(error))
        context.add_output_metadata({"status": "unavailable", "reason": str(error)})
        return RemoteFetch(paths=None, unavailable_reason=str(error))
    context.add_output_metadata(
        {
            "status": "verified",
            **{f"{name}_sha256": REMOTE_FILES[name].sha256 for name in paths},
            **{f"{name}_url": dg.MetadataValue.url(REMOTE_FILES[name].url) for name in paths},
        }
    )
    return RemoteFetch(paths=paths)
