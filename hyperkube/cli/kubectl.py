"""``hyperkube kubectl``: click wiring for :mod:`hyperkube.kubectl` (the logic lives there).

Kept light on purpose: ``kubectl --help`` imports click and nothing else heavy; each verb
imports the client (aiohttp) only when it runs. kubectl's global flags (``-n``,
``--context``, ``--kubeconfig``, ``-s`` ...) are accepted before the verb and after it, as
pflag allows, and usage errors exit 1 with kubectl's ``error: ...`` wording.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click

from hyperkube.cli.options import CONTEXT_SETTINGS, common_options

CONTEXT = {**CONTEXT_SETTINGS, "max_content_width": 110}


def _connection_flags(func: Callable[..., Any], *, kubeconfig_only: bool = False) -> Callable[..., Any]:
    """kubectl's persistent flags; values given after the verb win over those before it.
    ``config`` verbs take only ``--kubeconfig`` and ``--context`` (their own ``--cluster``,
    ``--user`` and ``--namespace`` name what to write)."""
    options = [
        click.option("--kubeconfig", metavar="PATH", help="Path to the kubeconfig file to use."),
        click.option("--context", "context_name", metavar="NAME", help="The kubeconfig context to use."),
        click.option("--cluster", metavar="NAME", help="The kubeconfig cluster to use."),
        click.option("--user", metavar="NAME", help="The kubeconfig user to use."),
        click.option("-n", "--namespace", metavar="NS", help="The namespace scope for this request."),
        click.option("-s", "--server", metavar="URL", help="The address and port of the API server."),
        click.option("--token", metavar="TOKEN", help="Bearer token for authentication to the API server."),
        click.option("--insecure-skip-tls-verify", is_flag=True, default=None,
                     help="Don't check the server's certificate (insecure)."),
        click.option("--request-timeout", metavar="DURATION", help="How long to wait for one request (0: forever)."),
    ]

    if kubeconfig_only:
        options = options[:2]

    @functools.wraps(func)
    def wrapper(*args: Any, kubeconfig: str | None, context_name: str | None, cluster: str | None = None,
                user: str | None = None, namespace: str | None = None, server: str | None = None,
                token: str | None = None, insecure_skip_tls_verify: bool | None = None,
                request_timeout: str | None = None, **kwargs: Any) -> Any:
        from hyperkube.kubectl.session import Flags, parse_timeout

        ctx = click.get_current_context()
        mine = Flags(kubeconfig, context_name, cluster, user, namespace, server, token, insecure_skip_tls_verify,
                     parse_timeout(request_timeout))
        outer = ctx.find_object(Flags)
        ctx.obj = outer.merged(mine) if outer is not None else mine
        return func(*args, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def _flags() -> Any:
    from hyperkube.kubectl.session import Flags

    return click.get_current_context().find_object(Flags) or Flags()


def _run(action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run ``action(session, *args, **kwargs)`` (a coroutine function) as the whole command."""
    from hyperkube.kubectl.session import run

    run(_flags(), lambda session: action(session, *args, **kwargs))


def _sync(action: Callable[..., int], *args: Any, **kwargs: Any) -> None:
    """Run a verb that needs no server (``config``) with the same error handling."""

    async def wrapped(session: Any) -> int:
        return action(session, *args, **kwargs)
    _run(wrapped)


NEGATABLE = {"--watch", "--wait", "--show-events", "--overwrite"}
FLAGS = {"--prune", "--all-namespaces", "--show-labels", "--overwrite", "--server-side", "--force", "--ignore-not-found",
         "--recursive", "--insecure-skip-tls-verify", "--all", "--now", "--no-headers", "--show-kind",
         "--watch-only", "--force-conflicts", "--save-config", "--follow", "--previous", "--timestamps",
         "--all-containers", "--prefix", "--raw", "--minify", "--flatten", "--current", "--cached",
         "--show-managed-fields", "--client", "-A", "-w", "-i", "-t", "-R"}


def _normalise(args: list[str]) -> list[str]:
    """pflag accepts ``-o=json``, ``-n=ns`` and ``--flag=true|false``; click does not."""
    out = []
    for index, arg in enumerate(args):
        if arg == "--":
            out += args[index:]
            break
        flag, sep, value = arg.partition("=")
        if sep and value in ("true", "false") and (flag in NEGATABLE or flag in FLAGS):
            if value == "true":
                out.append(flag)
            elif flag in NEGATABLE:
                out.append("--no-" + flag[2:])
            continue
        if arg[:2] in FLAGS and arg[2:] in ("=true", "=false"):
            if arg.endswith("true"):
                out.append(arg[:2])
            continue
        if len(arg) > 3 and arg[0] == "-" and arg[1] != "-" and arg[2] == "=":
            out += [arg[:2], arg[3:]]
        else:
            out.append(arg)
    return out


class KubectlGroup(click.Group):
    """Usage errors exit 1 with kubectl's wording instead of click's exit 2."""

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:  # type: ignore[override]
        args = _normalise(list(sys.argv[1:] if args is None else args))
        try:
            code = super().main(args=args, prog_name=prog_name, standalone_mode=False, **extra)
        except click.UsageError as error:
            command = error.ctx.command_path if error.ctx else prog_name or "kubectl"
            message = error.format_message()
            if message.startswith("No such command"):
                name = message.split("'")[1] if "'" in message else ""
                message = f'unknown command "{name}" for "{prog_name or "kubectl"}"'
            elif message.startswith("No such option: "):
                message = "unknown flag: " + message[len("No such option: "):]
            print(f"error: {message}\nSee '{command} --help' for usage.", file=sys.stderr)
            sys.exit(1)
        except click.ClickException as error:
            error.show()
            sys.exit(1)
        except click.Abort:
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(name="kubectl", cls=KubectlGroup, context_settings=CONTEXT,
             help="kubectl controls the Kubernetes cluster manager.\n\n"
                  "hyperkube's own kubectl: the same kubeconfig, verbs, flags and output as the real one.")
