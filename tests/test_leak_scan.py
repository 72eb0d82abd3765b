"""The leak scan itself (``tests/faults/leaks.py``): each form and each place it searches is
shown to catch a planted leak, and its messages never show what leaked."""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
from urllib.parse import quote, quote_plus, urlencode

import httpx
import pytest

from tests.faults.leaks import WINDOW, find_leaks, issued_by
from tests.faults.schedules import captured_logs
from tests.helpers import assert_no_secret

CLIENT_ID = "ACabcdefg-cmp-app-x1y2"  # "id:" is not a multiple of 3 bytes long
SECRET = "Zq8/x+Yv w=Kp?&%t#3-Tl_9ms0LrR~a!bN7c@dE4f"  # every character URL-encoding changes
USERNAME = "USmK9vQ2rT8wXy3ZaB5cD7eF"
PASSWORD = "3f0b7c8e-52a1-4d6f-9e0a-7b1c2d3e4f5a"


def _basic(ident: str, secret: str, *, urlsafe: bool = False) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(f"{ident}:{secret}".encode()).decode()


def _never_shows(messages: list[str], *values: str) -> None:
    text = "\n".join(messages)
    for value in values:
        assert value not in text
        assert not any(value[i : i + WINDOW] in text for i in range(len(value) - WINDOW + 1))


# -- forms -----------------------------------------------------------------------------------


