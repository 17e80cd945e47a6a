"""hyperkube: Kubernetes in one Python program.

One console script is every component of a cluster (see ``hyperkube.cli``). The packages are
layered; imports point down only (``shared/DESIGN.md``, enforced by import-linter):

    cli -> apiserver | scheduler | controllers | kubelet | proxy | kubectl | addons
        -> client -> api -> storage -> machinery
"""

__version__ = "0.1.0"

#: The Kubernetes release whose API and behaviour hyperkube follows (major, minor, patch):
#: /version, the OpenAPI documents, the kubelet's node info and kubectl version all say it.
KUBERNETES_VERSION = (1, 37, 0)
KUBERNETES_GIT_VERSION = "v{}.{}.{}-hyperkube".format(*KUBERNETES_VERSION)
