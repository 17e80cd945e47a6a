"""kube-apiserver: the Kubernetes REST API over the store (aiohttp).

Start one with ``hyperkube.apiserver.app.APIServer(APIServerConfig(...))``: ``await start()``,
``await stop()``; several share one event loop (``hyperkube up``) or one store (HA).

A request's way through the modules::

    app.py            config, app factory, error middleware (every failure a Status), start/stop
    discovery.py  openapi_routes.py  health.py  metrics.py     the non-resource endpoints
    handlers.py       generic REST: resolve the path (paths.py), dispatch by verb
      bodies.py       decode JSON/YAML bodies (413, 415), encode, splice resourceVersion
      protobuf_bodies.py  kubectl's protobuf bodies (typed create commands, reviews) -> dicts
      objects.py      create/update semantics: schema validation, strategies, txn on revisions
      deletion.py     DeleteOptions, finalizers, graceful pods, propagation
      subresources.py status, scale, binding, finalize
      patch.py        every PATCH type and server-side apply
      eviction.py     pods/eviction against PodDisruptionBudgets
      proxy.py  proxy_paths.py  pod_streams.py   log/exec/attach/portforward and
                      nodes|pods|services/proxy, passed through to the kubelet
      reviews.py      access reviews (SelfSubject*, SubjectAccessReview) and whoami from the request's user
      lists.py        snapshot lists, selectors (selection.py), limit/continue
      watch.py        watch streams over feeds.py (one store watch per resource, shared)
      tables.py       server-side Tables for kubectl
    namespaces.py     namespace lifecycle on create; bootstrap.py: what exists at start;
    allocators.py     Service cluster IPs and node ports
    crds.py           CustomResourceDefinitions -> registry entries, names, conditions, cleanup
"""
