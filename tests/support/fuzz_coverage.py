"""Which of schemathesis's coverage cases ``tests/integration/test_openapi_fuzz.py`` sends: one of each
distinct test. The coverage phase enumerates, for every schema location of every operation, every kind of
value that must be accepted or refused there, and many of its cases repeat one another:

- a wrong-typed value: it sends each other JSON type (4 to 6 values, 5,710 of its 10,168 cases), all
  refused by the one type check of that location. One is sent per location; a location whose first type
  was sent elsewhere (another member, the batch) takes the next one, so every wrong type is still sent;
- a query or path parameter: the routes share their parameters' declarations (``query_api/api/params.py``,
  ``query_api/lms_api/params.py``), and the coverage phase sends each operation the same values of the same
  declaration (the 13 ``period`` values to each of the 24 learning platform reads taking it). A value of a
  declaration is sent to the first operation taking it; each operation keeps its own combinations of
  parameters (all, only the required, each optional one) and its body, method and header cases;
- a member of a ``oneOf`` (the learning platform's activities, entities and samples): its members inherit
  most properties from one model, and the coverage phase breaks each property in each member. A value at a
  property is sent to the first member holding it, and again where it differs (another bound or format);
- a batch (``…/batch``: ``{"events": [<the one-event body>]}``): it sends the one-event operation's body
  cases again as its item. Each is sent once, to either; the batch keeps its own cases (its array's bounds,
  a missing or extra property, its method and headers).

Every operation still gets coverage cases of each kind it got (each has method, header or combination
cases of its own), and every check runs on each case sent.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import schemathesis
from schemathesis.config import ChecksConfig, ProjectConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario
from schemathesis.hooks import HookContext

Case = schemathesis.Case[Any]
Key = tuple[object, ...]
Batches = dict[str, tuple[str, str]]
"""A batch operation's label -> its array property and the one-event operation's label."""
PARAMETERS = {ParameterLocation.QUERY: "query", ParameterLocation.PATH: "path"}


def distinct_coverage_cases(document: dict[str, Any]) -> Callable[[HookContext, Case], bool]:
    """A ``filter_case`` hook for the schema of ``document`` keeping the first case of each distinct test
    (see the module); it keeps state, so one hook serves one run."""
    batches = batches_of(document)
    singles = {single for _, single in batches.values()}
    declarations = parameter_declarations(document)
    kept: dict[Key, str] = {}

    def filter_case(context: HookContext, case: Case) -> bool:
        keys = coverage_keys(case, batches, singles, declarations)
        # a case repeating a kept one is dropped before it claims its other keys: the next wrong type of a
        # location is then tried in turn
        if any(kept.get(key, case.id) != case.id for key in keys):
            return False
        kept.update(dict.fromkeys(keys, case.id))
        return True

    return filter_case


def batches_of(document: dict[str, Any]) -> Batches:
    """The operations whose JSON body is a batch of another one's: an object whose one property is an array
    of the other body's component (``LmsActivityBatch.events`` of ``LmsActivity``)."""
    bodies: dict[str, str] = {}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}) if isinstance(operation, dict) else {}
            ref = body.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
            if ref is not None:
                bodies[f"{method.upper()} {path}"] = ref
    users = Counter(bodies.values())
    single = {ref: label for label, ref in bodies.items() if users[ref] == 1}
    batches: Batches = {}
    for label, ref in bodies.items():
        properties = document["components"]["schemas"][ref.rsplit("/", 1)[1]].get("properties", {})
        if len(properties) == 1:
            ((name, schema),) = properties.items()
            item = schema.get("items", {}).get("$ref") if schema.get("type") == "array" else None
            if item in single:
                batches[label] = (name, single[item])
    return batches


