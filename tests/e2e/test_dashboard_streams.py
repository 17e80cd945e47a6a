"""The dashboard's streams in a real browser: a pod's followed log from a real kubelet, CPU and
memory plots from metrics.k8s.io (the real API over that kubelet, and a stand-in answered in
the page for the unavailable case and for a growing history), relisting after a 410 Gone
watch, and the YAML view read back by PyYAML."""

from __future__ import annotations

import json
import re
import sys

from tests.e2e._browser import browser_fixture, page_fixture, proxy_url_fixture, row, screenshot  # noqa: F401
from tests.e2e._cluster import Cluster
from tests.e2e.test_kubelet_e2e import kill_everything, start_kubelet, wait

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


def test_live_logs_of_a_pod_on_a_real_kubelet_and_its_node(cluster: Cluster, page, tmp_path, proxy_url):
    from playwright.sync_api import expect

    root = tmp_path / "root"
    process = None
    try:
        process, _ = start_kubelet(cluster, root, "ui-node")
        cluster.kubectl("apply", "-f", "-", input=POD.format(node="ui-node", python=sys.executable))
        wait(lambda: cluster.kubectl("get", "pod", "talker", "-o", "jsonpath={.status.phase}").stdout == "Running")
        page.goto(proxy_url + "/ui/?interval=1#/pods?namespace=default")
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


def test_node_plots_from_metrics_and_metrics_unavailable(cluster: Cluster, page, proxy_url):
    from playwright.sync_api import expect

    cluster.kubectl("create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "ui-metrics-node"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.30.0"}}}))
    state = {"served": False, "polls": 0}
    page.route(re.compile(r".*/apis/metrics\.k8s\.io/v1beta1/.*"), metrics_route(state))
    page.goto(proxy_url + "/ui/?interval=1#/nodes")
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
    plot = detail.get_by_role("img", name=re.compile(r"^CPU: "))
    expect(plot).to_be_visible()
    expect(plot).not_to_have_attribute("aria-label", plot.get_attribute("aria-label"))  # redrawn as polls arrive
    expect(detail.get_by_role("img", name=re.compile(r"^Memory: "))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile(r"^Cluster CPU: [\d.]+ cores$"))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile(r"^Cluster memory: \d+Mi$"))).to_be_visible()
    screenshot(page, "node-metrics")
    cluster.kubectl("delete", "node", "ui-metrics-node")


TRICKY = {
    "plain": "nginx:1", "empty": "", "spaces": " padded ", "bools": ["true", "no", "On", "y", "~", "null"],
    "numbers": ["123", "1.5", "-2", "0x1f", "1e3", ".5", "12:30", "2026-11-25", "2026-11-25T21:27:34Z", "+1"],
    "syntax": ["- item", "key: value", "a #b", "#c", "trailing:", "*alias", "&anchor", "!tag", "|", ">", "%x",
               "@at", "`tick", "{a}", "[b]", "'q'", '"dq"', "?", "? x", ":x", "-x", "=", "<<", "a,b"],
    "lines": ["one\ntwo\n", "one\ntwo", "one\n\n", "  lead\nx", "tab\there", "trail \nx", "\u2028sep", "\x85nel"],
    "unicode": "caf\u00e9 \U0001f600", "nested": [[1, [2, []]], {}, [{"a": {"b": [None, True, 0.25, -7]}}]],
    "weird keys": {"": 1, "a: b": 2, "1": 3, "true": 4, "-": 5, "k\nl": 6},
}


def test_the_yaml_view_reads_back_as_the_same_object(cluster: Cluster, page, proxy_url):
    import yaml

    page.goto(proxy_url + "/ui/")
    text = page.evaluate("async (value) => (await import('./yaml.js')).toYAML(value)", TRICKY)
    assert yaml.safe_load(text) == TRICKY, text
    assert text.startswith('plain: nginx:1\nempty: ""\n')
    assert "lines:\n- |\n  one\n  two\n- |-\n  one\n  two\n" in text


def test_a_watch_ended_by_410_gone_relists_and_the_page_stays_live(cluster: Cluster, page, proxy_url):
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
    page.goto(proxy_url + "/ui/#/pods?namespace=ui-gone")
    expect(row(page, "Pods", "before")).to_have_count(1)
    expect(page.get_by_role("status", name="Connection")).to_have_text("live")
    cluster.kubectl("run", "after", "-n", "ui-gone", "--image=nginx:1")
    expect(row(page, "Pods", "after")).to_have_count(1)  # through the second watch
    assert len(lists) == 2 and len(watches) >= 2
    assert "resourceVersion=" in watches[1]
    cluster.kubectl("delete", "namespace", "ui-gone", "--wait=false")
