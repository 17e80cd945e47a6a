"""kube-proxy: Services reachable at their cluster IPs and node ports."""