@common_options
@_connection_flags
def command() -> None:
    pass


def verb(name: str, help_text: str, **settings: Any) -> Callable[[Callable[..., Any]], click.Command]:
    def decorate(func: Callable[..., Any]) -> click.Command:
        return command.command(name=name, help=help_text, context_settings=CONTEXT, **settings)(
            _connection_flags(func))
    return decorate


def output_option(default: str = "", help_text: str = "Output format: json|yaml|name|wide|jsonpath=...|"
                  "custom-columns=...|go-template=...|go-template-file=...") -> Callable[..., Any]:
    return click.option("-o", "--output", default=default, metavar="FORMAT", help=help_text)


def _split_labels(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(part for value in values for part in value.split(",") if part)


# ---- get ---------------------------------------------------------------------------------------

@verb("get", "Display one or many resources (server-side Tables, or -o json|yaml|name|...).")
@click.argument("args", nargs=-1)
@output_option()
@click.option("-l", "--selector", metavar="SELECTOR", help="Label selector (=, ==, !=, in, notin, k, !k).")
@click.option("--field-selector", metavar="SELECTOR", help="Field selector (metadata.name=x, ...).")
@click.option("-A", "--all-namespaces", is_flag=True, help="List across all namespaces.")
@click.option("--show-labels", is_flag=True, help="Show all labels as the last column.")
@click.option("-L", "--label-columns", multiple=True, metavar="KEYS", help="Labels to show as columns.")
@click.option("--sort-by", metavar="JSONPATH", help="Sort by this field (e.g. .metadata.name).")
@click.option("-w", "--watch", is_flag=True, help="After listing, watch for changes.")
@click.option("--watch-only", is_flag=True, help="Watch for changes without listing first.")
@click.option("--no-headers", is_flag=True, help="Don't print headers.")
@click.option("--show-kind", is_flag=True, help="Prefix names with their kind.")
@click.option("--ignore-not-found", is_flag=True, help="Treat 'not found' as success.")
@click.option("--show-managed-fields", is_flag=True, help="Keep metadata.managedFields in json/yaml.")
@click.option("--chunk-size", type=int, default=500, show_default=True, help="List in pages of this size.")
@click.option("--template", metavar="TEMPLATE", help="Template for -o jsonpath or -o go-template.")
@click.option("-f", "--filename", "filenames", multiple=True, metavar="PATH", help="Get the objects in files.")
@click.option("-R", "--recursive", is_flag=True, help="Process directories recursively.")
def get_command(args: tuple[str, ...], output: str, label_columns: tuple[str, ...], **options: Any) -> None:
    from hyperkube.kubectl.get import GetOptions, get

    _run(get, list(args), GetOptions(output=output, label_columns=_split_labels(label_columns), **options))


# ---- discovery and version ---------------------------------------------------------------------

@verb("api-resources", "Print the supported API resources on the server.")
@output_option(help_text="Output format: wide|name.")
@click.option("--namespaced", type=click.BOOL, default=None, help="true: namespaced only; false: cluster only.")
@click.option("--api-group", default=None, help="Only resources in this API group ('' for core).")
@click.option("--verbs", multiple=True, help="Only resources that support these verbs.")
@click.option("--categories", multiple=True, help="Only resources in these categories.")
@click.option("--no-headers", is_flag=True, help="Don't print headers.")
@click.option("--sort-by", type=click.Choice(["name", "kind"]), default=None, help="Sort by name or kind.")
@click.option("--cached", is_flag=True, help="Use the cached list of resources if available.")
def api_resources_command(verbs: tuple[str, ...], categories: tuple[str, ...], **options: Any) -> None:
    from hyperkube.kubectl.info import api_resources

    _run(api_resources, verbs=_split_labels(verbs), categories=_split_labels(categories), **options)


@verb("api-versions", "Print the supported API versions on the server, as group/version.")
def api_versions_command() -> None:
    from hyperkube.kubectl.info import api_versions

    _run(api_versions)


@verb("version", "Print the client and server version information.")
@click.option("--client", "client_only", is_flag=True, help="Client version only (no server required).")
@output_option(help_text="yaml or json.")
def version_command(client_only: bool, output: str) -> None:
    from hyperkube.kubectl.info import version

    _run(version, client_only=client_only, output=output)


@verb("cluster-info", "Display the addresses of the control plane and of cluster services.")
def cluster_info_command() -> None:
    from hyperkube.kubectl.info import cluster_info

    _run(cluster_info)


# ---- config ------------------------------------------------------------------------------------

@command.group(name="config", cls=click.Group, context_settings=CONTEXT,
               help="Modify kubeconfig files (view, use-context, get-contexts, set-context, ...).")
@functools.partial(_connection_flags, kubeconfig_only=True)
def config_group() -> None:
    pass


def config_verb(name: str, help_text: str) -> Callable[[Callable[..., Any]], click.Command]:
    def decorate(func: Callable[..., Any]) -> click.Command:
        return config_group.command(name=name, help=help_text, context_settings=CONTEXT)(
            _connection_flags(func, kubeconfig_only=True))
    return decorate


@config_verb("view", "Display merged kubeconfig settings or a specified kubeconfig file.")
@output_option(default="yaml", help_text="yaml, json or jsonpath=...")
@click.option("--minify", is_flag=True, help="Only what the current context uses.")
@click.option("--raw", is_flag=True, help="Show secrets and certificate data.")
@click.option("--flatten", is_flag=True, help="Inline referenced certificate files.")
def config_view(**options: Any) -> None:
    from hyperkube.kubectl import kubeconfig

    _sync(kubeconfig.view, **options)


@config_verb("current-context", "Display the current-context.")
def config_current_context() -> None:
    from hyperkube.kubectl import kubeconfig

    _sync(kubeconfig.current_context)


@config_verb("use-context", "Set the current-context in a kubeconfig file.")
@click.argument("name")
def config_use_context(name: str) -> None:
    from hyperkube.kubectl import kubeconfig

    _sync(kubeconfig.use_context, name)


@config_verb("get-contexts", "Describe one or many contexts.")
@click.argument("names", nargs=-1)
@output_option(help_text="name")
@click.option("--no-headers", is_flag=True)
def config_get_contexts(names: tuple[str, ...], output: str, no_headers: bool) -> None:
    from hyperkube.kubectl import kubeconfig

    _sync(kubeconfig.get_contexts, names, output=output, no_headers=no_headers)


@config_verb("get-clusters", "Display clusters defined in the kubeconfig.")
def config_get_clusters() -> None:
    from hyperkube.kubectl import kubeconfig

    _sync(kubeconfig.get_entries, "clusters")


@config_verb("get-users", "Display users defined in the kubeconfig.")
def config_get_users() -> None:
    from hyperkube.kubectl import kubeconfig

    _sync(kubeconfig.get_entries, "users")


@config_verb("set-context", "Set a context entry in kubeconfig.")
@click.argument("name", required=False)
@click.option("--current", is_flag=True, help="Modify the current context.")
@click.option("--cluster", "cluster_", metavar="NAME")
@click.option("--user", "user_", metavar="NAME")
@click.option("--namespace", "namespace_", metavar="NS")
def config_set_context(name: str | None, current: bool, cluster_: str | None, user_: str | None,
                       namespace_: str | None) -> None:
    from hyperkube.kubectl import kubeconfig

    _sync(kubeconfig.set_context, name, current=current,
          fields={"cluster": cluster_, "user": user_, "namespace": namespace_})


@config_verb("set-cluster", "Set a cluster entry in kubeconfig.")
@click.argument("name")
@click.option("--server", "server_", metavar="URL")
@click.option("--certificate-authority", metavar="PATH")
@click.option("--insecure-skip-tls-verify", "insecure", type=click.BOOL, default=None)
@click.option("--tls-server-name", metavar="NAME")
def config_set_cluster(name: str, server_: str | None, certificate_authority: str | None, insecure: bool | None,
                       tls_server_name: str | None) -> None:
    from hyperkube.kubectl import kubeconfig

    _sync(kubeconfig.set_entry, "clusters", name, {
        "server": server_, "certificate-authority": certificate_authority, "insecure-skip-tls-verify": insecure,
        "tls-server-name": tls_server_name})


@config_verb("set-credentials", "Set a user entry in kubeconfig.")
@click.argument("name")
@click.option("--token", "token_", metavar="TOKEN")
@click.option("--username", metavar="NAME")
@click.option("--password", metavar="PASSWORD")
@click.option("--client-certificate", metavar="PATH")
@click.option("--client-key", metavar="PATH")
def config_set_credentials(name: str, token_: str | None, username: str | None, password: str | None,
                           client_certificate: str | None, client_key: str | None) -> None:
    from hyperkube.kubectl import kubeconfig

    _sync(kubeconfig.set_entry, "users", name, {
        "token": token_, "username": username, "password": password, "client-certificate": client_certificate,
        "client-key": client_key})


@config_verb("delete-context", "Delete the specified context from the kubeconfig.")
@click.argument("name")
def config_delete_context(name: str) -> None:
    from hyperkube.kubectl import kubeconfig

    _sync(kubeconfig.delete_entry, "contexts", name)


@config_verb("delete-cluster", "Delete the specified cluster from the kubeconfig.")
@click.argument("name")
def config_delete_cluster(name: str) -> None:
    from hyperkube.kubectl import kubeconfig

    _sync(kubeconfig.delete_entry, "clusters", name)


@config_verb("delete-user", "Delete the specified user from the kubeconfig.")
@click.argument("name")
def config_delete_user(name: str) -> None:
    from hyperkube.kubectl import kubeconfig

    _sync(kubeconfig.delete_entry, "users", name)


# ---- writing: create / apply / replace / delete ------------------------------------------------

def _file_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("-R", "--recursive", is_flag=True, help="Process directories recursively.")(func)
    return click.option("-f", "--filename", "filenames", multiple=True, metavar="PATH",
                        help="Files, directories, URLs or - (stdin) holding the objects.")(func)


def _write_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--dry-run", default="none", metavar="none|client|server", help="Only print what would be sent."),
        output_option(help_text="Print the objects instead: json|yaml|name|jsonpath=..."),
        click.option("--field-manager", default=None, metavar="NAME", help="The field manager to record."),
        click.option("--validate", default="strict", metavar="strict|warn|ignore",
                     help="Server-side field validation."),
    ]):
        func = option(func)
    return _file_options(func)


