"""kube-controller-manager: the controllers, each an informer -> workqueue -> sync loop."""
