"""``credit-dbt``: dbt's command line (``dbt build``, ``dbt parse``, ``dbt docs generate``
…, the same arguments and output) whose process ends without tearing its Python heap
down.

When ``dbt build`` has finished, a normal exit of its process still unwinds every module
and frees, one by one, the objects of the manifest and of each node's results: 0.3 to
0.5 s of every dbt command on 2 cores, after dbt's last line, with nothing left to do
(docs/performance.md). Here, once dbt's command line returns, the process does what a
normal exit does that anybody sees — waits for dbt's threads, runs the exit handlers
(dbt-duckdb closes its DuckDB connection there: the checkpoint that writes the build
into the warehouse file; logging flushes its handlers) and flushes the output — and then
ends with dbt's exit status, leaving the memory to the operating system.

``pipelines.defs.transform.CreditDbtCliResource`` runs dbt through it (installed beside
``credit`` by ``uv sync``); anything that is not a plain exit (an exception dbt's
command line did not handle) ends the way Python ends it."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import threading
from pathlib import Path


def dbt_command() -> str:
    """The dbt executable to run: ``credit-dbt`` beside this Python (or on the PATH),
    else dbt's own."""
    here = Path(sys.executable).parent
    for name in ("credit-dbt", "dbt"):
        if (here / name).exists():
            return str(here / name)
    return shutil.which("credit-dbt") or shutil.which("dbt") or "dbt"


def exit_status(code: object) -> int:
    """What ``sys.exit(code)`` makes the process's status: None → 0, a number → itself,
    anything else (a message, printed to stderr) → 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def main() -> None:
    from dbt.cli.main import cli

    try:
        cli()
        status = 0
    except SystemExit as e:
        status = exit_status(e.code)
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
