"""Random bodies and headers never make the receiver answer 5xx while Redis and the DB are up."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.integration.test_receiver_security import HOSTS, NEW, fixture, make_stack

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=20,
)
header_names = st.sampled_from([
    "X-Hub-Signature", "X-Zammad-Delivery", "X-Zammad-Trigger", "X-Zendesk-Webhook-Signature",
    "X-Zendesk-Webhook-Signature-Timestamp", "X-Zendesk-Webhook-Invocation-Id",
    "X-Deskpilot-Token", "X-Redmine-Signature-256", "X-Deskpilot-Signature",
    "X-Deskpilot-Delivery", "Content-Type"])
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


def _mutate(data, path, value):
    node = data
    for step in path[:-1]:
        node = node.get(step) if isinstance(node, dict) else None
        if node is None:
            return data
    if isinstance(node, dict):
        node[path[-1]] = value
    return data


def test_random_input_never_gives_a_server_error(tmp_path, sqlite_url, redis_url):
    app, ctx = make_stack(tmp_path, sqlite_url, redis_url)
    client = app.test_client()
    leaf_paths = {h.name: [h.id_path, *( [h.time_path] if h.time_path else [])] for h in HOSTS}

    @settings(max_examples=120, deadline=None)
    @given(host=st.sampled_from(HOSTS), mode=st.sampled_from(["raw", "json", "mutated"]),
           raw=st.binary(max_size=200), value=json_values,
           headers=st.dictionaries(header_names, header_values, max_size=4),
           signed=st.booleans(), index=st.integers(0, 1))
    def run(host, mode, raw, value, headers, signed, index):
        if mode == "raw":
            body = raw
        elif mode == "json":
            body = json.dumps(value).encode()
        else:
            data = fixture(host.kind, "comment_added")
            paths = leaf_paths[host.name]
            body = json.dumps(_mutate(data, paths[index % len(paths)], value)).encode()
        hdrs = dict(headers)
        if signed and host.headers:
            hdrs.update(host.headers(body, NEW, "fuzz"))
        resp = client.post(host.url, data=body, headers=hdrs)
        assert resp.status_code < 500, (resp.status_code, resp.json)
        assert (resp.json or {}).get("message") != "the payload could not be read", body
        assert resp.status_code in (200, 202, 400, 401, 409, 413, 422)

    run()
    ctx.close()
