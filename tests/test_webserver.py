"""The UI serves the code location: dagster-webserver answers GraphQL with the raw assets."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.catalogue import load_catalogue

ROOT = Path(__file__).resolve().parent.parent
requests = pytest.importorskip("requests")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def webserver(credit_env):
    home = credit_env / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "CREDIT_DATA_DIR": str(credit_env)}
    log = open(credit_env / "webserver.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagster_webserver", "-h", "127.0.0.1", "-p", str(port),
         "-m", "pipelines.definitions"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail("webserver exited:\n" + (credit_env / "webserver.log").read_text(errors="replace")[-3000:])
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail("webserver did not answer within 90 s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _graphql(url: str, query: str) -> dict:
    deadline = time.monotonic() + 60
    while True:
        r = requests.post(f"{url}/graphql", json={"query": query}, timeout=30)
        r.raise_for_status()
        body = r.json()
        data = body.get("data") or {}
        # The code location may still be loading right after the server starts.
        if data.get("assetNodes") or time.monotonic() > deadline:
            return body
        time.sleep(1)


def test_graphql_lists_raw_assets(webserver):
    body = _graphql(webserver, "{ assetNodes { assetKey { path } } }")
    assert "errors" not in body, body.get("errors")
    paths = {"/".join(n["assetKey"]["path"]) for n in body["data"]["assetNodes"]}
    for cat in load_catalogue().categories:
        assert f"raw/{cat}" in paths
    assert "audit/loads" in paths
    assert "inbox/pulled_batches" in paths
