"""The scripted expert: BDDL goals, grasps, perturbations, the closed-loop policy."""
