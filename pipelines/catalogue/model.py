"""Load and check the catalogue (``catalogs/``).

The catalogue is data; this module turns it into typed objects and refuses a malformed
one with a message that names the file and the field, e.g.::

    catalogs/categories/admin_penalty.yaml: field 'fine': required_when refers to
    unknown field 'penalty_kind'
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic import Field as PydField

from ..settings import catalog_dir
from ..textnorm import normalize_header

FieldType = Literal["text", "code", "enum", "enum_list", "date", "money", "int"]
CodeKind = Literal["uscc", "reg_no", "org_code", "id_no", "region", "industry"]
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# Pseudo-fields a record key may use besides catalogue fields: the delivering
# department, and the subject's delivered code (USCC, else 注册号, 组织机构代码, ID number)
# so that two subjects sharing a name never share a record.
KEY_PSEUDO_FIELDS = {"department_code", "subject_code"}
SUBJECT_CODE_FIELDS = ("uscc", "reg_no", "org_code", "id_no")


class CatalogueError(ValueError):
    """A malformed catalogue: the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    """``field`` has one of ``in`` (for an enum list: contains one of them)."""

    field: str
    in_: list[str] = PydField(alias="in", min_length=1)


class Field(_Strict):
    name: str
    label: str
    code: str | None = None
    aliases: list[str] = []
    type: FieldType
    required: bool = False
    required_when: Condition | None = None
    unless_any: list[str] = []
    enum: list[str] | None = None
    enum_ref: str | None = None
    enum_aliases: dict[str, str] = {}
    default: str | None = None
    code_kind: CodeKind | None = None
    must_be_valid: bool = False
    subject_ref: bool = False
    personal: bool = False
    min: float | None = None
    max: float | Literal["current_year"] | None = None
    not_future: bool = False
    not_before: str | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Field:
        if not _NAME_RE.match(self.name):
            raise ValueError(f"name {self.name!r} must be lower_snake_case English")
        if self.type in ("enum", "enum_list") and not (self.enum or self.enum_ref):
            raise ValueError(f"type {self.type} needs 'enum' values or an 'enum_ref'")
        if self.type not in ("enum", "enum_list") and (self.enum or self.enum_ref or self.enum_aliases):
            raise ValueError(f"'enum' given but type is {self.type}")
        if self.enum and self.default is not None and self.default not in self.enum:
            raise ValueError(f"default {self.default!r} is not one of the enum values")
        if self.enum:
            bad = {v for v in self.enum_aliases.values() if v not in self.enum}
            if bad:
                raise ValueError(f"enum_aliases map to unknown values {sorted(bad)}")
        if self.code_kind and self.type != "code":
            raise ValueError("code_kind is only for type 'code'")
        if self.must_be_valid and not self.code_kind:
            raise ValueError("must_be_valid needs a code_kind")
        if self.type not in ("money", "int") and (self.min is not None or self.max is not None):
            raise ValueError("min/max are only for money and int fields")
        if self.type != "date" and (self.not_future or self.not_before):
            raise ValueError("not_future/not_before are only for date fields")
        if self.required and self.required_when:
            raise ValueError("a field is either required or required_when, not both")
        if self.unless_any and not self.required_when and not self.required:
            raise ValueError("unless_any only qualifies required / required_when")
        return self

    @property
    def is_enum(self) -> bool:
        return self.type in ("enum", "enum_list")

    def headers(self) -> list[str]:
        """Everything a delivery may call this column by."""
        return [h for h in (self.label, self.code, *self.aliases) if h]

    def max_value(self, today: dt.date | None = None) -> float | None:
        if self.max == "current_year":
            return float((today or dt.date.today()).year)
        return self.max


class Block(_Strict):
    id: str
    fields: list[Field]


class Category(_Strict):
    id: str
    name: str
    description: str = ""
    blocks: list[str] = []
    field_code_prefix: str = ""
    code_overrides: dict[str, str] = {}
    record_key: list[str] = PydField(min_length=1)
    subject_kinds: list[str] | None = None
    has_subject: bool = True
    fields: list[Field]

    @cached_property
    def by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def field(self, name: str) -> Field:
        return self.by_name[name]

    @cached_property
    def header_map(self) -> dict[str, str]:
        """Normalised header → canonical field name."""
        out: dict[str, str] = {}
        for f in self.fields:
            for h in f.headers():
                out.setdefault(normalize_header(h), f.name)
        return out

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required_fields(self) -> list[Field]:
        """Columns a file must have (unconditionally required)."""
        return [f for f in self.fields if f.required]

    @property
    def personal_fields(self) -> list[Field]:
        return [f for f in self.fields if f.personal]

    @property
    def subject_ref_fields(self) -> list[Field]:
        return [f for f in self.fields if f.subject_ref]


