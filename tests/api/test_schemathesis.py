"""Schemathesis over ``/openapi.json`` against a live server, as three callers (issue 14): generated requests,
valid and not, to every operation; not one may be answered with a server error, and every answer must be one
the document describes — a documented status code, a documented content type, a body valid against the schema
documented for that status, and the headers it declares.

Seeded (``derandomize``: the same cases every run) and bounded: :data:`EXAMPLES` valid and
:data:`NEGATIVE_EXAMPLES` invalid cases per operation, each sent as each caller — about 5,000 requests in all,
about three minutes on two shared cores (``WANGGE_FUZZ_EXAMPLES=40`` for a deeper run, ~15,000 requests, five
minutes). Marked ``slow``. The callers: a supervisor (who may do nearly everything), a grid worker (the phone's
narrow scope) and nobody (no credentials).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from api.deps import token_config
from gis.incidents import service as incidents
from gis.people import security
from gis.settings import Settings
from tests.gis.conftest import INSIDE_A, build_street_world
from tests.live import committed_database, live_app, serve

pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("WANGGE_FUZZ_EXAMPLES", "12"))  # raise it for a deeper run (40: ~5 minutes)
NEGATIVE_EXAMPLES = max(1, EXAMPLES // 2)
CALLERS = ("supervisor", "grid_worker", "nobody")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@pytest.fixture(scope="module")
def live(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("fuzz-state")
    with committed_database(database_url, "fuzz") as engine:
        with Session(engine) as session, session.begin():
            world = build_street_world(session)
            incidents.create(session, category_code="09006", lon=INSIDE_A[0], lat=INSIDE_A[1],
                             reporter=world.grid_worker, description="门店占道")
            ids = {"supervisor": world.supervisor.id, "grid_worker": world.grid_worker.id}
        app = live_app(engine, Path(state))
        secret = token_config(Settings(database_url="postgresql://unused/unused", state_dir=Path(state))).secret
        tokens = {who: security.create_access_token(str(uid), secret=secret, minutes=60).token
                  for who, uid in ids.items()}
        with serve(app) as base:
            yield {"base": base, "tokens": tokens}


def _failures(raised: FailureGroup | Failure) -> list[Failure]:
    return list(raised.exceptions) if isinstance(raised, FailureGroup) else [raised]


def _fuzz(live: dict[str, Any], operation: Any, mode: GenerationMode, examples: int,
          found: dict[tuple[str, ...], str]) -> int:
    """Send ``examples`` generated cases of ``operation`` as each caller; record what the document does not
    describe in ``found`` (one reproduction per operation, check and status). Returns the requests made."""
    made = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def calls(case: Any) -> None:
        nonlocal made
        for caller in CALLERS:  # each generated case, as each of the three callers
            headers = {"Authorization": f"Bearer {live['tokens'][caller]}"} if caller in live["tokens"] else {}
            response = case.call(base_url=live["base"], headers=headers, timeout=30)
            made += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (FailureGroup, Failure) as raised:
                for failure in _failures(raised):
                    key = (operation.label, type(failure).__name__, str(response.status_code))
                    found.setdefault(key, (
                        f"{operation.label} as {caller} ({mode.value}): {failure.title}: "
                        f"{failure.message.splitlines()[0] if failure.message else ''} "
                        f"— {response.status_code} {response.text[:200]}\n"
                        f"  reproduce: {case.as_curl_command(headers=headers)}"))

    try:
        calls()
    except Unsatisfiable:  # nothing to get wrong: an operation without parameters or body
        assert mode is GenerationMode.NEGATIVE, operation.label
    return made


def test_every_generated_request_is_answered_as_the_document_says(live: dict[str, Any]) -> None:
    # Schemathesis's own pytest plugin does not run under this pytest; its strategies, driven by hypothesis
    # here, generate the same cases, and its checks judge each answer against the document.
    schema = schemathesis.openapi.from_url(f"{live['base']}/openapi.json")
    found: dict[tuple[str, ...], str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    modes = ((GenerationMode.POSITIVE, EXAMPLES), (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES))
    made = sum(_fuzz(live, operation, mode, examples, found) for operation in operations for mode, examples in modes)
    assert not found, f"{len(found)} kinds of answer the document does not describe:\n" + "\n".join(found.values())
    assert made >= len(operations) * len(CALLERS) * 4  # cases were generated and sent, not skipped