def _write(action: str, **options: Any) -> None:
    from hyperkube.kubectl import apply as logic

    options["dry_run"] = _dry_run(options.get("dry_run", "none"))
    _run(getattr(logic, action), logic.WriteOptions(**options))


def _dry_run(value: str) -> str:
    from hyperkube.kubectl.apply import check_dry_run
    from hyperkube.kubectl.session import KubectlError

    try:
        return check_dry_run(value)
    except KubectlError as error:
        raise click.UsageError(str(error)) from error


@command.group(name="create", cls=click.Group, invoke_without_command=True, context_settings=CONTEXT,
               help="Create resources from files or stdin (-f), or one of the kinds below.")
@_write_options
@click.option("--save-config", is_flag=True, help="Record the last-applied-configuration annotation.")
@_connection_flags
@click.pass_context
def create_group(ctx: click.Context, **options: Any) -> None:
    if ctx.invoked_subcommand is not None:
        ctx.meta["kubectl.create"] = options
        return
    if not options["filenames"]:
        raise click.UsageError("must specify one of -f and -k", ctx)
    _write("create", **options)


@verb("apply", "Apply a configuration to resources from files or stdin (client-side three-way, or --server-side).")
@_write_options
@click.option("--server-side", is_flag=True, help="Let the server apply (field ownership, conflicts).")
@click.option("--force-conflicts", is_flag=True, help="With --server-side, take over conflicting fields.")
@click.option("--prune", is_flag=True, help="Delete applied objects (of the allowlisted kinds) no longer in the files.")
@click.option("-l", "--selector", default=None, metavar="SELECTOR", help="Only objects with these labels.")
@click.option("--all", "all", is_flag=True, help="With --prune: every object of the allowlisted kinds.")
@click.option("--prune-allowlist", multiple=True, metavar="GROUP/VERSION/KIND", help="Kinds --prune may delete.")
def apply_command(**options: Any) -> None:
    if not options["filenames"]:
        raise click.UsageError("error: must specify one of -f and -k")
    _write("apply", **options)


