//! The runbook §7 decision tree as data, its validation, walks and evidence matching.
