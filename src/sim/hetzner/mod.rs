//! Simulated Hetzner Cloud API (/v1) with labels, pagination, rate limits and the linger quirk.