@verb("replace", "Replace resources by file name or stdin.")
@_write_options
@click.option("--force", is_flag=True, help="Delete and re-create the objects.")
def replace_command(**options: Any) -> None:
    if not options["filenames"]:
        raise click.UsageError("must specify one of -f and -k")
    _write("replace", **options)


def _selection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("-l", "--selector", metavar="SELECTOR", help="Label selector."),
        click.option("--field-selector", metavar="SELECTOR", help="Field selector."),
        click.option("--all", "all_", is_flag=True, help="Every object of the given types in the namespace."),
        click.option("-A", "--all-namespaces", is_flag=True, help="Across all namespaces."),
    ]):
        func = option(func)
    return _file_options(func)


@verb("delete", "Delete resources by file names, stdin, resources and names, or by selectors.")
@click.argument("args", nargs=-1)
@_selection_options
@click.option("--cascade", default="background", metavar="background|foreground|orphan",
              help="How dependents are deleted.")
@click.option("--grace-period", type=int, default=-1, help="Seconds given to the object to terminate (-1: its own).")
@click.option("--now", is_flag=True, help="Same as --grace-period=1.")
@click.option("--force", is_flag=True, help="Delete immediately (with --grace-period=0).")
@click.option("--wait/--no-wait", "wait", default=True, help="Wait until the objects are gone.")
@click.option("--timeout", default=None, metavar="DURATION", help="How long to wait (0: a week).")
@click.option("--ignore-not-found", is_flag=True, help="Treat 'not found' as success.")
@output_option(help_text="name")
@click.option("--dry-run", default="none", metavar="none|client|server")
def delete_command(args: tuple[str, ...], all_: bool, timeout: str | None, dry_run: str, **options: Any) -> None:
    from hyperkube.kubectl.delete import DeleteOptions, delete
    from hyperkube.kubectl.session import parse_timeout

    _run(delete, list(args), DeleteOptions(all=all_, timeout=parse_timeout(timeout), dry_run=_dry_run(dry_run),
                                           **options))


# ---- changing live objects: patch / label / annotate / scale -----------------------------------

def _selection(all_: bool, dry_run: str, output: str, **options: Any) -> Any:
    from hyperkube.kubectl.modify import Selection

    return Selection(all=all_, dry_run=_dry_run(dry_run), output=output, **options)


@verb("patch", "Update fields of a resource with a strategic merge, JSON merge or JSON patch.")
@click.argument("args", nargs=-1)
@_file_options
@click.option("-p", "--patch", "patch_text", metavar="PATCH", help="The patch (JSON or YAML).")
@click.option("--patch-file", metavar="PATH", help="A file holding the patch.")
@click.option("--type", "patch_type", default="strategic", metavar="json|merge|strategic")
@click.option("--subresource", default=None, metavar="status|scale")
@output_option()
@click.option("--dry-run", default="none")
def patch_command(args: tuple[str, ...], patch_text: str | None, patch_file: str | None, patch_type: str,
                  subresource: str | None, output: str, dry_run: str, **files: Any) -> None:
    from hyperkube.kubectl.modify import patch

    _run(patch, list(args), _selection(False, dry_run, output, **files), patch_text=patch_text,
         patch_file=patch_file, patch_type=patch_type, subresource=subresource)


