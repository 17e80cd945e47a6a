"""The dashboard at /ui/ in a real browser (Debian's Chromium driven by Playwright) against a
real ``hyperkube apiserver`` process, with the controller-manager making ReplicaSets and pods,
a stand-in kubelet marking them ready, and a real kubelet for live logs.

What a user sees is asserted through accessible roles and names; what the actions did is
checked through the API with the real kubectl. Screenshots land in ``$HYPERKUBE_TEST_ARTIFACTS``
(else ``test-artifacts/`` in the repository). One browser serves the whole module."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e._cluster import KUBECTL, Cluster, stop
from tests.e2e.test_controller_manager_e2e import Kubelet, controller_manager  # noqa: F401
from tests.e2e.test_kubelet_e2e import kill_everything, start_kubelet, wait

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("HYPERKUBE_TEST_ARTIFACTS") or Path(__file__).parents[2] / "test-artifacts")

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{containers: [{{name: c, image: "nginx:1"}}]}}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"the dashboard tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser, request) -> Iterator:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(20000)
    try:
        yield page
        assert not errors, f"JavaScript errors on the page: {errors}"
    finally:
        context.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"))


def get_json(cluster: Cluster, *args: str) -> dict:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def row(page, table: str, name: str):
    return page.get_by_role("table", name=table).get_by_role("row").filter(
        has=page.get_by_role("button", name=re.compile(rf" {re.escape(name)}$")))


def test_deployment_is_listed_and_scaled_restarted_and_deleted_from_the_page(cluster: Cluster, controller_manager,  # noqa: F811
                                                                             page):
    from playwright.sync_api import expect

    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT.format(name="web", namespace="default", replicas=2))
    with Kubelet(cluster):
        page.goto(cluster.url + "/ui")
        expect(page.get_by_role("combobox", name="Namespace")).to_have_value("default")
        web = row(page, "Deployments", "web")
        expect(web).to_contain_text("2/2")
        screenshot(page, "deployments")

        web.get_by_role("button", name="Scale web").click()
        dialog = page.get_by_role("dialog", name="Scale deployment web")
        dialog.get_by_role("spinbutton", name="Replicas").fill("3")
        dialog.get_by_role("button", name="Scale").click()
        expect(page.get_by_role("status").filter(has_text="deployment.apps/web scaled to 3")).to_be_visible()
        assert get_json(cluster, "deployment", "web")["spec"]["replicas"] == 3
        expect(web).to_contain_text("3/3")  # the controller-manager's work arrives through watch
        web.get_by_role("button", name="Open deployment web").click()
        detail = page.get_by_role("dialog", name="Deployment web")
        pods = detail.get_by_role("table", name="Pods of web").get_by_role("row", name=re.compile(r"^web-"))
        expect(pods).to_have_count(3)
        expect(pods.first).to_contain_text("Running")
        expect(detail.get_by_role("table", name="Conditions")).to_contain_text("Available")
        screenshot(page, "deployment-detail")
        page.keyboard.press("Escape")
        expect(detail).to_be_hidden()
        page.get_by_role("link", name="ReplicaSets").click()
        expect(page.get_by_role("table", name="ReplicaSets").get_by_role("row", name=re.compile(r"web-\w+"))).to_have_count(1)
        page.get_by_role("link", name="Deployments").click()

        row(page, "Deployments", "web").get_by_role("button", name="Restart web").click()
        expect(page.get_by_role("status").filter(has_text="deployment web restarted")).to_be_visible()
        template = get_json(cluster, "deployment", "web")["spec"]["template"]
        restarted = template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", restarted)
        wait(lambda: len(get_json(cluster, "replicasets", "-l", "app=web")["items"]) == 2)  # a new rollout
        screenshot(page, "restarted")

        row(page, "Deployments", "web").get_by_role("button", name="Delete web").click()
        confirm = page.get_by_role("alertdialog", name="Delete deployment web?")
        expect(confirm).to_contain_text('namespace "default"')
        confirm.get_by_role("button", name="Cancel").click()
        assert cluster.kubectl("get", "deployment", "web", check=False).returncode == 0  # cancelled: still there
        row(page, "Deployments", "web").get_by_role("button", name="Delete web").click()
        confirm.get_by_role("button", name="Delete").click()
        expect(row(page, "Deployments", "web")).to_have_count(0)
        wait(lambda: "NotFound" in cluster.kubectl("get", "deployment", "web", check=False).stderr)
        expect(page.get_by_text("No deployments in namespace default.")).to_be_visible()


def test_api_errors_are_shown_with_the_status_message(cluster: Cluster, page):
    from playwright.sync_api import expect

    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT.format(name="gone", namespace="default", replicas=0))
    page.goto(cluster.url + "/ui/#/deployments?namespace=default")
    row(page, "Deployments", "gone").get_by_role("button", name="Delete gone").click()
    cluster.kubectl("delete", "deployment", "gone")  # another client is quicker
    page.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text('Deleting gone failed: deployments.apps "gone" not found')
    screenshot(page, "error")


def test_pods_appear_live_with_yaml_and_events_and_a_namespace_switch(cluster: Cluster, page):
    from playwright.sync_api import expect

    cluster.kubectl("create", "namespace", "ui-live")
    page.goto(cluster.url + "/ui/#/pods?namespace=ui-live")
    expect(page.get_by_text("No pods in namespace ui-live.")).to_be_visible()
    cluster.kubectl("run", "lively", "-n", "ui-live", "--image=nginx:1", "--labels=tier=front")
    lively = row(page, "Pods", "lively")
    expect(lively).to_contain_text("Pending")  # arrived through the watch, no reload
    cluster.kubectl("create", "-n", "ui-live", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "lively.1"}, "type": "Warning",
        "reason": "BackOff", "message": "Back-off pulling image nginx:1",
        "involvedObject": {"kind": "Pod", "name": "lively", "namespace": "ui-live"}}))

    lively.get_by_role("button", name="Open pod lively").click()
    detail = page.get_by_role("dialog", name="Pod lively")
    expect(detail).to_contain_text("tier=front")
    detail.get_by_role("tab", name="YAML").click()
    yaml = detail.get_by_label("YAML text")
    expect(yaml).to_contain_text("kind: Pod")
    expect(yaml).to_contain_text("  name: lively\n")
    expect(yaml).to_contain_text("    tier: front\n")
    expect(yaml).to_contain_text("  - name: lively\n    image: nginx:1")
    screenshot(page, "yaml")
    cluster.kubectl("label", "pod", "lively", "-n", "ui-live", "color=blue")
    expect(yaml).to_contain_text("    color: blue\n")  # the YAML follows the object
    detail.get_by_role("tab", name="Events").click()
    expect(detail.get_by_role("table", name="Events of this object")).to_contain_text("Back-off pulling image nginx:1")
    detail.get_by_role("button", name="Close details").click()

    page.get_by_role("link", name="Events").click()
    expect(page.get_by_role("table", name="Events").get_by_role("row", name=re.compile("BackOff"))).to_contain_text(
        "pod/lively")
    page.get_by_role("combobox", name="Namespace").select_option("")  # all namespaces
    page.get_by_role("link", name="Pods").click()
    expect(page.get_by_role("columnheader", name="Namespace")).to_be_visible()
    expect(row(page, "Pods", "lively")).to_contain_text("ui-live")
    page.get_by_role("searchbox", name="Filter by name").fill("no-such-pod")
    expect(row(page, "Pods", "lively")).to_have_count(0)
    expect(page.get_by_text('No pods match "no-such-pod".')).to_be_visible()
    page.get_by_role("searchbox", name="Filter by name").fill("LIVE")
    expect(row(page, "Pods", "lively")).to_have_count(1)
    page.get_by_role("link", name="Namespaces").click()
    expect(row(page, "Namespaces", "ui-live")).to_contain_text("Active")
    screenshot(page, "namespaces")


KINDS = """apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: ui-kinds}
spec:
  completions: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: ui-kinds}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: c, image: busybox}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: ui-kinds}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {disk: ssd}
      containers: [{name: c, image: busybox}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: ui-kinds}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: postgres}]}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: ui-kinds}
