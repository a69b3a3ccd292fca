"""Render the quickstart sample PDFs from the project's own text, with `pymupdf.Story`.

Run from anywhere: `python samples/render_samples.py`. The PDFs land next to this script.
Output is deterministic: fixed metadata dates, a fixed document id and `reproducible=True`,
so re-running produces the same bytes and a diff in git means the text changed.
"""

from __future__ import annotations

import hashlib
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymupdf

HERE = Path(__file__).resolve().parent / "documents"
FIXED_DATE = "D:20250101000000Z"  # every sample carries the same creation/modification date
MARGIN = 60  # points around the text column
FOOTER_GAP = 28  # points from the bottom edge to the footer baseline
CSS = """
* { font-family: sans-serif; font-size: 10.5pt; line-height: 1.35; }
h1 { font-size: 20pt; margin-bottom: 10pt; }
h2 { font-size: 15pt; margin-top: 14pt; margin-bottom: 6pt; }
h3 { font-size: 12pt; margin-top: 10pt; margin-bottom: 4pt; }
p { margin-bottom: 6pt; }
li { margin-bottom: 3pt; }
code { font-family: monospace; font-size: 9.5pt; }
table { border-collapse: collapse; width: 100%; margin-top: 4pt; margin-bottom: 8pt; }
th { background-color: #e4e8ee; font-weight: bold; text-align: left; }
th, td { border: 0.6pt solid #7a8699; padding: 3pt; font-size: 9.5pt; vertical-align: top; }
"""