def _metadata_verb(name: str, field: str, help_text: str) -> None:
    @verb(name, help_text)
    @click.argument("args", nargs=-1)
    @_selection_options
    @click.option("--overwrite/--no-overwrite", default=False, help="Allow existing values to be overwritten.")
    @click.option("--resource-version", default=None, help="Only if the object is at this version.")
    @output_option()
    @click.option("--dry-run", default="none")
    def handler(args: tuple[str, ...], overwrite: bool, resource_version: str | None, all_: bool, output: str,
                dry_run: str, **options: Any) -> None:
        from hyperkube.kubectl.modify import set_metadata

        _run(set_metadata, list(args), _selection(all_, dry_run, output, **options), field=field,
             overwrite=overwrite, resource_version=resource_version)


_metadata_verb("label", "labels", "Update the labels on a resource (key=value to set, key- to remove).")
_metadata_verb("annotate", "annotations", "Update the annotations on a resource (key=value, key-).")


@verb("scale", "Set a new size for a deployment, replica set, replication controller, or stateful set.")
@click.argument("args", nargs=-1)
@_selection_options
@click.option("--replicas", type=int, default=-1, help="The new desired number of replicas.")
@click.option("--current-replicas", type=int, default=None, help="Precondition: the current size.")
@click.option("--resource-version", default=None, help="Precondition: the resource version.")
@output_option()
@click.option("--dry-run", default="none")
def scale_command(args: tuple[str, ...], replicas: int, current_replicas: int | None, resource_version: str | None,
                  all_: bool, output: str, dry_run: str, **options: Any) -> None:
    from hyperkube.kubectl.modify import scale

    _run(scale, list(args), _selection(all_, dry_run, output, **options), replicas=replicas,
         current_replicas=current_replicas, resource_version=resource_version)


# ---- reading more: describe / logs -------------------------------------------------------------

@verb("describe", "Show details of a specific resource or group of resources, with their events.")
@click.argument("args", nargs=-1)
@click.option("-l", "--selector", metavar="SELECTOR", help="Label selector.")
@click.option("-A", "--all-namespaces", is_flag=True, help="Across all namespaces.")
@click.option("--show-events/--no-show-events", default=True, help="Show the events of each object.")
def describe_command(args: tuple[str, ...], **options: Any) -> None:
    from hyperkube.kubectl.describe import describe

    _run(describe, list(args), **options)


@verb("logs", "Print the logs for a container in a pod.")
@click.argument("target", required=False)
@click.argument("container_arg", required=False)
@click.option("-c", "--container", metavar="NAME", help="The container to read.")
@click.option("-f", "--follow", is_flag=True, help="Stream the log as it is written.")
@click.option("-p", "--previous", is_flag=True, help="The previous instance of the container.")
@click.option("--tail", type=int, default=-1, help="Lines from the end to show (-1: all).")
@click.option("--since", metavar="DURATION", help="Only lines newer than this (5s, 2m, 3h).")
@click.option("--timestamps", is_flag=True, help="Prefix each line with its RFC3339 time.")
@click.option("-l", "--selector", metavar="SELECTOR", help="Every pod matching this selector.")
@click.option("--all-containers", is_flag=True, help="Every container of the pod(s).")
@click.option("--prefix", is_flag=True, help="Prefix each line with pod/name/container.")
@click.option("--limit-bytes", type=int, default=None, help="At most this many bytes.")
def logs_command(target: str | None, container_arg: str | None, **options: Any) -> None:
    from hyperkube.kubectl.logs import LogOptions, logs

    _run(logs, target, container_arg, LogOptions(**options))


# ---- rollout / wait ----------------------------------------------------------------------------

@command.group(name="rollout", cls=click.Group, context_settings=CONTEXT,
               help="Manage the rollout of deployments, daemon sets and stateful sets (status, restart).")
@_connection_flags
def rollout_group() -> None:
    pass


@rollout_group.command(name="status", context_settings=CONTEXT, help="Show the status of the rollout.")
@click.argument("args", nargs=-1)
@click.option("-w", "--watch/--no-watch", "watch", default=True, help="Watch until the rollout finishes.")
@click.option("--timeout", default=None, metavar="DURATION", help="How long to wait (0: forever).")
@_connection_flags
def rollout_status(args: tuple[str, ...], watch: bool, timeout: str | None) -> None:
    from hyperkube.kubectl.rollout import status
    from hyperkube.kubectl.session import parse_timeout

    _run(status, list(args), watch=watch, limit=parse_timeout(timeout))


@rollout_group.command(name="restart", context_settings=CONTEXT, help="Restart a resource's pods.")
@click.argument("args", nargs=-1)
@_connection_flags
def rollout_restart(args: tuple[str, ...]) -> None:
    from hyperkube.kubectl.rollout import restart

    _run(restart, list(args))


@verb("wait", "Wait for a condition on one or many resources (--for=condition=X|delete|jsonpath=...).")
@click.argument("args", nargs=-1)
@click.option("--for", "condition", required=True, metavar="CONDITION")
@click.option("--timeout", default="30s", metavar="DURATION", help="How long to wait.")
@click.option("-l", "--selector", metavar="SELECTOR")
@click.option("--all", "all_", is_flag=True)
def wait_command(args: tuple[str, ...], condition: str, timeout: str, selector: str | None, all_: bool) -> None:
    from hyperkube.kubectl.rollout import wait
    from hyperkube.kubectl.session import parse_timeout

    _run(wait, list(args), condition=condition, limit=parse_timeout(timeout), selector=selector, all_=all_)


# ---- objects from flags: create <kind> / run ---------------------------------------------------

