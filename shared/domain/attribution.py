"""Attribution of pipeline and revenue over a lead's marketing touches (SPEC 5).

Every model yields one credit row per eligible touch of a conversion, including touches whose
fraction is 0: a report lists every channel, campaign, content or message that took part in
a converted journey, with zero credit where the model gave it none. A conversion without an
eligible touch yields one row whose touch is None, reported under `(unattributed)`.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple

from shared.domain.events import MARKETING_TOUCHES, Event

Kind = Literal["PIPELINE", "REVENUE"]
PIPELINE: Final = "PIPELINE"
REVENUE: Final = "REVENUE"

GroupBy = Literal["CHANNEL", "CAMPAIGN", "CONTENT", "MESSAGE"]
GROUP_BYS: Final[tuple[GroupBy, ...]] = ("CHANNEL", "CAMPAIGN", "CONTENT", "MESSAGE")
UNATTRIBUTED: Final = "(unattributed)"
NONE_KEY: Final = "(none)"

Rule = Literal["POSITION", "LINEAR", "TIME_DECAY"]

HALF_LIFE_SECONDS: Final = 7 * 86400.0
WEIGHT_TOLERANCE: Final = 1e-9


class Weights(NamedTuple):
    """Weights of the positions of a journey and of the touches that hold none."""

    first: float = 0.0
    lead_creation: float = 0.0
    opportunity_creation: float = 0.0
    closed_won: float = 0.0
    rest: float = 0.0


WEIGHT_FIELDS: Final[tuple[str, ...]] = Weights._fields
_NO_WEIGHTS: Final = Weights()


@dataclass(frozen=True, slots=True)
class AttributionModel:
    """A way to split one conversion over its eligible touches.

    `pipeline_weights` exists because SPEC 5 gives some models another shape for pipeline,
    where there is no win yet; None means the same weights as for revenue.
    `type_multipliers` scale each touch's share by its event type (types not listed: 1).
    """

    name: str
    rule: Rule = "POSITION"
    weights: Weights = _NO_WEIGHTS
    pipeline_weights: Weights | None = None
    type_multipliers: Mapping[str, float] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """The stored form that `parse_custom_model` reads back."""
        return {
            "name": self.name,
            "weights": self.weights._asdict(),
            "type_multipliers": dict(self.type_multipliers),
        }

    def weights_for(self, kind: Kind) -> Weights:
        if kind == PIPELINE and self.pipeline_weights is not None:
            return self.pipeline_weights
        return self.weights


_W_SHAPED_WEIGHTS = Weights(first=0.3, lead_creation=0.3, opportunity_creation=0.3, rest=0.1)

FIRST_TOUCH: Final = AttributionModel("FIRST_TOUCH", weights=Weights(first=1.0))
# The last eligible touch is the win's touch for revenue and the creation's for pipeline,
# since eligibility already stops at the conversion.
LAST_TOUCH: Final = AttributionModel(
    "LAST_TOUCH",
    weights=Weights(closed_won=1.0),
    pipeline_weights=Weights(opportunity_creation=1.0),
)
LINEAR: Final = AttributionModel("LINEAR", rule="LINEAR")
U_SHAPED: Final = AttributionModel(
    "U_SHAPED", weights=Weights(first=0.4, lead_creation=0.4, rest=0.2)
)
W_SHAPED: Final = AttributionModel("W_SHAPED", weights=_W_SHAPED_WEIGHTS)
FULL_PATH: Final = AttributionModel(
    "FULL_PATH",
    weights=Weights(0.225, 0.225, 0.225, 0.225, 0.1),
    pipeline_weights=_W_SHAPED_WEIGHTS,
)
TIME_DECAY: Final = AttributionModel("TIME_DECAY", rule="TIME_DECAY")

BUILTIN_MODELS: Final[tuple[AttributionModel, ...]] = (
    FIRST_TOUCH,
    LAST_TOUCH,
    LINEAR,
    U_SHAPED,
    W_SHAPED,
    FULL_PATH,
    TIME_DECAY,
)
BUILTIN_NAMES: Final[frozenset[str]] = frozenset(m.name for m in BUILTIN_MODELS)
# The data-driven model (shared/domain/markov.py) is fitted per tenant rather than defined by
# weights, but shares the models' namespace: no custom model may take its name.
DATA_DRIVEN: Final = "DATA_DRIVEN"


@dataclass(frozen=True, slots=True)
class Conversion:
    """A pipeline (opportunity created) or revenue (deal won) event worth `amount`."""

    opportunity_id: str
    kind: Kind
    at: datetime
    amount: float
    opportunity_created_at: datetime


class Credit(NamedTuple):
    """The share of one conversion that one model gives one touch.

    A tuple, so that the projector can bulk-copy rows as they are.
    """

    opportunity_id: str
    kind: Kind
    model: str
    event_id: str | None
    channel: str | None
    campaign_id: str | None
    content_id: str | None
    message_id: str | None
    fraction: float
    amount: float
    converted_at: datetime


class CreditGroup(NamedTuple):
    key: str
    credit: float
    amount: float


def opportunity_conversions(
    opportunity_id: str,
    *,
    amount: float,
    created_at: datetime,
    won_at: datetime | None = None,
    won_amount: float | None = None,
) -> tuple[Conversion, ...]:
    """The pipeline conversion of an opportunity and, once won, its revenue conversion."""
    pipeline = Conversion(opportunity_id, PIPELINE, created_at, amount, created_at)
    if won_at is None:
        return (pipeline,)
    revenue_amount = amount if won_amount is None else won_amount
    return (pipeline, Conversion(opportunity_id, REVENUE, won_at, revenue_amount, created_at))


class _Path:
    """A lead's marketing touches in (occurred_at, seq) order, prepared once for all of its
    conversions and models."""

    __slots__ = ("first_unstitched", "references", "times", "touches")

    def __init__(self, touches: Iterable[Event]) -> None:
        self.touches = sorted((t for t in touches if t.type in MARKETING_TOUCHES), key=_order)
        self.times = [t.occurred_at for t in self.touches]
        self.references = [
            (t.event_id, t.channel, t.campaign_id, t.content_id, t.message_id) for t in self.touches
        ]
        self.first_unstitched = next(
            (i for i, t in enumerate(self.touches) if not t.stitched), len(self.touches)
        )


def _order(touch: Event) -> tuple[datetime, int]:
    return (touch.occurred_at, touch.seq)


def credit_conversion(
    touches: Iterable[Event], conversion: Conversion, model: AttributionModel
) -> list[Credit]:
    """The credit rows `model` gives the touches of one conversion (other events ignored)."""
    return _credit(_Path(touches), conversion, (model,))


def credit_lead(
    touches: Iterable[Event],
    conversions: Iterable[Conversion],
    custom_models: Iterable[AttributionModel] = (),
) -> list[Credit]:
    """The credit rows of every conversion of a lead under every built-in model and the
    tenant's custom ones."""
    path = _Path(touches)
    models = (*BUILTIN_MODELS, *custom_models)
    rows: list[Credit] = []
    for conversion in conversions:
        rows.extend(_credit(path, conversion, models))
    return rows


