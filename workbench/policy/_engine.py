"""The :class:`PolicyEngine`: Cedar policies (through ``cedarpy``) deciding tool calls."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import cedarpy

from workbench.errors import PolicyError
from workbench.policy._encode import encode_arguments, entities_json, principal_uid, tool_uid
from workbench.policy._types import Effect, PolicyDecision, ToolRequest

__all__ = ["DEFAULT_POLICY_DIR", "SCHEMA_FILE", "PolicyEngine", "default_policy_dir"]

SCHEMA_FILE = "schema.cedarschema"
"""Name of the Cedar schema file in a policy directory."""

_PACKAGED = Path(__file__).resolve().parent / "default"
_CHECKOUT = Path(__file__).resolve().parents[2] / "policies"

DEFAULT_POLICY_DIR = _PACKAGED
"""The copy of the repository's ``policies/`` shipped inside the package."""

_CALL = {"type": "Action", "id": "call"}
_UNATTENDED = {"type": "Action", "id": "call_unattended"}
_ENTITY_CACHE = 1024
_POLICY_REF = re.compile(r"`(policy\d+)`")


def default_policy_dir() -> Path:
    """The shipped policies: the repository's ``policies/`` in a source checkout
    (an editable install), else the copy inside the package."""
    if (_CHECKOUT / SCHEMA_FILE).is_file():
        return _CHECKOUT
    return _PACKAGED


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from exc


