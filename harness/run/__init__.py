"""Running a config: plan, calibration, episode runner, worker processes, orchestration."""
