"""LLM-as-judge: rubric grading and pairwise comparison in both presentation orders.

The judge is any model :func:`workbench.models.acomplete` serves (a scripted judge in
tests, ``local/smollm2`` offline, any litellm model with a key), passed in as an
argument. Its reply must be strict JSON; an unparsable reply is sent back once with
the parse error, and a second failure raises :class:`JudgeError`. Calls are cached in
SQLite (:class:`JudgeCache`); a cached call costs 0 and the verdict says so.
"""

from __future__ import annotations

import asyncio
import html
import json
import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from workbench._util import run_sync
from workbench.errors import ConfigError, JudgeError
from workbench.evals._judge_cache import JudgeCache, judge_request_key
from workbench.models import acomplete

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

__all__ = [
    "JudgeVerdict",
    "PairwiseJudge",
    "PairwiseOrderVerdict",
    "PairwiseVerdict",
    "RubricJudge",
    "pairwise_frame",
    "position_consistency",
]

T = TypeVar("T")
CacheChoice = JudgeCache | None | Literal["default"]

_RUBRIC_SYSTEM = (
    "You are a strict, impartial grader. Grade the RESPONSE against the RUBRIC "
    "(and the REFERENCE ANSWER when one is given). Reply with only one JSON object, "
    'no prose and no code fence: {"score": <integer 1 to 5>, "reason": "<one or two '
    'sentences>"}. 5 means the response fully meets the rubric, 1 that it does not meet it.'
)
_PAIRWISE_SYSTEM = (
    "You are a strict, impartial judge. Two responses answer the same INPUT. Decide "
    "which one better meets the RUBRIC; the order they are shown in must not matter. "
    "Reply with only one JSON object, no prose and no code fence: "
    '{"winner": "1" or "2" or "tie", "reason": "<one or two sentences>"}.'
)
# Two worked examples. By default they are text in the system message, so a judge's first
# call holds no assistant message (a list-scripted judge answers it with turn 0, and the
# repair with turn 1). ``few_shot_turns=True`` sends them as prior chat turns instead:
# small local models (SmolLM2) copy the JSON format from turns, rarely from text.
_RUBRIC_SHOTS = (
    (
        "RUBRIC:\nThe answer gives the right number.\n\nINPUT:\nWhat is 2 + 2?\n\nRESPONSE:\n5",
        '{"score": 1, "reason": "The right number is 4, not 5."}',
    ),
    (
        "RUBRIC:\nThe answer gives the right number.\n\nINPUT:\nWhat is 3 + 3?\n\nRESPONSE:\n6",
        '{"score": 5, "reason": "6 is the right number."}',
    ),
)
_PAIRWISE_SHOTS = (
    (
        "RUBRIC:\nThe answer gives the right number.\n\nINPUT:\nWhat is 2 + 2?\n\n"
        "RESPONSE 1:\n5\n\nRESPONSE 2:\n4",
        '{"winner": "2", "reason": "Response 2 gives the right number, 4."}',
    ),
    (
        "RUBRIC:\nThe answer gives the right number.\n\nINPUT:\nWhat is 3 + 3?\n\n"
        "RESPONSE 1:\n6\n\nRESPONSE 2:\nsix",
        '{"winner": "tie", "reason": "Both give the right number."}',
    ),
)
Shots = tuple[tuple[str, str], ...]
_REPAIR = (
    "Your reply could not be used: {error}. Reply again with only the JSON object "
    "described above and nothing else."
)


class _Invalid(Exception):
    """A reply that is not the JSON asked for; the message is sent back to the model."""


class JudgeVerdict(BaseModel):
    """A rubric judge's verdict on one output."""

    model_config = ConfigDict(frozen=True)

    score: float
    """Score normalised to 0..1 (the judge answers on a 1-5 scale: ``(s - 1) / 4``)."""
    passed: bool
    """``score >= pass_threshold``."""
    reason: str
    """The judge's own explanation."""
    cost_usd: float
    """USD spent on this verdict (0 when every call was a cache hit)."""
    cached: bool
    """True when every call behind the verdict came from the cache."""
    model: str
    """The judge model."""


class PairwiseOrderVerdict(BaseModel):
    """The judge's answer for one presentation order, mapped back to ``a`` and ``b``."""

    model_config = ConfigDict(frozen=True)

    order: Literal["ab", "ba"]
    """``"ab"``: output A was shown first; ``"ba"``: output B was shown first."""
    winner: Literal["a", "b", "tie"]
    """The winner, as an output (not a position)."""
    reason: str
    """The judge's explanation."""
    cost_usd: float
    """USD spent on this order."""
    cached: bool
    """True when it came from the cache."""