class PolicyEngine:
    """Decides ``allow`` / ``deny`` / ``ask`` for tool calls with Cedar policies.

    The policies and schema are parsed and validated once, when the engine is built;
    :meth:`decide` reuses them (and caches the principal and tool entities), so a
    decision costs about 100 µs. Thread-safe: the parsed handles are immutable and
    the entity cache is locked.

    Two Cedar actions make three effects: ``Action::"call"`` must be permitted (else
    ``deny``) and ``Action::"call_unattended"`` must be permitted too (else ``ask``: a
    person must approve the call). See ``docs/policies.md``.
    """

    def __init__(self, policies: dict[str, str], schema: str, *, source: str) -> None:
        """Parse and validate policies against a schema.

        Args:
            policies: Policy text by file name (each file is checked on its own, so
                an error names its file).
            schema: Cedar schema text (human-readable Cedar schema syntax).
            source: Where they came from, for messages (a directory or ``<text>``).

        Raises:
            PolicyError: A file does not parse or validate, a policy lacks an ``@id``
                or repeats one, or there are no policies.
        """
        self.source = source
        try:
            self._schema = cedarpy.Schema.from_str(schema)
        except ValueError as exc:
            raise PolicyError(f"{source}/{SCHEMA_FILE}: invalid Cedar schema: {exc}") from exc
        reasons: dict[str, str] = {}
        for name, text in policies.items():
            try:
                cedarpy.PolicySet.from_str(text)
                est = json.loads(cedarpy.policies_to_json_str(text))
            except ValueError as exc:
                raise PolicyError(f"{name}: Cedar cannot parse it: {exc}") from exc
            if est.get("templates"):
                raise PolicyError(f"{name}: templates are not supported; write static policies")
            result = cedarpy.validate_policies(text, self._schema)
            if not result.validation_passed:
                problems = "; ".join(_named(str(e), est) for e in result.errors)
                raise PolicyError(f"{name}: does not validate against the schema: {problems}")
            for pid, policy in est.get("staticPolicies", {}).items():
                annotations = policy.get("annotations") or {}
                ident = annotations.get("id")
                if not ident:
                    raise PolicyError(f'{name}: policy {pid} has no @id("...") annotation')
                if ident in reasons:
                    raise PolicyError(f"{name}: policy id {ident!r} is used twice")
                reasons[ident] = str(annotations.get("reason") or ident)
        if not reasons:
            raise PolicyError(f"{source}: no policies (everything would be denied)")
        self._reasons = reasons
        combined = "\n".join(policies.values())
        self._policies = cedarpy.PolicySet.from_str(combined)
        # Cedar names policies by position (policy0, ...) in its messages; map them back.
        self._positional = {
            pid: str((policy.get("annotations") or {}).get("id"))
            for pid, policy in json.loads(cedarpy.policies_to_json_str(combined))[
                "staticPolicies"
            ].items()
        }
        self._entities: OrderedDict[tuple[Any, ...], cedarpy.Entities] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_path(cls, path: Path | str = Path("policies")) -> PolicyEngine:
        """An engine from a policy directory (every ``*.cedar`` file, sorted, and
        ``schema.cedarschema``) or a single ``.cedar`` file with the schema beside it.

        Raises:
            PolicyError: Missing or invalid files (the message names the file and
                gives Cedar's error).
        """
        path = Path(path)
        if path.is_file():
            files, directory = [path], path.parent
        elif path.is_dir():
            files, directory = sorted(path.glob("*.cedar")), path
        else:
            raise PolicyError(f"no policy file or directory at {path}")
        schema_path = directory / SCHEMA_FILE
        if not schema_path.is_file():
            raise PolicyError(f"{directory}: no Cedar schema ({SCHEMA_FILE})")
        policies = {str(f): _read(f) for f in files}
        return cls(policies, _read(schema_path), source=str(directory))

    @classmethod
    def from_text(cls, policies: str, schema: str) -> PolicyEngine:
        """An engine from policy and schema text (for tests and notebooks)."""
        return cls({"<policies>": policies}, schema, source="<text>")

    @classmethod
    def default(cls) -> PolicyEngine:
        """An engine with the shipped policies (:func:`default_policy_dir`)."""
        return cls.from_path(default_policy_dir())

    @property
    def policy_ids(self) -> tuple[str, ...]:
        """The ``@id`` of every policy, in file order."""
        return tuple(self._reasons)

    def _entities_for(self, request: ToolRequest) -> cedarpy.Entities:
        key = (
            request.principal,
            frozenset(request.scopes),
            request.tool,
            request.tool_scope,
            request.risk,
            request.egress,
            request.side_effects,
            request.requires_approval,
        )
        with self._lock:
            found = self._entities.get(key)
            if found is not None:
                self._entities.move_to_end(key)
                return found
        built = cedarpy.Entities.from_json_str(entities_json(request), self._schema)
        with self._lock:
            self._entities[key] = built
            if len(self._entities) > _ENTITY_CACHE:
                self._entities.popitem(last=False)
        return built

    def decide(self, request: ToolRequest) -> PolicyDecision:
        """Decide one tool call. Never raises: whatever goes wrong is a ``deny``.

        Args:
            request: The call.

        Returns:
            ``allow`` when a permit matches ``call`` and ``call_unattended`` with no
            forbid; ``ask`` when ``call`` is allowed but ``call_unattended`` is
            forbidden; ``deny`` otherwise (no permit: default deny; a forbid; or a
            Cedar evaluation error, quoted in ``reason``).
        """
        started = time.perf_counter()
        try:
            effect, ids, reason = self._decide(request)
        except Exception as exc:  # decide never raises: anything unexpected fails closed
            effect, ids, reason = "deny", (), f"the policy engine failed: {exc!r}"
        elapsed = (time.perf_counter() - started) * 1e6
        return PolicyDecision(effect=effect, policy_ids=ids, reason=reason, elapsed_us=elapsed)

    def _decide(self, request: ToolRequest) -> tuple[Effect, tuple[str, ...], str]:
        arguments, arguments_json = encode_arguments(request.arguments)
        # Serialised once for both requests (cedarpy would serialise a dict per request).
        context = json.dumps(
            {
                "tainted": request.tainted,
                "taint_sources": sorted(set(request.taint_sources)),
                "arguments": arguments,
                "arguments_json": arguments_json,
            }
        )
        principal, resource = principal_uid(request), tool_uid(request)
        call, unattended = cedarpy.is_authorized_batch(
            [
                {"principal": principal, "action": action, "resource": resource, "context": context}
                for action in (_CALL, _UNATTENDED)
            ],
            self._policies,
            self._entities_for(request),
        )
        errors = list(dict.fromkeys([*call.diagnostics.errors, *unattended.diagnostics.errors]))
        if errors:
            # Cedar skips a policy that errors (a forbid would fail open); deny instead.
            failed = sorted(
                {self._positional.get(p, p) for p in _POLICY_REF.findall(" ".join(errors))}
            )
            text = _POLICY_REF.sub(
                lambda m: f"`{self._positional.get(m[1], m[1])}`", "; ".join(errors)
            )
            return "deny", tuple(failed), f"policy evaluation error: {text}"
        if not call.allowed:
            ids = self._ids(call)
            if not ids:
                who = f"principal {request.principal!r}" if request.principal else "no principal"
                return "deny", (), f"no policy permits {who} to call {request.tool!r}"
            return "deny", ids, self._explain(ids)
        if not unattended.allowed:
            ids = self._ids(unattended)
            return "ask", ids, "needs approval: " + self._explain(ids)
        ids = self._ids(call)
        return "allow", ids, self._explain(ids)

    @staticmethod
    def _ids(result: cedarpy.AuthzResult) -> tuple[str, ...]:
        names = result.diagnostics.id_annotations_by_reason
        return tuple(sorted(names.get(p, p) for p in result.diagnostics.reasons))

    def _explain(self, ids: tuple[str, ...]) -> str:
        return "; ".join(f"{self._reasons.get(i, i)} [{i}]" for i in ids)


def _named(error: str, est: dict[str, Any]) -> str:
    """A validation error with Cedar's positional policy id replaced by its ``@id``."""
    for pid, policy in est.get("staticPolicies", {}).items():
        ident = (policy.get("annotations") or {}).get("id")
        if ident:
            error = error.replace(f"`{pid}`", f"`{ident}`").replace(f"[{pid}]", f"[{ident}]")
    return error