_new_tuple = tuple.__new__


def _credit(
    path: _Path, conversion: Conversion, models: Sequence[AttributionModel]
) -> list[Credit]:
    eligible = bisect_right(path.times, conversion.at)
    opp_id, kind, at, amount = (
        conversion.opportunity_id,
        conversion.kind,
        conversion.at,
        conversion.amount,
    )
    if eligible == 0:
        return [
            Credit(opp_id, kind, m.name, None, None, None, None, None, 1.0, amount, at)
            for m in models
        ]
    lead_creation = path.first_unstitched if path.first_unstitched < eligible else 0
    opp_creation = bisect_right(path.times, conversion.opportunity_created_at, 0, eligible) - 1
    positions = (
        0,
        lead_creation,
        opp_creation if opp_creation >= 0 else None,
        eligible - 1 if kind == REVENUE else None,
    )
    rows: list[Credit] = []
    for model in models:
        if model.rule == "LINEAR":
            fractions = [1.0 / eligible] * eligible
        elif model.rule == "TIME_DECAY":
            fractions = _time_decay(path.times, eligible)
        else:
            fractions = _positional(model.weights_for(kind), positions, eligible)
        if model.type_multipliers:
            fractions = _multiplied(fractions, path.touches, model.type_multipliers)
        head = (opp_id, kind, model.name)
        # Rows are the bulk of the work: building them from ready tuples skips the named
        # constructor's argument handling. The fractions cover the eligible touches only.
        rows.extend(
            _new_tuple(Credit, head + reference + (f, amount * f, at))
            for f, reference in zip(fractions, path.references, strict=False)
        )
    return rows