def _generated(build: Callable[[], dict[str, Any]], dry_run: str, output: str, manager: str) -> None:
    from hyperkube.kubectl.generate import send

    async def action(session: Any) -> int:
        return await send(session, build(), dry_run=_dry_run(dry_run), output=output, manager=manager)
    _run(action)


def create_kind(name: str, help_text: str) -> Callable[[Callable[..., Any]], click.Command]:
    def decorate(func: Callable[..., Any]) -> click.Command:
        func = click.option("--dry-run", default="none")(output_option()(func))
        return create_group.command(name=name, help=help_text, context_settings=CONTEXT)(_connection_flags(func))
    return decorate


@create_kind("namespace", "Create a namespace with the specified name.")
@click.argument("name")
def create_namespace(name: str, dry_run: str, output: str) -> None:
    from hyperkube.kubectl import generate

    _generated(lambda: generate.namespace(name), dry_run, output, "kubectl-create")


@create_kind("configmap", "Create a config map from literals or files.")
@click.argument("name")
@click.option("--from-literal", multiple=True, metavar="KEY=VALUE")
@click.option("--from-file", multiple=True, metavar="[KEY=]PATH")
def create_configmap(name: str, from_literal: tuple[str, ...], from_file: tuple[str, ...], dry_run: str,
                     output: str) -> None:
    from hyperkube.kubectl import generate

    _generated(lambda: generate.configmap(name, from_literal, from_file), dry_run, output, "kubectl-create")


@create_kind("secret", "Create a generic secret from literals or files (create secret generic NAME ...).")
@click.argument("secret_kind", metavar="generic")
@click.argument("name")
@click.option("--from-literal", multiple=True, metavar="KEY=VALUE")
@click.option("--from-file", multiple=True, metavar="[KEY=]PATH")
@click.option("--type", "secret_type", default=None)
def create_secret(secret_kind: str, name: str, from_literal: tuple[str, ...], from_file: tuple[str, ...],
                  secret_type: str | None, dry_run: str, output: str) -> None:
    from hyperkube.kubectl import generate

    if secret_kind != "generic":
        raise click.UsageError(f'unknown secret type "{secret_kind}" (only generic is built)')
    _generated(lambda: generate.secret(name, from_literal, from_file, secret_type), dry_run, output, "kubectl-create")


@create_kind("deployment", "Create a deployment with the specified name.")
@click.argument("name")
@click.option("--image", multiple=True, metavar="IMAGE")
@click.option("-r", "--replicas", type=int, default=1)
@click.option("--port", type=int, default=None)
def create_deployment(name: str, image: tuple[str, ...], replicas: int, port: int | None, dry_run: str,
                      output: str) -> None:
    from hyperkube.kubectl import generate

    _generated(lambda: generate.deployment(name, image, replicas, port), dry_run, output, "kubectl-create")


@verb("run", "Create and run a particular image in a pod.")
@click.argument("name")
@click.argument("args", nargs=-1)
@click.option("--image", required=True, metavar="IMAGE")
@click.option("-l", "--labels", default=None, metavar="K=V,...")
@click.option("--env", multiple=True, metavar="K=V")
@click.option("--port", type=int, default=None)
@click.option("--command", "as_command", is_flag=True, help="Use the arguments as the command, not args.")
@click.option("--restart", default="Always", type=click.Choice(["Always", "OnFailure", "Never"]))
@output_option()
@click.option("--dry-run", default="none")
def run_command(name: str, args: tuple[str, ...], image: str, labels: str | None, env: tuple[str, ...],
                port: int | None, as_command: bool, restart: str, output: str, dry_run: str) -> None:
    from hyperkube.kubectl import generate

    label_map = dict(part.split("=", 1) for part in labels.split(",") if "=" in part) if labels else {}
    _generated(lambda: generate.pod(name, image, label_map, dict(e.split("=", 1) for e in env if "=" in e), port,
                                    as_command, args, restart), dry_run, output, "kubectl-run")


@verb("expose", "Expose a pod, deployment, replica set or service as a new Service.")
@click.argument("args", nargs=-1)
@click.option("--port", type=int, default=None)
@click.option("--target-port", default=None)
@click.option("--name", "service_name", default=None)
@click.option("--type", "service_type", default=None)
@click.option("--protocol", default="TCP")
@output_option()
@click.option("--dry-run", default="none")
def expose_command(args: tuple[str, ...], port: int | None, target_port: str | None, service_name: str | None,
                   service_type: str | None, protocol: str, output: str, dry_run: str) -> None:
    from hyperkube.kubectl.generate import expose

    _run(expose, list(args), port=port, target_port=target_port, name=service_name, service_type=service_type,
         protocol=protocol, dry_run=_dry_run(dry_run), output=output)


@verb("edit", "Edit a resource in $KUBE_EDITOR or $EDITOR, then send it back.")
@click.argument("args", nargs=-1)
@output_option(default="yaml", help_text="yaml or json: the format to edit in.")
def edit_command(args: tuple[str, ...], output: str) -> None:
    from hyperkube.kubectl.edit import edit

    _run(edit, list(args), output=output)


@verb("exec", "Execute a command in a container: exec POD [-c CONTAINER] [-i] [-t] -- COMMAND [ARGS...].")
@click.argument("args", nargs=-1, required=True)
@click.option("-c", "--container", default=None, metavar="NAME")
@click.option("-i", "--stdin", is_flag=True, help="Pass stdin to the container.")
@click.option("-t", "--tty", is_flag=True, help="Stdin is a TTY.")
def exec_cmd(args: tuple[str, ...], container: str | None, stdin: bool, tty: bool) -> None:
    from hyperkube.kubectl.exec import exec_command

    target, *command = args
    if "/" in target:
        kind, _, target = target.partition("/")
        if kind not in ("pod", "pods", "po"):
            raise click.UsageError("exec supports pods only (POD or pod/POD)")
    _run(exec_command, target, list(command), container=container, stdin=stdin, tty=tty)


