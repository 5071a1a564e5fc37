"""The OpenAPI contract over real HTTP, fuzzed by schemathesis with every check: 0 failures.

``bentoml serve`` runs the service on the session's two champions (one worker);
schemathesis reads ``/docs.json`` (served without a token) and generates valid and
invalid requests for every operation: once with a token holding both roles, once
with none, and once with a forged one. Every response must be documented (status,
content type, headers, body schema), valid requests must be accepted, invalid ones
refused with a 4xx, none may be a 5xx. If the document stops describing what the
service does, or the service stops enforcing what the document says, a check fails and
its report is shown.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stratify.serving import store
from stratify.serving.api.auth import add_token
from stratify.serving.api.endpoints import card_path
from tests.serving import factory
from tests.serving.api.server import serving

pytestmark = pytest.mark.filterwarnings("ignore:There is no current event loop:DeprecationWarning")
HERE = Path(__file__).parent
ST = Path(sys.executable).with_name("st")
#: per run: schemathesis's phases and its cases per operation in the fuzzing phase. With
#: the token, the coverage phase also tries each field's boundaries and wrong types
#: (some 1,900 cases); without one, every answer is the same 401, so fuzzing suffices.
RUNS = {"token": ("coverage,fuzzing", 50), "anonymous": ("fuzzing", 30),
        "forged": ("fuzzing", 15)}  # fmt: skip
MIN_CASES = 500
SEED = 20261202


@pytest.fixture(scope="module")
def server(served_work: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    here = tmp_path_factory.mktemp("fuzz")
    tokens, audit = here / "tokens.json", here / "requests.jsonl"
    config = factory.write_config(here / "config.yaml", served_work, tokens_file=str(tokens),
                                  audit_log=str(audit), max_batch=4, rate_limit=0)  # fmt: skip
    token, _ = add_token(tokens, "contract fuzz", ["scorer", "reviewer", "decisions"])
    # one target has a card (200 from /model/card), the other none (404): both documented
    card = card_path(
        served_work, "escalation", store.read_pointers(served_work)["escalation"].mlflow_version
    )
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text("<html><body>model card</body></html>")
    try:
        with serving(served_work, config) as url:
            yield {"url": url, "token": token, "audit": audit, "dir": here}
    finally:
        card.unlink()


def _fuzz(server: dict, name: str, headers: list[str]) -> dict:
    """Run ``st run`` with every check; return its JSON report (printing its output)."""
    report = server["dir"] / f"{name}.json"
    phases, examples = RUNS[name]
    cmd = [str(ST), "--config-file", str(HERE / "schemathesis.toml"), "run",
           f"{server['url']}/docs.json", "--checks", "all", "--phases", phases,
           "--max-examples", str(examples), "--seed", str(SEED), "--workers", "2",
           "--no-shrink", "--request-timeout", "30",
           "--report", "json", "--report-json-path", str(report)]  # fmt: skip
    for header in headers:
        cmd += ["-H", header]
    # in the run's folder: schemathesis keeps a cache (.schemathesis/) where it runs
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False,
                          cwd=server["dir"])  # fmt: skip
    print(proc.stdout[-20_000:], proc.stderr[-5_000:])
    assert report.exists(), f"schemathesis wrote no report (exit {proc.returncode})"
    return json.loads(report.read_text())


def _forged(token: str) -> str:
    """The token with the end of its secret changed."""
    return token[:-4] + ("BBBB" if token.endswith("AAAA") else "AAAA")


def test_the_contract_survives_fuzzing_with_and_without_a_valid_token(server):
    doc = httpx.get(f"{server['url']}/docs.json", timeout=10).json()  # no token needed
    assert set(doc["paths"]) == {"/score", "/decisions", "/model", "/model/card"}
    runs = {
        "token": _fuzz(server, "token", [f"Authorization: Bearer {server['token']}"]),
        "anonymous": _fuzz(server, "anonymous", []),
        # a well-formed token whose secret is wrong: refused like none at all
        "forged": _fuzz(server, "forged", [f"Authorization: Bearer {_forged(server['token'])}"]),
    }
    for name, report in runs.items():
        assert report["operations"]["tested"] == 4, name
        assert report["errors"] == [], (name, report["errors"])
        assert report["failures"] == [], (name, report["failures"])
        assert report["exit_code"] == 0, name
    generated = sum(r["test_cases"]["generated"] for r in runs.values())
    assert generated >= MIN_CASES, f"only {generated} cases were generated"
    # with the token, valid requests reached every operation's 200 (a fuzzed list id
    # names no list stratify wrote: /decisions answers its documented 404)
    accepted = runs["token"]["valid_rates"]
    for op in ("POST /score", "GET /model", "GET /model/card"):
        assert sum(v["accepted"] for v in accepted[op].values()) > 0, op
    # every request reached the audit log, none with a feature value or the token
    text = server["audit"].read_text()
    assert server["token"] not in text and '"referrals_12m"' not in text
    assert len(text.splitlines()) >= generated
