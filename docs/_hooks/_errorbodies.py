"""Every error body a fake can send, made by calling the fake's own error builders.

Each fake keeps its error answers in ``fake_providers/<protocol>/_errors.py`` as pure
functions (a neutral cause in, an error object with its HTTP status and body out). This
module calls every such function it can fill in (a :class:`Reason`, a ``CodeProblem``
or a ``RefreshProblem`` for each member; ``v2`` both ways; a text parameter as a
``<name>`` placeholder; a Facebook-style ``message`` from the module's own
``token_message``) and serialises the result as the fake's HTTP layer does, so the
provider pages list the bodies exactly as the fakes write them.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import itertools
import json
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

#: Run-specific values in bodies (Facebook's fbtrace_id, TikTok's log_id).
PLACEHOLDER = "…"
#: When a sample expired token expired (Facebook writes it in its message).
SINCE = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Body:
    """One error answer of a fake: the builder and cause, HTTP status and body."""

    builder: str
    cause: str
    status: int | None
    body: str


def _choices(name: str, annotation: Any, module: Any) -> list[Any] | None:
    """The values to try for one required parameter, or None when we cannot guess."""
    from fake_providers.core import CodeProblem, Reason
    from fake_providers.core._errors import RefreshProblem

    text = str(annotation)
    found: list[Any] = []
    for kind in (Reason, RefreshProblem, CodeProblem):
        if kind.__name__ in text:
            found += list(kind)
    if found:
        return found
    if annotation is bool or text == "bool":
        return [False, True]
    if annotation is str or text == "str":
        return [f"<{name}>"]
    return None


def _calls(function: Callable[..., Any], module: Any) -> Iterator[tuple[str, Any]]:
    """``(cause, result)`` for every way we can call ``function``."""
    signature = inspect.signature(function)
    hints = typing.get_type_hints(function)
    names: list[str] = []
    options: list[list[Any]] = []
    for param in signature.parameters.values():
        if param.default is not inspect.Parameter.empty:
            continue
        if param.name == "message" and hasattr(module, "token_message"):
            continue  # filled in from the reason below
        values = _choices(param.name, hints.get(param.name, param.annotation), module)
        if values is None:
            return
        names.append(param.name)
        options.append(values)
    for combo in itertools.product(*options):
        kwargs = dict(zip(names, combo, strict=True))
        if "message" in signature.parameters and "message" not in kwargs:
            reason = kwargs.get("reason")
            if reason is None:
                return
            kwargs["message"] = _token_message(module, reason)
        cause = ", ".join(
            f"{k}={v.value if isinstance(v, enum.Enum) else v}"
            for k, v in kwargs.items()
            if k != "message"
        )
        try:
            yield cause, function(**kwargs)
        except Exception:  # a combination the builder refuses is no answer of the fake
            continue


def _token_message(module: Any, reason: Any) -> str:
    """The module's own ``token_message(reason, ...)``, its optional details filled in
    (an app id placeholder; for an expired token, an expiry a day before now)."""
    function = module.token_message
    params = inspect.signature(function).parameters
    kwargs: dict[str, Any] = {}
    if "app_id" in params:
        kwargs["app_id"] = "<app_id>"
    if "since" in params and "now" in params:
        kwargs["since"] = SINCE
        kwargs["now"] = SINCE + timedelta(days=1)
    return str(function(reason, **kwargs))


def _serialise(error: Any) -> tuple[int | None, str] | None:
    """The HTTP status and body text of an error object, as the fake writes them."""
    status = getattr(error, "status", None)
    body: Any = getattr(error, "body", None)
    if callable(body):
        needed = [
            p
            for p in inspect.signature(body).parameters.values()
            if p.default is inspect.Parameter.empty
        ]
        body = body(*[PLACEHOLDER for _ in needed])
    elif body is None and hasattr(error, "text"):
        body = error.text
    elif body is None and dataclasses.is_dataclass(error):
        body = {f.name: getattr(error, f.name) for f in dataclasses.fields(error)}
    if body is None:
        return None
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return (int(status) if isinstance(status, int) else None), text


def _builders(protocol: str) -> tuple[Any, list[tuple[str, Callable[..., Any]]]]:
    """The fake's ``_errors`` module and its public functions (none for no such fake)."""
    try:
        module = importlib.import_module(f"fake_providers.{protocol}._errors")
    except ModuleNotFoundError:
        return None, []
    return module, [
        (name, function)
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if not name.startswith("_") and function.__module__ == module.__name__
    ]


def unfilled(protocol: str) -> list[str]:
    """The fake's error builders this page cannot call: a parameter whose value cannot
    be guessed (a status or code number, an error pair); their bodies come from the
    request, and the scenario-library table shows those the runs met."""
    module, functions = _builders(protocol)
    left = []
    for name, function in functions:
        returns = str(typing.get_type_hints(function).get("return", ""))
        if ("Error" in returns or "Exception" in returns) and not any(
            True for _ in _calls(function, module)
        ):
            left.append(name)
    return left


def bodies(protocol: str) -> list[Body]:
    """Every error body of ``fake_providers.<protocol>._errors`` we can build."""
    module, functions = _builders(protocol)
    found: dict[tuple[int | None, str], Body] = {}
    for name, function in functions:
        for cause, result in _calls(function, module):
            if not isinstance(result, BaseException):
                continue
            made = _serialise(result)
            if made is None:
                continue
            status, text = made
            key = (status, text)
            if key in found:
                old = found[key]
                known = old.builder.split(", ")
                builders = old.builder if name in known else f"{old.builder}, {name}"
                causes = "; ".join(c for c in (old.cause, cause) if c)
                found[key] = Body(builders, causes, status, text)
            else:
                found[key] = Body(name, cause, status, text)
    return sorted(found.values(), key=lambda b: (b.builder, b.status or 0, b.body))
