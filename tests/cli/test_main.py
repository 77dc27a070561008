"""The command line itself: help, usage errors, exit codes, the environment variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agent.cli import ExitCode, main
from agent.cli._parser import build_parser
from tests.cli.conftest import EXAMPLE, one_error_line, run_voxagent

COMMANDS = ["run", "serve", "replay", "transcribe", "ask", "devices", "doctor"]


def test_help_lists_every_command_and_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert f"    {command} " in out
    for code in ExitCode:
        assert f"{code.value:<4} {code.meaning}" in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: voxagent {command}")


@pytest.mark.parametrize("command", ["run", "replay", "transcribe", "ask", "doctor"])
def test_every_server_command_takes_base_url(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    files = [] if command in ("run", "doctor") else ["a.wav", "question"]
    monkeypatch.delenv("VOXAGENT_BASE_URL", raising=False)
    args = build_parser().parse_args([command, *files])
    assert args.base_url == "http://127.0.0.1:8000/v1"
    monkeypatch.setenv("VOXAGENT_BASE_URL", "http://127.0.0.1:9999/v1")
    assert build_parser().parse_args([command, *files]).base_url == "http://127.0.0.1:9999/v1"
    explicit = [command, "--base-url", "http://127.0.0.1:1/v1", *files]
    assert build_parser().parse_args(explicit).base_url == "http://127.0.0.1:1/v1"


@pytest.mark.parametrize(
    "argv",
    [[], ["fly"], ["transcribe"], ["run", "--timeout", "0"], ["run", "--vad", "loud"]],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == ExitCode.USAGE
    assert "usage: voxagent" in capsys.readouterr().err


def test_ask_needs_files_and_a_question(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "What is said?"]) == ExitCode.USAGE
    assert capsys.readouterr().err.startswith("voxagent: error: give one or more audio files")
    six = [f"{index}.wav" for index in range(6)]
    assert main(["ask", *six, "Who speaks?"]) == ExitCode.USAGE
    assert "at most 5 recordings" in capsys.readouterr().err


def test_files_and_options_mix_in_any_order() -> None:
    from agent.cli._parser import parse_command_line

    args = parse_command_line(["ask", "a.wav", "--json", "b.wav", "Why?"])
    assert (args.items, args.json) == (["a.wav", "b.wav", "Why?"], True)
    args = parse_command_line(["replay", "a.wav", "--yes", "b.wav", "--json"])
    assert (args.files, args.yes, args.json) == (["a.wav", "b.wav"], True, True)
    with pytest.raises(SystemExit):
        parse_command_line(["transcribe", "a.wav", "--loud", "b.wav"])


def test_console_script_and_module_entry_points() -> None:
    for command in (["voxagent"], [sys.executable, "-m", "agent.cli"]):
        if command == ["voxagent"]:
            from tests.cli.conftest import voxagent_command

            command = voxagent_command()
        done = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0
        assert done.stdout.startswith("voxagent ")


def test_extra_vllm_flags_after_double_dash() -> None:
    from agent.cli._serve import serve_options

    for command in (["serve"], ["run", "--serve"]):
        args = build_parser().parse_args([*command, "--", "--enforce-eager", "--seed", "1"])
        assert serve_options(args).extra_args == ("--enforce-eager", "--seed", "1")
    run = build_parser().parse_args(["run", "--serve", "--base-url", "http://127.0.0.1:8123/v1"])
    assert serve_options(run, run.base_url).port == 8123


def test_public_names() -> None:
    import agent.cli

    assert agent.cli.__all__ == ["ExitCode", "checked_agent", "main", "run_app"]
    assert [code.value for code in ExitCode] == [0, 1, 2, 3, 4, 5, 6, 130, 143]


@pytest.mark.parametrize("url", ["localhost:8000/v1", "127.0.0.1:8000", "ftp://host/v1"])
def test_a_url_that_is_not_http_is_a_usage_error(url: str, env: dict[str, str]) -> None:
    done = run_voxagent("transcribe", EXAMPLE, "--base-url", url, env=env)
    assert done.code == ExitCode.USAGE
    assert f"{url!r} is not an http(s) URL" in done.stderr
    assert "http://127.0.0.1:8000/v1" in done.error_lines[-1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--replay", EXAMPLE, "stray"], "unexpected argument 'stray'"),
        (["serve", "stray"], "extra vLLM flags go after `--`"),
    ],
)
def test_stray_arguments_are_usage_errors(argv: list[str], message: str, env: dict[str, str]):
    assert message in one_error_line(run_voxagent(*argv, env=env), ExitCode.USAGE)
