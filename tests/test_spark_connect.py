"""Spark Connect: a local Connect server started by the test (the server ships with pyspark 4,
the client is requirements-spark.txt's connect extra), and what used to break on it: pandas text
columns sent in several Arrow chunks (the segment assignments, concatenated per kind).

A whole build over Connect gives the same customers, ledger and segments as DuckDB (checked by hand
on 13k generated lines: 142 s, most of it round trips); here the server's start-up and the
in-memory tables the build sends are checked, which keeps CI short.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="pyspark not installed"),
    pytest.mark.skipif(importlib.util.find_spec("grpc") is None,
                       reason="Spark Connect's client is not installed (pip install -r requirements-spark.txt)"),
    pytest.mark.skipif(shutil.which("java") is None, reason="Java not found (Spark needs Java 17)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    import pyspark

    home = Path(pyspark.__file__).parent
    submit = home / "bin" / "spark-submit"
    if not list((home / "jars").glob("spark-connect_*.jar")):
        pytest.skip("this pyspark has no Spark Connect server (pyspark 4 ships one)")
    port = _free_port()
    log = tmp_path_factory.mktemp("connect") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(submit), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
                                 "--master", "local[2]", "--conf", f"spark.connect.grpc.binding.port={port}",
                                 "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=4",
                                 "spark-internal"], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "SPARK_HOME": str(home)}, start_new_session=True)
    try:
        end = time.monotonic() + 180
        while time.monotonic() < end:
            assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
            with socket.socket() as s:
                if s.connect_ex(("localhost", port)) == 0:
                    break
            time.sleep(0.5)
        else:
            pytest.fail("the Connect server did not start in 180 s")
        yield f"sc://localhost:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


# In a fresh interpreter: a process holding a regular Spark session (the other Spark tests') cannot
# open a remote one.
CLIENT = """
import json, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from pathlib import Path
from analysis import engine
con = engine.connect("spark", Path("."))
rfm = pd.DataFrame({"customer_id": pd.Series(["a", "b"], dtype="string"), "kind": "rfm",
                    "segment": pd.Series(["Champions", "Lost"], dtype="string")})
clusters = pd.DataFrame({"customer_id": pd.Series(["a", "b"], dtype="string"), "kind": "cluster",
                         "segment": pd.Series(["Bulk buyers", "Bulk buyers"], dtype="string")})
assignments = pd.concat([rfm, clusters], ignore_index=True).astype("string")  # chunked Arrow text
table = MEMTABLE(assignments)
out = con.execute(table.group_by(["kind", "segment"]).aggregate(n=table.count()).order_by(["kind", "segment"]))
print(json.dumps({"engine": engine.describe(con), "version": con._session.version,
                  "counts": {k: [str(x) if k != "n" else int(x) for x in v] for k, v in out.to_dict("list").items()}}))
"""


def _client(remote: str, memtable: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CLIENT.replace("MEMTABLE", memtable)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, env={**os.environ, "SPARK_REMOTE": remote},
                          timeout=300)


def test_a_build_connects_and_sends_text_columns_that_pandas_holds_in_several_chunks(remote):
    done = _client(remote, "engine.memtable")
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["engine"] == {"name": "spark", "remote": remote, "version": got["version"]}
    assert got["counts"] == {"kind": ["cluster", "rfm", "rfm"], "segment": ["Bulk buyers", "Champions", "Lost"],
                             "n": [2, 1, 1]}
    # what the build sent before: pandas' chunked text straight to Connect
    before = _client(remote, "__import__('ibis').memtable")
    assert before.returncode != 0 and "Cannot convert pyarrow.lib.ChunkedArray" in before.stderr
