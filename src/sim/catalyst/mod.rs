//! Simulated catalyst-api (routes, SSE, deployment timeline) and pool-domain-manager.
