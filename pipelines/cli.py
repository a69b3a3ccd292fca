"""`docingest`: parse, chunk, ingest, rechunk, classify, search and status from the command
line."""

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from docingest.errors import ConfigError, DocIngestError
from docingest.vectorstore import DEFAULT_FUSION, FUSIONS
from pipelines.parse_flags import build_parse_options, parse_options

# Messages name files, documents and errors: printed as one line each, not wrapped at the
# terminal's width (a log or `grep` finds the whole name), and every such value goes through
# `escape`: a name like "report [draft].pdf" is text, not Rich markup.
console = Console(stderr=True, soft_wrap=True)
out = Console()


def _params(items: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--param")
        params[key.strip()] = value
    return params


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


class _ParsedEach:
    """Parses the paths (isolated: several at once), yielding (path, result); a failure writes
    DIR/<stem>.error.json, is counted in `failed`, and the next path goes on."""

    def __init__(self, paths: tuple[Path, ...], out_dir: Path, options: Any) -> None:
        self.paths, self.out_dir, self.options, self.failed = paths, out_dir, options, 0

    def _one_by_one(self) -> Iterator[tuple[Path, Any]]:
        from docingest.parsing import parse_file

        for path in self.paths:
            try:
                yield path, parse_file(path, document_id=path.name, options=self.options)
            except DocIngestError as error:
                yield path, error

    def __iter__(self) -> Iterator[tuple[Path, Any]]:
        from docingest.parsing import parse_many

        self.out_dir.mkdir(parents=True, exist_ok=True)
        # Isolated: a pool of workers parses several files at once, one per core.
        many = self.options.isolate and len(self.paths) > 1
        results = parse_many(self.paths, self.options) if many else self._one_by_one()
        for path, result in results:
            if isinstance(result, DocIngestError):
                error = result
                self.failed += 1
                _write_json(self.out_dir / f"{path.stem}.error.json", error.to_dict())
                name, message = escape(str(path)), escape(error.message)
                console.print(f"[red]{name}: {error.code.value}[/red] {message}")
                continue
            yield path, result


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("docingest")
    except PackageNotFoundError:
        return "unknown"


# Commands that never load Dagster: importing it is most of a search's wall time.
_WITHOUT_DAGSTER = frozenset({"search", "parse", "chunk"})


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", prog_name="docingest")
@click.pass_context
def main(ctx: click.Context) -> None:
    """docingest: documents -> parsed pages -> chunks -> Qdrant, as Dagster assets.

    Results go to stdout; progress, the home and collection in use, and errors to stderr.
    """
    if ctx.invoked_subcommand in _WITHOUT_DAGSTER:
        return
    import warnings

    import dagster as dg

    # Dagster warns about its own beta parameters when it copies definitions (a sensor's
    # `owners`): nothing a user of this command can act on.
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def _say_where() -> None:
    """Which home and which collection a command works on (stderr)."""
    from docingest.paths import docingest_home
    from docingest.search import StoreSettings

    where = f"home {docingest_home()} · {StoreSettings.from_env().describe()}"
    console.print(f"[dim]{escape(where)}[/dim]")


class _FolderOrUrl(click.ParamType):
    """An existing folder, or an object-store URL (s3://bucket/prefix) whose bucket answers:
    a missing bucket or refused credentials are a usage error here, before any run."""

    name = "DIR|URL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from docingest.locations import check_reachable, is_url, location

        if isinstance(value, str) and is_url(value):
            root = location(value)
            try:
                check_reachable(root)
            except ConfigError as error:
                self.fail(str(error), param, ctx)
            return root
        folder = click.Path(exists=True, file_okay=False, path_type=Path)
        return folder.convert(value, param, ctx)


class _StrategyOption(click.Option):
    """`--strategy`, whose help lists the strategies when help is shown: listing them imports
    the chunking package, which would cost every command (a search) ~0.4 s of start-up."""

    def __init__(self, *args: Any, help_default: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help_default = help_default

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from docingest.chunking import strategy_names  # the registry

        lead = "Chunking strategy"
        if self.help_default:
            lead += f" (default {self.help_default})"
        self.help = f"{lead}: {', '.join(strategy_names())}."
        return super().get_help_record(ctx)


_INPUT_FILES = click.Path(exists=True, dir_okay=False, path_type=Path)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=_INPUT_FILES)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
)
@parse_options
def parse(paths: tuple[Path, ...], out_dir: Path, fmt: str, **kwargs: Any) -> None:
    """Parse documents to DIR/<stem>.md or .json; failures to DIR/<stem>.error.json."""
    try:
        options = build_parse_options(kwargs)
    except ConfigError as error:
        raise click.UsageError(str(error)) from error
    parsed = _ParsedEach(paths, out_dir, options)
    for path, result in parsed:
        for warning in result.usage.get("warnings") or []:  # repaired, empty pages, no OCR
            console.print(f"[yellow]{escape(str(path))}: warning:[/yellow] {escape(warning)}")
        if fmt == "markdown":
            (out_dir / f"{path.stem}.md").write_text(result.markdown)
        else:
            _write_json(out_dir / f"{path.stem}.json", result.to_dict())
    sys.exit(1 if parsed.failed else 0)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=_INPUT_FILES)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
