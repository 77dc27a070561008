"""`--tools` and `--mcp`: load the user's tools from a module or a file, and the MCP servers
to take tools from, with one-line errors."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from agent.cli._exit import CliError, ExitCode, one_line
from tools import MCPServer, Tool, Toolbox

__all__ = ["add_mcp_servers", "load_tools"]


def add_mcp_servers(box: Toolbox, specs: Sequence[str], *, quiet: bool) -> Toolbox:
    """Add the `--mcp` servers to `box` (connected when the toolbox starts) and return it.

    With `quiet`, a stdio server's stderr goes nowhere (it would scribble over the console).

    Raises:
        CliError: a spec is neither a command line nor an http(s) URL, or the `mcp` extra is
            missing.
    """
    if specs:
        try:
            import mcp  # noqa: F401  (only to say at once that it is missing)
        except ImportError:
            raise CliError(
                "--mcp needs the MCP SDK: pip install 'voxtral-agent[mcp]'", ExitCode.NOT_INSTALLED
            ) from None
    for spec in specs:
        options: dict[str, Any] = {}
        if quiet and not spec.strip().startswith(("http://", "https://")):
            options["stderr"] = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the server)
        try:
            box.add_server(MCPServer.parse(spec, **options))
        except (TypeError, ValueError) as error:
            raise CliError(f"--mcp {spec}: {_one_line(error)}", ExitCode.USAGE) from None
    return box


def load_tools(spec: str) -> Toolbox:
    """The tools named by `spec`: ``module``, ``module:attribute``, ``path.py[:attribute]``.

    The attribute may be a `Toolbox`, a `Tool`, a list or tuple of tools (plain functions are
    made tools), or a function without parameters returning one of those. Without an
    attribute, every `Tool` defined at the top of the module is taken, in order.

    Raises:
        CliError: the module cannot be imported, the attribute is missing or holds no tools.
    """
    target, _, attribute = spec.partition(":")
    if not target:
        raise _bad(spec, "give a module or a file, such as `myapp.tools:toolbox`")
    module = _import(spec, target)
    origin = target if _is_path(target) else f"module {module.__name__!r}"
    if not attribute:
        found = [value for value in vars(module).values() if isinstance(value, Tool)]
        if not found:
            raise _bad(
                spec,
                f"{origin} defines no @tool functions; decorate them with "
                "@tool, or name a Toolbox or list with MODULE:ATTRIBUTE",
            )
        return Toolbox(found)
    try:
        value = getattr(module, attribute)
    except AttributeError:
        raise _bad(spec, f"{origin} has no attribute {attribute!r}") from None
    return _as_toolbox(spec, value)


def _import(spec: str, target: str) -> ModuleType:
    path = Path(target)
    try:
        if _is_path(target):
            return _import_file(spec, path)
        # A console script does not put the working folder on sys.path; `python -m` does.
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        return importlib.import_module(target)
    except CliError:
        raise
    except ModuleNotFoundError as error:
        if error.name and target.startswith(error.name):
            raise _bad(
                spec,
                f"no module named {error.name!r} (run voxagent from the folder that holds it, "
                "or give a file such as ./my_tools.py)",
            ) from None
        raise _bad(spec, f"importing it failed: {_one_line(error)}") from None
    except Exception as error:
        raise _bad(spec, f"importing it failed: {_one_line(error)}") from None


def _is_path(target: str) -> bool:
    return target.endswith(".py") or os.sep in target or "/" in target


def _import_file(spec: str, path: Path) -> ModuleType:
    if not path.is_file():
        raise _bad(spec, f"no such file: {path}")
    name = f"voxagent_user_tools_{abs(hash(path.resolve()))}"
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise _bad(spec, f"{path} is not a Python module")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module  # dataclasses and pydantic look their module up here
    sys.path.insert(0, str(path.resolve().parent))  # so the file can import its neighbours
    try:
        loader_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _as_toolbox(spec: str, value: Any) -> Toolbox:
    if _is_factory(value):
        try:
            value = value()
        except Exception as error:
            raise _bad(spec, f"calling it failed: {_one_line(error)}") from None
    if isinstance(value, Toolbox):
        return value
    if isinstance(value, Tool):
        return Toolbox([value])
    if isinstance(value, list | tuple) and value:
        try:
            return Toolbox(value)
        except (TypeError, ValueError) as error:
            raise _bad(spec, _one_line(error)) from None
    raise _bad(
        spec,
        f"it is {_describe(value)}, not a Toolbox, a tool, or a non-empty list of tools",
    )


def _is_factory(value: Any) -> bool:
    """A plain function that can be called without arguments (such as `default_tools`)."""
    if not callable(value) or isinstance(value, Tool | Toolbox) or inspect.isclass(value):
        return False
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):
        return False
    return all(
        parameter.default is not inspect.Parameter.empty
        or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        for parameter in signature.parameters.values()
    )


def _describe(value: Any) -> str:
    if isinstance(value, list | tuple) and not value:
        return "an empty list"
    name = type(value).__name__
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"


def _one_line(error: BaseException) -> str:
    text = one_line(str(error))
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _bad(spec: str, reason: str) -> CliError:
    return CliError(f"--tools {spec}: {reason}", ExitCode.BAD_INPUT)
