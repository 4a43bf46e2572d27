"""Fuzzing every endpoint from the app's OpenAPI schema against a real server process.

Schemathesis turns the schema FastAPI derives from the routes into Hypothesis
strategies: bodies, path and query parameters that fit it (positive) and
that break it on purpose (negative). Each case is sent over a socket to
``defectlab label --engine fake`` in its own process, so a request that
crashed the server would show as the process gone, not as a broken test run.
The rule is the one a user relies on: any request gets a 2xx or a clean 4xx,
never a 5xx, and the server is still there afterwards.
"""

from __future__ import annotations

import json
import random

import httpx
import schemathesis
from app_testutil import label_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

# Enough for every operation to see well over a hundred cases of each mode,
# and still about a minute on two CPU cores.
SCHEMA_CASES = 2000
WRAPPING_MASKS = 300
HEIGHT, WIDTH = 96, 128  # the fixture images


def fuzz_schema(app, ids: list[str]) -> dict:
    """The app's schema with real image ids, so cases reach the code behind the 404 for unknown ones."""
    schema = app.openapi()
    choices = ids + ["f" * 16]
    for path in schema["paths"].values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "id_":
                    parameter["schema"] = {"type": "string", "enum": choices}
    open_body = schema["components"]["schemas"]["OpenIn"]["properties"]["prefetch"]
    open_body["anyOf"] = [{"type": "string", "enum": choices}, {"type": "null"}]
    return schema


def wrapping_counts(rng: random.Random, pixels: int) -> list[int]:
    """Runs that are each below 2**63 but add up to ``pixels`` only modulo 2**64."""
    while True:
        counts = [rng.randrange(2**61, 2**63) for _ in range(rng.randint(1, 6))]
        last = (pixels - sum(counts)) % 2**64
        if last < 2**63:
            counts.append(last)
            rng.shuffle(counts)
            return counts


def valid_counts(rng: random.Random, pixels: int) -> list[int]:
    cuts = sorted(rng.sample(range(1, pixels), rng.randint(1, 40)))
    return [b - a for a, b in zip([0, *cuts], [*cuts, pixels])]


def test_no_request_gets_a_server_error_or_kills_the_server(folders, make_app, tmp_path):
    images, normal = folders
    with label_server(images, normal, tmp_path / "served") as (proc, url):
        ids = [im["id"] for im in httpx.get(url + "/api/state").json()["images"]]
        schema = schemathesis.openapi.from_dict(fuzz_schema(make_app(), ids))
        cases = st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE))
        sent: list[int] = []
        failures: list[str] = []
        http = httpx.Client(base_url=url, timeout=60)

        @settings(max_examples=SCHEMA_CASES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=cases)
        def send(case):
            # JSON on every request: the content-type check (a clean 415) would
            # otherwise answer most bodiless POSTs before any route runs.
            response = case.call(base_url=url, headers={"Content-Type": "application/json"}, timeout=60)
            sent.append(response.status_code)
            if response.status_code >= 500 or proc.poll() is not None:
                failures.append(f"{response.status_code} for {case.as_curl_command()}: {response.text[:300]}")

        send()

        # The attack that used to segfault the server, and valid masks between the attacks.
        rng = random.Random(0)
        for i in range(WRAPPING_MASKS):
            if i % 3 == 0:
                counts, expected = valid_counts(rng, HEIGHT * WIDTH), 200
            elif i % 3 == 1:
                counts, expected = wrapping_counts(rng, HEIGHT * WIDTH), 422
            else:
                counts, expected = [2**64 - 1] * rng.randint(1, 4), 422
            response = http.put(f"/api/images/{rng.choice(ids)}/mask",
                                content=json.dumps({"size": [HEIGHT, WIDTH], "counts": counts}),
                                headers={"content-type": "application/json"})
            sent.append(response.status_code)
            if response.status_code != expected:
                failures.append(f"{response.status_code} for counts {counts}: {response.text[:200]}")
            if proc.poll() is not None:
                break

        alive = proc.poll() is None and http.get("/api/state").status_code == 200
        http.close()

    total = len(sent)
    by_class = {f"{c}xx": sum(1 for s in sent if s // 100 == c) for c in (2, 4, 5)}
    print(f"fuzz: {total} requests, {by_class}")
    assert alive, f"the server died (exit status {proc.returncode}) after {total} requests"
    assert not failures, f"{len(failures)} of {total} requests failed; first ones:\n" + "\n".join(failures[:5])
    assert total >= SCHEMA_CASES * 0.8 + WRAPPING_MASKS, total  # Hypothesis may stop early only on exhausted spaces
    assert by_class["2xx"] > 100  # the cases reach the routes, not only the validators
