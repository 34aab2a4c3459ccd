"""The OpenAPI document, the docs page, pagination, and the bugs schemathesis found (embedded app)."""

from __future__ import annotations

import pytest

from tests.conftest import load_example


@pytest.fixture
def planned(client) -> str:
    """A planned (ready) plan's id."""
    answer = client.post("/api/v1/plans", json=load_example())
    assert answer.status_code == 202
    return answer.get_json()["id"]


@pytest.mark.parametrize("query", ["from=14597726797256847360&to=1", "from=1&to=2147483648"])
def test_a_version_past_the_database_integer_is_a_422(client, planned, query):
    """diff?from=<20 digits> answered 500 (OverflowError in the query); now a 422 naming the parameter."""
    answer = client.get(f"/api/v1/plans/{planned}/diff?{query}")
    assert answer.status_code == 422
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["errors"][0]["field"] in ("from", "to")
    assert client.get(f"/api/v1/plans/{planned}?version=99999999999999999999").status_code == 422


def test_a_method_the_path_does_not_have_is_a_405_with_allow(client):
    """TRACE on a documented path: a 405 problem listing the allowed methods in Allow (it had no Allow)."""
    answer = client.open("/api/v1/plans/x/approve", method="TRACE")
    assert answer.status_code == 405
    assert answer.mimetype == "application/problem+json"
    assert "POST" in {method.strip() for method in answer.headers["Allow"].split(",")}


@pytest.mark.parametrize(("body", "status"), [(b"\x00", 400), (b"{\"reason\": ", 400), (b"[]", 400)])
def test_a_cancel_with_a_malformed_body_is_refused_and_cancels_nothing(client, planned, body, status):
    """DELETE with a body that is not a JSON object: a 400 problem, the plan not cancelled (it was ignored)."""
    answer = client.delete(f"/api/v1/plans/{planned}", data=body, content_type="application/json")
    assert answer.status_code == status
    assert answer.mimetype == "application/problem+json"
    assert client.get(f"/api/v1/plans/{planned}").get_json()["status"] != "cancelled"