# The texts: facts about docingest, in the project's own words. Headings become the outline.
OVERVIEW = """
<h1>docingest overview</h1>
<p>docingest turns a folder of documents into a searchable collection in Qdrant and keeps that
collection in step with the folder as files arrive, change and disappear. It is a Dagster
project: every stage of the work is a software-defined asset, every document is a partition,
and a data engineer can watch, re-run and inspect all of it from the Dagster UI. The same
pipeline also runs from a plain command line for people who never open the UI.</p>
<p>This overview explains what the pipeline produces, how the four assets depend on each other,
what runs where in the embedded default and in production, and which commands you use day to
day. The companion documents go deeper: the chunking guide covers the four chunking
strategies, the error code reference lists every failure the pipeline can report, and the
operations runbook covers backfills, re-chunking, reindexing, PostgreSQL and Celery.</p>

<h2>What docingest does</h2>
<p>Hosted document-parsing services offer parse jobs with engine options, page fragments with
bounding boxes, several chunking strategies, metadata that travels into a vector store, batch
jobs with progress, and error codes that say whether a retry can help. docingest brings the
same feature set into an open pipeline that you run on your own machines:</p>
<ul>
<li>It parses PDF, plain text and markdown files into pages of typed fragments (titles,
section headers, text, list items, tables, figures, captions, formulas, footnotes, page
headers and page footers), each with a bounding box in PDF points.</li>
<li>It splits each parsed document into chunks with one of four strategies, and every chunk
remembers the pages, the boxes and the heading breadcrumb it came from.</li>
<li>It embeds every chunk with a local sentence-embedding model that works offline and writes
one Qdrant point per chunk, with a deterministic point id.</li>
<li>It carries your own metadata, the <code>vector_store_metadata</code>, from the source
configuration and from a sidecar file next to each document into every point, so that
searches can filter on it.</li>
<li>It classifies every failure with one of twelve error codes, each either retryable or not,
so that transient problems are retried and broken inputs are not.</li>
</ul>

<h2>The asset graph</h2>
<p>Four assets form a straight line. Each one is partitioned by document through a dynamic
partitions definition named <code>documents</code>, so every document can be materialized,
inspected and re-run on its own.</p>
<ol>
<li><b>source_documents</b>: the registered file with its bytes, content hash (sha256), MIME
type, size and metadata.</li>
<li><b>parsed_pages</b>: the pages of the document with their fragments, bounding boxes,
markdown and usage figures.</li>
<li><b>chunks</b>: the chunk texts with token counts, pages, boxes and headings.</li>
<li><b>vector_store_entries</b>: the Qdrant points, each carrying the document's
vector_store_metadata and a deterministic id.</li>
</ol>

<h3>source_documents</h3>
<p>A source document is a file in the upload folder, registered for ingestion. The asset
records its path, its size, its sha256 content hash and the metadata every one of its points
will carry. The data version of the asset is the content hash, so editing a file makes every
downstream asset of that document stale, and touching a file without changing it does not.</p>

<h3>parsed_pages</h3>
<p>Parsing uses PyMuPDF. The default engine runs the PyMuPDF layout model, which recognises
headings, lists and tables and produces good markdown at roughly one and a half pages per
second on a small machine; a fast engine skips the model for speed. Pages without a text layer
go through Tesseract OCR. Each page keeps its number, width, height, markdown, OCR flag,
status and error. The parse result is cached by the pair of content hash and parse-options
hash, which is why re-chunking never parses a document again.</p>

<h3>chunks</h3>
<p>The chunks asset reads the stored parse and splits it with the configured strategy:
token_size, recursive, by_page or by_section. Every chunk record holds its chunk id, document
id, index, exact text, token count, first and last page, bounding boxes per page, the heading
breadcrumb, the fragment types it contains, the strategy and a hash of the parameters.</p>

<h3>vector_store_entries</h3>
<p>The last asset embeds the chunk texts and upserts them into the Qdrant collection. A point
id is a uuid5 of the document id, the chunk index and the chunking hash. Because ids never
depend on position or timing, running the asset twice writes the same points, and points that
the new chunking no longer produces are deleted after the upsert.</p>

<h2>Partitions and document ids</h2>
<p>The partition key of a document is its path relative to the source root, percent-encoded
where needed. The key stays readable in the UI, never contains a parent-directory step or a
character that Dagster rejects, and maps back to exactly one file. Adding a file adds a
partition; removing a file removes its points, its Parquet files and finally its partition.</p>

<h2>Storage: Parquet and Qdrant</h2>
<p>Parsed pages and chunks are written as Parquet files, one per document. Anyone can read them
with pandas or DuckDB without installing docingest. The vectors live in Qdrant: on a laptop
that is Qdrant local mode in a folder on disk, in production a Qdrant server or cluster reached
by URL and API key. The default collection is called <code>documents</code>.</p>

<h2>Embedded default and production</h2>
<p>One switch separates a fresh machine with no services from a production deployment. All
embedded state lives below a single directory, <code>DOCINGEST_HOME</code>, which defaults to
<code>./.docingest</code>.</p>
<table>
<tr><th>Part</th><th>Embedded default</th><th>Production</th></tr>
<tr><td>Dagster instance</td><td>SQLite under DAGSTER_HOME</td>
<td>PostgreSQL via dagster-postgres</td></tr>
<tr><td>Vector store</td><td>Qdrant local mode on disk</td>
<td>Qdrant server or cluster by URL and API key</td></tr>
<tr><td>Parsed pages and chunks</td><td>Parquet under DOCINGEST_HOME</td>
<td>The same layout on object storage</td></tr>
<tr><td>Execution</td><td>In-process or multiprocess executor</td>
<td>dagster-celery with RabbitMQ or Redis, or dagster-k8s</td></tr>
<tr><td>Embeddings</td><td>all-MiniLM-L6-v2 on the CPU, offline</td>
<td>The same model on a GPU, or an OpenAI-compatible endpoint</td></tr>
</table>

<h2>Using docingest from the command line</h2>
<p>The <code>docingest</code> command wraps the pipeline for people who do not use the UI. A
first session looks like this:</p>
<ol>
<li>Install the project into a virtual environment.</li>
<li>Run <code>docingest ingest ./samples</code>. The files become partitions and the whole
graph is materialized for them in the same Dagster instance the UI shows, with a progress bar
and a summary table at the end. Documents that are already current are skipped.</li>
<li>Run <code>docingest search "which errors are retryable"</code> to query the collection,
and add <code>--filter doc_type=reference</code> to search only the reference documents.</li>
<li>Run <code>docingest status</code> to see how many documents succeeded, failed or are
pending, the error counts by code, and the totals of pages, chunks and points.</li>
</ol>
<p>Two more commands work without touching the collection. <code>docingest parse</code>
writes markdown or JSON for each input and an error file for each failure, and
<code>docingest chunk</code> writes one JSON line per chunk, so you can try a chunking strategy
before ingesting anything.</p>

<h2>Asset checks and metadata</h2>
<p>Every materialization records the figures a person would want to look at: pages, OCR pages,
tables, chunk count, the median and 95th percentile of tokens per chunk, points written, the
markdown of the first page and the time each step took. Asset checks sit beside the assets:</p>
<ul>
<li>every page is either parsed or has an explained error;</li>
<li>no chunk is longer than its token limit, and no chunk is empty;</li>
<li>the number of Qdrant points of a document equals its number of chunks.</li>
</ul>

<h2>Automation</h2>
<p>A sensor watches the upload folder. New or changed files are parsed, chunked, embedded and
upserted without anyone clicking, and files that were removed leave the collection. A schedule
re-runs whatever failed for a retryable reason and reconciles the collection with the folder.
Both are stopped by default; turn them on in the UI once the first ingest looks right.</p>

<h2>Where to read next</h2>
<ul>
<li>The chunking guide, to choose a strategy and its parameters.</li>
<li>The error code reference, to understand a failed document.</li>
<li>The operations runbook, before a backfill, a re-chunk or a move to PostgreSQL.</li>
</ul>
"""

