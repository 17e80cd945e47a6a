"""``hyperkube kubectl``: the verbs of kubectl, built on :mod:`hyperkube.client`.

One module per verb group; :mod:`hyperkube.cli.kubectl` only wires click to them.

- :mod:`.session`: flags -> kubeconfig -> one :class:`~hyperkube.client.Client`, discovery
  cached on disk, kubectl's error wording and exit codes.
- :mod:`.printers`, :mod:`.jsonpath`, :mod:`.yamlout`: Tables laid out like Go's tabwriter
  as kubectl configures it, ``-o json|yaml|name|jsonpath|custom-columns``.
- :mod:`.get`, :mod:`.info`, :mod:`.kubeconfig`: reading the cluster and the kubeconfig.
- :mod:`.manifests`, :mod:`.apply`, :mod:`.delete`, :mod:`.modify`, :mod:`.edit`: writing it.
- :mod:`.generate`: objects from flags (``create <kind>``, ``run``, ``expose``, ``set image``).
- :mod:`.describe`, :mod:`.logs`, :mod:`.exec`, :mod:`.rollout` (also ``wait``), :mod:`.top`,
  :mod:`.watch` (``get -w``).

Output is plain text in kubectl's layout whether or not stdout is a terminal, so scripts
that parse kubectl's output parse ours.
"""
