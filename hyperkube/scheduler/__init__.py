"""kube-scheduler: binds pending pods to nodes through the API."""