ERROR_CODES = """
<h1>Error codes reference</h1>
<p>When docingest cannot process a document, it does not just log a stack trace. It assigns
the failure one of twelve error codes, and each code carries a fixed retryable flag. The code
and the flag travel everywhere the failure shows up: in the error file written by
<code>docingest parse</code>, in the Dagster failure metadata, in the per-document state and
in the error counts of <code>docingest status</code>.</p>

<h2>Which errors are retryable?</h2>
<p>Five error codes are retryable: UNABLE_TO_DOWNLOAD_FILE, PARSE_TIMEOUT, EMBEDDING_ERROR,
VECTOR_STORE_UNAVAILABLE and INTERNAL_ERROR. A retryable error describes a transient condition:
the same input may well succeed a little later, once the file is readable, the machine is less
busy or the vector store is back. The other seven error codes are not retryable, because they
describe the input itself. A corrupt or password-protected file fails in exactly the same way
every time, so retrying it only burns time and compute.</p>

<h2>The twelve error codes</h2>
<table>
<tr><th>Code</th><th>Retryable</th><th>Description</th></tr>
<tr><td>FILE_TYPE_NOT_SUPPORTED</td><td>no</td>
<td>The content is none of the types docingest reads (PDF and the other formats MuPDF opens,
images for OCR, plain text, markdown, office and web documents), or text arrived with a file
name that claims another type.</td></tr>
<tr><td>FILE_SIZE_TOO_LARGE</td><td>no</td>
<td>The file is larger than the configured maximum file size (100 MB by default). It is
refused before it is read into memory.</td></tr>
<tr><td>CORRUPT_FILE</td><td>no</td>
<td>The file is empty, damaged or cannot be opened as the type it claims; an invalid metadata
sidecar file is reported with this code too.</td></tr>
<tr><td>PASSWORD_PROTECTED_FILE</td><td>no</td>
<td>The PDF is encrypted and no password, or a wrong password, was given.</td></tr>
<tr><td>UNABLE_TO_DOWNLOAD_FILE</td><td>yes</td>
<td>The file could not be read: it is missing, moved, or not readable at the moment.</td></tr>
<tr><td>PARSE_TIMEOUT</td><td>yes</td>
<td>Parsing took longer than its time limit, usually on a busy machine or a very long
scanned document.</td></tr>
<tr><td>OCR_ERROR</td><td>no</td>
<td>Text recognition failed on a page that has no text layer.</td></tr>
<tr><td>FAILED_TO_CONVERT_TO_PDF</td><td>no</td>
<td>A document that must be converted to PDF before parsing could not be converted.</td></tr>
<tr><td>EMBEDDING_ERROR</td><td>yes</td>
<td>The embedding model could not be loaded or failed on a batch of chunk texts.</td></tr>
<tr><td>VECTOR_STORE_UNAVAILABLE</td><td>yes</td>
<td>Qdrant could not be reached, answered with a transient status, or the local store folder
is held by another process.</td></tr>
<tr><td>INTERNAL_ERROR</td><td>yes</td>
<td>An unexpected failure inside docingest, or a stage whose input is missing. Retried in case
it was transient; report it if it repeats.</td></tr>
<tr><td>FILE_OUTSIDE_SOURCE_ROOT</td><td>no</td>
<td>A document id that leads outside the upload folder (a path with <code>..</code>, an
absolute path), or a file in the folder that links to a place outside it. Such a file is never
read.</td></tr>
</table>

<h2>How retries work</h2>
<p>Every per-document asset has the same retry policy: up to three retries, starting after two
seconds and backing off exponentially, with jitter so that many failed documents do not all
come back at the same moment. A retry policy on its own would also retry a corrupt file, so
docingest raises non-retryable errors as a Dagster failure with retries switched off. Those
documents fail once, immediately, and keep their error code.</p>
<p>Beyond the immediate retries, a schedule looks at the documents whose last failure was
retryable and launches them again later. A document that failed with a non-retryable code stays
failed until its file changes: a new content hash makes it eligible again.</p>

<h2>Where you see an error</h2>
<ul>
<li><b>docingest parse</b> writes <code>&lt;stem&gt;.error.json</code> next to the outputs, with
the keys <code>code</code>, <code>message</code> and <code>retryable</code>, and exits with
status 1 if any input failed.</li>
<li><b>docingest ingest</b> prints a summary table with a line per error code and then one line
per failed document with its code and message.</li>
<li><b>docingest status</b> counts documents by status and errors by code; with
<code>--json</code> the counts are under <code>errors</code>.</li>
<li>In the <b>Dagster UI</b> the failed step shows the error code, the retryable flag, the
document id and the stage (source, parse, chunk or index) as failure metadata.</li>
</ul>

<h2>What to do about each error</h2>
<h3>Problems with the input</h3>
<p>FILE_TYPE_NOT_SUPPORTED, FILE_SIZE_TOO_LARGE, CORRUPT_FILE and PASSWORD_PROTECTED_FILE
point at the file. Replace it with a readable PDF, text or markdown file, raise the maximum
file size if the file is legitimately large, or provide the password through the
<code>DOCINGEST_PDF_PASSWORD</code> environment variable. Fixing the file changes its hash,
and the sensor picks it up again on its own.</p>
<p>FILE_OUTSIDE_SOURCE_ROOT points at a link in the upload folder that leads out of it, or at
a document id that names a path outside it. Copy the file into the folder instead of linking
to it.</p>
<h3>Problems with the environment</h3>
<p>UNABLE_TO_DOWNLOAD_FILE, PARSE_TIMEOUT and VECTOR_STORE_UNAVAILABLE usually clear up by
themselves. If they persist, check that the upload folder is mounted, that the machine is not
overloaded, and that no second process holds the local Qdrant store: local mode admits one
process at a time.</p>
<h3>Problems with models</h3>
<p>OCR_ERROR means Tesseract is missing or failed on a page; install the tesseract-ocr
package with its English data. EMBEDDING_ERROR usually means the embedding model is not
installed in the environment that runs the pipeline.</p>
<h3>Bugs</h3>
<p>INTERNAL_ERROR is retried like a transient failure. If the same document fails with it
again and again, open an issue with the run id and the document id.</p>
"""

