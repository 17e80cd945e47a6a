"""The only way a component reaches the cluster: REST over HTTP, kubeconfig, informers."""
