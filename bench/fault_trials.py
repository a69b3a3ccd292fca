"""SIGKILL `docingest` mid-run, run it again, and check that the end state is exactly right.

Run from the repository root:

    .venv/bin/python -m bench.fault_trials --trials 20 --docs 50 --seed 7 [--out FILE.json]

One reference ingest of the folder (a fresh `DOCINGEST_HOME`, never killed) gives the expected
Qdrant point set. Each random trial starts `docingest ingest` on the same folder in a fresh
home, in its own process group (with the parser's worker processes), sends SIGKILL to the group
at a seeded random point of its progress (after k documents are indexed, plus up to a second),
checks what the dead run left on disk (every Parquet output readable; temporary files never
named as outputs), runs the ingest again to completion and compares: the same point ids as the
reference, one per stored chunk, each with its document's id, chunk index and chunking hash, a
vector on every point, no duplicate and no orphan; and in Dagster every document partition of
every asset materialized, no run left unfinished, no partition materialized twice by one run.

Each `Scenario` kills at a named point of the code instead (bench/kill_at.py), so the moments
a random kill rarely hits are tried every time: a half-written Parquet file, points replaced
before the state is written, state written before Dagster logged it, and a re-chunk killed
between the upsert of the new points and the deletion of the stale ones.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
COLLECTION = "documents"
ASSETS = ("source_documents", "parsed_pages", "chunks", "vector_store_entries")
ENGINE = "fast"  # the cheap parse engine: these faults are about the pipeline, not the parser
_VOCABULARY = (
    "river copper lantern orbit meadow quartz harbor signal violet engine falcon ledger "
    "summit canyon marble pepper glacier timber compass velvet beacon anchor thunder mosaic "
    "saffron nectar prism tundra ember walnut cobalt zephyr lagoon basalt heron juniper "
    "citadel fjord garnet hollow ivory jasper kelp lotus mantle nimbus oasis pylon"
)
Points = Mapping[str, tuple[str, int, str]]  # point id -> (document id, chunk index, chunking)


# --- the documents ------------------------------------------------------------------------------


def build_documents(folder: Path, count: int, seed: int) -> list[Path]:
    """`count` PDFs of 1-3 pages of distinct text; every third one runs to several chunks."""
    import pymupdf

    rng, vocabulary = random.Random(seed), _VOCABULARY.split()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        doc = pymupdf.open()
        long = number % 3 == 0
        for page_number in range(1 + number % 3):
            size = rng.randint(260, 420) if long else rng.randint(30, 90)
            words = rng.choices(vocabulary, k=size)
            sentences = [" ".join(words[i : i + 12]) + "." for i in range(0, len(words), 12)]
            html = (
                f"<h1>Document {number} page {page_number + 1}</h1>"
                f"<p>Reference code D{number:03d}-P{page_number + 1}. {' '.join(sentences)}</p>"
            )
            page = doc.new_page()
            page.insert_htmlbox(pymupdf.Rect(50, 50, 550, 800), html)
        path = folder / f"doc-{number:03d}.pdf"
        doc.save(path)
        doc.close()
        paths.append(path)
    return paths


# --- running docingest --------------------------------------------------------------------------


def child_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A `docingest` child's environment: its own home, embedded defaults, the fast engine."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DAGSTER_HOME", "QDRANT_URL", "QDRANT_API_KEY", "DOCINGEST_COLLECTION")
        and not k.startswith("DOCINGEST_WEBHOOK")
    }
    env.update(
        DOCINGEST_HOME=str(home),
        DOCINGEST_PARSE_ENGINE=ENGINE,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
    )
    env.update(extra or {})
    return env


def docingest_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", *args]


def kill_at_command(point: str, n: int, *args: str) -> list[str]:
    """`docingest ARGS`, SIGKILLed the n-th time it reaches `point` (bench/kill_at.py)."""
    return [sys.executable, "-m", "bench.kill_at", point, str(n), "--", *args]


def start(
    command: Sequence[str], home: Path, log: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`command` in a new session: its own process group, with the parser's worker processes."""
    with log.open("ab") as handle:
        handle.write(f"\n$ {' '.join(command[1:])}\n".encode())
        handle.flush()
        return subprocess.Popen(
            list(command),
            cwd=REPO_ROOT,
            env=child_env(home, env),
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_group(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """SIGKILL the process and everything left in its group; reap it."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            break  # nothing left in the group
        if time.monotonic() > deadline:
            raise RuntimeError(f"process group {process.pid} still alive after SIGKILL")
        process.poll()  # reap the leader so that the group can empty
        time.sleep(0.05)
    process.wait()


def run(
    command: Sequence[str],
    home: Path,
    log: Path,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 600,
) -> int:
    """`command` to completion; its exit status."""
    process = start(command, home, log, env)
    try:
        return process.wait(timeout=timeout_s)
    finally:
        kill_group(process)


def seed_models(home: Path, models: Path | None) -> None:
    """Share one exported embedding model between homes (exporting costs more than a trial)."""
    home.mkdir(parents=True, exist_ok=True)
    if models is not None and models.is_dir():
        (home / "models").symlink_to(models, target_is_directory=True)


# --- what a home holds --------------------------------------------------------------------------


@dataclass
class StoreState:
    """The collection's points and the chunk files of one home."""

    points: dict[str, tuple[str, int, str]]
    duplicates: int  # point ids seen more than once
    vectors: int  # points that carry a vector
    from_chunks: dict[str, tuple[str, int, str]]  # the points the stored chunks call for


def read_store(home: Path) -> StoreState:
    """Opens the embedded store (it waits for a writer's current operation) and reads every
    chunk file."""
    import pyarrow.parquet as pq

    from docingest.ids import point_id_for
    from docingest.vectorstore import VectorStore, close_local_clients

    points: dict[str, tuple[str, int, str]] = {}
    seen: Counter[str] = Counter()
    vectors = 0
    with VectorStore(path=str(home / "qdrant"), collection=COLLECTION) as store:
        for point_id, payload, vector in store.all_points(with_vectors=True):
            seen[point_id] += 1
            vectors += bool(vector)
            points[point_id] = (
                str(payload.get("document_id")),
                int(payload.get("chunk_index", -1)),
                str(payload.get("params_hash")),
            )
    close_local_clients()
    from_chunks: dict[str, tuple[str, int, str]] = {}
    for path in sorted((home / "chunks").glob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            key = (row["document_id"], row["chunk_index"], row["params_hash"])
            from_chunks[point_id_for(*key)] = key
    return StoreState(points, sum(n - 1 for n in seen.values()), vectors, from_chunks)


def unreadable_outputs(home: Path) -> list[str]:
    """Parquet outputs pyarrow cannot read (a half-written file would be one)."""
    import pyarrow.parquet as pq

    bad = []
    for path in sorted(home.glob("*/*.parquet")):
        try:
            pq.read_table(path)
        except Exception as error:  # any reader failure is what this looks for
            bad.append(f"{path.relative_to(home)}: {type(error).__name__}: {error}")
    return bad


def temp_files(home: Path) -> list[str]:
    """Temporary files of interrupted writes (`.<name>.<random>.tmp`), never read as outputs."""
    return sorted(str(p.relative_to(home)) for p in home.glob("*/.*.tmp"))


def documents_done(home: Path) -> int:
    """Documents whose state says indexed."""
    done = 0
    for path in (home / "state").glob("*.json"):
        done += json.loads(path.read_text()).get("status") == "succeeded"
    return done


def point_problems(state: StoreState, expected: Points) -> list[str]:
    """Every way the collection differs from the expected point set."""
    problems = []
    missing = sorted(set(expected) - set(state.points))
    extra = sorted(set(state.points) - set(expected))
    if missing:
        documents = sorted({expected[p][0] for p in missing})
        problems.append(f"{len(missing)} points missing, of {documents[:5]}")
    if extra:
        documents = sorted({state.points[p][0] for p in extra})
        problems.append(f"{len(extra)} unexpected points, of {documents[:5]}")
    wrong = sorted(p for p in set(expected) & set(state.points) if state.points[p] != expected[p])
    if wrong:
        example = state.points[wrong[0]]
        problems.append(f"{len(wrong)} points with the wrong payload, e.g. {example}")
    if state.duplicates:
        problems.append(f"{state.duplicates} duplicate point ids")
    if state.vectors != len(state.points):
        problems.append(f"{len(state.points) - state.vectors} points without a vector")
    if state.from_chunks != state.points:
        problems.append("the points are not exactly one per stored chunk")
    return problems


def dagster_problems(dagster_home: Path, documents: Sequence[str]) -> list[str]:
    """Partitions not materialized, runs left unfinished, partitions materialized twice in a run."""
    import dagster as dg

    from assets.partitions import documents_partitions

    problems = []
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        for asset in ASSETS:
            key = dg.AssetKey(asset)
            statuses = instance.get_status_by_partition(key, documents, documents_partitions) or {}
            bad = {d: getattr(s, "value", s) for d, s in statuses.items()}
            bad = {d: s for d, s in bad.items() if s != "MATERIALIZED"}
            if bad:
                problems.append(f"{asset}: {len(bad)} partitions not materialized: {bad}")
            records = instance.fetch_materializations(key, limit=10_000).records
            twice = [k for k, n in Counter((r.run_id, r.partition_key) for r in records).items()
                     if n > 1]  # fmt: skip
            if twice:
                problems.append(f"{asset}: materialized twice in one run: {twice[:3]}")
        unfinished = instance.get_run_records(
            filters=dg.RunsFilter(
                statuses=[
                    dg.DagsterRunStatus.NOT_STARTED,
                    dg.DagsterRunStatus.STARTING,
                    dg.DagsterRunStatus.STARTED,
                ]
            )
        )
        if unfinished:
            problems.append(f"{len(unfinished)} runs left unfinished")
    finally:
        instance.dispose()
    return problems


# --- the trials ---------------------------------------------------------------------------------


@dataclass
class Reference:
    folder: Path
    points: dict[str, tuple[str, int, str]]
    seconds: float
    models: Path


@dataclass
class Trial:
    name: str
    kill: str  # when: seconds after the start, or a named point of the code
    killed: bool  # False when the run finished before the kill came
    done_at_kill: int  # documents the killed run had indexed
    temp_files: int  # left by interrupted writes
    rerun_exit: int
    rerun_s: float
    points: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def make_reference(work: Path, docs: int, seed: int) -> Reference:
    """The folder, and one uninterrupted ingest of it: expected points and duration."""
    folder = work / "uploads"
    build_documents(folder, docs, seed)
    log = work / "reference.log"
    # Exporting the embedding model costs more than a trial: one document's ingest does it once
    # for every home.
    warm, warm_folder = work / "warm", work / "warm-uploads"
    build_documents(warm_folder, 1, seed + 1)
    if run(docingest_command("ingest", str(warm_folder)), warm, log) != 0:
        raise RuntimeError(f"the warm-up ingest failed; see {log}")
    home = work / "reference"
    seed_models(home, warm / "models")
    started = time.perf_counter()
    if run(docingest_command("ingest", str(folder)), home, log) != 0:
        raise RuntimeError(f"the reference ingest failed; see {log}")
    seconds = time.perf_counter() - started
    state = read_store(home)
    problems = point_problems(state, state.from_chunks)
    if problems or len({d for d, _, _ in state.points.values()}) != docs:
        raise RuntimeError(f"the reference ingest is not sound: {problems}; see {log}")
    return Reference(folder, state.points, seconds, warm / "models")


def _finish(
    name: str,
    kill: str,
    killed: bool,
    home: Path,
    rerun: Sequence[str],
    expected: Points | None,
    documents: Sequence[str],
    log: Path,
) -> Trial:
    """After the kill: inspect the leftovers, run again to completion, compare. `expected`
    None: the points the final chunk files call for, all of one chunking, of every document."""
    done, temps, unreadable = documents_done(home), temp_files(home), unreadable_outputs(home)
    started = time.perf_counter()
    exit_code = run(docingest_command(*rerun), home, log)
    rerun_s = time.perf_counter() - started
    state = read_store(home)
    problems = point_problems(state, state.from_chunks if expected is None else expected)
    if expected is None:
        chunkings = {h for _, _, h in state.points.values()}
        indexed = {d for d, _, _ in state.points.values()}
        if len(chunkings) != 1 or indexed != set(documents):
            problems.append(
                f"points of {len(chunkings)} chunkings and {len(indexed)} documents, "
                f"not of one chunking and {len(documents)} documents"
            )
    problems += dagster_problems(home / "dagster", documents)
    if unreadable:
        problems.append(f"unreadable Parquet after the kill: {unreadable}")
    if exit_code != 0:
        problems.append(f"the re-run exited {exit_code}; see {log}")
    return Trial(
        name, kill, killed, done, len(temps), exit_code, round(rerun_s, 1), len(state.points),
        problems,
    )  # fmt: skip


@dataclass(frozen=True)
class KillPoint:
    """Once `indexed` documents are indexed, wait `delay_s` more, then SIGKILL."""

    indexed: int
    delay_s: float

    def __str__(self) -> str:
        return f"{self.indexed} indexed + {self.delay_s} s"


def kill_points(seed: int, trials: int, docs: int) -> list[KillPoint]:
    """Seeded points spread over a run's progress (not its clock: the run's speed varies with
    the machine's load, and a clock mostly lands in the start-up). 0 indexed kills during the
    start-up and the first document; the delay lands anywhere within a document's stages."""
    rng = random.Random(seed)
    return [KillPoint(rng.randrange(docs), round(rng.uniform(0.0, 1.0), 2)) for _ in range(trials)]


def random_trial(reference: Reference, work: Path, number: int, point: KillPoint) -> Trial:
    """Kill an ingest at `point` of its progress, then run it again."""
    home, log = work / f"trial-{number:02d}", work / f"trial-{number:02d}.log"
    seed_models(home, reference.models)
    ingest = ["ingest", str(reference.folder)]
    process = start(docingest_command(*ingest), home, log)
    deadline = time.monotonic() + 600
    while process.poll() is None and time.monotonic() < deadline:
        if point.indexed == 0 or documents_done(home) >= point.indexed:
            time.sleep(point.delay_s)
            break
        time.sleep(0.01)
    killed = process.poll() is None
    kill_group(process)
    documents = sorted(p.name for p in reference.folder.iterdir())
    return _finish(
        f"random {number}", str(point), killed, home, ingest, reference.points, documents, log
    )


def subset_folder(reference: Reference, work: Path, docs: int) -> Path:
    """A folder with the first `docs` documents of the reference folder (same ids, points)."""
    folder = work / f"subset-{docs}"
    if not folder.is_dir():
        folder.mkdir(parents=True)
        for path in sorted(reference.folder.iterdir())[:docs]:
            shutil.copyfile(path, folder / path.name)
    return folder


@dataclass
class Scenario:
    """Kill `docingest ARGS` the n-th time it reaches `point`, run ARGS again."""

    name: str
    point: str
    n: int
    args: tuple[str, ...]  # "{folder}" stands for the upload folder
    prepare: tuple[str, ...] = ()  # run to completion first (same home)


SCENARIOS = (
    Scenario("Parquet half-written to its temp file", "parquet", 9, ("ingest", "{folder}")),
    Scenario("points replaced, state not written", "indexed", 5, ("ingest", "{folder}")),
    Scenario("state written, Dagster event not logged", "recorded", 5, ("ingest", "{folder}")),
    Scenario(
        "re-chunk: new points upserted, stale ones not deleted",
        "upserted",
        4,
        ("rechunk", "--strategy", "by_page"),
        prepare=("ingest", "{folder}"),
    ),
)


def scenario_trial(
    reference: Reference, work: Path, scenario: Scenario, number: int, docs: int
) -> Trial:
    """One kill point, on the first `docs` documents of the reference folder."""
    folder = subset_folder(reference, work, docs)
    home, log = work / f"point-{number:02d}", work / f"point-{number:02d}.log"
    seed_models(home, reference.models)

    def resolve(args: Sequence[str]) -> list[str]:
        return [str(folder) if a == "{folder}" else a for a in args]

    if scenario.prepare and run(docingest_command(*resolve(scenario.prepare)), home, log) != 0:
        raise RuntimeError(f"preparing {scenario.name!r} failed; see {log}")
    args = resolve(scenario.args)
    exit_code = run(kill_at_command(scenario.point, scenario.n, *args), home, log)
    killed = exit_code == -signal.SIGKILL
    documents = sorted(p.name for p in folder.iterdir())
    expected: Points | None = None  # a new chunking: the points its chunks call for
    if scenario.args[0] == "ingest":
        expected = {p: v for p, v in reference.points.items() if v[0] in documents}
    kill = f"{scenario.point} #{scenario.n}"
    trial = _finish(scenario.name, kill, killed, home, args, expected, documents, log)
    if not killed:
        trial.problems.append(f"the run was not killed at {scenario.point} (exit {exit_code})")
    return trial


def run_trials(
    trials: int,
    docs: int,
    seed: int,
    work: Path,
    scenarios: Sequence[Scenario] = SCENARIOS,
    scenario_docs: int = 8,
) -> tuple[Reference, list[Trial]]:
    reference = make_reference(work, docs, seed)
    points = kill_points(seed, trials, docs)
    results = [random_trial(reference, work, n, point) for n, point in enumerate(points)]
    results += [
        scenario_trial(reference, work, s, n, min(docs, scenario_docs))
        for n, s in enumerate(scenarios)
    ]
    return reference, results


def report(reference: Reference, results: Sequence[Trial]) -> str:
    lines = [
        f"reference: {len(reference.points)} points, "
        f"{len({d for d, _, _ in reference.points.values()})} documents, "
        f"{reference.seconds:.1f} s uninterrupted",
        "",
        "| trial | killed at | killed | indexed at kill | temp files left | re-run s | points "
        "| outcome |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in results:
        outcome = "exact" if t.ok else "; ".join(t.problems)
        lines.append(
            f"| {t.name} | {t.kill} | {'yes' if t.killed else 'finished first'} | "
            f"{t.done_at_kill} | {t.temp_files} | {t.rerun_s} | {t.points} | {outcome} |"
        )
    lines += ["", f"{sum(t.ok for t in results)} of {len(results)} trials exact"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="Kills at random points.")
    parser.add_argument("--docs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-scenarios", action="store_true", help="Random kills only.")
    parser.add_argument("--out", type=Path, default=None, help="Write the results as JSON.")
    parser.add_argument("--keep", action="store_true", help="Keep the homes and logs.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fault-trials-"))
    started = time.perf_counter()
    try:
        scenarios = () if args.no_scenarios else SCENARIOS
        reference, results = run_trials(args.trials, args.docs, args.seed, work, scenarios)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(report(reference, results))
    print(f"total {time.perf_counter() - started:.0f} s" + (f"; kept {work}" if args.keep else ""))
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "docs": args.docs,
                    "seed": args.seed,
                    "reference_s": round(reference.seconds, 1),
                    "points": len(reference.points),
                    "trials": [asdict(t) | {"ok": t.ok} for t in results],
                },
                indent=2,
            )
            + "\n"
        )
    sys.exit(0 if all(t.ok for t in results) else 1)


if __name__ == "__main__":
    main()
