"""The only way a component reaches the cluster: REST over HTTP, kubeconfig, informers.

Public surface (everything else lives in private modules)::

    Config, KubeConfig, load_kubeconfig, in_cluster_config, load_config   where and who
    write_kubeconfig                                                      (hyperkube up writes one)
    Client, RetryPolicy                                                   REST verbs, retries
    Transport, HTTPTransport, AppTransport                                the transport seam
    Watch, WatchEvent                                                     watch streams
    GroupVersionResource, object_key, split_key                           naming
    Informer, InformerFactory, Indexer, EventHandler                      shared informers
    WorkQueue, RateLimiter and its implementations                        client-go's workqueue
    LeaderElector, LeaderElectionConfig                                   leader election (Lease)
    EventRecorder                                                         Events, aggregated
    Discovery, APIResource                                                served resources, name lookup

Errors::

    Exception
    ├── ConfigError                 no usable kubeconfig / in-cluster environment
    ├── ResourceNotFound (LookupError)  discovery knows no such resource name or kind
    ├── ExecCredentialError         a kubeconfig exec credential plugin failed
    ├── TransportError              no HTTP response (the request may have been sent)
    │   └── ConnectError            could not connect (the request was never sent)
    └── APIError                    the server answered with a Status (hyperkube.machinery.errors)
        ├── BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, NotAcceptable
        ├── AlreadyExists, Conflict, Gone (410: Gone or Expired), RequestEntityTooLarge
        ├── UnsupportedMediaType, Invalid (with details.causes), TooManyRequests
        └── InternalError, ServiceUnavailable, Timeout

A controller, wired the client-go way (the queue holds keys; ``sync`` is idempotent)::

    async with Client(load_config(kubeconfig)) as client:
        factory = InformerFactory(client)
        pods = factory.informer("v1/pods")
        queue = WorkQueue()
        pods.add_event_handler(lambda o: queue.add(object_key(o)),
                               lambda old, new: queue.add(object_key(new)),
                               lambda o: queue.add(object_key(o)))
        factory.start()
        await factory.wait_for_sync()
        async for key in queue:             # several workers may run this loop
            try:
                await sync(key, pods.cache.get(key))
                queue.forget(key)
            except Exception:
                queue.add_rate_limited(key)
            finally:
                queue.done(key)

Leader election wraps such a loop: ``await LeaderElector(client, LeaderElectionConfig(
"kube-scheduler"), on_started_leading=run).run()`` returns when the lease is lost.
"""

from hyperkube.client._auth import ExecCredentialError
from hyperkube.client._cache import NAMESPACE_INDEX, Indexer, namespace_index
from hyperkube.client._client import Client, RetryPolicy
from hyperkube.client._config import (
    Config,
    ConfigError,
    KubeConfig,
    in_cluster_config,
    load_config,
    load_kubeconfig,
    write_kubeconfig,
)
from hyperkube.client._discovery import APIResource, Discovery, ResourceNotFound
from hyperkube.client._events import EVENTS, NORMAL, WARNING, EventRecorder
from hyperkube.client._informer import EventHandler, Informer, InformerFactory
from hyperkube.client._leaderelection import LEASES, LeaderElectionConfig, LeaderElector
from hyperkube.client._resources import GroupVersionResource, object_key, split_key
from hyperkube.client._transport import (
    AppTransport,
    ConnectError,
    HTTPTransport,
    Response,
    Transport,
    TransportError,
)
from hyperkube.client._watch import Watch, WatchEvent
from hyperkube.client._workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    ShutDown,
    WorkQueue,
    default_controller_rate_limiter,
)
from hyperkube.machinery.errors import (
    AlreadyExists,
    APIError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    InternalError,
    Invalid,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
    RequestEntityTooLarge,
    ServiceUnavailable,
    Timeout,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
)

__all__ = [
    "APIError", "APIResource", "AlreadyExists", "AppTransport", "BadRequest", "BucketRateLimiter", "Client",
    "Config", "ConfigError", "Conflict", "ConnectError", "Discovery", "EVENTS", "EventHandler",
    "EventRecorder", "ExecCredentialError", "Forbidden", "Gone", "GroupVersionResource", "HTTPTransport", "Indexer", "Informer",
    "InformerFactory", "InternalError", "Invalid", "ItemExponentialFailureRateLimiter", "KubeConfig",
    "LEASES", "LeaderElectionConfig", "LeaderElector", "MaxOfRateLimiter", "MethodNotAllowed",
    "NAMESPACE_INDEX", "NORMAL", "NotAcceptable", "NotFound", "RateLimiter", "RequestEntityTooLarge",
    "ResourceNotFound", "Response", "RetryPolicy", "ServiceUnavailable", "ShutDown", "Timeout",
    "TooManyRequests", "Transport", "TransportError", "Unauthorized", "UnsupportedMediaType", "WARNING",
    "Watch", "WatchEvent", "WorkQueue", "default_controller_rate_limiter", "in_cluster_config",
    "load_config", "load_kubeconfig", "namespace_index", "object_key", "split_key", "write_kubeconfig",
]
