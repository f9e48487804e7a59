//! Region-kill failover drills: plan, write probe, journal, report (runbook §6.1, contract §7).
