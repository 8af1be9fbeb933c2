"""Perturbation wrappers around :class:`~mistvla.harness.envs.libero.LiberoEnv`, one per concern (see ``base``)."""