CHUNKING_GUIDE = """
<h1>Chunking guide</h1>
<p>Chunking decides what a search result is. A chunk that is too small loses its context; a
chunk that is too large dilutes the meaning of its embedding and fills the prompt of whatever
reads it. docingest offers four chunking strategies. All of them work on the stored parse
result, all of them keep track of the pages, bounding boxes and headings each chunk came from,
and all of them can be changed later without parsing a single document again.</p>

<h2>Choosing a strategy</h2>
<ul>
<li><b>token_size</b> (the default): fixed windows of tokens with an overlap. Predictable
sizes, a good first choice for mixed collections.</li>
<li><b>recursive</b>: splits on paragraph breaks first, then lines, then words, until every
piece fits a character budget. Keeps paragraphs whole where it can.</li>
<li><b>by_page</b>: one chunk per page, or per group of pages. Natural for slides, forms and
scanned pages whose layout matters more than their prose.</li>
<li><b>by_section</b>: one chunk per section, starting at the chosen heading levels. Best for
manuals and guides with clear headings, such as this one.</li>
</ul>

<h2>The strategies in detail</h2>
<h3>token_size</h3>
<p>The document text is tokenized with a tiktoken encoding and cut into windows of
<code>chunk_size</code> tokens, each window overlapping the previous one by
<code>chunk_overlap</code> tokens. The default is 512 tokens with an overlap of 50, counted with
the cl100k_base encoding. No chunk is ever longer than its limit; an asset check verifies it.</p>

<h3>recursive</h3>
<p>The recursive splitter tries its separators in order, by default a blank line, a line break,
a space and finally any character, and keeps splitting until each piece is at most
<code>chunk_size</code> characters (1000 by default). Neighbouring chunks share up to
<code>chunk_overlap</code> characters (200 by default). With <code>keep_separator</code> the
separator stays attached to the text.</p>

<h3>by_page</h3>
<p>Each chunk covers <code>pages_per_chunk</code> consecutive pages, one by default. Page
numbers in search results are then exact, which helps when people cite a page.</p>

<h3>by_section</h3>
<p>A new chunk starts at every heading whose level is in <code>section_headers</code>, by
default levels 1 and 2. With <code>include_header_in_chunk</code> the heading text is part of
the chunk, which usually improves retrieval because the heading names the topic.</p>

<h2>Parameters</h2>
<table>
<tr><th>Strategy</th><th>Parameter</th><th>Default</th><th>Meaning</th></tr>
<tr><td>token_size</td><td>chunk_size</td><td>512</td><td>Tokens per chunk, at most.</td></tr>
<tr><td>token_size</td><td>chunk_overlap</td><td>50</td>
<td>Tokens shared with the previous chunk; smaller than chunk_size.</td></tr>
<tr><td>recursive</td><td>chunk_size</td><td>1000</td><td>Characters per chunk, at most.</td></tr>
<tr><td>recursive</td><td>chunk_overlap</td><td>200</td>
<td>Characters shared between neighbours.</td></tr>
<tr><td>recursive</td><td>separators</td><td>blank line, newline, space, ""</td>
<td>Split points, tried in order.</td></tr>
<tr><td>recursive</td><td>keep_separator</td><td>true</td>
<td>Keep the separator with the text.</td></tr>
<tr><td>by_page</td><td>pages_per_chunk</td><td>1</td><td>Pages per chunk.</td></tr>
<tr><td>by_section</td><td>section_headers</td><td>1, 2</td>
<td>Heading levels that start a chunk (1 to 6, "#" or "h1").</td></tr>
<tr><td>by_section</td><td>include_header_in_chunk</td><td>true</td>
<td>Put the heading text in the chunk.</td></tr>
<tr><td>all</td><td>encoding_name</td><td>cl100k_base</td>
<td>tiktoken encoding used to count tokens (cl100k_base or o200k_base).</td></tr>
</table>
<p>Parameters are given as <code>--param KEY=VALUE</code> on the command line, and as the
<code>params</code> mapping of the chunks config in the Dagster Launchpad. Invalid values are
rejected before any work starts: an unknown strategy or parameter, a size below one, or an
overlap that is not smaller than the size.</p>

<h2>Trying a strategy before ingesting</h2>
<p>Use <code>docingest chunk</code> to see the chunks without writing anything to Qdrant:</p>
<ol>
<li>Pick a few representative documents.</li>
<li>Run <code>docingest chunk report.pdf --out /tmp/chunks --strategy by_section</code>.</li>
<li>Read <code>/tmp/chunks/report.jsonl</code>: one chunk record per line, with its text, token
count, pages and headings.</li>
<li>Adjust the parameters, for example <code>--param section_headers=1,2,3</code>, and repeat
until the chunks read well on their own.</li>
</ol>

<h2>Re-chunking without re-parsing</h2>
<p>Parsing is by far the slowest stage, so docingest never repeats it just because the
chunking changed. The parse result is cached by content hash and parse options; re-chunking
reads the stored Parquet pages, writes new chunks and re-embeds only what changed. To re-chunk
the whole collection, run <code>docingest rechunk --strategy by_section</code>, or launch the
<code>rechunk_job</code> from the UI with the new strategy in its config. Both materialize only
chunks and vector_store_entries.</p>
<p>Because the chunking hash is part of every point id, the new chunks get new ids. After the
new points are upserted, the document's points from the old chunking are deleted, so a search
never mixes two chunkings of the same document.</p>

<h2>What a chunk carries</h2>
<ul>
<li><code>chunk_id</code>, <code>document_id</code> and <code>chunk_index</code>;</li>
<li><code>text</code> and <code>token_count</code>;</li>
<li><code>page_start</code>, <code>page_end</code> and <code>bboxes</code>, one box per page
with its page number;</li>
<li><code>headings</code>, the breadcrumb of section titles above the chunk;</li>
<li><code>fragment_types</code>, <code>strategy</code> and <code>params_hash</code>.</li>
</ul>
"""

