"""Does each VGS host the rotation uses answer from here, with TLS verified?

One unauthenticated GET per host: any HTTP answer proves DNS, the route, the verified TLS
handshake and a server. A gateway answer (5xx, 429) is "unknown": the host is there, the
service is not, now. No answer at all is a failure: the rotation would meet it too.
"""

from __future__ import annotations

from collections.abc import Callable

from rotation.document import SecretDocument
from rotation.health import checks
from rotation.vgs import VGSEndpoints, VGSHttp, check_url, errors
from rotation.vgs.reachability import fetch_jwks, probe_host


def used_hosts(doc: SecretDocument) -> list[tuple[str, str]]:
    """``(field, url)`` of the hosts a rotation of this document's kind speaks to, plus
    ``jwks_url`` when the document sets one (the live default is not confirmed by VGS)."""
    hosts = doc.hosts
    out: list[tuple[str, str | None]] = [("token_url", hosts.token_url)]
    if doc.kind == "service-account":
        out.append(("accounts_url", hosts.accounts_url))
        if doc.test.cmp_probe:
            out.append(("cmp_url", hosts.cmp_url))
    else:
        out += [("vault_management_url", hosts.vault_management_url), ("vault_api_url", doc.vault_api_url)]
    if hosts.jwks_url and hosts.jwks_url != VGSEndpoints.live().jwks_url:
        out.append(("jwks_url", hosts.jwks_url))
    return [(name, url) for name, url in out if url]


def check_hosts(doc: SecretDocument, http: Callable[[], VGSHttp]) -> list[checks.Check]:
    with http() as transport:
        return [_check(doc, name, url, transport) for name, url in used_hosts(doc)]


def _check(doc: SecretDocument, name: str, url: str, http: VGSHttp) -> checks.Check:
    cid, title = f"host:{name}", f"{name} answers"
    fix = (
        f"check hosts.{name} in the secret document, DNS, the network path from where the rotation runs "
        "(a Lambda in a VPC needs a NAT route to VGS) and that the host's certificate is valid"
    )
    try:
        check_url(url, allow_insecure_http=False, what=name)
    except errors.InsecureURL:
        return checks.failed(
            cid,
            title,
            f"{url} is plain http:// off loopback: credentials would cross the network unencrypted",
            f"use https:// for hosts.{name}",
            url=url,
        )
    try:
        answer = probe_host(url, http=http, allow_insecure_http=doc.hosts.allow_insecure_http, what=name)
    except errors.Unavailable as exc:
        return checks.failed(cid, title, f"no answer: {exc}", fix, url=url, status=None)
    transport = "TLS verified" if answer.tls else "plain http on loopback"
    seen = f"{answer.url} answered HTTP {answer.status} in {answer.seconds * 1000:.0f} ms, {transport}"
    if answer.unavailable:
        return checks.unknown(
            cid,
            title,
            f"{seen}: the service behind it is unavailable now",
            "retry later; check VGS's status page",
            url=answer.url,
            status=answer.status,
        )
    if name == "jwks_url":
        try:
            keys = fetch_jwks(url, http=http, allow_insecure_http=doc.hosts.allow_insecure_http)
        except errors.VGSError as exc:
            return checks.from_error(cid, title, exc, "point hosts.jwks_url at the token server's JWKS (certs) URL")
        seen += f", serves {keys} key(s)"
    return checks.ok(cid, title, seen, url=answer.url, status=answer.status, tls=answer.tls)