@click.option("--strategy", default="token_size", cls=_StrategyOption, help_default="token_size")
@click.option("--param", "param_items", multiple=True, help="KEY=VALUE, repeatable.")
@parse_options
def chunk(
    paths: tuple[Path, ...],
    out_dir: Path,
    strategy: str,
    param_items: tuple[str, ...],
    **kwargs: Any,
) -> None:
    """Parse and chunk documents to DIR/<stem>.jsonl (one chunk record per line)."""
    from docingest.chunking import chunk_with, settings_for

    try:
        settings = settings_for(strategy, _params(param_items))
        options = build_parse_options(kwargs)
    except ConfigError as error:
        raise click.UsageError(str(error)) from error
    each = _ParsedEach(paths, out_dir, options)
    for path, parsed in each:
        lines = [json.dumps(c.to_dict(), ensure_ascii=False) for c in chunk_with(parsed, settings)]
        (out_dir / f"{path.stem}.jsonl").write_text("".join(f"{line}\n" for line in lines))
    sys.exit(1 if each.failed else 0)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}"),
        console=console,
    )


@contextmanager
def _writing() -> Iterator[None]:
    """One writing command per home at a time: a second one waits, and says so."""
    from docingest.paths import docingest_home
    from docingest.writer_lock import writer_lock

    def waiting(holder: str) -> None:
        home = escape(str(docingest_home()))
        console.print(f"waiting: {escape(holder)} is already writing to {home}")

    with writer_lock(docingest_home(), on_wait=waiting):
        yield


def _trace_log(summary: Any) -> Path | None:
    """INTERNAL_ERROR traces (bugs) go to a log file under the home, not to the terminal."""
    from docingest.paths import docingest_home
    from docingest.state import read_state
    from resources import build_resources

    store = build_resources()["storage"].store
    traces = {
        document_id: read_state(store, document_id).trace
        for document_id, reason in summary.failures.items()
        if reason.startswith("INTERNAL_ERROR")
    }
    traces = {d: t for d, t in traces.items() if t}
    if not traces:
        return None
    folder = docingest_home() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ingest-{time.strftime('%Y%m%dT%H%M%S')}.log"
    path.write_text("".join(f"== {d}\n{t}\n" for d, t in sorted(traces.items())))
    return path