class PairwiseVerdict(BaseModel):
    """A pairwise comparison run in both orders."""

    model_config = ConfigDict(frozen=True)

    winner: Literal["a", "b", "tie"]
    """The agreed winner; ``"tie"`` when the two orders disagree."""
    consistent: bool
    """Whether both presentation orders named the same winner (no position bias seen)."""
    verdicts: tuple[PairwiseOrderVerdict, PairwiseOrderVerdict]
    """(first_order, swapped_order): A shown first, then B shown first."""
    cost_usd: float
    """USD of both orders."""
    model: str
    """The judge model."""


class _Judge:
    """What both judges share: the model call with cache, cost and one repair."""

    def __init__(
        self,
        model: str,
        rubric: str,
        *,
        cache: CacheChoice,
        timeout_s: float,
        max_tokens: int | None,
        few_shot_turns: bool,
    ) -> None:
        if not model:
            raise ConfigError("a judge needs a model name")
        if not rubric.strip():
            raise ConfigError("a judge needs a non-empty rubric")
        self.model = model
        """The judge model, e.g. ``"scripted/judge"`` or ``"local/smollm2"``."""
        self.rubric = rubric
        """What a good output is, in words."""
        self.cache: JudgeCache | None = JudgeCache() if cache == "default" else cache
        """The reply cache, or ``None`` for no caching."""
        self.timeout_s = timeout_s
        """Timeout of one judge call."""
        self.max_tokens = max_tokens
        """Largest judge reply, when set."""
        self.few_shot_turns = few_shot_turns
        """Send the worked examples as prior chat turns instead of system-message text."""

    def _messages(self, system: str, shots: Shots, user: str) -> list[dict[str, Any]]:
        if not self.few_shot_turns:
            examples = "\n\n".join(f"{q}\n\nReply: {a}" for q, a in shots)
            return [
                {"role": "system", "content": f"{system}\n\nExamples:\n\n{examples}"},
                {"role": "user", "content": user},
            ]
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
        for question, answer in shots:
            messages.append({"role": "user", "content": question})
            messages.append({"role": "assistant", "content": answer})
        messages.append({"role": "user", "content": user})
        return messages

    async def _ask(
        self, messages: list[dict[str, Any]], parse: Callable[[str], T]
    ) -> tuple[T, float, bool]:
        """Ask, parse, repair once. Returns (parsed, cost, all calls cached)."""
        text, cost, cached = await self._call(messages)
        try:
            return parse(text), cost, cached
        except _Invalid as exc:
            error = str(exc)
        repair = [
            *messages,
            {"role": "assistant", "content": text},
            {"role": "user", "content": _REPAIR.format(error=error)},
        ]
        text2, cost2, cached2 = await self._call(repair)
        try:
            return parse(text2), cost + cost2, cached and cached2
        except _Invalid as exc:
            raise JudgeError(
                f"judge {self.model} gave no parsable verdict after one repair: {exc}; "
                f"first reply {_clip(text)!r}, repaired reply {_clip(text2)!r}"
            ) from None

    async def _call(self, messages: list[dict[str, Any]]) -> tuple[str, float, bool]:
        params = {"temperature": 0.0, "max_tokens": self.max_tokens}
        key = judge_request_key(self.model, messages, params)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return hit.text, 0.0, True
        reply = await acomplete(
            self.model,
            messages,
            timeout_s=self.timeout_s,
            max_tokens=self.max_tokens,
            temperature=0.0,
        )
        text = reply.text or ""
        if self.cache is not None:
            self.cache.put(key, model=self.model, text=text, cost_usd=reply.cost_usd)
        return text, reply.cost_usd, False