@rollout_group.command(name="history", context_settings=CONTEXT, help="View the revisions of a rollout.")
@click.argument("args", nargs=-1)
@click.option("--revision", type=int, default=0, help="Show the pod template of this revision.")
@_connection_flags
def rollout_history(args: tuple[str, ...], revision: int) -> None:
    from hyperkube.kubectl.history import history

    _run(history, list(args), revision=revision)


@rollout_group.command(name="undo", context_settings=CONTEXT, help="Roll back to a previous revision.")
@click.argument("args", nargs=-1)
@click.option("--to-revision", type=int, default=0, help="The revision to roll back to (0: the previous one).")
@_connection_flags
def rollout_undo(args: tuple[str, ...], to_revision: int) -> None:
    from hyperkube.kubectl.history import undo

    _run(undo, list(args), to_revision=to_revision)


@rollout_group.command(name="pause", context_settings=CONTEXT, help="Mark a deployment as paused.")
@click.argument("args", nargs=-1)
@_connection_flags
def rollout_pause(args: tuple[str, ...]) -> None:
    from hyperkube.kubectl.rollout import pause

    _run(pause, list(args), paused=True)


@rollout_group.command(name="resume", context_settings=CONTEXT, help="Resume a paused deployment.")
@click.argument("args", nargs=-1)
@_connection_flags
def rollout_resume(args: tuple[str, ...]) -> None:
    from hyperkube.kubectl.rollout import pause

    _run(pause, list(args), paused=False)


@verb("top", "Display resource (CPU/memory) usage of pods or nodes (metrics.k8s.io).")
@click.argument("kind", type=click.Choice(["pod", "pods", "po", "node", "nodes", "no"]))
@click.argument("names", nargs=-1)
@click.option("-A", "--all-namespaces", is_flag=True)
@click.option("-l", "--selector", default=None)
@click.option("--containers", is_flag=True)
@click.option("--no-headers", is_flag=True)
@click.option("--sort-by", default=None, metavar="cpu|memory", help="Sort by cpu or memory use.")
@click.option("--field-selector", default=None, help="Filter pods by fields (pods only).")
@click.option("--show-capacity", is_flag=True, help="Percentages of capacity instead of allocatable (nodes).")
@click.option("--sum", "sum", is_flag=True, help="Print the sum of the usage (pods).")
def top_command(kind: str, names: tuple[str, ...], **options: Any) -> None:
    from hyperkube.kubectl.top import top

    _run(top, kind, list(names), **options)


@create_kind("service", "Create a service: create service clusterip|nodeport|loadbalancer NAME --tcp=P:T.")
@click.argument("service_kind", metavar="clusterip|nodeport|loadbalancer")
@click.argument("name")
@click.option("--tcp", multiple=True, metavar="PORT:TARGET")
@click.option("--node-port", type=int, default=None)
def create_service(service_kind: str, name: str, tcp: tuple[str, ...], node_port: int | None, dry_run: str,
                   output: str) -> None:
    from hyperkube.kubectl import generate

    _generated(lambda: generate.service(service_kind, name, tcp, node_port), dry_run, output, "kubectl-create")


@create_kind("job", "Create a job: create job NAME --image=IMAGE [-- COMMAND...].")
@click.argument("name")
@click.argument("command", nargs=-1)
@click.option("--image", required=True)
def create_job(name: str, command: tuple[str, ...], image: str, dry_run: str, output: str) -> None:
    from hyperkube.kubectl import generate

    _generated(lambda: generate.job(name, image, command), dry_run, output, "kubectl-create")


@command.group(name="set", cls=click.Group, context_settings=CONTEXT, help="Set specific features on objects.")
@_connection_flags
def set_group() -> None:
    pass


@set_group.command(name="image", context_settings=CONTEXT,
                   help="Update the image of containers: set image TYPE NAME CONTAINER=IMAGE ...")
@click.argument("args", nargs=-1)
@_selection_options
@_connection_flags
def set_image_command(args: tuple[str, ...], all_: bool, **options: Any) -> None:
    from hyperkube.kubectl.delete import DeleteOptions
    from hyperkube.kubectl.generate import set_image

    _run(set_image, list(args), selection=DeleteOptions(all=all_, **options))


@verb("explain", "Describe the fields of a resource (from the server's OpenAPI v3): explain pods.spec.containers.")
@click.argument("path")
@click.option("--api-version", default=None, metavar="GROUP/VERSION")
@click.option("--recursive", is_flag=True, help="(accepted; fields are listed one level deep)")
def explain_command(path: str, api_version: str | None, recursive: bool) -> None:
    from hyperkube.kubectl.explain import explain

    _run(explain, path, api_version=api_version, recursive=recursive)


@verb("proxy", "Run a proxy to the API server on a local port, with the kubeconfig's credentials.")
@click.option("-p", "--port", type=int, default=8001, show_default=True, help="Local port (0: any free port).")
@click.option("--address", default="127.0.0.1", show_default=True)
@click.option("--api-prefix", default="/", show_default=True)
def proxy_command(port: int, address: str, api_prefix: str) -> None:
    from hyperkube.kubectl.proxy import proxy

    _run(proxy, address=address, port=port, api_prefix=api_prefix)


