"""The dashboard on an HTTPS-only API server with RBAC, through the real ``kubectl proxy``: the
admin sees and acts; a user allowed the page and pods but not deployments sees the API's
Forbidden Status messages for what is refused (a list, then a delete), and the rest works."""

from __future__ import annotations

from tests.e2e._browser import browser_fixture, kubectl_proxy, page_fixture, row, screenshot  # noqa: F401 (fixtures)
from tests.e2e._cluster import Cluster
from tests.e2e.test_https_kubectl import https_cluster, other_kubeconfig  # noqa: F401 (fixture)

POLICY = """apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ui-page}
rules:
- nonResourceURLs: ["/ui", "/ui/*"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ui-page-carol}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ui-page}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: carol}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: default}
rules:
- apiGroups: [""]
  resources: ["pods", "events"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pod-reader-carol, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: carol}]
"""


def test_admin_and_a_restricted_user_through_the_real_kubectl_proxy(https_cluster: Cluster, page):  # noqa: F811
    from playwright.sync_api import expect

    https_cluster.kubectl("apply", "-f", "-", input=POLICY)
    https_cluster.kubectl("run", "guarded", "--image=nginx:1")
    with kubectl_proxy(https_cluster) as url:  # the admin kubeconfig the server wrote
        page.goto(f"{url}/ui/#/pods")
        expect(row(page, "Pods", "guarded")).to_contain_text("Pending")
        expect(page.get_by_role("status", name="Connection")).to_have_text("live")

    carol = other_kubeconfig(https_cluster, "carol", token="static-secret")
    with kubectl_proxy(carol) as url:
        page.goto(f"{url}/ui/")
        expect(page.get_by_role("alert")).to_contain_text(
            'Cannot list deployments: deployments.apps is forbidden: User "carol" cannot list resource "deployments"')
        screenshot(page, "forbidden")
        page.get_by_role("link", name="Pods").click()
        guarded = row(page, "Pods", "guarded")
        expect(guarded).to_contain_text("Pending")
        guarded.get_by_role("button", name="Delete guarded").click()
        page.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
        expect(page.get_by_role("alert")).to_contain_text(
            'Deleting guarded failed: pods "guarded" is forbidden: User "carol" cannot delete resource "pods"')
    assert https_cluster.kubectl("get", "pod", "guarded", check=False).returncode == 0
