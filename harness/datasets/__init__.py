"""Demonstration datasets: scripted rollouts and run directories written as LeRobot datasets."""
