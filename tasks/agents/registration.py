"""Registering blueprints: every file checked first, nothing written when any has a problem."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hopflow.models.access import agents as access
from hopflow.models.access.tags import read_tags, set_tags
from hopflow.models.db import session_scope
from hopflow.models.orm import AgentDefinition
from hopflow.models.schemas.agents import (
    BlueprintSpec,
    WebhookTriggerSpec,
    semver_key,
    trigger_from_config,
)
from hopflow.tasks.agents.blueprints import definition_fields, load_blueprint, playbook_rows
from hopflow.tasks.agents.errors import AgentSpecError, RegistrationError
from hopflow.tasks.agents.placeholders import PLACEHOLDER
from hopflow.tasks.agents.routes import _active_routes, normalise_path, route_conflicts
from hopflow.tasks.specs import (
    SpecError,
    SpecIssue,
    line_of,
    read_spec_document,
)
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Registered:
    id: str
    name: str
    version: str
    action: str
    playbooks: int
    triggers: list[str]
    source: str


def register_blueprints(paths: list[Path]) -> list[Registered]:
    """Check every file, then upsert every definition by id and version in one transaction.

    Any problem in any file (format, cron, trigger type, webhook path claimed twice, an older
    version than the stored one, a name another id holds) raises RegistrationError; nothing is written.
    """
    errors: list[SpecError] = []
    specs: list[tuple[Path, BlueprintSpec]] = []
    for path in paths:
        try:
            specs.append((path, load_blueprint(path)))
        except SpecError as exc:
            errors.append(exc)
    errors += _batch_conflicts(specs)
    if errors:
        raise RegistrationError(errors)
    with session_scope() as session:
        errors += _database_conflicts(session, specs)
        if errors:
            raise RegistrationError(errors)
        results = []
        for path, spec in specs:
            definition, action = access.upsert_definition(
                session, spec.id, definition_fields(spec), playbook_rows(spec)
            )
            before = read_tags(session, "agent_definitions", definition.id)
            if set_tags(session, "agent_definitions", definition.id, spec.tags, replace=True) != before:
                action = "updated" if action == "unchanged" else action
            results.append(
                Registered(
                    id=definition.id, name=definition.name, version=definition.version, action=action,
                    playbooks=len(spec.playbooks), triggers=[t.type for t in spec.triggers], source=str(path),
                )
            )  # fmt: skip
        # A new version may change webhook paths of live configurations: check them as they will be.
        session.flush()
        session.expire_all()
        if conflicts := route_conflicts(_active_routes(session)):
            session.rollback()
            raise RegistrationError([AgentSpecError([SpecIssue(("triggers",), c) for c in conflicts])])
        return results


def _batch_conflicts(specs: list[tuple[Path, BlueprintSpec]]) -> list[SpecError]:
    errors: list[SpecError] = []
    ids: dict[str, Path] = {}
    names: dict[str, Path] = {}
    paths: dict[tuple[str, str], tuple[Path, str]] = {}
    for path, spec in specs:
        issues: list[SpecIssue] = []
        if spec.id in ids:
            issues.append(SpecIssue(("id",), f"id {spec.id!r} is also declared by {ids[spec.id]}"))
        if spec.name in names and spec.id != _id_of(specs, names[spec.name]):
            issues.append(SpecIssue(("name",), f"name {spec.name!r} is also used by {names[spec.name]}"))
        ids.setdefault(spec.id, path)
        names.setdefault(spec.name, path)
        for t, trigger in enumerate(spec.triggers):
            if isinstance(trigger, WebhookTriggerSpec) and not PLACEHOLDER.search(trigger.path):
                route = (trigger.method, normalise_path(trigger.path))
                if route in paths and paths[route][1] != spec.id:
                    issues.append(
                        SpecIssue(
                            ("triggers", t, "path"),
                            f"webhook path claimed twice: {route[0]} {route[1]} is also claimed by "
                            f"{paths[route][1]} ({paths[route][0]})",
                        )
                    )
                paths.setdefault(route, (path, spec.id))
        if issues:
            errors.append(AgentSpecError(issues, str(path)))
    return errors


def _id_of(specs: list[tuple[Path, BlueprintSpec]], path: Path) -> str:
    return next(spec.id for p, spec in specs if p == path)


def _database_conflicts(session: Session, specs: list[tuple[Path, BlueprintSpec]]) -> list[SpecError]:
    errors: list[SpecError] = []
    batch_ids = {spec.id for _, spec in specs}
    others = [d for d in access.list_definitions(session) if d.id not in batch_ids]
    other_names = {d.name: d.id for d in others}
    other_paths: dict[tuple[str, str], str] = {}
    for definition in others:
        for stored in definition.triggers_config:
            trigger = trigger_from_config(stored)
            if isinstance(trigger, WebhookTriggerSpec) and not PLACEHOLDER.search(trigger.path):
                other_paths[(trigger.method, normalise_path(trigger.path))] = definition.id
    for path, spec in specs:
        issues: list[SpecIssue] = []
        registered = session.get(AgentDefinition, spec.id)
        if registered is not None and semver_key(spec.version) < semver_key(registered.version):
            issues.append(
                SpecIssue(
                    ("version",),
                    f"version {spec.version} is older than the registered {registered.version} "
                    f"of {spec.id!r}",
                )
            )
        if spec.name in other_names:
            issues.append(
                SpecIssue(
                    ("name",), f"name {spec.name!r} is already used by agent {other_names[spec.name]!r}"
                )
            )
        for t, trigger in enumerate(spec.triggers):
            if isinstance(trigger, WebhookTriggerSpec):
                route = (trigger.method, normalise_path(trigger.path))
                if route in other_paths:
                    issues.append(
                        SpecIssue(
                            ("triggers", t, "path"),
                            f"webhook path claimed twice: {route[0]} {route[1]} is already claimed by "
                            f"agent {other_paths[route]!r}",
                        )
                    )
        if issues:
            _, lines = read_spec_document(path)
            errors.append(
                AgentSpecError(
                    [SpecIssue(i.path, i.message, line_of(lines, i.path)) for i in issues], str(path)
                )
            )
    return errors


