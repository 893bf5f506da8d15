"""The CLI end to end: real files, real subprocesses for the console entry point."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer.core
import typer.main

from jornada.__about__ import __version__
from jornada.cli import COMMANDS, SUMMARIES, app, command_of, run
from jornada.cli.map import DISCOVER_SUMMARY
from jornada.model.templates import list_templates


def jornada(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI the way a user does, in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "jornada", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def all_commands() -> list[tuple[str, Any]]:
    """Every command and group of the CLI, by its full name (``"map validate"``)."""
    found: list[tuple[str, Any]] = []

    def walk(prefix: str, command: Any) -> None:
        found.append((prefix, command))
        if isinstance(command, typer.core.TyperGroup):
            for name in command.list_commands(None):  # type: ignore[arg-type]
                walk(f"{prefix} {name}".strip(), command.get_command(None, name))  # type: ignore[arg-type]

    walk("", typer.main.get_command(app))
    return found


def test_version_and_help() -> None:
    result = jornada("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"jornada {__version__}"
    result = jornada("--help")
    assert result.returncode == 0
    for command in ("map", "init", "demo", "serve"):
        assert command in result.stdout


@pytest.mark.parametrize(
    ("name", "command"), all_commands(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_command_has_help_with_an_example(
    name: str, command: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([*name.split(), "--help"]) == 0
    text = capsys.readouterr().out
    assert "Example" in text, f"`jornada {name} --help` shows no example"
    if not isinstance(command, typer.core.TyperGroup):
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                assert param.help, f"option {param.opts} of `jornada {name}` has no help"


def test_the_command_list_imports_no_command(tmp_path: Path) -> None:
    """``jornada --help`` lists every command without importing the library behind
    them (it took 2 s), and each command's listed summary is its own help's first
    paragraph (``SUMMARIES`` is written by hand: this keeps it true)."""
    probe = (
        "import sys; from jornada.cli import run; code = run(['--help']); "
        "print(code, sorted(m for m in ('pandas', 'ibis', 'duckdb', 'sklearn', 'plotly') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.stdout.strip().splitlines()[-1] == "0 []", result.stderr
    for name, listed in SUMMARIES.items():
        command = command_of(name)
        own = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
        assert listed == own.strip(), f"SUMMARIES[{name!r}] is not `jornada {name}`'s help"
    assert set(SUMMARIES) == set(COMMANDS)
    assert typer.main.get_command(app).get_command(None, "no-such") is None  # type: ignore[attr-defined]
    discover = command_of("map").get_command(None, "discover")
    own = inspect.cleandoc(discover.help or "").split("\n\n")[0]
    assert own.strip() == DISCOVER_SUMMARY, "DISCOVER_SUMMARY is not `map discover`'s help"


def test_map_commands_start_without_the_analysis_library(tmp_path: Path) -> None:
    """``jornada map validate`` (run by hand and in hooks) imports the map model only:
    with the analyses' library it took 2.1 s to start."""
    shop = tmp_path / "shop.yaml"
    assert run(["map", "new", "--template", "b2c-ecommerce", "-o", str(shop)]) == 0
    probe = (
        f"import sys; from jornada.cli import run; code = run(['map', 'validate', {str(shop)!r}]); "
        "print(code, sorted(m for m in ('pandas', 'ibis', 'duckdb', 'sklearn', 'plotly') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.stdout.strip().splitlines()[-1] == "0 []", result.stderr


def test_templates_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["map", "templates", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    names = {t["name"] for t in listed}
    assert {"b2c-ecommerce", "b2b-saas", "support-experience", "omnichannel-retail"} <= names
    assert run(["map", "templates", "--lang", "pt"]) == 0
    assert "b2b-saas" in capsys.readouterr().out


def test_new_validate_render_diff_round(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shop = tmp_path / "shop.yaml"
    assert run(["map", "new", "--template", "b2c-ecommerce", "--lang", "pt", "-o", str(shop)]) == 0
    assert "language: pt-BR" in shop.read_text("utf-8")
    assert run(["map", "new", "--template", "b2c-ecommerce", "-o", str(shop)]) == 2, (
        "must not overwrite"
    )
    capsys.readouterr()

    assert run(["map", "validate", str(shop)]) == 0
    assert "valid (" in capsys.readouterr().out

    changed = tmp_path / "changed.yaml"
    text = shop.read_text("utf-8")
    first_score = text.index("score: ")
    old_score = text[first_score : text.index("\n", first_score)]
    new_score = "score: -2" if old_score != "score: -2" else "score: 2"
    changed.write_text(
        text[:first_score] + new_score + text[first_score + len(old_score) :], "utf-8"
    )
    assert run(["map", "diff", str(shop), str(changed), "--json"]) == 0
    [change] = json.loads(capsys.readouterr().out)["changes"]
    assert change["kind"] == "emotion_changed"
    assert change["after"]["score"] == int(new_score.split()[-1])

    for suffix in (".html", ".svg", ".mmd"):
        out = tmp_path / f"shop{suffix}"
        assert run(["map", "render", str(shop), "-o", str(out)]) == 0
        assert out.stat().st_size > 500
    assert (tmp_path / "shop.mmd").read_text("utf-8").startswith("journey")
    assert run(["map", "render", str(shop), "-o", str(tmp_path / "shop.docx")]) == 1
    assert ".pdf" in capsys.readouterr().err


def test_validate_reports_problems_with_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: bad\ntitle: Bad\nstages:\n  - id: s\n    name: S\n    touchpoints:\n"
        "      - id: t\n        name: T\n        emotion: {score: 7}\n",
        "utf-8",
    )
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(bytes(range(256)))
    result = jornada("map", "validate", bad, junk)
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(f"{bad}:9: stages[0].touchpoints[0].emotion.score: ")
    assert lines[1].startswith(f"{junk}:")
    assert "Traceback" not in result.stdout + result.stderr
    result = jornada("map", "validate", bad, "--json")
    [report] = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["problems"][0]["line"] == 9


def test_errors_are_one_line_not_tracebacks(tmp_path: Path) -> None:
    for args in (
        ("map", "render", tmp_path / "missing.yaml", "-o", tmp_path / "x.html"),
        ("map", "new", "--template", "nope"),
        ("map", "diff", tmp_path / "a.yaml", tmp_path / "b.yaml"),
        ("serve", tmp_path / "not-a-workspace"),
    ):
        result = jornada(*args)
        assert result.returncode == 1, args
        assert result.stderr.startswith("error: "), result.stderr
        assert "Traceback" not in result.stderr
    assert "b2c-ecommerce" in jornada("map", "new", "--template", "nope").stderr


def test_schema_is_json_schema_that_templates_satisfy(tmp_path: Path) -> None:
    out = tmp_path / "journey.schema.json"
    assert run(["map", "schema", "-o", str(out)]) == 0
    schema = json.loads(out.read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    from jornada.model.io import journey_to_data
    from jornada.model.templates import load_template

    for info in list_templates():
        data = json.loads(json.dumps(journey_to_data(load_template(info.name, "es")), default=str))
        assert not list(validator.iter_errors(data)), info.name
    broken = {
        "id": "x",
        "title": "X",
        "stages": [
            {
                "id": "s",
                "name": "S",
                "touchpoints": [{"id": "t", "name": "T", "emotion": {"score": 3}}],
            }
        ],
    }
    assert list(validator.iter_errors(broken))


def test_init_and_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["init", str(tmp_path / "ws"), "--name", "Loja", "--lang", "pt"]) == 0
    assert 'language = "pt-BR"' in (tmp_path / "ws" / "jornada.toml").read_text("utf-8")
    assert run(["init", str(tmp_path / "ws")]) == 1
    assert "already a jornada workspace" in capsys.readouterr().err
    assert run(["demo", str(tmp_path / "demo"), "--customers", "0", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["maps"] == ["b2c-ecommerce", "support-experience"]
    assert run(["map", "validate", *map(str, sorted((tmp_path / "demo" / "maps").iterdir()))]) == 0
