"""Discovery and resolving the resource names users type, as kubectl does."""

from __future__ import annotations

import pytest
from aiohttp import web

from hyperkube.client import Discovery, GroupVersionResource, ResourceNotFound


def resource_list(group_version: str, *resources: dict) -> dict:
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": list(resources)}


def entry(name: str, kind: str, namespaced: bool = True, short: tuple = (), categories: tuple = ()) -> dict:
    return {"name": name, "singularName": "" if "/" in name else kind.lower(), "namespaced": namespaced, "kind": kind,
            "verbs": ["get", "list"], "shortNames": list(short), "categories": list(categories)}


def discovery_app(with_crd: list[bool]) -> web.Application:
    documents = {
        "/api": {"kind": "APIVersions", "versions": ["v1"]},
        "/api/v1": resource_list("v1", entry("pods", "Pod", short=("po",), categories=("all",)),
                                 entry("pods/status", "Pod"), entry("pods/log", "Pod"),
                                 entry("nodes", "Node", namespaced=False, short=("no",))),
        "/apis/apps/v1": resource_list("apps/v1", entry("deployments", "Deployment", short=("deploy",),
                                                        categories=("all",)), entry("deployments/scale", "Scale")),
        "/apis/autoscaling/v2": resource_list("autoscaling/v2", entry("horizontalpodautoscalers",
                                                                      "HorizontalPodAutoscaler", short=("hpa",))),
        "/apis/autoscaling/v1": resource_list("autoscaling/v1", entry("horizontalpodautoscalers",
                                                                      "HorizontalPodAutoscaler", short=("hpa",))),
        "/apis/example.com/v1": resource_list("example.com/v1", entry("widgets", "Widget", short=("wd",))),
    }

    def group(name: str, *versions: str) -> dict:
        return {"name": name, "versions": [{"groupVersion": f"{name}/{v}", "version": v} for v in versions],
                "preferredVersion": {"groupVersion": f"{name}/{versions[0]}", "version": versions[0]}}

    async def handler(request: web.Request) -> web.Response:
        if request.path == "/apis":
            groups = [group("apps", "v1"), group("autoscaling", "v2", "v1")]
            if with_crd[0]:
                groups.append(group("example.com", "v1"))
            return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        return web.json_response(documents[request.path])

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    return app


async def test_resolves_names_like_kubectl(serve):
    with_crd = [False]
    client = await serve(discovery_app(with_crd))
    discovery = Discovery(client)
    pods = await discovery.resolve("po")
    assert pods.gvr == GroupVersionResource("", "v1", "pods") and pods.subresources == ("status", "log")
    for name in ("pods", "pod", "Pod", "PODS"):
        assert await discovery.resolve(name) == pods
    assert (await discovery.resolve("deploy.apps")).gvr == GroupVersionResource.parse("apps/v1/deployments")
    assert not (await discovery.resolve("nodes")).namespaced
    assert (await discovery.resolve("hpa")).version == "v2"  # the preferred version wins
    assert (await discovery.resolve("hpa.v1.autoscaling")).version == "v1"
    assert [r.name for r in await discovery.by_category("all")] == ["pods", "deployments"]
    assert (await discovery.for_kind("apps/v1", "Deployment")).name == "deployments"

    with pytest.raises(ResourceNotFound, match='doesn\'t have a resource type "widgets"'):
        await discovery.resolve("widgets")
    with_crd[0] = True  # a CRD was created: an unknown name re-reads discovery once
    assert (await discovery.resolve("wd")).gvr == GroupVersionResource.parse("example.com/v1/widgets")
    assert (await discovery.for_kind("example.com/v1", "Widget")).namespaced