class RubricJudge(_Judge):
    """Grades one output against a rubric on a 1-5 scale, normalised to 0..1.

    Args:
        model: The judge model (any name :func:`workbench.models.acomplete` serves).
        rubric: What a good output is, in words.
        pass_threshold: Normalised score at or above which the output passes (0.75 is
            "4 of 5 or better").
        cache: A :class:`JudgeCache`, ``None`` for no caching, or ``"default"`` for the
            cache at ``get_settings().home / "judge-cache.sqlite"``.
        timeout_s: Timeout of one judge call.
        max_tokens: Largest judge reply, when set.
        few_shot_turns: Send the two worked examples as prior chat turns (helps small
            local models keep to the JSON format; a list-scripted judge then sees two
            assistant messages before its first turn).

    Raises:
        ConfigError: No model, an empty rubric, or a threshold outside 0..1.
    """

    def __init__(
        self,
        model: str,
        rubric: str,
        *,
        pass_threshold: float,
        cache: CacheChoice = "default",
        timeout_s: float = 60.0,
        max_tokens: int | None = None,
        few_shot_turns: bool = False,
    ) -> None:
        super().__init__(
            model,
            rubric,
            cache=cache,
            timeout_s=timeout_s,
            max_tokens=max_tokens,
            few_shot_turns=few_shot_turns,
        )
        if not 0.0 <= pass_threshold <= 1.0:
            raise ConfigError(f"pass_threshold is on the 0..1 scale, got {pass_threshold}")
        self.pass_threshold = pass_threshold
        """Normalised score at or above which an output passes."""

    def messages(self, *, input: str, output: str, target: str | None) -> list[dict[str, Any]]:
        """The exact messages the judge receives for one output."""
        parts = [f"RUBRIC:\n{self.rubric}", f"INPUT:\n{input}"]
        if target is not None:
            parts.append(f"REFERENCE ANSWER:\n{target}")
        parts.append(f"RESPONSE:\n{output}")
        return self._messages(_RUBRIC_SYSTEM, _RUBRIC_SHOTS, "\n\n".join(parts))

    async def agrade(self, *, input: str, output: str, target: str | None = None) -> JudgeVerdict:
        """Grade ``output`` for ``input`` (against ``target`` when given).

        Returns:
            The verdict with the normalised score, pass, reason and cost.

        Raises:
            JudgeError: No parsable verdict after one repair attempt.
            ModelError: The judge call itself failed (retryable ones stay retryable).
        """
        (raw, reason), cost, cached = await self._ask(
            self.messages(input=input, output=output, target=target), _parse_rubric
        )
        score = (raw - 1.0) / 4.0
        return JudgeVerdict(
            score=score,
            passed=score >= self.pass_threshold,
            reason=reason,
            cost_usd=cost,
            cached=cached,
            model=self.model,
        )

    def grade(self, *, input: str, output: str, target: str | None = None) -> JudgeVerdict:
        """Blocking :meth:`agrade`; works inside a running event loop (Jupyter) too."""
        return run_sync(self.agrade(input=input, output=output, target=target))


class PairwiseJudge(_Judge):
    """Compares two outputs for one input, in both presentation orders.

    Args:
        model: The judge model.
        rubric: What makes one output better than another.
        cache: A :class:`JudgeCache`, ``None``, or ``"default"`` (see :class:`RubricJudge`).
        timeout_s: Timeout of one judge call.
        max_tokens: Largest judge reply, when set.
        few_shot_turns: Send the worked examples as prior chat turns (see RubricJudge).
    """

    def __init__(
        self,
        model: str,
        rubric: str,
        *,
        cache: CacheChoice = "default",
        timeout_s: float = 60.0,
        max_tokens: int | None = None,
        few_shot_turns: bool = False,
    ) -> None:
        super().__init__(
            model,
            rubric,
            cache=cache,
            timeout_s=timeout_s,
            max_tokens=max_tokens,
            few_shot_turns=few_shot_turns,
        )

    def messages(self, *, input: str, first: str, second: str) -> list[dict[str, Any]]:
        """The exact messages for one presentation order (``first`` shown as response 1)."""
        user = (
            f"RUBRIC:\n{self.rubric}\n\nINPUT:\n{input}\n\n"
            f"RESPONSE 1:\n{first}\n\nRESPONSE 2:\n{second}"
        )
        return self._messages(_PAIRWISE_SYSTEM, _PAIRWISE_SHOTS, user)

    async def acompare(self, *, input: str, output_a: str, output_b: str) -> PairwiseVerdict:
        """Compare ``output_a`` with ``output_b``: A first, then B first (concurrently).

        Returns:
            The winner when both orders agree (else ``"tie"``), whether they agreed,
            both per-order verdicts and the cost.

        Raises:
            JudgeError: An order gave no parsable verdict after one repair attempt.
            ModelError: A judge call itself failed.
        """
        first, swapped = await asyncio.gather(
            self._one_order(input, output_a, output_b, "ab"),
            self._one_order(input, output_b, output_a, "ba"),
        )
        consistent = first.winner == swapped.winner
        return PairwiseVerdict(
            winner=first.winner if consistent else "tie",
            consistent=consistent,
            verdicts=(first, swapped),
            cost_usd=first.cost_usd + swapped.cost_usd,
            model=self.model,
        )

    def compare(self, *, input: str, output_a: str, output_b: str) -> PairwiseVerdict:
        """Blocking :meth:`acompare`; works inside a running event loop (Jupyter) too."""
        return run_sync(self.acompare(input=input, output_a=output_a, output_b=output_b))

    async def _one_order(
        self, input: str, first: str, second: str, order: Literal["ab", "ba"]
    ) -> PairwiseOrderVerdict:
        (position, reason), cost, cached = await self._ask(
            self.messages(input=input, first=first, second=second), _parse_pairwise
        )
        winner: Literal["a", "b", "tie"]
        if position == "tie":
            winner = "tie"
        elif (position == "1") == (order == "ab"):
            winner = "a"
        else:
            winner = "b"
        return PairwiseOrderVerdict(
            order=order, winner=winner, reason=reason, cost_usd=cost, cached=cached
        )