OPERATIONS_RUNBOOK = """
<h1>Operations runbook</h1>
<p>This runbook is for the people who keep a docingest deployment healthy: the data engineer
who launches a backfill on a Monday morning, the on-call engineer who is asked why a document
cannot be found, and the platform team that moves the pipeline from a laptop onto PostgreSQL
and Celery workers. Each section says when to use a procedure, the steps, and how to tell that
it worked.</p>

<h2>Daily checks</h2>
<ol>
<li>Open the Dagster UI (<code>dagster dev</code> locally) and look at the asset graph: the four
assets source_documents, parsed_pages, chunks and vector_store_entries should show no failed
partitions and no failed asset checks.</li>
<li>Run <code>docingest status</code>. The numbers of succeeded, failed and pending documents
should match what you expect, and the number of points should equal the number of chunks.</li>
<li>Look at the error counts. A burst of retryable codes points at the environment (storage,
Qdrant, an overloaded machine); non-retryable codes point at specific files.</li>
<li>Check that the upload folder sensor and the hourly reconcile schedule are running, and read
their latest skip reasons: they say why a tick launched nothing.</li>
</ol>

<h2>Backfill every document</h2>
<p>Use a backfill after the first deployment, after restoring a Dagster instance, or whenever
all documents must be processed again, for example after changing parse options.</p>
<ol>
<li>Make sure every file is registered: either the sensor has seen the folder, or run
<code>docingest ingest</code> on it once, which adds the missing partitions.</li>
<li>In the UI, open the vector_store_entries asset, choose Materialize, select all partitions of
the <code>documents</code> partitions definition and launch the backfill. Dagster builds the
upstream assets of each partition as needed.</li>
<li>Many documents per run is far cheaper than one run per document: each run has a fixed cost,
so prefer backfills that group partitions into batches.</li>
<li>Follow progress on the backfill page; failed partitions show their error code in the step
failure metadata.</li>
</ol>
<p>A backfill is safe to repeat. Writes are idempotent per document: point ids are
deterministic, so a second run rewrites the same points and removes stale ones.</p>

<h2>Re-chunk without re-parsing</h2>
<p>Re-chunk when search results are too long, too short or cut across sections. Parsing is the
expensive stage and its result is cached by content hash and parse-options hash, so a
re-chunk only reads the stored pages, writes new chunks and embeds them again.</p>
<ol>
<li>Try the new settings on a few files with <code>docingest chunk</code> first.</li>
<li>Run <code>docingest rechunk --strategy by_section --param section_headers=1,2</code>, or
launch <code>rechunk_job</code> in the Launchpad with the strategy and params in the config of
the chunks step. Only chunks and vector_store_entries are materialized.</li>
<li>Check that the asset check comparing Qdrant points with chunks passes for every
document.</li>
</ol>

<h2>Reindex the vector store</h2>
<p>Reindex when the embedding model changes, when the collection was lost, or when moving from
Qdrant local mode to a Qdrant server. A collection remembers the vector size and the model it
was built with, and docingest refuses to mix vectors of two models in one collection.</p>
<ol>
<li>Choose the new model in the embedder resource; the model name is the one setting, and the
vector size comes with it.</li>
<li>Either point the pipeline at a new collection name (<code>DOCINGEST_COLLECTION</code>), or
drop and recreate the existing collection with <code>docingest reindex --recreate</code>.</li>
<li>Materialize vector_store_entries for all partitions. Parsing and chunking are reused; only
embedding and upserting run.</li>
<li>Compare point totals with chunk totals in <code>docingest status</code>.</li>
</ol>

<h2>Moving the Dagster instance to PostgreSQL</h2>
<p>The embedded default keeps run history, event logs and schedules in SQLite under
<code>DAGSTER_HOME</code>. SQLite is fine for one person; a team, a daemon and several workers
need PostgreSQL.</p>
<ol>
<li>Create a database and a user for Dagster.</li>
<li>Use the repository's <code>dagster.yaml</code>, which configures run storage, event log
storage and schedule storage through dagster-postgres and reads the host, user, password and
database name from environment variables.</li>
<li>With SQLAlchemy 2.1, set <code>scheme: postgresql+psycopg2</code> under
<code>postgres_db</code>; without it dagster-postgres looks for psycopg 3 and fails to
connect.</li>
<li>Point <code>DAGSTER_HOME</code> at the folder holding that file and restart the webserver
and the daemon. Run <code>docingest status</code> to confirm the CLI sees the same
instance.</li>
</ol>

<h2>Executing runs with Celery</h2>
<p>The in-process and multiprocess executors run steps on the machine that launched the run.
To spread parsing and embedding over several machines, install the celery extra and use
dagster-celery with a RabbitMQ or Redis broker.</p>
<ul>
<li>Start a broker, for example RabbitMQ on port 5672 or Redis on port 6379.</li>
<li>Configure the celery executor with the broker URL, and start workers with
<code>dagster-celery worker start</code> on each machine that should execute steps.</li>
<li>Every worker needs the same code, the same embedding model and access to the same storage:
object storage for Parquet and a Qdrant server, not local folders.</li>
<li>Qdrant local mode admits one process at a time. Its writer steps run in a pool of size one
named <code>qdrant_writer</code>; with a Qdrant server the pool limit can be raised.</li>
</ul>

<h2>Qdrant local mode and server</h2>
<p>Local mode stores the collection in <code>$DOCINGEST_HOME/qdrant</code> and searches by brute
force in Python. It warns above twenty thousand points and holds a file lock, so a running
<code>docingest ingest</code> and a Dagster run cannot write at the same time. For anything larger
than a trial, set <code>QDRANT_URL</code> and <code>QDRANT_API_KEY</code>; nothing else changes,
because the same resource keys are bound in every environment.</p>

<h2>When a document fails</h2>
<ul>
<li>Read its error code in <code>docingest status</code>, the ingest summary or the step
failure metadata in the UI.</li>
<li>Retryable codes are retried three times with exponential backoff, and the hourly reconcile
schedule launches them again; usually nothing needs to be done.</li>
<li>Non-retryable codes need a new file: fix or replace the document in the upload folder and
the sensor ingests it again because its content hash changed.</li>
<li>To remove a document, delete its file. The sensor launches the delete job, which removes
the points, then the Parquet files, then the partition.</li>
</ul>

<h2>Troubleshooting</h2>
<h3>The local Qdrant store is held by another process</h3>
<p>Another <code>docingest</code> command or Dagster run has the store open. Wait for it to
finish, or move to a Qdrant server.</p>
<h3>Runs are slow to start</h3>
<p>Every run pays a fixed start-up cost, mostly process start and model loading. Group many
documents into one run with backfills rather than launching one run per document.</p>
<h3>Search returns nothing for a filter</h3>
<p>Filters match payload values exactly. Check the document's sidecar file
<code>name.pdf.metadata.json</code> and the type of the value: <code>--filter year=2024</code>
matches the number 2024, not the string.</p>
"""


