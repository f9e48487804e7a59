//! Region-kill failover drills (runbook §6.1, contract §7): the write probe and its verification on
//! real Postgres, the steps, and the report. Runs are journaled with `provision::journal`.

pub mod dataplane;
pub mod observe;
pub mod plan;
pub mod probe;
pub mod report;
pub mod run;
pub mod steps;
pub mod target;
pub mod verdict;
pub mod verify;