def position_consistency(verdicts: Iterable[PairwiseVerdict]) -> float:
    """Share of pairwise verdicts whose two presentation orders agreed (NaN for none).

    A judge without position bias scores near 1; one that always prefers the first
    (or second) response scores near 0 on pairs that differ.
    """
    flags = [v.consistent for v in verdicts]
    return sum(flags) / len(flags) if flags else math.nan


def pairwise_frame(results: Mapping[str, PairwiseVerdict]) -> pd.DataFrame:
    """Pairwise verdicts by sample id as the DataFrame :func:`write_report` takes.

    Columns: ``sample_id, winner, consistent, first_order_winner,
    swapped_order_winner, cost_usd``.
    """
    import pandas as pd

    rows = [
        {
            "sample_id": sample_id,
            "winner": v.winner,
            "consistent": v.consistent,
            "first_order_winner": v.verdicts[0].winner,
            "swapped_order_winner": v.verdicts[1].winner,
            "cost_usd": v.cost_usd,
        }
        for sample_id, v in results.items()
    ]
    columns = [
        "sample_id",
        "winner",
        "consistent",
        "first_order_winner",
        "swapped_order_winner",
        "cost_usd",
    ]
    return pd.DataFrame(rows, columns=columns)


def _parse_json_object(text: str) -> dict[str, Any]:
    stripped = text.strip()
    for _ in range(3):
        # Some OpenAI-compatible servers (llama.cpp's among them) HTML-escape the quotes,
        # and a model that copies its own escaped reply escapes it again.
        if "&#" not in stripped and "&quot;" not in stripped and "&amp;" not in stripped:
            break
        stripped = html.unescape(stripped)
    if stripped.startswith("```"):
        # A fenced block is the commonest deviation; take what is inside it.
        stripped = stripped.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(stripped)
    except ValueError:
        start, end = stripped.find("{"), stripped.rfind("}")
        if start < 0 or end <= start:
            raise _Invalid("it is not a JSON object") from None
        try:
            value = json.loads(stripped[start : end + 1])
        except ValueError as exc:
            raise _Invalid(f"it is not valid JSON ({exc.args[0]})") from None
    if not isinstance(value, dict):
        raise _Invalid(f"it is JSON {type(value).__name__}, not an object")
    return value


def _reason_of(value: dict[str, Any]) -> str:
    reason = value.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise _Invalid('"reason" must be a non-empty string')
    return reason.strip()


def _parse_rubric(text: str) -> tuple[float, str]:
    value = _parse_json_object(text)
    score = value.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise _Invalid(f'"score" must be a number from 1 to 5, got {score!r}')
    if not 1 <= score <= 5:
        raise _Invalid(f'"score" must be from 1 to 5, got {score}')
    return float(score), _reason_of(value)


def _parse_pairwise(text: str) -> tuple[str, str]:
    value = _parse_json_object(text)
    winner = value.get("winner")
    if isinstance(winner, int) and not isinstance(winner, bool):
        winner = str(winner)
    if not isinstance(winner, str) or winner.strip().lower() not in ("1", "2", "tie"):
        raise _Invalid(f'"winner" must be "1", "2" or "tie", got {winner!r}')
    return winner.strip().lower(), _reason_of(value)


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