def _positional(weights: Weights, positions: tuple[int | None, ...], n: int) -> list[float]:
    fractions = [0.0] * n
    held: list[int] = []
    rest = weights.rest
    # Only positions the model weights count as held: a U_SHAPED journey's last touch is one
    # of its middle touches.
    for index, weight in zip(positions, weights[:4], strict=True):
        if weight == 0.0:
            continue
        if index is None:
            rest += weight
        else:
            fractions[index] += weight
            held.append(index)
    if rest:
        holders = set(held)
        if len(holders) < n:
            share = rest / (n - len(holders))
            for i in range(n):
                if i not in holders:
                    fractions[i] += share
        else:
            share = rest / len(held)
            for i in held:
                fractions[i] += share
    return fractions


def _time_decay(times: Sequence[datetime], n: int) -> list[float]:
    # Measured from the last eligible touch rather than the conversion: the normalised result
    # is the same, and a journey older than the float range cannot underflow to all zeros.
    last = times[n - 1]
    raw = [2.0 ** (-(last - times[i]).total_seconds() / HALF_LIFE_SECONDS) for i in range(n)]
    total = math.fsum(raw)
    return [r / total for r in raw]


def _multiplied(
    fractions: list[float], touches: Sequence[Event], multipliers: Mapping[str, float]
) -> list[float]:
    scaled = [f * multipliers.get(t.type, 1.0) for f, t in zip(fractions, touches, strict=False)]
    total = math.fsum(scaled)
    if total <= 0.0:
        return fractions
    return [s / total for s in scaled]


def group_credits(rows: Iterable[Credit], group_by: GroupBy) -> list[CreditGroup]:
    """Credit and amount per channel, campaign, content or message, sorted by key.

    Expects the rows of one model and kind; the read model's SQL must agree with it.
    """
    column = {
        "CHANNEL": Credit._fields.index("channel"),
        "CAMPAIGN": Credit._fields.index("campaign_id"),
        "CONTENT": Credit._fields.index("content_id"),
        "MESSAGE": Credit._fields.index("message_id"),
    }.get(group_by)
    if column is None:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BYS)}, not {group_by!r}")
    fractions: dict[str, list[float]] = {}
    amounts: dict[str, list[float]] = {}
    for row in rows:
        if row.event_id is None:
            key = UNATTRIBUTED
        else:
            value = row[column]
            key = value if isinstance(value, str) else NONE_KEY
        if key not in fractions:
            fractions[key] = []
            amounts[key] = []
        fractions[key].append(row.fraction)
        amounts[key].append(row.amount)
    return [
        CreditGroup(key, math.fsum(fractions[key]), math.fsum(amounts[key]))
        for key in sorted(fractions)
    ]


class CustomModelError(ValueError):
    """A custom model definition that cannot be used, with every problem found in it."""

    def __init__(self, errors: Sequence[tuple[str, str]]) -> None:
        self.errors: tuple[tuple[str, str], ...] = tuple(errors)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.errors))