@pytest.mark.parametrize("urlsafe", [False, True])
def test_a_basic_auth_header_of_a_credential_is_caught(urlsafe):
    for ident, secret in ((CLIENT_ID, SECRET), (USERNAME, PASSWORD)):
        line = f"sending headers {{'authorization': 'Basic {_basic(ident, secret, urlsafe=urlsafe)}'}}"
        found = find_leaks(line, [(ident, secret)])
        assert found and "Basic auth" in found[0], found
        _never_shows(found, secret, _basic(ident, secret, urlsafe=urlsafe))
        # cut short (a truncated log line): the part that encodes the secret is still caught
        encoded = _basic(ident, secret, urlsafe=urlsafe)
        assert find_leaks(line[: line.index(encoded) + len(encoded) * 3 // 4], [(ident, secret)])


def test_basic_auth_needs_the_pair_and_the_id_alone_is_no_leak():
    line = f"Authorization: Basic {_basic(CLIENT_ID, SECRET)}"
    assert find_leaks(line, [(CLIENT_ID, SECRET)])
    # without the id the base64 of id:secret is not derivable: why pairs are passed
    assert not find_leaks(line, [SECRET])
    # the id and the base64 of "id:" are no secret
    harmless = f"client {CLIENT_ID} {base64.b64encode(f'{CLIENT_ID}:'.encode()).decode()}"
    assert not find_leaks(harmless, [(CLIENT_ID, SECRET)])


@pytest.mark.parametrize(
    "encode",
    [
        lambda s: quote(s, safe=""),
        quote,
        quote_plus,
        lambda s: urlencode({"grant_type": "client_credentials", "client_secret": s}),
        lambda s: quote(s, safe="").replace("%2F", "%2f").replace("%2B", "%2b"),
    ],
    ids=["quote", "quote-slash-safe", "quote_plus", "form-body", "lower-hex"],
)
def test_a_url_encoded_secret_is_caught(encode, capsys):
    print(f"POST /token body={encode(SECRET)}")  # planted in stdout
    out = capsys.readouterr().out
    assert SECRET not in out  # only the encoded form is there
    found = find_leaks(out, [SECRET])
    assert found, "the URL-encoded secret was not found"
    _never_shows(found, SECRET, quote(SECRET, safe=""))


def test_a_base64_secret_and_fragments_are_caught():
    for text in (base64.b64encode(SECRET.encode()).decode(), "x" + PASSWORD[3:23] + "y"):
        assert find_leaks(text, [SECRET, PASSWORD]), text


def test_a_minted_token_is_caught_whole_or_by_its_signature(emulator):
    boot = emulator.bootstrap
    r = httpx.post(boot["token_url"], data={"grant_type": "client_credentials", "client_id": boot["client_id"],
                                            "client_secret": boot["client_secret"]})  # fmt: skip
    token = r.json()["access_token"]
    assert emulator.issued_tokens() == [token]
    header, claims, signature = token.split(".")
    for planted in (f"Authorization: Bearer {token}", f"sig={signature[40:80]}"):
        found = find_leaks(planted, issued_by(emulator))
        assert found and found[0].startswith("a token of length"), found
        _never_shows(found, token, signature)
    # the header and the claims part are the same shape in every token: no leak alone
    assert not find_leaks(f"{header}.{claims}", issued_by(emulator))
    emulator.reset()
    assert emulator.issued_tokens() == [] and issued_by(emulator) == [(boot["client_id"], boot["client_secret"])]


def test_the_emulator_records_every_secret_it_handed_out_even_once_deleted(emulator):
    state = emulator._state
    account = state.create_account({"name": "gone", "scopes": ["cards:read"], "vaults": [emulator.vault_id]})
    credential = state.create_credential(emulator.vault_id, None)
    state.delete_account(account.client_id)
    state.delete_credential(emulator.vault_id, credential.id)
    assert set(emulator.issued_secrets()) >= {
        (account.client_id, account.client_secret),
        (credential.username, credential.password),
    }


# -- places ----------------------------------------------------------------------------------


def test_captured_logs_see_every_logger_at_the_documented_levels():
    with captured_logs() as logs:
        logging.getLogger("rotation.vgs").debug("vgs call", extra={"auth": f"Basic {_basic(CLIENT_ID, SECRET)}"})
        logging.getLogger("vault_plugin.vgs").debug("planted %s", quote_plus(PASSWORD + "/+"))
        logging.getLogger("httpx").info('HTTP Request: GET http://h/x?client_secret=%s "HTTP/1.1 200 OK"',
                                        quote_plus(SECRET))  # fmt: skip
        logging.getLogger("botocore.endpoint").debug("Making request with params: %s", SECRET)
    found = [find_leaks(part, [(CLIENT_ID, SECRET), PASSWORD + "/+"]) for part in logs.parts]
    assert [len(f) for f in found] == [1, 1, 1], found  # ours at DEBUG (Basic, URL-encoded), httpx's INFO URL
    assert "Basic auth" in found[0][0] and "URL-encoded" in found[1][0] and "URL-encoded" in found[2][0]
    assert logs.names == ["rotation.vgs", "vault_plugin.vgs", "httpx"]  # third-party DEBUG: out of scope


def test_captured_logs_see_a_logger_that_does_not_propagate():
    """Powertools stops ``rotation`` from propagating in the Lambda; the capture still sees it."""
    ours = logging.getLogger("rotation")
    ours.propagate = False
    try:
        with captured_logs() as logs:
            logging.getLogger("rotation.core").info("planted %s", SECRET)
    finally:
        ours.propagate = True
    assert find_leaks("\n".join(logs.parts), [SECRET])


def test_assert_no_secret_with_the_emulator_catches_a_token_in_cli_output(emulator):
    boot = emulator.bootstrap
    proc = subprocess.run(
        [sys.executable, "-m", "rotation.cli", "token", "--client-id", boot["client_id"], "--token-url",
         boot["token_url"]],
        capture_output=True, text=True, timeout=60, env={**__import__("os").environ,
                                                         "VGS_CLIENT_SECRET": boot["client_secret"]},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(AssertionError, match="a token of length") as info:
        assert_no_secret(proc.stdout, emulator=emulator)  # the token command prints it, by design
    _never_shows([str(info.value)], proc.stdout.strip())


def test_leak_check_fails_on_a_minted_token_in_a_log(emulator, leak_check):
    boot = emulator.bootstrap
    token = httpx.post(boot["token_url"], data={"grant_type": "client_credentials", "client_id": boot["client_id"],
                                                "client_secret": boot["client_secret"]}).json()["access_token"]  # fmt: skip
    logging.getLogger("rotation.vgs").debug("planted: bearer %s", token)
    with pytest.raises(AssertionError, match="a token of length"):
        leak_check()  # no value given: the fixture takes every token the test's emulator issued
