"""Where access may come from: registered ranges, designated workstations, the demo setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.audit import AuditLog
from gateway.datadir import DataDir
from gateway.errors import NetworkNotPermitted
from gateway.governance.directory import GovernanceDirectory, has_register
from gateway.governance.model import NetworkRange
from gateway.governance.origin import OriginRules, origin_refusal
from gateway.governance.settings import GovernanceSettings
from gateway.users import UsersFile

from .conftest import World, approve, general_form

INSIDE = "192.0.2.5"
OUTSIDE = "198.51.100.7"


@pytest.fixture
def directory(world: World, audit: AuditLog, data_dir: DataDir) -> GovernanceDirectory:
    approve(world.service, world.service.submit("a.khan", general_form()).request_id)
    return GovernanceDirectory(world.service.store, audit, bootstrap=UsersFile(data_dir.users))


def denials(audit: AuditLog) -> list[dict[str, object]]:
    return [
        {"actor": e.actor, "organisation": e.organisation, **e.details["details"]}
        for e in audit.events(kinds=("access.denied",))
    ]


def test_registered_range_is_allowed(world: World, directory: GovernanceDirectory) -> None:
    directory.check_origin("a.khan", INSIDE, world.clock())
    principal = directory.admit("a.khan", INSIDE, world.clock())
    assert principal is not None
    assert principal.level == "general"


def test_unregistered_address_is_refused_and_audited(
    world: World, directory: GovernanceDirectory, audit: AuditLog
) -> None:
    with pytest.raises(NetworkNotPermitted) as exc:
        directory.check_origin("a.khan", OUTSIDE, world.clock())
    assert (exc.value.code, exc.value.status) == ("network_not_permitted", 403)
    assert OUTSIDE in str(exc.value)
    assert denials(audit) == [
        {
            "actor": "a.khan",
            "organisation": "Middlesbrough Council",
            "reason": "network_not_permitted",
            "client_address": OUTSIDE,
        }
    ]
    with pytest.raises(NetworkNotPermitted):
        directory.admit("a.khan", OUTSIDE, world.clock())
    assert len(denials(audit)) == 2


def test_designated_workstations_narrow_the_organisation_range(
    world: World, directory: GovernanceDirectory
) -> None:
    world.service.update_person("root", "a.khan", workstations=("192.0.2.9",))
    directory.check_origin("a.khan", "192.0.2.9", world.clock())
    with pytest.raises(NetworkNotPermitted, match="designated workstations"):
        directory.check_origin("a.khan", INSIDE, world.clock())


def test_loopback_needs_the_demo_setting(world: World, directory: GovernanceDirectory) -> None:
    with pytest.raises(NetworkNotPermitted):
        directory.check_origin("a.khan", "127.0.0.1", world.clock())
    world.service.set_settings("root", GovernanceSettings.demo(), "demo deployment")
    directory.check_origin("a.khan", "127.0.0.1", world.clock())
    directory.check_origin("a.khan", "::1", world.clock())
    with pytest.raises(NetworkNotPermitted):
        directory.check_origin("a.khan", OUTSIDE, world.clock())


def test_enforcement_can_be_switched_off_only_by_an_admin(
    world: World, directory: GovernanceDirectory
) -> None:
    settings = world.service.settings().with_origin(enforce=False)
    from gateway.errors import WrongRole

    with pytest.raises(WrongRole):
        world.service.set_settings("i.sec", settings)
    world.service.set_settings("root", settings)
    directory.check_origin("a.khan", OUTSIDE, world.clock())


def test_ranges_can_be_added_and_removed(world: World, directory: GovernanceDirectory) -> None:
    world.service.add_network("root", NetworkRange("MBC", "198.51.100.0/24", "annex"))
    directory.check_origin("a.khan", OUTSIDE, world.clock())
    world.service.remove_network("root", "MBC", "198.51.100.0/24", "annex closed")
    with pytest.raises(NetworkNotPermitted):
        directory.check_origin("a.khan", OUTSIDE, world.clock())


def test_not_an_address_is_refused() -> None:
    rules = OriginRules(allow_loopback=True)
    ranges = (NetworkRange("MBC", "192.0.2.0/28"),)
    assert origin_refusal("testclient", ranges, (), rules) is not None
    assert origin_refusal("2001:db8::1", ranges, (), rules) is not None  # other IP version
    assert origin_refusal("192.0.2.16", ranges, (), rules) is not None  # just outside /28


def test_bootstrap_admin_from_users_toml_connects_from_loopback_only(
    world: World, directory: GovernanceDirectory, data_dir: DataDir
) -> None:
    data_dir.users.write_text(
        '[users."ops"]\norganisation = "Cleveland Police"\nlevel = "general"\n'
        'purposes = ["X"]\nroles = ["admin", "senior_analyst"]\n'
        '[users."someone"]\norganisation = "X"\nlevel = "general"\nroles = ["analyst"]\n',
        "utf-8",
    )
    ops = directory.principal("ops", world.clock())
    assert ops is not None
    assert (ops.level, ops.purposes, ops.roles) == ("none", (), frozenset({"admin"}))
    assert directory.principal("someone", world.clock()) is None  # only admins are kept
    assert "ops" in directory.usernames()
    assert "someone" not in directory.usernames()
    directory.check_origin("ops", "127.0.0.1", world.clock())
    with pytest.raises(NetworkNotPermitted):
        directory.check_origin("ops", INSIDE, world.clock())


@pytest.mark.register_file  # two directories, two registers
def test_has_register(world: World, data_dir: DataDir, tmp_path: Path) -> None:
    assert has_register(data_dir)
    assert not has_register(DataDir(tmp_path / "empty"))


@pytest.mark.register_file
def test_the_deployment_uses_the_register_once_it_exists(
    world: World, data_dir: DataDir, tmp_path: Path
) -> None:
    from gateway.deployment import Deployment

    with Deployment.open(data_dir, engine=False) as deployment:
        assert isinstance(deployment.directory, GovernanceDirectory)
    empty = DataDir(tmp_path / "bare")
    empty.root.mkdir()
    with Deployment.open(empty, engine=False) as deployment:
        assert isinstance(deployment.directory, UsersFile)
