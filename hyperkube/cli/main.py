"""Dispatch ``hyperkube <component>`` and its busybox-style symlinks.

Nothing heavy is imported here: a component's command module is imported only once the
component is chosen, so ``hyperkube kubectl --help`` never loads the API server, aiohttp's
server side or SQLAlchemy.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    module: str  # hyperkube.cli.<module> holds a click command named ``command``
    summary: str
    aliases: tuple[str, ...] = ()


COMPONENTS: tuple[Component, ...] = (
    Component("up", "up", "Run a whole cluster in one process"),
    Component("apiserver", "apiserver", "Serve the Kubernetes REST API over the store", ("kube-apiserver",)),
    Component("controller-manager", "controller_manager", "Run the controllers that drive the cluster",
              ("kube-controller-manager",)),
    Component("scheduler", "scheduler", "Bind pending pods to nodes", ("kube-scheduler",)),
    Component("kubelet", "kubelet", "Run the pods bound to this node as processes"),
    Component("proxy", "proxy", "Make Services reachable at their cluster IPs and node ports", ("kube-proxy",)),
    Component("dns", "dns", "Serve the cluster domain over DNS, forward the rest", ("kube-dns",)),
    Component("kubectl", "kubectl", "Command-line client for the cluster"),
    Component("etcdctl", "etcdctl", "Inspect and change the store directly"),
)

_BY_NAME = {name: c for c in COMPONENTS for name in (c.name, *c.aliases)}
PROGRAM = "hyperkube"


def component_names() -> list[str]:
    """Every name the dispatcher answers to, aliases included, in a stable order."""
    return [name for c in COMPONENTS for name in (c.name, *c.aliases)]


def _usage() -> str:
    width = max(len(c.name) for c in COMPONENTS)
    lines = [
        f"Usage: {PROGRAM} COMPONENT [FLAGS]...",
        f"       {PROGRAM} --make-symlinks DIR",
        "",
        "hyperkube is Kubernetes in one program. Choose a component by its name, or start the",
        "program under that name (a symlink made by --make-symlinks).",
        "",
        "Components:",
    ]
    for c in COMPONENTS:
        alias = f" (alias: {', '.join(c.aliases)})" if c.aliases else ""
        lines.append(f"  {c.name.ljust(width)}  {c.summary}{alias}")
    lines += ["", f"Run '{PROGRAM} COMPONENT --help' for the flags of one component."]
    return "\n".join(lines)


def _program_path() -> str:
    """The installed console script, falling back to argv[0]."""
    argv0 = sys.argv[0]
    if os.path.basename(argv0) in ("__main__.py", "-m", "-c") or not os.path.exists(argv0):
        beside = os.path.join(os.path.dirname(sys.executable), PROGRAM)
        if os.path.exists(beside):
            return beside
    return os.path.abspath(argv0)


def make_symlinks(directory: str) -> int:
    target = _program_path()
    os.makedirs(directory, exist_ok=True)
    made = skipped = 0
    for name in component_names():
        link = os.path.join(directory, name)
        if os.path.lexists(link):
            print(f"skipped {link}: already exists")
            skipped += 1
            continue
        os.symlink(target, link)
        print(f"created {link} -> {target}")
        made += 1
    print(f"{made} created, {skipped} skipped")
    return 0


def run_component(name: str, args: list[str]) -> None:
    component = _BY_NAME[name]
    module = importlib.import_module(f"hyperkube.cli.{component.module}")
    if not hasattr(module.command, "commands"):  # a single command, not kubectl's group
        from hyperkube.cli.options import go_style_booleans

        args = go_style_booleans(module.command, args)
    module.command.main(args=args, prog_name=name if name == os.path.basename(sys.argv[0]) else
                        f"{PROGRAM} {name}")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    invoked_as = os.path.basename(argv[0]) if argv else PROGRAM
    if invoked_as in _BY_NAME:
        run_component(invoked_as, argv[1:])
        return
    args = argv[1:]
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        sys.exit(0)
    if args[0] == "--version":
        from hyperkube import __version__

        print(f"hyperkube {__version__}")
        sys.exit(0)
    if args[0] == "--make-symlinks":
        if len(args) != 2:
            print("usage: hyperkube --make-symlinks DIR", file=sys.stderr)
            sys.exit(2)
        sys.exit(make_symlinks(args[1]))
    name = args[0]
    if name not in _BY_NAME:
        print(f'unknown component "{name}"; one of: {", ".join(component_names())}', file=sys.stderr)
        sys.exit(2)
    run_component(name, args[1:])
