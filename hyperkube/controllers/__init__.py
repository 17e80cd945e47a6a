"""kube-controller-manager's controllers, each its own module, registered by name in
:mod:`hyperkube.controllers.registry`; the shape they share is in :mod:`hyperkube.controllers.base`
and the wiring in :mod:`hyperkube.controllers.manager`."""
