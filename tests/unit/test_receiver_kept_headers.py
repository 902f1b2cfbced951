"""The headers stored with an event: a lookup per kept name gives what filtering every
header of the request gave (same names, same spelling, same values)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import EnvironHeaders
from werkzeug.test import EnvironBuilder

from webhooks.hosts import ADAPTERS
from webhooks.receiver import KEPT_HEADERS, kept_headers

NAMES = sorted({n for a in ADAPTERS.values() for n in getattr(a, "KEPT_HEADERS", ())}
               | set(KEPT_HEADERS) | {"Host", "X-Other", "Authorization", "content-length"})
HEADERS = st.dictionaries(
    st.sampled_from(NAMES).flatmap(lambda n: st.sampled_from([n, n.lower(), n.upper()])),
    st.sampled_from(["", "v", "application/json", "sha256=ab"]), max_size=8)


def by_filtering(headers: EnvironHeaders, adapter) -> dict[str, str]:
    wanted = set(KEPT_HEADERS) | {h.lower() for h in getattr(adapter, "KEPT_HEADERS", ())}
    return {k: v for k, v in headers.items() if k.lower() in wanted}


@given(sent=HEADERS, kind=st.sampled_from(sorted(ADAPTERS)))
def test_lookup_per_name_equals_filtering_every_header(sent, kind):
    environ = EnvironBuilder(method="POST", data=b"{}", headers=list(sent.items())).get_environ()
    if "Content-Type" not in {k.title() for k in sent}:
        environ.pop("CONTENT_TYPE", None)
    headers = EnvironHeaders(environ)
    adapter = ADAPTERS[kind]
    assert kept_headers(headers, adapter) == by_filtering(headers, adapter)


def test_empty_content_type_is_not_kept_other_empty_headers_are():
    environ = EnvironBuilder(method="POST", data=b"{}", headers=[
        ("Content-Type", ""), ("X-Deskpilot-Delivery", "")]).get_environ()
    environ["CONTENT_TYPE"] = ""
    assert kept_headers(EnvironHeaders(environ), ADAPTERS["generic"]) == {
        "X-Deskpilot-Delivery": ""}