_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
_NAME_MAX = 64
_MODEL_FIELDS = frozenset({"name", "weights", "type_multipliers"})


def parse_custom_model(data: Mapping[str, Any]) -> AttributionModel:
    """A tenant's position model from its stored form
    {"name", "weights": {first, lead_creation, opportunity_creation, closed_won, rest},
    "type_multipliers": {event type: multiplier}}; missing weights are 0.

    Raises CustomModelError with a (field path, message) pair for every problem.
    """
    errors: list[tuple[str, str]] = []
    if not isinstance(data, Mapping):
        raise CustomModelError([("", "must be an object")])
    errors.extend((str(key), "unknown field") for key in data if key not in _MODEL_FIELDS)

    name = data.get("name")
    if not isinstance(name, str) or not name:
        errors.append(("name", "required, a string"))
    elif len(name) > _NAME_MAX or not _NAME.fullmatch(name):
        errors.append(
            ("name", f"must be UPPER_SNAKE_CASE (A-Z, 0-9, _), at most {_NAME_MAX} characters")
        )
    elif name in BUILTIN_NAMES or name == DATA_DRIVEN:
        errors.append(("name", f"{name} is a built-in model"))

    values = dict.fromkeys(WEIGHT_FIELDS, 0.0)
    raw_weights = data.get("weights")
    if not isinstance(raw_weights, Mapping):
        errors.append(("weights", "required, an object of position weights"))
    else:
        weight_errors = len(errors)
        for key, value in raw_weights.items():
            path = f"weights.{key}"
            if key not in values:
                errors.append((path, f"unknown position; one of {', '.join(WEIGHT_FIELDS)}"))
            elif not _is_fraction(value):
                errors.append((path, "must be a number between 0 and 1"))
            else:
                values[key] = float(value)
        total = math.fsum(values.values())
        if len(errors) == weight_errors and abs(total - 1.0) > WEIGHT_TOLERANCE:
            errors.append(("weights", f"must sum to 1, not {total:.12g}"))

    multipliers: dict[str, float] = {}
    raw_multipliers = data.get("type_multipliers")
    if raw_multipliers is None:
        raw_multipliers = {}
    if not isinstance(raw_multipliers, Mapping):
        errors.append(("type_multipliers", "must be an object of event type to multiplier"))
    else:
        for key, value in raw_multipliers.items():
            path = f"type_multipliers.{key}"
            if key not in MARKETING_TOUCHES:
                errors.append((path, "not a marketing touch type"))
            elif not _is_fraction(value):
                errors.append((path, "must be a number between 0 and 1"))
            else:
                multipliers[key] = float(value)

    if errors:
        raise CustomModelError(errors)
    # Weights within the tolerance of 1 are rescaled so that fractions sum to 1 to the ulp.
    total = math.fsum(values.values())
    weights = Weights(*(values[key] / total for key in WEIGHT_FIELDS))
    return AttributionModel(
        str(name), weights=weights, type_multipliers=MappingProxyType(multipliers)
    )


def parse_custom_models(items: Sequence[Mapping[str, Any]]) -> tuple[AttributionModel, ...]:
    """A tenant's list of custom models; paths start with the item's index, as in `[2].name`,
    and a name may be used once."""
    models: list[AttributionModel] = []
    errors: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        try:
            model = parse_custom_model(item)
        except CustomModelError as error:
            errors.extend((_item_path(index, path), message) for path, message in error.errors)
            continue
        if model.name in seen:
            errors.append((f"[{index}].name", f"{model.name} is already defined"))
        seen.add(model.name)
        models.append(model)
    if errors:
        raise CustomModelError(errors)
    return tuple(models)


def _item_path(index: int, path: str) -> str:
    return f"[{index}].{path}" if path else f"[{index}]"


def _is_fraction(value: object) -> bool:
    # Comparisons also refuse NaN, infinities and integers beyond the float range.
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1