class Department(BaseModel):
    # Later stages add keys (supervision scope, extract settings): allow them.
    model_config = ConfigDict(extra="allow", frozen=True)
    code: str
    name: str
    submits: list[str]
    source: dict[str, Any] = {}
    uscc: str | None = None

    def source_url(self, data_dir: Path) -> str | None:
        url = self.source.get("url")
        return url.replace("{data_dir}", str(data_dir)) if url else None


class Catalogue(_Strict):
    version: str
    name: str
    root: Path
    categories: dict[str, Category]
    departments: dict[str, Department]
    settings: dict[str, Any]
    subject_kinds: dict[str, str]

    def category(self, key: str) -> Category | None:
        """By id (``admin_penalty``) or Chinese name (``行政处罚``)."""
        if key in self.categories:
            return self.categories[key]
        for c in self.categories.values():
            if c.name == key:
                return c
        return None

    def setting(self, dotted: str) -> Any:
        node: Any = self.settings
        for part in dotted.split("."):
            node = node[part]
        return node


# libyaml's parser where PyYAML has it (the wheels do): the same documents, 4x faster
# (the catalogue is read by every stage's module and step, ~50 ms each in Python)
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)
    except FileNotFoundError as e:
        raise CatalogueError(f"{path}: file is missing") from e
    except yaml.YAMLError as e:
        raise CatalogueError(f"{path}: not valid YAML: {e}") from e


