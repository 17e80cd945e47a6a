"""The entry point: one program that is every component.

``main`` picks the component from ``basename(argv[0])`` (busybox-style symlinks) or from the
first argument, then imports only that component's command module. Command modules live
here, one per component: they parse flags and wire the component together; the logic stays
in the component's own package, so this layer is the only one that imports them all.
"""