def _print_summary(directory: Any, summary: Any) -> None:
    # The folder on a line of its own: as a table's title it was wrapped to the table's width.
    out.print(f"ingested {escape(str(directory))}", highlight=False, soft_wrap=True)
    table = Table()
    table.add_column("what")
    table.add_column("count", justify="right")
    rows: list[tuple[str, Any]] = [
        ("documents", summary.documents),
        ("succeeded", summary.succeeded),
        ("skipped (already current)", summary.skipped),
        ("failed", summary.failed),
        *((("cancelled", summary.cancelled),) if summary.cancelled else ()),
        *((f"  {code}", n) for code, n in sorted(summary.errors.items())),
        *(
            (f"failed earlier, not retried: {code}", n)
            for code, n in sorted(summary.not_retried.items())
        ),
        *((("succeeded with flags", len(summary.flagged)),) if summary.flagged else ()),
        *((("refused (id taken)", len(summary.refused)),) if summary.refused else ()),
        *((("pruned (file gone)", len(summary.pruned)),) if summary.pruned else ()),
        ("pages", summary.pages),
        ("chunks", summary.chunks),
        ("points", summary.points),
        ("seconds", f"{summary.seconds:.1f}"),
    ]
    for label, value in rows:
        table.add_row(label, str(value))
    out.print(table)


@main.command()
@click.argument("directory", type=_FolderOrUrl())
@click.option("--strategy", default=None, cls=_StrategyOption, help_default="token_size")
@click.option("--param", "param_items", multiple=True, help="Chunking KEY=VALUE, repeatable.")
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Also re-run documents that failed for a reason a re-run cannot fix (they stay put "
    "otherwise until their content or options change).",
)
@click.option("--prune", is_flag=True, help="Remove the documents whose files left DIRECTORY.")
@click.option(
    "--correlation-id",
    default=None,
    help="Your id for this batch: tagged on its runs (docingest/correlation_id), echoed in "
    "each document's status and in webhooks; `docingest cancel --correlation-id` stops it.",
)
@click.option(
    "--priority",
    type=int,
    default=None,
    help="dagster/priority of the runs: a higher one takes the qdrant_writer slot first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def ingest(
    directory: Any,  # a Path or, for a URL, a UPath
    strategy: str | None,
    param_items: tuple[str, ...],
    retry_failed: bool,
    prune: bool,
    correlation_id: str | None,
    priority: int | None,
    as_json: bool,
) -> None:
    """Register DIR's files as partitions and materialize the whole graph for them. DIR may be
    an object-store URL (s3://bucket/prefix; credentials from the AWS environment)."""
    from assets.run_tags import run_tags
    from pipelines.ingest import ingest_folder
    from pipelines.instance import get_instance

    try:
        tags = run_tags(correlation_id, priority)
    except ConfigError as error:
        raise click.BadParameter(str(error), param_hint="--correlation-id") from error
    _say_where()
    params = _params(param_items)
    instance = get_instance()

    with _writing(), _progress() as progress:
        task = progress.add_task("ingest", total=None, current="")

        def on_start(total: int) -> None:
            progress.update(task, total=total)

        def on_done(document_id: str, success: bool) -> None:
            mark = "ok" if success else "[red]failed[/red]"
            progress.update(task, advance=1, current=f"{escape(document_id)} {mark}")

        try:
            summary = ingest_folder(
                instance,
                directory,
                strategy=strategy,
                params=params,
                retry_failed=retry_failed,
                prune=prune,
                tags=tags,
                on_start=on_start,
                on_done=on_done,
            )
        except ConfigError as error:
            raise click.UsageError(str(error)) from error
    trace_log = _trace_log(summary)
    if as_json:
        report = summary.to_dict()
        if trace_log:
            report["trace_log"] = str(trace_log)
        out.print_json(json.dumps(report, ensure_ascii=False))
    else:
        _print_summary(directory, summary)
        for document_id, reason in sorted(summary.failures.items()):
            out.print(
                f"[red]{escape(document_id)}[/red]: {escape(reason)}",
                highlight=False, soft_wrap=True,
            )  # fmt: skip
        for document_id, flags in sorted(summary.flagged.items()):
            out.print(
                f"[yellow]{escape(document_id)}[/yellow]: {escape(', '.join(flags))}",
                highlight=False, soft_wrap=True,
            )  # fmt: skip
        for path, reason in sorted(summary.refused.items()):
            out.print(
                f"[red]{escape(str(path))}[/red]: not ingested: {escape(reason)}",
                highlight=False, soft_wrap=True,
            )  # fmt: skip
    if trace_log:
        console.print(f"INTERNAL_ERROR traces written to {escape(str(trace_log))}")
    sys.exit(1 if summary.failed or summary.refused or summary.cancelled else 0)


