"""`voxagent tools`: every tool the model would be offered, where it comes from, whether it
needs approval, its schema and what it costs of the context on every request."""

from __future__ import annotations

import argparse
import json
from typing import Any

from agent.cli._exit import ExitCode
from agent.cli._tools_loader import add_mcp_servers, load_tools
from agent.cli._words import count
from agent.client import VoxtralClient
from agent.errors import VoxagentError
from tools import Tool, Toolbox
from tools._tokens import schema_tokens
from tools.builtin import TimerService, default_tools

__all__ = ["tools_command"]

_CONTEXT_TIMEOUT_S = 5.0
"""Seconds to wait for the server at --base-url to say its context length (it may be down)."""


async def tools_command(args: argparse.Namespace) -> ExitCode:
    """List the tools (`--tools`, else the built-in ones, and each `--mcp` server's).

    The exit status is 1 when an MCP server did not answer (its tools are then missing).
    """
    if args.tools:
        box = load_tools(args.tools)
    else:
        box = Toolbox(default_tools(notes=args.notes_db, timers=TimerService()))
    add_mcp_servers(box, args.mcp, quiet=not getattr(args, "verbose", False))
    try:
        await box.start()
        report = _report(box, await _context_length(args))
    finally:
        await box.aclose()
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        _print(report)
    missing = [server for server in report["servers"] if not server["connected"]]
    return ExitCode.FAILURE if missing else ExitCode.OK


async def _context_length(args: argparse.Namespace) -> dict[str, Any] | None:
    """The server's model and context length, or None when no server answers there."""
    client = VoxtralClient(args.base_url, timeout=_CONTEXT_TIMEOUT_S, max_retries=0)
    try:
        info = await client.server_info(args.model)
    except VoxagentError:
        return None
    finally:
        await client.aclose()
    return {"base_url": info.base_url, "model": info.model, "max_model_len": info.max_model_len}


def _report(box: Toolbox, server: dict[str, Any] | None) -> dict[str, Any]:
    tools = [_describe(member) for member in box]
    total = schema_tokens(box.schemas())
    limit = server["max_model_len"] if server else None
    return {
        "tools": tools,
        "total_tokens": total,
        "server": server,
        "share_of_context": round(total / limit, 4) if limit else None,
        "servers": [
            {
                "name": mcp.name,
                "connected": mcp.connected,
                "error": mcp.error,
                "tools": sum(1 for member in box if member.source == mcp.name),
                "left_out": dict(mcp.left_out),
            }
            for mcp in box.servers
        ],
    }


def _describe(member: Tool[..., Any]) -> dict[str, Any]:
    return {
        "name": member.name,
        "source": f"mcp:{member.source}" if member.source else "python",
        "needs_approval": member.requires_approval,
        "tokens": schema_tokens([member.schema]),
        "description": member.description,
        "parameters": member.parameters,
    }


def _print(report: dict[str, Any]) -> None:
    for tool in report["tools"]:
        approval = "asks approval" if tool["needs_approval"] else "runs freely"
        print(f"{tool['name']}  [{tool['source']}, {approval}, ~{tool['tokens']} tokens]")
        if tool["description"]:
            print(f"    {tool['description'].splitlines()[0]}")
        print(f"    {json.dumps(tool['parameters'], ensure_ascii=False, separators=(',', ':'))}")
    for server in report["servers"]:
        if not server["connected"]:
            print(f"MCP server {server['name']}: not connected ({server['error']})")
        for name, why in server["left_out"].items():
            print(f"MCP server {server['name']}: {name} left out: {why}")
    total = f"{count(len(report['tools']), 'tool')}: ~{report['total_tokens']} tokens per request"
    context = report["server"]
    if context and context["max_model_len"]:
        share = report["share_of_context"] * 100
        total += (
            f", {share:.1f}% of the {context['max_model_len']}-token context of "
            f"{context['model']} at {context['base_url']}"
        )
    else:
        total += " (no server answered at --base-url to compare with its context)"
    print(total)
