"""Bearer tokens: salted hashes only, roles, constant-time checks, reloads."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
import time

import pytest

from stratify.serving.api import auth
from stratify.serving.api.auth import (
    ERR_EXPIRY,
    ERR_ROLE,
    ERR_SUBJECT,
    ERR_TOKENS_UNREADABLE,
    TokenStore,
    TokensUnavailable,
    add_token,
    list_tokens,
    revoke_token,
)


def test_a_token_authenticates_and_only_its_hash_is_stored(tokens_file):
    token, entry = add_token(tokens_file, "front door", ["scorer"])
    text = tokens_file.read_text()
    secret = token.split("_", 2)[2]
    assert secret not in text and entry["sha256"] in text
    assert os.stat(tokens_file).st_mode & 0o777 == 0o600
    who = TokenStore(tokens_file).authenticate(f"Bearer {token}")
    assert who is not None and who.subject == "front door" and who.roles == {"scorer"}


@pytest.mark.parametrize(
    "header",
    [None, "", "Basic abc", "Bearer", "Bearer stk_nothing", "Bearer xyz_a_b", "Bearer {wrong}",
     "Bearer {unknown_id}"],
)  # fmt: skip
def test_bad_headers_are_refused(tokens_file, header):
    token, entry = add_token(tokens_file, "s", ["reviewer"])
    if header:
        header = header.format(
            wrong=token[:-2] + ("aa" if not token.endswith("aa") else "bb"),
            unknown_id=token.replace(entry["id"], "0" * 12),
        )
    assert TokenStore(tokens_file).authenticate(header) is None


def test_a_missing_file_means_no_valid_token(tmp_path):
    assert TokenStore(tmp_path / "none.json").authenticate("Bearer stk_a_b") is None


def test_new_tokens_are_picked_up_without_a_restart(tokens_file, monkeypatch):
    store = TokenStore(tokens_file)
    token, _ = add_token(tokens_file, "late", ["scorer"])
    monkeypatch.setattr(auth, "RELOAD_SECONDS", 0.0)
    time.sleep(0.01)
    assert store.authenticate(f"Bearer {token}") is not None


def test_tokens_given_as_json_replace_the_file(tokens_file):
    in_file, _ = add_token(tokens_file, "file", ["scorer"])
    token, entry = auth.new_token("ci", ["scorer", "reviewer"])
    store = TokenStore(tokens_file, tokens_json=json.dumps({"tokens": [entry]}))
    who = store.authenticate(f"Bearer {token}")
    assert who is not None and who.roles == {"scorer", "reviewer"}
    assert store.authenticate(f"Bearer {in_file}") is None


def test_bad_roles_and_subjects_are_refused(tokens_file):
    with pytest.raises(ValueError, match=ERR_ROLE.format(role="admin")):
        add_token(tokens_file, "x", ["admin"])
    with pytest.raises(ValueError, match=ERR_SUBJECT):
        add_token(tokens_file, "  ", ["scorer"])
    assert not tokens_file.exists()


@pytest.mark.parametrize("damage", ["corrupt", "directory", "not a list"])
def test_an_unreadable_tokens_file_accepts_no_token_until_repaired(tokens_file, monkeypatch,
                                                                   damage):  # fmt: skip
    token, _ = add_token(tokens_file, "kept", ["scorer"])
    good = tokens_file.read_text()
    store = TokenStore(tokens_file)
    monkeypatch.setattr(auth, "RELOAD_SECONDS", 0.0)
    assert store.authenticate(f"Bearer {token}") is not None
    if damage == "directory":
        tokens_file.unlink()
        tokens_file.mkdir()
    else:
        tokens_file.write_text("{not json" if damage == "corrupt" else '{"tokens": 3}')
    for header in (f"Bearer {token}", None, "Bearer stk_x_y"):
        with pytest.raises(TokensUnavailable, match=ERR_TOKENS_UNREADABLE):
            store.authenticate(header)
    if damage == "directory":
        tokens_file.rmdir()
    tokens_file.write_text(good)
    assert store.authenticate(f"Bearer {token}").subject == "kept"


def test_an_expired_token_is_refused(tokens_file, monkeypatch):
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    token, entry = add_token(tokens_file, "short-lived", ["scorer"], expires=soon)
    assert entry["expires"] == soon.isoformat(timespec="seconds")
    store = TokenStore(tokens_file)
    assert store.authenticate(f"Bearer {token}") is not None
    later = soon + dt.timedelta(seconds=1)
    monkeypatch.setattr(auth, "now_utc", lambda: later)
    assert store.authenticate(f"Bearer {token}") is None
    with pytest.raises(ValueError, match=ERR_EXPIRY):
        add_token(tokens_file, "x", ["scorer"], expires=later - dt.timedelta(hours=2))


def test_a_revoked_token_stops_working_and_stays_listed(tokens_file, monkeypatch):
    token, entry = add_token(tokens_file, "leaver", ["reviewer"])
    kept, _ = add_token(tokens_file, "stayer", ["scorer"])
    store = TokenStore(tokens_file)
    monkeypatch.setattr(auth, "RELOAD_SECONDS", 0.0)
    assert store.authenticate(f"Bearer {token}") is not None
    shown = revoke_token(tokens_file, entry["id"])
    assert shown["id"] == entry["id"] and shown["revoked"]
    assert store.authenticate(f"Bearer {token}") is None
    assert store.authenticate(f"Bearer {kept}").subject == "stayer"
    listed = list_tokens(tokens_file)
    assert [x["subject"] for x in listed] == ["leaver", "stayer"]
    assert all(set(x) <= set(auth.LISTED) for x in listed)
    assert "revoked" in listed[0] and "revoked" not in listed[1]
    with pytest.raises(LookupError, match="no token with id"):
        revoke_token(tokens_file, "nope")


def test_replacing_a_subjects_token_revokes_the_old_one(tokens_file):
    old, _ = add_token(tokens_file, "demo", ["scorer"])
    other, _ = add_token(tokens_file, "front door", ["scorer"])
    new, _ = add_token(tokens_file, "demo", ["scorer", "reviewer"], replace=True)
    store = TokenStore(tokens_file)
    assert store.authenticate(f"Bearer {old}") is None
    assert store.authenticate(f"Bearer {new}").roles == {"scorer", "reviewer"}
    assert store.authenticate(f"Bearer {other}").subject == "front door"
    assert len(json.loads(tokens_file.read_text())["tokens"]) == 2
    assert [p.name for p in tokens_file.parent.iterdir()] == [tokens_file.name]  # no temporaries


def test_every_check_compares_in_constant_time(tokens_file, monkeypatch):
    """Known id, unknown id, wrong secret: each goes through one hmac.compare_digest."""
    token, entry = add_token(tokens_file, "front door", ["scorer"])
    store = TokenStore(tokens_file)
    calls = []
    compare = hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return compare(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    wrong = token[:-2] + ("xy" if not token.endswith("xy") else "ab")
    results = [store.authenticate(f"Bearer {t}") for t in (token, wrong, "stk_000000000000_x")]
    assert [r is not None for r in results] == [True, False, False]
    assert calls == [(64, 64)] * 3
