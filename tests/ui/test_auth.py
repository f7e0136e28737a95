"""Passwords, users file, and the three access modes."""

from __future__ import annotations

import base64

import pytest
import yaml

from tests.conftest import make_settings
from ui.auth import (AccessError, Authenticator, UserDirectory, departements, hash_password, new_api_key,
                     verify_password)


def test_password_hash_roundtrip_and_tampering():
    encoded = hash_password("secret partagé", iterations=1000)
    assert encoded.startswith("pbkdf2_sha256$1000$")
    assert verify_password("secret partagé", encoded)
    assert not verify_password("secret partage", encoded)
    assert hash_password("secret partagé", iterations=1000) != encoded  # salted
    scheme, iterations, salt, digest = encoded.split("$")
    assert not verify_password("secret partagé", f"{scheme}${iterations}${salt}${digest[:-4]}AAA=")
    assert not verify_password("secret partagé", "md5$abc")
    assert not verify_password("secret partagé", "pbkdf2_sha256$x$y$z")


def test_users_file_errors_are_french(tmp_path):
    with pytest.raises(ValueError, match="introuvable"):
        UserDirectory.load(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"users": {"alice": {"groups": ["dep-59"]}}}), encoding="utf-8")
    with pytest.raises(ValueError, match="utilisateur invalide"):
        UserDirectory.load(bad)


def authenticator(tmp_path, **ui) -> Authenticator:
    settings = make_settings(tmp_path, ui=ui, access={"default_groups": ["dep-35"]})
    return Authenticator(settings)


def test_mode_none_gives_the_local_user_default_groups(tmp_path):
    user = authenticator(tmp_path).from_request({}, "127.0.0.1")
    assert (user.name, user.groups, user.can_upload) == ("local", ("dep-35",), True)
    assert not authenticator(tmp_path, anonymous_upload=False).from_request({}, "127.0.0.1").can_upload


def test_mode_gradio_basic_and_api_key(tmp_path):
    key, key_hash = new_api_key()
    users = tmp_path / "users.yaml"
    users.write_text(yaml.safe_dump({"users": {"alice": {"password_hash": hash_password("pw", iterations=1000),
                                                         "groups": ["dep-59", "televersement"], "api_key_hash": key_hash}}}))
    auth = authenticator(tmp_path, auth="gradio", users_file=users)
    basic = "Basic " + base64.b64encode(b"alice:pw").decode()
    user = auth.from_request({"authorization": basic}, "10.0.0.1")
    assert (user.name, user.groups, user.can_upload) == ("alice", ("dep-59", "televersement"), True)
    assert auth.from_request({"authorization": f"Bearer {key}"}, None).name == "alice"
    assert auth.check_login("alice", "pw") and not auth.check_login("alice", "PW") and not auth.check_login("eve", "pw")
    for headers in ({}, {"authorization": "Basic !!!"}, {"authorization": "Bearer faux"}, {"authorization": "Digest x"}):
        with pytest.raises(AccessError) as refused:
            auth.from_request(headers, None)
        assert refused.value.status == 401
    assert auth.from_session("alice", {}, None).groups == ("dep-59", "televersement")
    with pytest.raises(AccessError):
        auth.from_session(None, {}, None)


def test_mode_gradio_needs_a_users_file(tmp_path):
    with pytest.raises(ValueError, match="users_file"):
        authenticator(tmp_path, auth="gradio")


def test_mode_header_trusts_only_the_proxy(tmp_path):
    auth = authenticator(tmp_path, auth="header", upload_groups=["admin-corpus"])
    headers = {"x-remote-user": "bruno", "x-remote-groups": "dep-13, admin-corpus;autre"}
    user = auth.from_request(headers, "127.0.0.1")
    assert (user.name, user.groups, user.can_upload) == ("bruno", ("dep-13", "admin-corpus", "autre"), True)
    with pytest.raises(AccessError) as refused:
        auth.from_request(headers, "192.0.2.7")
    assert refused.value.status == 403
    with pytest.raises(AccessError) as refused:
        auth.from_request({}, "127.0.0.1")
    assert refused.value.status == 401
    assert auth.proxy_username(headers, "127.0.0.1") == "bruno" and auth.proxy_username(headers, "192.0.2.7") is None


def test_usage_groups_and_the_departements_a_user_belongs_to(tmp_path):
    auth = authenticator(tmp_path, auth="header", usage_groups=["comite-suivi"])
    admin = auth.from_request({"x-remote-user": "claire", "x-remote-groups": "comite-suivi,dep-2a,dep-59"}, "127.0.0.1")
    agent = auth.from_request({"x-remote-user": "bruno", "x-remote-groups": "dep-13,admin"}, "127.0.0.1")
    assert admin.can_see_usage and not agent.can_see_usage  # « admin » is not one of this server's usage groups
    assert admin.departements == ["2A", "59"] and agent.departements == ["13"]
    assert departements(("dep-9", "dep-xx", "equipe-dep-59", "DEP-974")) == ["09", "974"]
