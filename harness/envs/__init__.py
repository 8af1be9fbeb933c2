"""LIBERO as Gymnasium environments: setup, tasks, observations, termination, registration, collisions."""
