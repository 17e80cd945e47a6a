"""The only way a component reaches the cluster: REST over HTTP, kubeconfig, informers.

Public surface (everything else lives in private modules)::

    Config, KubeConfig, load_kubeconfig, in_cluster_config, load_config   where and who
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
    ├── TransportError              no HTTP response (the request may have been sent)
    │   └── ConnectError            could not connect (the request was never sent)
    └── APIError                    the server answered with a Status (hyperkube.machinery.errors)
        ├── BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, NotAcceptable
        ├── AlreadyExists, Conflict, Gone (410: Gone or Expired), RequestEntityTooLarge
        ├── UnsupportedMediaType, Invalid (with details.causes), TooManyRequests
        └── InternalError, ServiceUnavailable, Timeout
"""

from hyperkube.client._cache import NAMESPACE_INDEX, Indexer, namespace_index
from hyperkube.client._client import Client, RetryPolicy
from hyperkube.client._config import (
    Config,
    ConfigError,
    KubeConfig,
    in_cluster_config,
    load_config,
    load_kubeconfig,
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
    "APIError", "AlreadyExists", "AppTransport", "BadRequest", "Client", "Config", "ConfigError",
    "Conflict", "ConnectError", "Forbidden", "Gone", "GroupVersionResource", "HTTPTransport",
    "InternalError", "Invalid", "KubeConfig", "MethodNotAllowed", "NotAcceptable", "NotFound",
    "RequestEntityTooLarge", "Response", "RetryPolicy", "ServiceUnavailable", "Timeout",
    "TooManyRequests", "Transport", "TransportError", "Unauthorized", "UnsupportedMediaType",
    "Watch", "WatchEvent", "in_cluster_config", "load_config", "load_kubeconfig", "object_key",
    "split_key", "BucketRateLimiter", "ItemExponentialFailureRateLimiter", "MaxOfRateLimiter",
    "RateLimiter", "ShutDown", "WorkQueue", "default_controller_rate_limiter",
    "APIResource", "Discovery", "ResourceNotFound", "EVENTS", "NORMAL", "WARNING", "EventRecorder", "LEASES", "LeaderElectionConfig", "LeaderElector", "NAMESPACE_INDEX", "Indexer", "namespace_index", "EventHandler", "Informer", "InformerFactory",
]