@verb("events", "List events, oldest first (--for TYPE/NAME, --types Normal,Warning).")
@click.option("-A", "--all-namespaces", is_flag=True)
@click.option("--for", "for_object", default=None, metavar="TYPE/NAME")
@click.option("--types", multiple=True, metavar="Normal|Warning")
@output_option(help_text="json|yaml|name|jsonpath=...")
@click.option("--no-headers", is_flag=True)
def events_command(types: tuple[str, ...], **options: Any) -> None:
    from hyperkube.kubectl.describe import events

    _run(events, types=_split_labels(types), **options)


@verb("diff", "Diff the live objects against what apply -f would make of them (exit 1 on differences).")
@_file_options
@click.option("--server-side", is_flag=True)
@click.option("--force-conflicts", is_flag=True)
@click.option("--field-manager", default=None)
def diff_command(**options: Any) -> None:
    if not options["filenames"]:
        raise click.UsageError("must specify one of -f and -k")
    from hyperkube.kubectl import apply as logic

    _run(logic.diff, logic.WriteOptions(**options))


@verb("port-forward", "Forward local ports to a pod: port-forward POD [LOCAL:]REMOTE ...")
@click.argument("target")
@click.argument("ports", nargs=-1)
@click.option("--address", default="127.0.0.1", show_default=True)
def port_forward_command(target: str, ports: tuple[str, ...], address: str) -> None:
    from hyperkube.kubectl.portforward import port_forward

    _run(port_forward, target, list(ports), address=address)


# ---- auth --------------------------------------------------------------------------------------

@command.group(name="auth", cls=click.Group, context_settings=CONTEXT, help="Inspect authorization.")
@_connection_flags
def auth_group() -> None:
    pass


@auth_group.command(name="can-i", context_settings=CONTEXT,
                    help="Check whether an action is allowed: can-i VERB RESOURCE[/NAME] | VERB /URL | --list.")
@click.argument("args", nargs=-1)
@click.option("-A", "--all-namespaces", is_flag=True, help="Ask about every namespace.")
@click.option("--subresource", default="", metavar="NAME")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing; only the exit code answers.")
@click.option("--list", "list_rules", is_flag=True, help="List every action allowed in the namespace.")
@click.option("--no-headers", is_flag=True)
@_connection_flags
def auth_can_i(args: tuple[str, ...], **options: Any) -> None:
    from hyperkube.kubectl.auth import can_i

    _run(can_i, list(args), **options)


@auth_group.command(name="whoami", context_settings=CONTEXT, help="Show the user the server sees.")
@output_option(help_text="json|yaml")
@_connection_flags
def auth_whoami(output: str) -> None:
    from hyperkube.kubectl.auth import whoami

    _run(whoami, output=output)


@set_group.command(name="env", context_settings=CONTEXT,
                   help="Update (or --list) environment variables: set env TYPE/NAME KEY=value KEY2- ...")
@click.argument("args", nargs=-1)
@_selection_options
@click.option("-e", "--env", "env", multiple=True, metavar="KEY=VALUE", help="A variable to set (repeatable).")
@click.option("--from", "sources", multiple=True, metavar="configmap/NAME|secret/NAME",
              help="Add a reference to every key of this ConfigMap or Secret.")
@click.option("--prefix", default="", help="Prefix for the names of variables added by --from.")
@click.option("-c", "--containers", default="*", help="The containers to change (a glob).")
@click.option("--list", "list_only", is_flag=True, help="Print the environment instead of changing it.")
@click.option("--overwrite/--no-overwrite", default=True, help="Replace variables that already exist.")
@_connection_flags
def set_env_command(args: tuple[str, ...], all_: bool, env: tuple[str, ...], sources: tuple[str, ...], prefix: str,
                    containers: str, list_only: bool, overwrite: bool, **options: Any) -> None:
    from hyperkube.kubectl.delete import DeleteOptions
    from hyperkube.kubectl.setenv import set_env

    _run(set_env, list(args), selection=DeleteOptions(all=all_, **options), env=env, sources=sources, prefix=prefix,
         containers=containers, list_only=list_only, overwrite=overwrite)


@verb("attach", "Attach to a running container's output (and stdin with -i): attach POD [-c CONTAINER].")
@click.argument("target")
@click.option("-c", "--container", default=None, metavar="NAME")
@click.option("-i", "--stdin", is_flag=True, help="Pass stdin to the container.")
@click.option("-t", "--tty", is_flag=True, help="Stdin is a TTY.")
@click.option("-q", "--quiet", is_flag=True, help="Only print the container's output.")
def attach_command(target: str, container: str | None, stdin: bool, tty: bool, quiet: bool) -> None:
    from hyperkube.kubectl.exec import attach

    kind, sep, name = target.partition("/")
    if sep and kind not in ("pod", "pods", "po"):
        raise click.UsageError("attach supports pods only (POD or pod/POD)")
    _run(attach, name if sep else target, container=container, stdin=stdin, tty=tty, quiet=quiet)


@verb("cp", "Copy files to and from containers: cp [NS/]POD:SRC DEST | cp SRC [NS/]POD:DEST (needs tar in it).")
@click.argument("source")
@click.argument("dest")
@click.option("-c", "--container", default=None, metavar="NAME")
def cp_command(source: str, dest: str, container: str | None) -> None:
    from hyperkube.kubectl.cp import cp

    _run(cp, source, dest, container=container)