spec:
  selector: {app: db}
  ports: [{port: 5432, protocol: TCP}]
"""


def test_every_workload_kind_and_services_have_their_table(cluster: Cluster, page):
    from playwright.sync_api import expect

    cluster.kubectl("create", "namespace", "ui-kinds")
    cluster.kubectl("apply", "-f", "-", input=KINDS)
    page.goto(cluster.url + "/ui/#/jobs?namespace=ui-kinds")
    expect(row(page, "Jobs", "once")).to_contain_text("0/2")
    page.get_by_role("link", name="CronJobs").click()
    expect(row(page, "CronJobs", "nightly")).to_contain_text("0 3 * * *")
    expect(row(page, "CronJobs", "nightly")).to_contain_text("False")
    page.get_by_role("link", name="DaemonSets").click()
    agent = row(page, "DaemonSets", "agent")
    expect(agent).to_contain_text("disk=ssd")
    agent.get_by_role("button", name="Restart agent").click()
    expect(page.get_by_role("status").filter(has_text="daemonset agent restarted")).to_be_visible()
    annotations = get_json(cluster, "daemonset", "agent", "-n", "ui-kinds")["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    page.get_by_role("link", name="StatefulSets").click()
    db = row(page, "StatefulSets", "db")
    expect(db).to_contain_text("0/2")
    db.get_by_role("button", name="Scale db").click()
    page.get_by_role("dialog", name="Scale statefulset db").get_by_role("spinbutton", name="Replicas").fill("1")
    page.get_by_role("dialog", name="Scale statefulset db").get_by_role("button", name="Scale").click()
    expect(db).to_contain_text("0/1")
    assert get_json(cluster, "statefulset", "db", "-n", "ui-kinds")["spec"]["replicas"] == 1
    page.get_by_role("link", name="Services").click()
    service = row(page, "Services", "db")
    expect(service).to_contain_text("ClusterIP")
    expect(service).to_contain_text("5432/TCP")
    expect(service).to_contain_text("app=db")
    screenshot(page, "services")
    cluster.kubectl("delete", "namespace", "ui-kinds", "--wait=false")


POD = """apiVersion: v1
kind: Pod
metadata: {{name: talker, namespace: default}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: python
    command: ["{python}", "-u", "-c", "import time\\nfor i in range(10000):\\n    print('line', i)\\n    time.sleep(0.3)"]
"""


def test_live_logs_of_a_pod_on_a_real_kubelet_and_its_node(cluster: Cluster, page, tmp_path):
    from playwright.sync_api import expect

    root = tmp_path / "root"
    process = None
    try:
        process, _ = start_kubelet(cluster, root, "ui-node")
        cluster.kubectl("apply", "-f", "-", input=POD.format(node="ui-node", python=sys.executable))
        wait(lambda: cluster.kubectl("get", "pod", "talker", "-o", "jsonpath={.status.phase}").stdout == "Running")
        page.goto(cluster.url + "/ui/?interval=1#/pods?namespace=default")
        talker = row(page, "Pods", "talker")
        expect(talker).to_contain_text("Running")
        expect(talker).to_contain_text("1/1")
        talker.get_by_role("button", name="Logs of talker").click()
        logs = page.get_by_role("dialog", name="Pod talker").get_by_role("log", name="Logs")
        expect(logs).to_contain_text("line 0\n")
        first = logs.text_content()
        expect(logs).not_to_have_text(first)  # more lines arrive while we look: the log is followed
        expect(logs).to_contain_text(re.compile(r"line [3-9]\n"))
        screenshot(page, "logs")
        # real metrics.k8s.io from the kubelet's /stats/summary, plotted in the table
        usage = r"(\d+m|[\d.]+ cores)$"
        expect(talker.get_by_role("img", name=re.compile(rf"^CPU of talker: {usage}"))).to_be_visible(timeout=20000)
        page.get_by_role("link", name="Nodes").click()
        node = row(page, "Nodes", "ui-node")
        expect(node).to_contain_text("Ready")
        expect(node.get_by_role("img", name=re.compile(r"^Memory of ui-node: [\d.]+(Ki|Mi|Gi)$"))).to_be_visible()
        screenshot(page, "node-real-metrics")
        cluster.kubectl("delete", "pod", "talker", "--wait=false")
    finally:
        kill_everything(process, root)


def metrics_route(state: dict):
    """The metrics.k8s.io/v1beta1 paths, answered in the page by the test: 404 while
    ``state["served"]`` is false, else NodeMetrics and PodMetrics whose usage grows per poll."""
    def handle(route):
        if not state["served"]:
            return route.fulfill(status=404, content_type="application/json", body=json.dumps(
                {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                 "message": "the server could not find the requested resource"}))
        state["polls"] += 1
        stamp = f"2026-01-01T00:00:{state['polls']:02d}Z"
        if route.request.url.endswith("/nodes"):
            body = {"kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "items": [
                {"metadata": {"name": "ui-metrics-node"}, "timestamp": stamp, "window": "10s",
                 "usage": {"cpu": f"{250 * state['polls']}m", "memory": f"{64 * state['polls']}Mi"}}]}
        else:
            body = {"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "items": []}
        return route.fulfill(status=200, content_type="application/json", body=json.dumps(body))
    return handle


def test_node_plots_from_metrics_and_metrics_unavailable(cluster: Cluster, page):
    from playwright.sync_api import expect

    cluster.kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "ui-metrics-node"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.30.0"}}}))
    state = {"served": False, "polls": 0}
    page.route(re.compile(r".*/apis/metrics\.k8s\.io/v1beta1/.*"), metrics_route(state))
    page.goto(cluster.url + "/ui/?interval=1#/nodes")
    expect(page.get_by_text("metrics unavailable: metrics.k8s.io/v1beta1 is not served")).to_be_visible()
    expect(row(page, "Nodes", "ui-metrics-node")).to_contain_text("v1.30.0")
    expect(page.get_by_role("columnheader", name="CPU")).to_have_count(0)

    state["served"] = True
    cpu = page.get_by_role("img", name=re.compile(r"^CPU of ui-metrics-node: "))
    expect(cpu).to_be_visible()
    expect(page.get_by_text("metrics unavailable")).to_have_count(0)
    expect(page.get_by_role("img", name=re.compile(r"^Memory of ui-metrics-node: \d+(\.\d)?Mi$"))).to_be_visible()
    expect(cpu.locator("polyline")).to_have_count(1)
    # a poll a second (?interval=1), each answered with more use: the history grows to several points
    expect(cpu.locator("title")).to_contain_text(re.compile(r"\(([3-9]|\d\d) samples\)"), timeout=15000)
    row(page, "Nodes", "ui-metrics-node").get_by_role("button", name="Open node ui-metrics-node").click()
    detail = page.get_by_role("dialog", name="Node ui-metrics-node")
    expect(detail.get_by_role("img", name=re.compile(r"^CPU: "))).to_be_visible()
    expect(detail.get_by_role("img", name=re.compile(r"^Memory: "))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile(r"^Cluster CPU: [\d.]+ cores$"))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile(r"^Cluster memory: \d+Mi$"))).to_be_visible()
    screenshot(page, "node-metrics")
    cluster.kubectl("delete", "node", "ui-metrics-node")


@pytest.mark.parametrize(("proxy", "prefix"), [("hyperkube", "/"), ("kubectl", "/"), ("kubectl", "/k8s/")])
def test_the_dashboard_through_kubectl_proxy(cluster: Cluster, page, proxy, prefix):
    """``kubectl proxy`` (ours and the real one) in front of the API server; with ``--api-prefix``
    the page finds the API under the same prefix it was loaded from."""
    from playwright.sync_api import expect

    namespace = f"ui-{proxy}-{len(prefix)}"
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT.format(name="proxied", namespace=namespace, replicas=1))
    command = ([sys.executable, "-m", "hyperkube", "kubectl", "--kubeconfig", str(cluster.kubeconfig)]
               if proxy == "hyperkube" else [str(KUBECTL), "--kubeconfig", str(cluster.kubeconfig)])
    process = subprocess.Popen([*command, "proxy", "--port", "0", f"--api-prefix={prefix}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=cluster.env())
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        port = re.search(r"Starting to serve on [\d.]+:(\d+)", line)
        assert port, line
        threading.Thread(target=process.stdout.read, daemon=True).start()
        url = f"http://127.0.0.1:{port.group(1)}{prefix.rstrip('/')}"
        page.goto(f"{url}/ui")
        assert page.url.startswith(f"{url}/ui/")
        page.get_by_role("combobox", name="Namespace").select_option(namespace)
        proxied = row(page, "Deployments", "proxied")
        expect(proxied).to_contain_text("0/1")
        proxied.get_by_role("button", name="Scale proxied").click()
        dialog = page.get_by_role("dialog", name="Scale deployment proxied")
        dialog.get_by_role("spinbutton", name="Replicas").fill("4")
        dialog.get_by_role("button", name="Scale").click()
        expect(proxied).to_contain_text("0/4")  # the change came back through the proxied watch
        assert get_json(cluster, "deployment", "proxied", "-n", namespace)["spec"]["replicas"] == 4
        screenshot(page, f"proxy-{proxy}{prefix.replace('/', '-').rstrip('-')}")
    finally:
        stop(process)
        cluster.kubectl("delete", "namespace", namespace, "--wait=false")




TRICKY = {
    "plain": "nginx:1", "empty": "", "spaces": " padded ", "bools": ["true", "no", "On", "y", "~", "null"],
    "numbers": ["123", "1.5", "-2", "0x1f", "1e3", ".5", "12:30", "2026-11-25", "2026-11-25T21:27:34Z", "+1"],
    "syntax": ["- item", "key: value", "a #b", "#c", "trailing:", "*alias", "&anchor", "!tag", "|", ">", "%x",
               "@at", "`tick", "{a}", "[b]", "'q'", '"dq"', "?", "? x", ":x", "-x", "=", "<<", "a,b"],
    "lines": ["one\ntwo\n", "one\ntwo", "one\n\n", "  lead\nx", "tab\there", "trail \nx", "\u2028sep", "\x85nel"],
    "unicode": "caf\u00e9 \U0001f600", "nested": [[1, [2, []]], {}, [{"a": {"b": [None, True, 0.25, -7]}}]],
    "weird keys": {"": 1, "a: b": 2, "1": 3, "true": 4, "-": 5, "k\nl": 6},
}


def test_the_yaml_view_reads_back_as_the_same_object(cluster: Cluster, page):
    import yaml

    page.goto(cluster.url + "/ui/")
    text = page.evaluate("async (value) => (await import('./yaml.js')).toYAML(value)", TRICKY)
    assert yaml.safe_load(text) == TRICKY, text
    assert text.startswith('plain: nginx:1\nempty: ""\n')
    assert "lines:\n- |\n  one\n  two\n- |-\n  one\n  two\n" in text


def test_a_watch_ended_by_410_gone_relists_and_the_page_stays_live(cluster: Cluster, page):
    """The server answers a too-old resourceVersion with an ERROR event carrying a 410 Status;
    the first watch is answered so (in the page, by the test) and the page must list again."""
    from playwright.sync_api import expect

    cluster.kubectl("create", "namespace", "ui-gone")
    cluster.kubectl("run", "before", "-n", "ui-gone", "--image=nginx:1")
    lists, watches = [], []
    page.on("request", lambda r: lists.append(r.url) if r.url.endswith("/api/v1/namespaces/ui-gone/pods") else None)

    def expire_first_watch(route):
        watches.append(route.request.url)
        if len(watches) > 1:
            return route.fallback()
        return route.fulfill(status=200, content_type="application/json", body=json.dumps({
            "type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
                                        "reason": "Expired", "message": "too old resource version: 1 (5)"}}) + "\n")

    page.route(re.compile(r".*/namespaces/ui-gone/pods\?watch=1.*"), expire_first_watch)
    page.goto(cluster.url + "/ui/#/pods?namespace=ui-gone")
    expect(row(page, "Pods", "before")).to_have_count(1)
    expect(page.get_by_role("status", name="Connection")).to_have_text("live")
    cluster.kubectl("run", "after", "-n", "ui-gone", "--image=nginx:1")
    expect(row(page, "Pods", "after")).to_have_count(1)  # through the second watch
    assert len(lists) == 2 and len(watches) >= 2
    assert "resourceVersion=" in watches[1]
    cluster.kubectl("delete", "namespace", "ui-gone", "--wait=false")
