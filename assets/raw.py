"""Raw layer: curated files and verified copies of remote files, exactly as their sources give them."""

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from assets.frames_io import FRAMES_IO_MANAGER
from sources.literature import LiteratureTables, display_path, read_literature
from sources.obsscaling import COMMIT
from sources.obsscaling_post_training import ALL_REMOTE_FILES, fetch_obsscaling_with_post_training
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
        "Every cell is read as text and typed; what does not parse is reported, with file, row "
        "and column, by the blocking checks on staged_lake, together with every other problem."
    ),
    code_version="1",
    io_manager_key=FRAMES_IO_MANAGER,  # Arrow IPC, not a pickle (assets/frames_io.py)
)
def literature_files(context: dg.AssetExecutionContext) -> LiteratureTables:
    directory = literature_dir()
    # Problems ride along to staged_lake, whose blocking checks report them together with the
    # schema and rule problems of every file that could be read: one round of fixes, not three.
    tables = read_literature(directory, strict=False)
    for line in tables.ignored:
        context.log.warning(line)
    files = sorted(
        p
        for p in directory.rglob("*")
        if p.suffix.lower() == ".csv" and p.is_file() and not p.is_symlink()
    )
    context.add_output_metadata(
        {
            "files": dg.MetadataValue.md(
                "\n".join(f"- `{display_path(p)}` sha256 `{sha256_of(p)[:12]}`" for p in files)
            ),
            "results_rows": tables.results.height,
            "models": tables.models.height,
            "tasks": tables.tasks.height,
            "problems": len(tables.problems),
            "ignored": dg.MetadataValue.md(
                "\n".join(f"- {line}" for line in tables.ignored) or "none"
            ),
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
        paths = fetch_obsscaling_with_post_training(report=context.log.warning)
    except (RemoteUnavailable, ChecksumMismatch) as error:
        context.log.error(str(error))
        context.add_output_metadata({"status": "unavailable", "reason": str(error)})
        return RemoteFetch(paths=None, unavailable_reason=str(error))
    context.add_output_metadata(
        {
            "status": "verified",
            **{f"{name}_sha256": ALL_REMOTE_FILES[name].sha256 for name in paths},
            **{f"{name}_url": dg.MetadataValue.url(ALL_REMOTE_FILES[name].url) for name in paths},
        }
    )
    return RemoteFetch(paths=paths)