@dataclass(frozen=True)
class Sample:
    filename: str
    title: str
    subject: str
    paper: str  # "a4" or "letter"
    html: str


SAMPLES: tuple[Sample, ...] = (
    Sample(
        "docingest-overview.pdf",
        "docingest overview",
        "What docingest does and how its asset graph fits together",
        "a4",
        OVERVIEW,
    ),
    Sample(
        "error-codes.pdf",
        "docingest error codes",
        "The twelve error codes, which are retryable, and what to do about each",
        "letter",
        ERROR_CODES,
    ),
    Sample(
        "chunking-guide.pdf",
        "docingest chunking guide",
        "The four chunking strategies, their parameters, and re-chunking",
        "a4",
        CHUNKING_GUIDE,
    ),
    Sample(
        "operations-runbook.pdf",
        "docingest operations runbook",
        "Backfills, re-chunking, reindexing, PostgreSQL and Celery",
        "letter",
        OPERATIONS_RUNBOOK,
    ),
)


def _story_pages(sample: Sample) -> tuple[bytes, list[list[int | str]]]:
    """The story laid out on pages, and its table of contents from the h1-h3 headings."""
    mediabox = pymupdf.paper_rect(sample.paper)
    column = pymupdf.Rect(
        mediabox.x0 + MARGIN, mediabox.y0 + MARGIN, mediabox.x1 - MARGIN, mediabox.y1 - MARGIN
    )
    story = pymupdf.Story(html=sample.html, user_css=CSS)
    buffer = io.BytesIO()
    writer = pymupdf.DocumentWriter(buffer)
    toc: list[list[int | str]] = []

    def rectfn(rect_num: int, filled: pymupdf.Rect) -> tuple:
        return mediabox, column, None

    def positionfn(position: Any) -> None:
        # Called for every element placed; a heading's opening tag gives its outline entry.
        if position.heading and position.open_close & 1:
            toc.append([position.heading, position.text.strip(), position.page_num])

    story.write(writer, rectfn, positionfn=positionfn)
    writer.close()
    return buffer.getvalue(), toc


