"""Engines that run what the IR describes: eager numpy now; compiled code later."""
