"""The entry point as users meet it: a real console script, real symlinks, real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hyperkube.cli.main import COMPONENTS, component_names

PROGRAM = Path(sys.executable).with_name("hyperkube")


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kwargs)


def test_console_script_is_installed():
    assert PROGRAM.exists(), f"{PROGRAM} missing: install the project with scripts/test"


def test_dispatch_through_a_symlink(tmp_path):
    link = tmp_path / "kubectl"
    link.symlink_to(PROGRAM)
    result = run([str(link), "--help"])
    assert result.returncode == 0, result.stderr
    assert "kubectl controls the Kubernetes cluster manager" in result.stdout
    assert result.stdout.startswith("Usage: kubectl")


def test_dispatch_through_an_alias_symlink(tmp_path):
    link = tmp_path / "kube-apiserver"
    link.symlink_to(PROGRAM)
    result = run([str(link), "--help"])
    assert result.returncode == 0, result.stderr
    assert "Usage: kube-apiserver" in result.stdout


def test_dispatch_through_the_first_argument():
    result = run([str(PROGRAM), "scheduler", "--help"])
    assert result.returncode == 0, result.stderr
    assert "Usage: hyperkube scheduler" in result.stdout


def test_python_dash_m_dispatches_too():
    result = run([sys.executable, "-m", "hyperkube", "proxy", "--help"])
    assert result.returncode == 0, result.stderr
    assert "Usage: hyperkube proxy" in result.stdout


@pytest.mark.parametrize("argv", [[], ["--help"], ["-h"]])
def test_bare_program_lists_every_component(argv):
    result = run([str(PROGRAM), *argv])
    assert result.returncode == 0
    section = result.stdout.split("Components:\n", 1)[1].split("\n\n", 1)[0]
    listed = [line.split()[0] for line in section.splitlines()]
    assert listed == [c.name for c in COMPONENTS]


def test_unknown_component_exits_2_and_names_the_choices():
    result = run([str(PROGRAM), "nosuch"])
    assert result.returncode == 2
    assert result.stdout == ""
    first_line = result.stderr.splitlines()[0]
    assert first_line.startswith('unknown component "nosuch"; one of: ')
    for name in component_names():
        assert name in first_line


def test_make_symlinks_twice_changes_nothing_the_second_time(tmp_path):
    target = tmp_path / "bin"
    first = run([str(PROGRAM), "--make-symlinks", str(target)])
    assert first.returncode == 0, first.stderr
    links = sorted(os.listdir(target))
    assert links == sorted(component_names())
    for name in links:
        assert os.path.realpath(target / name) == os.path.realpath(PROGRAM)
    before = {name: os.lstat(target / name).st_mtime_ns for name in links}

    second = run([str(PROGRAM), "--make-symlinks", str(target)])
    assert second.returncode == 0, second.stderr
    assert f"0 created, {len(links)} skipped" in second.stdout
    assert {name: os.lstat(target / name).st_mtime_ns for name in links} == before

    made = run([str(target / "kubectl"), "--help"])
    assert made.returncode == 0 and "kubectl controls the Kubernetes cluster manager" in made.stdout


def test_make_symlinks_keeps_a_file_that_is_already_there(tmp_path):
    (tmp_path / "kubectl").write_text("mine")
    result = run([str(PROGRAM), "--make-symlinks", str(tmp_path)])
    assert result.returncode == 0
    assert f"skipped {tmp_path / 'kubectl'}: already exists" in result.stdout
    assert (tmp_path / "kubectl").read_text() == "mine"


@pytest.mark.parametrize("name", component_names())
def test_every_component_has_help_with_the_common_flags(name):
    result = run([str(PROGRAM), name, "--help"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: hyperkube {name}")
    assert "--log-format" in result.stdout
    assert "-v, --v" in result.stdout


def test_unknown_flag_is_a_usage_error_not_a_traceback():
    result = run([str(PROGRAM), "scheduler", "--no-such-flag"])
    assert result.returncode == 2
    assert "No such option '--no-such-flag'" in result.stderr
    assert "Traceback" not in result.stderr


def test_kubectl_help_loads_no_server_side_modules():
    probe = (
        "import sys\n"
        "from hyperkube.cli.main import main\n"
        "try:\n"
        "    main(['hyperkube', 'kubectl', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] == 'sqlalchemy' or m == 'aiohttp.web'\n"
        "         or m.startswith('hyperkube.apiserver') or m.startswith('hyperkube.storage')]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    result = run([sys.executable, "-c", probe])
    assert "HEAVY []" in result.stderr, result.stderr


def test_go_style_boolean_flags_are_accepted():
    import click

    from hyperkube.cli.options import go_style_booleans

    @click.command()
    @click.option("--leader-elect/--no-leader-elect", default=True)
    @click.option("--cleanup", is_flag=True)
    @click.option("--port", default="1")
    def command(leader_elect: bool, cleanup: bool, port: str) -> None:
        pass

    convert = lambda *args: go_style_booleans(command, list(args))  # noqa: E731
    assert convert("--leader-elect=false", "--cleanup=true", "--port=8") == ["--no-leader-elect", "--cleanup",
                                                                             "--port=8"]
    assert convert("--leader-elect=true", "--cleanup=false") == ["--leader-elect"]
    assert convert("--no-leader-elect=false", "--", "--cleanup=false") == ["--leader-elect", "--", "--cleanup=false"]
    assert convert("--leader-elect=maybe") == ["--leader-elect=maybe"]  # click reports it


def test_a_component_takes_flag_equals_false():
    result = run([sys.executable, "-m", "hyperkube", "scheduler", "--leader-elect=false", "--help"])
    assert result.returncode == 0, result.stderr