def parameter_declarations(document: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    """Each operation's query and path parameters as the document declares them (name, schema and
    description, with ``$ref`` to shared components): equal for a declaration the routes share."""
    declared = {}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                key = (f"{method.upper()} {path}", parameter["in"], parameter["name"])
                declared[key] = json.dumps(parameter, sort_keys=True)
    return declared


def coverage_keys(
    case: Case, batches: Batches, singles: set[str], declarations: dict[tuple[str, str, str], str]
) -> list[Key]:
    """What a coverage case tests that another one may test too (see the module); none for other phases."""
    data = case.meta.phase.data if case.meta is not None else None
    if not isinstance(data, CoveragePhaseData):
        return []
    where, parameter, scenario = data.parameter_location, data.parameter, data.scenario
    owner, location, description = case.operation.label, data.location, data.description
    if where == ParameterLocation.BODY and location is not None and owner in batches:
        # a case breaking a batch's item is keyed as the one-event operation's case it repeats
        name, single = batches[owner]
        items, about = f"/properties/{name}/items", f"{name} -> Array with invalid items: "
        if location.startswith(items) and description.startswith(about):
            owner, location = single, location.removeprefix(items)
            description = description.removeprefix(about)
    keys: list[Key] = []
    if scenario == CoverageScenario.INCORRECT_TYPE:
        keys.append(("wrong type", owner, where, parameter, location))
    if parameter is not None and where in PARAMETERS:
        declaration = declarations.get((owner, PARAMETERS[where], parameter), owner)
        sent = (case.query if where == ParameterLocation.QUERY else case.path_parameters) or {}
        value = repr(sent[parameter]) if parameter in sent else "absent"
        keys.append(("parameter", declaration, scenario, description, value))
    if (
        where == ParameterLocation.BODY
        and location is not None
        and ("/oneOf/" in location or owner in singles)
        and (value_there := sent_at(case.body, data.location or "")) is not None
    ):
        member = re.sub(r"/oneOf/\d+", "", location)
        keys.append(("body", owner, scenario, description, member, value_there))
    return keys


def sent_at(body: object, location: str) -> str | None:
    """What ``body`` sends where a coverage case's schema location (``/properties/events/items/oneOf/1/
    allOf/0/properties/session_id/anyOf/0/minLength``) points: the values under its ``properties`` and
    ``items`` steps (its last step is the keyword it breaks or meets; ``Ellipsis`` for a property left out),
    or ``None`` if a step does not say where in the body it is."""
    steps = location.strip("/").split("/")[:-1]
    values: list[object] = [body]
    while steps:
        step = steps.pop(0)
        if step in {"oneOf", "anyOf", "allOf"} and steps:
            steps.pop(0)
        elif step == "properties" and steps and all(isinstance(value, dict) for value in values):
            name = steps.pop(0)
            values = [cast(dict[str, object], value).get(name, ...) for value in values]
        elif step == "items" and all(isinstance(value, list) for value in values):
            values = [item for value in values for item in cast(list[object], value)]
        else:
            return None
    return repr(values)


@contextmanager
def checks_config_resolved_once() -> Iterator[None]:
    """schemathesis resolves an operation's checks configuration afresh for each response it validates,
    merging the configuration hierarchy (each ``operations`` entry of the configuration included: a third
    of a call to the operations with one); the configuration cannot change during a run, so it is resolved
    once per operation and phase."""
    resolve = ProjectConfig.checks_config_for
    resolved: dict[tuple[int, str | None, str | None], tuple[ProjectConfig, ChecksConfig]] = {}

    def checks_config_for(
        self: ProjectConfig,
        *,
        operation: schemathesis.APIOperation[Any, Any, Any, Any] | None = None,
        phase: str | None = None,
    ) -> ChecksConfig:
        key = (id(self), None if operation is None else operation.label, phase)
        hit = resolved.get(key)
        if hit is None or hit[0] is not self:
            hit = resolved[key] = (self, resolve(self, operation=operation, phase=phase))
        return hit[1]

    ProjectConfig.checks_config_for = checks_config_for  # type: ignore[method-assign]
    try:
        yield
    finally:
        ProjectConfig.checks_config_for = resolve  # type: ignore[method-assign]
