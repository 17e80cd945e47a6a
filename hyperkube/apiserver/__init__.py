"""kube-apiserver: the Kubernetes REST API over the store (aiohttp)."""
