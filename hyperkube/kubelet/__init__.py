"""kubelet: pod sources merged into a desired set, run by a process or fake runtime."""