@main.command()
@click.option("--strategy", default=None, cls=_StrategyOption)
@click.option("--param", "param_items", multiple=True, help="Chunking KEY=VALUE, repeatable.")
def rechunk(strategy: str | None, param_items: tuple[str, ...]) -> None:
    """Re-chunk and re-index every parsed document, without re-parsing."""
    from pipelines.ingest import rechunk_all
    from pipelines.instance import get_instance

    _say_where()
    instance = get_instance()
    with _writing(), _progress() as progress:
        task = progress.add_task("rechunk", total=None, current="")
        try:
            outcome = rechunk_all(
                instance,
                strategy,
                _params(param_items),
                on_start=lambda n: progress.update(task, total=n),
                on_done=lambda d, ok: progress.update(task, advance=1, current=d),
            )
        except ConfigError as error:
            raise click.UsageError(str(error)) from error
    failed = [d for d, ok in outcome.items() if not ok]
    console.print(f"re-chunked {len(outcome) - len(failed)} documents, {len(failed)} failed")
    sys.exit(1 if failed else 0)


@main.command()
@click.option(
    "--recreate",
    is_flag=True,
    help="Drop the collection first (after changing the embedding model).",
)
def reindex(recreate: bool) -> None:
    """Re-chunk (configured strategy) and re-embed every parsed document from its stored parse,
    re-writing its points; nothing is re-parsed. `--recreate` drops the collection first."""
    from resources import build_resources

    _say_where()
    with _writing():
        if recreate:
            build_resources()["qdrant"].drop_collection()
            console.print("dropped the collection")
        _reindex_all()


