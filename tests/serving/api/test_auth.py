"""Bearer tokens: salted hashes only, roles, constant-time checks, reloads."""

from __future__ import annotations

import json
import os
import time

import pytest

from stratify.serving.api import auth
from stratify.serving.api.auth import ERR_ROLE, ERR_SUBJECT, TokenStore, add_token


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


def test_a_corrupt_tokens_file_keeps_the_tokens_already_loaded(tokens_file, monkeypatch):
    token, _ = add_token(tokens_file, "kept", ["scorer"])
    store = TokenStore(tokens_file)
    tokens_file.write_text("{not json")
    monkeypatch.setattr(auth, "RELOAD_SECONDS", 0.0)
    assert store.authenticate(f"Bearer {token}") is not None


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
