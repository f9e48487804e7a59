//! Simulated Kubernetes apiservers (one plain-HTTP listener per cluster) and a Flux-like reconciler.
