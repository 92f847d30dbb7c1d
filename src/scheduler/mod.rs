//! The scheduler: syncing the plan into the queue, claiming due entries with a
//! lease, publishing them on time and recording the outcome.
