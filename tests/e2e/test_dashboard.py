"""The dashboard at /ui/ in a real browser (Debian's Chromium driven by Playwright, see
_browser.py) against a real ``hyperkube apiserver`` process, with the controller-manager making
ReplicaSets and pods and a stand-in kubelet marking them ready: the tables of every kind, pods
arriving live, YAML and events, the actions (scale, restart, delete) and API errors, directly
and through ``kubectl proxy`` (ours and the real one).

What a user sees is asserted through accessible roles and names; what the actions did is
checked through the API with the real kubectl."""

from __future__ import annotations

import json
import re

import pytest

from tests.e2e._browser import (  # noqa: F401 (fixtures)
    browser_fixture,
    get_json,
    kubectl_proxy,
    page_fixture,
    proxy_url_fixture,
    row,
    screenshot,
)
from tests.e2e._cluster import Cluster
from tests.e2e.test_controller_manager_e2e import Kubelet, controller_manager  # noqa: F401
from tests.e2e.test_kubelet_e2e import wait

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


def test_deployment_is_listed_and_scaled_restarted_and_deleted_from_the_page(cluster: Cluster, controller_manager,  # noqa: F811
                                                                             page, proxy_url):
    from playwright.sync_api import expect

    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT.format(name="web", namespace="default", replicas=2))
    with Kubelet(cluster):
        page.goto(proxy_url + "/ui")
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
        expect(detail.get_by_role("list", name="Conditions")).to_contain_text("Available True · MinimumReplicasAvailable")
        screenshot(page, "deployment-detail")
        detail.get_by_role("toolbar", name="Actions").get_by_role("button", name="Scale web").click()
        expect(page.get_by_role("spinbutton", name="Replicas")).to_have_value("3")  # starts from what it is
        page.get_by_role("dialog", name="Scale deployment web").get_by_role("button", name="Cancel").click()
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


def test_api_errors_are_shown_with_the_status_message(cluster: Cluster, page, proxy_url):
    from playwright.sync_api import expect

    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT.format(name="gone", namespace="default", replicas=0))
    page.goto(proxy_url + "/ui/#/deployments?namespace=default")
    row(page, "Deployments", "gone").get_by_role("button", name="Delete gone").click()
    cluster.kubectl("delete", "deployment", "gone")  # another client is quicker
    page.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text('Deleting gone failed: deployments.apps "gone" not found')
    screenshot(page, "error")
    alert.get_by_role("button", name="Dismiss").click()

    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT.format(name="held", namespace="default", replicas=0))
    cluster.kubectl("rollout", "pause", "deployment", "held")
    row(page, "Deployments", "held").get_by_role("button", name="Restart held").click()
    expect(page.get_by_role("alert")).to_contain_text("can't restart paused deployment (run rollout resume first)")
    assert "annotations" not in get_json(cluster, "deployment", "held")["spec"]["template"]["metadata"]
    cluster.kubectl("delete", "deployment", "held")


def test_pods_appear_live_with_yaml_and_events_and_a_namespace_switch(cluster: Cluster, page, proxy_url):
    from playwright.sync_api import expect

    cluster.kubectl("create", "namespace", "ui-live")
    page.goto(proxy_url + "/ui/#/pods?namespace=ui-live")
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


def test_every_workload_kind_and_services_have_their_table(cluster: Cluster, page, proxy_url):
    from playwright.sync_api import expect

    cluster.kubectl("create", "namespace", "ui-kinds")
    cluster.kubectl("apply", "-f", "-", input=KINDS)
    page.goto(proxy_url + "/ui/#/jobs?namespace=ui-kinds")
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


@pytest.mark.parametrize(("proxy", "prefix"), [("hyperkube", "/"), ("kubectl", "/"), ("kubectl", "/k8s/")])
def test_the_dashboard_through_kubectl_proxy(cluster: Cluster, page, proxy, prefix):
    """``kubectl proxy`` (ours and the real one) in front of the API server; with ``--api-prefix``
    the page finds the API under the same prefix it was loaded from."""
    from playwright.sync_api import expect

    namespace = f"ui-{proxy}-{len(prefix)}"
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT.format(name="proxied", namespace=namespace, replicas=1))
    with kubectl_proxy(cluster, proxy, prefix) as url:
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
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")