def _explain(path: Path, err: ValidationError, raw: dict[str, Any]) -> CatalogueError:
    msgs = []
    for e in err.errors():
        loc = list(e["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] == "fields" and isinstance(loc[1], int):
            try:
                where = f"field {raw['fields'][loc[1]].get('name', '#' + str(loc[1]))!r}: "
            except (KeyError, IndexError, AttributeError, TypeError):
                where = f"field #{loc[1]}: "
            loc = loc[2:]
        rest = ".".join(str(x) for x in loc)
        msgs.append(f"{where}{rest + ': ' if rest else ''}{e['msg']}")
    return CatalogueError(f"{path}: " + "; ".join(msgs))


def _resolve_fields(
    path: Path, raw: dict[str, Any], blocks: dict[str, Block], enum_refs: dict[str, list[str]]
) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    prefix = raw.get("field_code_prefix", "") or ""
    overrides = raw.get("code_overrides", {}) or {}
    for b in raw.get("blocks", []) or []:
        if b not in blocks:
            raise CatalogueError(f"{path}: unknown block {b!r} (known: {sorted(blocks)})")
        for f in blocks[b].fields:
            d = f.model_dump(by_alias=True, exclude_none=True)
            if f.name in overrides:
                d["code"] = overrides[f.name]
            elif prefix and f.code:
                d["code"] = prefix + f.code
            else:
                d.pop("code", None)  # block codes only apply to prefixed (双公示) categories
            fields.append(d)
    own = raw.get("fields", []) or []
    if not isinstance(own, list):
        raise CatalogueError(f"{path}: 'fields' must be a list")
    fields.extend(dict(f) for f in own)
    for d in fields:
        ref = d.get("enum_ref")
        if ref is not None:
            if ref not in enum_refs:
                raise CatalogueError(f"{path}: field {d.get('name')!r}: unknown enum_ref {ref!r}")
            d["enum"] = list(enum_refs[ref])
    return fields


def _check_category(path: Path, cat: Category, kinds: set[str]) -> None:
    names = [f.name for f in cat.fields]
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise CatalogueError(f"{path}: field {n!r}: defined twice")
        seen.add(n)
    headers: dict[str, str] = {}
    for f in cat.fields:
        for h in f.headers():
            k = normalize_header(h)
            if k in headers and headers[k] != f.name:
                raise CatalogueError(
                    f"{path}: field {f.name!r}: header {h!r} is also used by field {headers[k]!r}"
                )
            headers[k] = f.name
        if f.required_when:
            target = cat.by_name.get(f.required_when.field)
            if target is None:
                raise CatalogueError(
                    f"{path}: field {f.name!r}: required_when refers to unknown field "
                    f"{f.required_when.field!r}"
                )
            if target.enum:
                bad = [v for v in f.required_when.in_ if v not in target.enum]
                if bad:
                    raise CatalogueError(
                        f"{path}: field {f.name!r}: required_when values {bad} are not values of "
                        f"{target.name!r}"
                    )
        for other in f.unless_any:
            if other not in cat.by_name:
                raise CatalogueError(f"{path}: field {f.name!r}: unless_any names unknown field {other!r}")
        if f.not_before:
            t = cat.by_name.get(f.not_before)
            if t is None or t.type != "date":
                raise CatalogueError(
                    f"{path}: field {f.name!r}: not_before must name a date field, got {f.not_before!r}"
                )
    for k in cat.record_key:
        if k not in cat.by_name and k not in KEY_PSEUDO_FIELDS:
            raise CatalogueError(f"{path}: record_key names unknown field {k!r}")
    if cat.subject_kinds:
        bad = [k for k in cat.subject_kinds if k not in kinds]
        if bad:
            raise CatalogueError(f"{path}: subject_kinds {bad} are not known subject kinds")


def load_catalogue(root: Path | str | None = None) -> Catalogue:
    """Load and check ``catalogs/`` (or another folder with the same layout)."""
    root = Path(root) if root is not None else catalog_dir()
    head_path = root / "catalogue.yaml"
    head = _read_yaml(head_path) or {}
    for key in ("version", "name", "subject_kinds"):
        if key not in head:
            raise CatalogueError(f"{head_path}: missing key {key!r}")
    enum_refs = {k: v for k, v in head.items() if isinstance(v, list)}
    kinds = set(head["subject_kinds"].values())

    blocks: dict[str, Block] = {}
    for p in sorted((root / "blocks").glob("*.yaml")):
        raw = _read_yaml(p)
        try:
            b = Block.model_validate(raw)
        except ValidationError as e:
            raise _explain(p, e, raw) from None
        blocks[b.id] = b

    categories: dict[str, Category] = {}
    for p in sorted((root / "categories").glob("*.yaml")):
        raw = _read_yaml(p)
        if not isinstance(raw, dict):
            raise CatalogueError(f"{p}: expected a mapping")
        if raw.get("id") != p.stem:
            raise CatalogueError(f"{p}: id {raw.get('id')!r} must equal the file name {p.stem!r}")
        data = dict(raw)
        data["fields"] = _resolve_fields(p, raw, blocks, enum_refs)
        try:
            cat = Category.model_validate(data)
        except ValidationError as e:
            raise _explain(p, e, data) from None
        _check_category(p, cat, kinds)
        categories[cat.id] = cat
    if not categories:
        raise CatalogueError(f"{root / 'categories'}: no category files")
    names = [c.name for c in categories.values()]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise CatalogueError(f"{root / 'categories'}: category names used twice: {sorted(dup)}")

    dep_path = root / "departments.yaml"
    dep_raw = _read_yaml(dep_path) or {}
    departments: dict[str, Department] = {}
    for i, d in enumerate(dep_raw.get("departments", []) or []):
        try:
            dep = Department.model_validate(d)
        except ValidationError as e:
            raise CatalogueError(f"{dep_path}: department #{i + 1}: {e.errors()[0]['msg']} at {e.errors()[0]['loc']}") from None
        unknown = [c for c in dep.submits if c not in categories]
        if unknown:
            raise CatalogueError(f"{dep_path}: department {dep.code!r}: submits unknown categories {unknown}")
        if dep.code in departments:
            raise CatalogueError(f"{dep_path}: department {dep.code!r}: listed twice")
        departments[dep.code] = dep
    if not departments:
        raise CatalogueError(f"{dep_path}: no departments")

    settings: dict[str, Any] = {}
    for p in sorted(root.glob("*.yaml")):
        if p.name in ("catalogue.yaml", "departments.yaml"):
            continue
        settings[p.stem] = _read_yaml(p) or {}

    return Catalogue(
        version=str(head["version"]),
        name=head["name"],
        root=root,
        categories=categories,
        departments=departments,
        settings=settings,
        subject_kinds=head["subject_kinds"],
    )