def _reindex_all() -> None:
    from pipelines.ingest import rechunk_all
    from pipelines.instance import get_instance

    instance = get_instance()
    with _progress() as progress:
        task = progress.add_task("reindex", total=None, current="")
        outcome = rechunk_all(
            instance,
            None,
            {},
            on_start=lambda n: progress.update(task, total=n),
            on_done=lambda d, ok: progress.update(task, advance=1, current=d),
        )
    failed = [d for d, ok in outcome.items() if not ok]
    console.print(f"re-indexed {len(outcome) - len(failed)} documents, {len(failed)} failed")
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--rules",
    "rules_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Rules file (YAML/JSON): rules[] and page_classes[] of {type, description, ...}.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def classify(paths: tuple[Path, ...], rules_path: Path, as_json: bool) -> None:
    """Classify files by rules (PATH...), or without paths every ingested document again:
    classes recomputed from the stored parse, points updated in place (no parse, no embedding
    but the rules')."""
    from docingest.classify import load_rules
    from pipelines.classify import classify_files, reclassify_all
    from pipelines.instance import get_instance

    try:
        load_rules(rules_path)
    except ConfigError as error:  # a usage error (exit 2), as for other bad options
        raise click.UsageError(f"invalid rules: {error}") from error
    if paths:
        results = classify_files(paths, rules_path)
        key = "path"
    else:
        _say_where()
        with _writing(), _progress() as progress:
            task = progress.add_task("classify", total=None, current="")
            results = reclassify_all(
                get_instance(),
                rules_path,
                on_start=lambda n: progress.update(task, total=n),
                on_done=lambda d, ok: progress.update(task, advance=1, current=d),
            )
        key = "document_id"
    failed = [r for r in results if "error" in r]
    if as_json:
        out.print_json(json.dumps(results, ensure_ascii=False))
    else:
        table = Table("document", "type", "score", "runner-up", "page classes")
        for r in results:
            if "error" in r:
                failure = r["error"]
                why = (
                    f"{failure['code']}: {failure['message']}"
                    if isinstance(failure, dict)
                    else str(failure)
                )
                table.add_row(escape(r[key]), "[red]failed[/red]", "", "", escape(why))
                continue
            runner = f"{r['runner_up']} {r['runner_up_score']:.3f}" if r["runner_up"] else ""
            score = f"{r['score']:.3f}" if r["score"] is not None else ""
            classes = ", ".join(f"{c}: {len(p)}" for c, p in sorted(r["page_classes"].items()))
            table.add_row(escape(r[key]), str(r["document_type"]), score, runner, classes)
        out.print(table)
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("query")
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--filter",
    "filter_items",
    multiple=True,
    help=(
        "Payload filter, repeatable (all must hold): KEY=V, KEY=V1|V2 (any of), KEY!=V, "
        "KEY>=N / > / <= / < (numbers, ISO dates), document=ID, path^=FOLDER, page=N..M, "
        "type=table, heading=TEXT."
    ),
)
@click.option(
    "--mode",
    type=click.Choice(["dense", "sparse", "hybrid"]),
    default="hybrid",
    show_default=True,
    help="dense: the embedding; sparse: BM25; hybrid: both, fused (--fusion).",
)
@click.option(
    "--fusion",
    type=click.Choice(FUSIONS),
    default=DEFAULT_FUSION,
    show_default=True,
    help="hybrid: dbsf (scores normalized by their distribution) or rrf (reciprocal rank).",
)
@click.option("--rrf-k", default=60, show_default=True, type=int, help="RRF constant (hybrid).")
@click.option(
    "--context", default=0, show_default=True, type=int, help="Add N neighbouring chunks."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def search(
    query: str,
    top_k: int,
    filter_items: tuple[str, ...],
    mode: str,
    fusion: str,
    rrf_k: int,
    context: int,
    as_json: bool,
) -> None:
    """Search the collection: dense, BM25 or hybrid, with filters and citations."""
    from docingest.filters import parse_filters
    from docingest.search import cited_pages, embedding_model_ready, search_points, why_no_hits

    if not query.strip():
        raise click.UsageError("the query is empty")
    _say_where()
    if not embedding_model_ready():
        console.print("preparing the embedding model (first use in this home; ~30 s)...")
    try:
        filters = parse_filters(list(filter_items))
        hits = search_points(
            query,
            top_k=top_k,
            filters=filters,
            mode=mode,
            fusion=fusion,
            rrf_k=rrf_k,
            context=context,
        )
    except ConfigError as error:
        raise click.UsageError(str(error)) from error
    except DocIngestError as error:
        console.print(f"[red]{error.code.value}[/red]: {escape(error.message)}")
        sys.exit(1)
    if not hits:
        console.print(escape(why_no_hits(filters)))
    if as_json:
        out.print_json(json.dumps(hits, ensure_ascii=False))
        return
    table = Table(title=f"top {top_k} for {escape(repr(query))} ({mode})")
    for column in ("score", "document", "pages", "section", "text"):
        table.add_column(column)
    for hit in hits:
        pages = cited_pages(hit)
        text = " ".join(hit.get("context_text", hit["text"]).split())[:160]
        section = " > ".join(hit.get("headings") or [])[-60:]
        table.add_row(
            f"{hit['score']:.3f}", escape(hit["document_id"]), pages, escape(section), escape(text)
        )
    out.print(table)


@main.command()
@click.argument("document_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--failed",
    is_flag=True,
    help="List the failed documents: code, stage, attempts, last run, message.",
)
def status(document_id: str | None, as_json: bool, failed: bool) -> None:
    """Documents by status and error code, pages, chunks and points; with DOCUMENT_ID, that
    document's state, why it would run again, and its history of stages."""
    from pipelines.instance import get_instance
    from pipelines.queries import collect_status, failed_documents

    _say_where()
    instance = get_instance()
    if document_id is not None:
        _document_status(instance, document_id, as_json)
        return
    if failed:
        rows = failed_documents(instance)
        if as_json:
            out.print_json(json.dumps(rows, ensure_ascii=False))
            return
        table = Table(title=f"{len(rows)} failed documents")
        for column in ("document", "code", "stage", "attempts", "last run", "message"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                escape(row["document_id"]), row["code"], row["stage"], str(row["attempts"]),
                (row["run_id"] or "")[:8], escape(row["message"]),
            )  # fmt: skip
        out.print(table)
        return
    report = collect_status(instance)
    if as_json:
        out.print_json(json.dumps(report))
        return
    table = Table(title="docingest status")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in report["documents"].items():
        table.add_row(f"documents {key}", str(value))
    for code, count in report["errors"].items():
        table.add_row(f"  {code}", str(count))
    for flag, count in report.get("flagged", {}).items():
        if count:
            table.add_row(f"  succeeded, flagged {flag}", str(count))
    for key in ("pages", "chunks", "points"):
        table.add_row(key, str(report[key]))
    out.print(table)


def _document_status(instance: Any, document_id: str, as_json: bool) -> None:
    from pipelines.queries import document_status

    report = document_status(instance, document_id)
    if report is None:
        console.print(
            f"[red]no document {escape(repr(document_id))}[/red] (see docingest status --json)"
        )
        sys.exit(1)
    if as_json:
        out.print_json(json.dumps(report, ensure_ascii=False))
        return
    error = report["error"] or {}
    table = Table(
        title=f"{escape(document_id)}: {report['status'] or 'registered'} ({report['freshness']})"
    )
    table.add_column("what")
    table.add_column("value")
    for key in ("stage", "attempts", "run_id", "correlation_id", "updated_at"):
        table.add_row(key, escape(str(report[key])))
    if error:
        table.add_row("error", f"{error['code']}: {escape(error['message'])}")
    out.print(table)
    history = Table(title="history")
    for column in ("step", "status", "started", "seconds", "run"):
        history.add_column(column)
    for step in report["history"]:
        history.add_row(
            step["step"], step["status"], step["started_at"], f"{step['duration_s']:.3f}",
            (step["run_id"] or "")[:8],
        )  # fmt: skip
    out.print(history)


@main.command()
@click.argument("run_ids", nargs=-1)
@click.option("--correlation-id", default=None, help="Cancel every run of this batch.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
def cancel(run_ids: tuple[str, ...], correlation_id: str | None, as_json: bool) -> None:
    """Terminate the runs of a batch (--correlation-id) or the named runs; their unfinished
    documents are marked cancelled, not failed, and the next ingest or reconcile runs them."""
    from pipelines.cancel import cancel_runs, find_runs
    from pipelines.instance import get_instance
    from resources import build_resources

    instance = get_instance()
    try:
        runs = find_runs(instance, correlation_id=correlation_id, run_ids=run_ids)
    except ConfigError as error:
        raise click.UsageError(str(error)) from error
    if not runs:
        console.print(f"no runs tagged with correlation id {escape(repr(correlation_id))}")
        sys.exit(1)
    report = cancel_runs(instance, runs, build_resources()["storage"].store)
    if as_json:
        out.print_json(json.dumps([entry.to_dict() for entry in report], ensure_ascii=False))
        return
    for entry in report:
        out.print(
            f"{entry.run_id} {entry.job_name}: {entry.status_before} -> {entry.outcome}",
            highlight=False,
        )


if __name__ == "__main__":
    main()
