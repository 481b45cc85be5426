"""Read model files (a JSON file or a Cubes ``*.cubesmodel`` bundle) into an immutable catalog.

Validation happens in two passes and collects every problem with its JSON path: the structural
pass checks the JSON Schema; the semantic pass (:mod:`cube_models.build`) resolves names, applies
the Cubes defaults and checks references, hierarchies, expressions and mappings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from cube_models.build import build_catalog
from cube_models.catalog import ModelCatalog
from cube_models.errors import Issue, ModelError
from cube_models.json_schema import MODEL

MAX_MODEL_BYTES = 16 * 1024 * 1024
_VALIDATOR = jsonschema.Draft202012Validator(MODEL)


def load_model(path: Path) -> ModelCatalog:
    """Load one model file or bundle directory; raise :class:`ModelError` listing every issue."""
    raw, issues = read_model(path)
    return model_from_dict(raw, file=str(path), issues=issues)


def model_from_dict(raw: Any, *, file: str | None = None, issues: list[Issue] | None = None) -> ModelCatalog:
    found = list(issues or [])
    found.extend(check_structure(raw, file=file))
    catalog, semantic = build_catalog(raw if isinstance(raw, dict) else {}, file=file)
    found.extend(semantic)
    if found:
        raise ModelError(_unique(found))
    return catalog


def validate_model(path: Path) -> list[Issue]:
    """Every issue of the model at ``path`` (empty when it is valid)."""
    try:
        load_model(path)
    except ModelError as error:
        return list(error.issues)
    return []


def read_model(path: Path) -> tuple[dict[str, Any], list[Issue]]:
    """Read the raw JSON of a model file or bundle, merging a bundle's ``cube_*``/``dim_*`` files."""
    if path.is_dir():
        return _read_bundle(path)
    raw, issue = _read_json(path)
    return (raw if isinstance(raw, dict) else {}), ([issue] if issue else _not_an_object(raw, path))


def check_structure(raw: Any, *, file: str | None = None) -> list[Issue]:
    issues = []
    for error in sorted(_VALIDATOR.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path))):
        error = _specific(error)
        issues.append(Issue(_json_path(error.absolute_path), _schema_message(error), file))
    return issues


def _specific(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For a shorthand-or-object ``oneOf``, the complaint of the object branch is the useful one."""
    while error.validator == "oneOf" and isinstance(error.instance, dict):
        branch = [sub for sub in error.context or [] if sub.schema_path and sub.schema_path[0] == 1]
        if not branch:
            break
        error = branch[0]
    return error


def _read_bundle(directory: Path) -> tuple[dict[str, Any], list[Issue]]:
    issues: list[Issue] = []
    master_path = directory / "model.json"
    master: dict[str, Any] = {}
    if master_path.exists():
        raw, issue = _read_json(master_path)
        if issue:
            issues.append(issue)
        elif isinstance(raw, dict):
            master = raw
        else:
            issues.extend(_not_an_object(raw, master_path))
    parts = [("dimensions", p) for p in sorted(directory.glob("dim_*.json"))]
    parts += [("dimensions", p) for p in sorted(directory.glob("dimension_*.json"))]
    parts += [("cubes", p) for p in sorted(directory.glob("cube_*.json"))]
    if not master_path.exists() and not parts:
        issues.append(Issue("$", "directory holds no model.json, cube_*.json or dim_*.json", str(directory)))
    for key, part_path in parts:
        raw, issue = _read_json(part_path)
        if issue:
            issues.append(issue)
            continue
        if not isinstance(raw, dict) or "name" not in raw:
            issues.append(Issue("$", "a bundle part must be an object with a name", str(part_path)))
            continue
        existing = master.setdefault(key, [])
        if isinstance(existing, list):
            existing.append(raw)
    return master, issues


def _read_json(path: Path) -> tuple[Any, Issue | None]:
    try:
        if path.stat().st_size > MAX_MODEL_BYTES:
            return None, Issue("$", f"file larger than {MAX_MODEL_BYTES} bytes", str(path))
        return json.loads(path.read_text(encoding="utf-8")), None
    except FileNotFoundError:
        return None, Issue("$", "file not found", str(path))
    except (OSError, UnicodeDecodeError) as exc:
        return None, Issue("$", f"cannot read file: {exc}", str(path))
    except json.JSONDecodeError as exc:
        return None, Issue("$", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", str(path))
    except RecursionError:
        return None, Issue("$", "JSON nested too deeply", str(path))


def _not_an_object(raw: Any, path: Path) -> list[Issue]:
    return [] if isinstance(raw, dict) else [Issue("$", "a model must be a JSON object", str(path))]


def _json_path(parts: Any) -> str:
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif str(part).isidentifier():
            text += f".{part}"
        else:
            text += f'["{part}"]'  # keys such as "time.year" would read as two steps
    return text


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        return f"unknown key: {error.message.split('(')[-1].rstrip(')')}"
    return error.message


def _unique(issues: list[Issue]) -> list[Issue]:
    seen: set[Issue] = set()
    result = []
    for issue in issues:
        if issue not in seen:
            seen.add(issue)
            result.append(issue)
    return result
