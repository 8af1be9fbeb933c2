"""SmolVLA adapter through LeRobot 0.4.4: observations and the policy."""