def render(sample: Sample) -> bytes:
    """The finished PDF: laid-out story, page footers, outline and fixed metadata."""
    raw, toc = _story_pages(sample)
    doc = pymupdf.open(stream=raw, filetype="pdf")
    for page in doc:
        footer = f"docingest - {sample.title} - page {page.number + 1} of {doc.page_count}"
        where = pymupdf.Point(MARGIN, page.rect.height - FOOTER_GAP)
        page.insert_text(where, footer, fontsize=8, fontname="helv", color=(0.35, 0.35, 0.35))
    doc.set_toc(toc)
    doc.set_metadata(
        {
            "title": sample.title,
            "author": "The docingest authors",
            "subject": sample.subject,
            "keywords": "docingest, dagster, qdrant, document ingestion",
            "creator": "samples/render_samples.py",
            "producer": "PyMuPDF",
            "creationDate": FIXED_DATE,
            "modDate": FIXED_DATE,
        }
    )
    out = io.BytesIO()
    doc.save(out, garbage=4, deflate=True, no_new_id=True, reproducible=True)
    doc.close()
    return out.getvalue()


def main() -> int:
    for sample in SAMPLES:
        data = render(sample)
        (HERE / sample.filename).write_bytes(data)
        pages = pymupdf.open(stream=data, filetype="pdf").page_count
        digest = hashlib.sha256(data).hexdigest()[:12]
        sys.stdout.write(f"{sample.filename}: {pages} pages, sha256 {digest}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
